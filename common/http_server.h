// The one HTTP port of a process (CONVENTIONS.md, Processes), served by civetweb threads:
//
//   GET /metrics  Prometheus text from Metrics::render()
//   GET /livez    200 "ok" while the event loop's heartbeat is younger than the liveness limit
//                 (default 5 s), else 503 with the heartbeat's age
//   GET /readyz   200 if every readiness check passes, else 503; with ?verbose (or on failure)
//                 one line per check, "[+]name ok" or "[-]name failed: reason", like Kubernetes
//
// Threads: civetweb serves requests on its own threads, which inherit the signal mask of the
// thread that calls start(): call EventLoop::block_termination_signals() before, so SIGTERM
// reaches the event loop. Readiness checks run on those threads, concurrently with the loop:
// a check must only read atomics or other thread-safe state, and must be quick.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/duration.h"
#include "common/heartbeat.h"
#include "common/metrics.h"
#include "common/status.h"

namespace copycat {

struct HttpServerOptions {
    // "host:port", e.g. "127.0.0.1:9201"; port 0 takes any free port (see HttpServer::port()).
    std::string listen_address;
    // /livez fails once the heartbeat is older than this.
    Duration liveness_limit = std::chrono::seconds(5);
    int thread_count = 2;
};

// Checks "host:port" (a host, a colon, a port 0..65535); the error says what is expected.
Status check_listen_address(std::string_view address);

class HttpServer {
public:
    // Starts serving. `metrics` and `heartbeat` must outlive the server. A port that cannot be
    // bound (in use, an address not on this host) is an unavailable Status naming the address.
    static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options,
                                                     const Metrics& metrics,
                                                     const Heartbeat& heartbeat);
    // Stops the server threads (waits for requests in progress).
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Adds a check to /readyz; checks run in the order added. May be called at any time from
    // any thread. See the header comment for what a check may touch.
    void add_readiness_check(std::string name, std::function<Status()> check);

    // The port actually bound (useful after asking for port 0).
    uint16_t port() const;

    struct State;

private:
    explicit HttpServer(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace copycat
