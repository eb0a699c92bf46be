#include "common/http_server.h"

#include <CivetServer.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"

namespace copycat {
namespace {

struct ReadinessCheck {
    std::string name;
    std::function<Status()> check;
};

void respond(mg_connection* connection, int status_code, std::string_view content_type,
             std::string_view body) {
    const char* reason = status_code == 200 ? "OK" : "Service Unavailable";
    mg_printf(connection,
              "HTTP/1.1 %d %s\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              status_code, reason, static_cast<int>(content_type.size()), content_type.data(),
              body.size());
    mg_write(connection, body.data(), body.size());
}

bool has_query_key(const mg_connection* connection, std::string_view key) {
    const char* query = mg_get_request_info(connection)->query_string;
    std::string_view rest = query == nullptr ? "" : query;
    while (!rest.empty()) {
        const size_t end = std::min(rest.find('&'), rest.size());
        const std::string_view item = rest.substr(0, end);
        if (item.substr(0, item.find('=')) == key) return true;
        rest.remove_prefix(std::min(end + 1, rest.size()));
    }
    return false;
}

// While HttpServer::start runs on a thread, civetweb's messages on that thread are collected
// here to explain a failure; at other times they are logged.
thread_local std::string* startup_messages = nullptr;

int on_civetweb_message(const mg_connection*, const char* message) {
    if (startup_messages != nullptr) {
        if (!startup_messages->empty()) *startup_messages += "; ";
        *startup_messages += message;
    } else {
        log::warn("http server", {{"detail", message}});
    }
    return 1;  // handled: civetweb prints nothing itself
}

class MetricsHandler : public CivetHandler {
public:
    explicit MetricsHandler(const Metrics& metrics) : metrics_(metrics) {}
    bool handleGet(CivetServer*, mg_connection* connection) override {
        respond(connection, 200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render());
        return true;
    }

private:
    const Metrics& metrics_;
};

class LivezHandler : public CivetHandler {
public:
    LivezHandler(const Heartbeat& heartbeat, Duration limit)
        : heartbeat_(heartbeat), limit_(limit) {}
    bool handleGet(CivetServer*, mg_connection* connection) override {
        const Duration age =
            std::chrono::duration_cast<std::chrono::microseconds>(heartbeat_.age());
        if (age <= limit_) {
            respond(connection, 200, "text/plain; charset=utf-8", "ok\n");
        } else {
            respond(connection, 503, "text/plain; charset=utf-8",
                    "event loop heartbeat is " + format_duration(age) + " old (limit " +
                        format_duration(limit_) + ")\n");
        }
        return true;
    }

private:
    const Heartbeat& heartbeat_;
    const Duration limit_;
};

class ReadyzHandler : public CivetHandler {
public:
    void add(std::string name, std::function<Status()> check) {
        std::lock_guard lock(mutex_);
        checks_.push_back({std::move(name), std::move(check)});
    }
    bool handleGet(CivetServer*, mg_connection* connection) override;

private:
    static Status run_check(const ReadinessCheck& check);

    std::mutex mutex_;  // guards checks_ (added by any thread, read by request threads)
    std::vector<ReadinessCheck> checks_;
};

Status ReadyzHandler::run_check(const ReadinessCheck& check) {
    try {
        return check.check();
    } catch (const std::exception& e) {
        return Status(StatusCode::unavailable, std::string("check threw: ") + e.what());
    }
}

bool ReadyzHandler::handleGet(CivetServer*, mg_connection* connection) {
    std::vector<ReadinessCheck> checks;
    {
        std::lock_guard lock(mutex_);
        checks = checks_;
    }
    std::string report;
    bool ready = true;
    for (const ReadinessCheck& check : checks) {
        const Status status = run_check(check);
        ready = ready && status.is_ok();
        report += status.is_ok() ? "[+]" + check.name + " ok\n"
                                 : "[-]" + check.name + " failed: " + status.message() + "\n";
    }
    const bool verbose = has_query_key(connection, "verbose");
    std::string body = ready ? "ok\n" : "";
    if (verbose || !ready)
        body = report + (ready ? "readyz check passed\n" : "readyz check failed\n");
    respond(connection, ready ? 200 : 503, "text/plain; charset=utf-8", body);
    return true;
}

// Opens and closes one connection to the listener, which wakes civetweb's accept loop.
void connect_once(const addrinfo& address) {
    const int fd = ::socket(address.ai_family, address.ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    (void)::connect(fd, address.ai_addr, address.ai_addrlen);
    ::close(fd);
}

// Where to connect to reach a listener on `host` (a wildcard address means every interface).
std::string connectable_host(const std::string& host) {
    if (host == "0.0.0.0") return "127.0.0.1";
    if (host == "[::]") return "::1";
    if (host.starts_with('[') && host.ends_with(']')) return host.substr(1, host.size() - 2);
    return host;
}

// civetweb's accept loop polls in 2 s quanta and only then sees that it should stop, so
// stopping takes up to 2 s. Connecting to it while it stops wakes it at once.
void stop_promptly(CivetServer& server, const std::string& host, uint16_t port) {
    const std::string wake_host = connectable_host(host);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* addresses = nullptr;
    if (::getaddrinfo(wake_host.c_str(), std::to_string(port).c_str(), &hints, &addresses) != 0) {
        server.close();
        return;
    }
    std::atomic<bool> stopped{false};
    std::thread waker([&] {
        while (!stopped) {
            connect_once(*addresses);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    });
    server.close();
    stopped = true;
    waker.join();
    ::freeaddrinfo(addresses);
}

}  // namespace

struct HttpServer::State {
    State(const Metrics& metrics, const Heartbeat& heartbeat, Duration liveness_limit)
        : metrics_handler(metrics), livez_handler(heartbeat, liveness_limit) {}

    MetricsHandler metrics_handler;
    LivezHandler livez_handler;
    ReadyzHandler readyz_handler;
    std::string host;
    std::unique_ptr<CivetServer> server;  // last: stopped before the handlers go
};

Status check_listen_address(std::string_view address) {
    const size_t colon = address.rfind(':');
    const std::string_view host = colon == std::string_view::npos ? "" : address.substr(0, colon);
    const std::string_view port = colon == std::string_view::npos ? "" : address.substr(colon + 1);
    bool port_ok = !port.empty() && port.size() <= 5;
    for (char c : port) port_ok = port_ok && c >= '0' && c <= '9';
    if (host.empty() || !port_ok || std::stoi(std::string(port)) > 65535) {
        return invalid_argument("HTTP listen address '" + std::string(address) +
                                "' is not host:port (e.g. 127.0.0.1:9201)");
    }
    return Status::ok();
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options,
                                                      const Metrics& metrics,
                                                      const Heartbeat& heartbeat) {
    COPYCAT_RETURN_IF_ERROR(check_listen_address(options.listen_address));
    auto state = std::make_unique<State>(metrics, heartbeat, options.liveness_limit);
    state->host = options.listen_address.substr(0, options.listen_address.rfind(':'));
    const std::vector<std::string> civetweb_options = {
        "listening_ports",    options.listen_address,
        "num_threads",        std::to_string(options.thread_count),
        "request_timeout_ms", "10000",
        "enable_keep_alive",  "no",
    };
    CivetCallbacks callbacks;
    callbacks.log_message = on_civetweb_message;
    std::string messages;
    startup_messages = &messages;
    try {
        state->server = std::make_unique<CivetServer>(civetweb_options, &callbacks);
    } catch (const CivetException&) {
        startup_messages = nullptr;
        return Status(StatusCode::unavailable,
                      "cannot serve HTTP on " + options.listen_address + ": " +
                          (messages.empty() ? "civetweb could not start" : messages));
    }
    startup_messages = nullptr;
    state->server->addHandler("/metrics", state->metrics_handler);
    state->server->addHandler("/livez", state->livez_handler);
    state->server->addHandler("/readyz", state->readyz_handler);
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() { stop_promptly(*state_->server, state_->host, port()); }

void HttpServer::add_readiness_check(std::string name, std::function<Status()> check) {
    state_->readyz_handler.add(std::move(name), std::move(check));
}

uint16_t HttpServer::port() const {
    const std::vector<int> ports = state_->server->getListeningPorts();
    return ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
}

}  // namespace copycat
