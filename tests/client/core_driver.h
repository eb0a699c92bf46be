// A test driver around SessionCore: it keeps the clock, collects what the core sends and
// delivers, and builds the answers a gateway would give.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "client/session_core.h"

namespace copycat::client::testing {

// A request the core sent, with the id its answer must carry.
template <typename T>
struct Sent {
    uint64_t request_id = 0;
    T request;
};

inline Operation op(std::string type = "put", std::string argument = "") {
    return Operation{std::move(type), Bytes(argument.begin(), argument.end())};
}

inline session::Response error_answer(uint64_t request_id, ErrorCode error,
                                      uint64_t last_sequence = 0) {
    session::Response response;
    response.request_id = request_id;
    response.error = error;
    response.message = session::error_code_name(error);
    response.last_sequence = last_sequence;
    return response;
}

template <typename Body>
session::Response answer(uint64_t request_id, Body body) {
    session::Response response;
    response.request_id = request_id;
    response.body = std::move(body);
    return response;
}

inline session::Response operation_answer(uint64_t request_id, Index index, Index event_index = 0,
                                          std::string value = "") {
    return answer(request_id, session::OperationResponse{index, event_index,
                                                         Bytes(value.begin(), value.end())});
}

inline session::Response keep_alive_answer(uint64_t request_id, ErrorCode code = ErrorCode::ok) {
    return answer(request_id, session::KeepAliveResponse{{code}});
}

class CoreDriver {
public:
    explicit CoreDriver(SessionCoreOptions options) : core_(std::move(options)) {}

    SessionCore& core() { return core_; }
    uint64_t now() const { return now_ms_; }

    // Runs every timer due up to at_ms, in order, collecting the output of each.
    void run_until(uint64_t at_ms) {
        for (auto due = core_.next_deadline_ms(); due && *due <= at_ms;
             due = core_.next_deadline_ms()) {
            now_ms_ = std::max(now_ms_, *due);
            core_.tick(now_ms_);
            collect();
        }
        now_ms_ = std::max(now_ms_, at_ms);
    }
    void run_for(uint64_t duration_ms) { run_until(now_ms_ + duration_ms); }

    void open() {
        core_.open(now_ms_);
        collect();
    }
    OperationId command(Operation operation, uint64_t timeout_ms = 0) {
        const OperationId id = core_.command(std::move(operation), now_ms_, timeout_ms);
        collect();
        return id;
    }
    OperationId query(Operation operation, Consistency consistency = Consistency::linearizable,
                      uint64_t timeout_ms = 0) {
        const OperationId id = core_.query(std::move(operation), consistency, now_ms_, timeout_ms);
        collect();
        return id;
    }
    void close() {
        core_.close(now_ms_);
        collect();
    }
    void reconnected() {
        core_.reconnected(now_ms_);
        collect();
    }
    void receive(const session::Response& response) {
        core_.receive(response, now_ms_);
        collect();
    }
    void publish(SessionId session, Index event_index, Index previous_index,
                 std::vector<std::string> names) {
        session::PublishRequest publish{session, event_index, previous_index, {}};
        for (std::string& name : names) publish.events.push_back({std::move(name), {}});
        core_.receive(publish, now_ms_);
        collect();
    }

    // Opens the session: registers and answers with `session` and `timeout_ms`.
    void open_session(SessionId session = 10, uint64_t timeout_ms = 1'000) {
        open();
        const auto registers = take<session::RegisterRequest>();
        receive(
            answer(registers.back().request_id, session::RegisterResponse{session, timeout_ms}));
    }

    // The requests of type T sent since the last take of that type, in order.
    template <typename T>
    std::vector<Sent<T>> take() {
        std::vector<Sent<T>> taken;
        std::vector<Outgoing> rest;
        for (Outgoing& outgoing : requests_) {
            if (T* request = std::get_if<T>(&outgoing.request)) {
                taken.push_back({outgoing.request_id, std::move(*request)});
            } else {
                rest.push_back(std::move(outgoing));
            }
        }
        requests_ = std::move(rest);
        return taken;
    }
    std::vector<Outgoing> take_requests() { return std::exchange(requests_, {}); }
    std::vector<Delivery> take_deliveries() { return std::exchange(deliveries_, {}); }
    bool take_suspect() { return std::exchange(suspect_, false); }

    // The deliveries of type T since the last take of that type, in order.
    template <typename T>
    std::vector<T> delivered() {
        std::vector<T> taken;
        std::vector<Delivery> rest;
        for (Delivery& delivery : deliveries_) {
            if (T* value = std::get_if<T>(&delivery)) {
                taken.push_back(std::move(*value));
            } else {
                rest.push_back(std::move(delivery));
            }
        }
        deliveries_ = std::move(rest);
        return taken;
    }

private:
    void collect() {
        CoreOutput output = core_.take_output();
        for (Outgoing& outgoing : output.requests) requests_.push_back(std::move(outgoing));
        for (Delivery& delivery : output.deliveries) deliveries_.push_back(std::move(delivery));
        suspect_ = suspect_ || output.connection_suspect;
    }

    SessionCore core_;
    uint64_t now_ms_ = 0;
    std::vector<Outgoing> requests_;
    std::vector<Delivery> deliveries_;
    bool suspect_ = false;
};

}  // namespace copycat::client::testing
