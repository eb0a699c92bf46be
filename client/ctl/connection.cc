#include "client/ctl/connection.h"

#include <unistd.h>

#include <random>

#include "common/duration.h"

namespace copycat::ctl {

namespace {

// Recognisable in `session list`, unique enough not to be taken for another client's.
std::string make_client_id() {
    std::random_device random;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id = "copycat-ctl-" + std::to_string(::getpid()) + "-";
    for (int i = 0; i < 8; ++i) id += kHex[random() % 16];
    return id;
}

std::string joined(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : ",") + item;
    return text;
}

}  // namespace

Connection::Connection(const GlobalOptions& globals) : globals_(globals) {
    options_.endpoints = globals.endpoints;
    options_.client_id = make_client_id();
    options_.session_timeout = globals.session_timeout;
    options_.dial_timeout = globals.dial_timeout;
    options_.command_timeout = globals.command_timeout;
    options_.curve = globals.curve;
}

Connection::~Connection() { (void)close(); }

Result<client::Client*> Connection::session() {
    if (client_) return client_.get();
    Result<std::unique_ptr<client::Client>> connected =
        runtime_ ? client::Client::connect(runtime_) : client::Client::connect(options_);
    if (!connected.is_ok()) return Status(connected.status().code(), explain(connected.status()));
    client_ = std::move(connected).value();
    return client_.get();
}

Result<client::Runtime*> Connection::runtime() {
    if (client_) return &client_->runtime();
    if (!runtime_) {
        Result<std::shared_ptr<client::Runtime>> started = client::Runtime::start(options_);
        if (!started.is_ok()) return Status(started.status().code(), explain(started.status()));
        runtime_ = *started;
    }
    return runtime_.get();
}

Status Connection::close() {
    if (!client_ || closed_) return Status::ok();
    closed_ = true;
    return client_->close();
}

std::string Connection::explain(const Status& status) const {
    // The library says unavailable when no gateway answered at all (client/client.h); anything
    // else (no leader, a refusal) came from a gateway and is said as it is.
    if (status.code() != StatusCode::unavailable) return status.message();
    // The library adds what the connection's handshake said, if it failed, after "; ".
    const size_t detail = status.message().find("; ");
    return "cannot reach a gateway at " + joined(globals_.endpoints) + ": no answer within " +
           format_duration(globals_.dial_timeout) +
           (detail == std::string::npos ? "" : status.message().substr(detail));
}

Status reply_status(const client::Reply& reply, std::chrono::milliseconds command_timeout) {
    using session::ErrorCode;
    switch (reply.error) {
        case ErrorCode::ok: return Status::ok();
        case ErrorCode::timeout:
            return Status(StatusCode::timeout,
                          "timeout: no answer within " + format_duration(command_timeout) +
                              "; the outcome is unknown" +
                              (reply.message.empty() ? "" : " (" + reply.message + ")"));
        case ErrorCode::application_error:
        case ErrorCode::bad_request: return invalid_argument(reply.message);
        case ErrorCode::unknown_session:
            return Status(StatusCode::unavailable,
                          "the session expired or was closed" +
                              (reply.message.empty() ? "" : " (" + reply.message + ")"));
        default: break;
    }
    return Status(StatusCode::unavailable, std::string(session::error_code_name(reply.error)) +
                                               (reply.message.empty() ? "" : ": " + reply.message));
}

std::string session_error_text(const Status& status) {
    return status.code() == StatusCode::timeout ? "timeout" : status.message();
}

}  // namespace copycat::ctl
