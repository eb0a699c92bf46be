#include "logstore/server.h"

#include <zmq.hpp>

#include <unistd.h>

#include <atomic>

#include "common/event_loop.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/serve.h"
#include "common/zmq_socket.h"
#include "logstore/service.h"

namespace copycat::logstore {
namespace {

void log_recovery(const RecoveryReport& report, const SegmentedLog& log) {
    if (report.created) log::info("created a new log");
    for (const auto& name : report.removed_orphans) {
        log::info("removed a file the manifest does not name", {{"file", name}});
    }
    if (report.tail_repair) {
        log::warn("cut a torn tail of the active segment",
                  {{"offset", report.tail_repair->offset},
                   {"bytes_dropped", report.tail_repair->bytes_dropped},
                   {"problem", report.tail_repair->problem}});
    }
    if (report.finished_truncate_intent) {
        log::info("finished an interrupted truncation",
                  {{"after_index", *report.finished_truncate_intent}});
    }
    log::info("log opened", {{"first_index", log.first_index()},
                             {"last_index", log.last_index()},
                             {"segments", log.segments().size()},
                             {"term", log.meta().term}});
}

// One process: the socket, the service, and what ties them to the loop.
class Server {
public:
    Server(const ServerOptions& options, SegmentedLog& log, Metrics& metrics)
        : options_(options),
          log_(log),
          logstore_metrics_(metrics),
          service_(log, &logstore_metrics_, options.fsync_warn),
          dropped_(metrics.counter("copycat_logstore_replies_dropped_total",
                                   "Replies not sent because the peer was gone or slow")),
          router_(make_router(context_, SocketOptions{100000, 100000, 64 << 20, false})) {}

    Status bind() {
        try {
            router_.bind(options_.listen_endpoint);
        } catch (const zmq::error_t& e) {
            return Status(StatusCode::unavailable,
                          "cannot listen on " + options_.listen_endpoint + ": " + e.what());
        }
        return Status::ok();
    }

    void attach(EventLoop& loop) {
        loop.add_socket(router_, [this] { drain(); });
        loop.add_periodic(options_.release_save_interval.chrono(), [this] {
            Status saved = log_.save_release_bitmaps();
            if (!saved.is_ok())
                log::warn_once("release bitmap save", "cannot save", {{"error", saved}});
        });
        loop.add_periodic(std::chrono::seconds(1), [this] {
            service_.refresh_gauges();
            writable_ = !log_.failed();
            directory_writable_ = ::access(options_.log.directory.c_str(), W_OK) == 0;
        });
    }

    // Takes what is waiting (up to the batch bound), answers it, commits once.
    void drain() {
        std::vector<Outgoing> out;
        for (size_t i = 0; i < options_.max_batch_messages; ++i) {
            std::optional<ReceivedMessage> message = try_receive(router_);
            if (!message) break;
            if (message->routing_frames.empty()) continue;
            std::string peer = message->routing_frames.front().to_string();
            auto payload = std::span<const uint8_t>(
                static_cast<const uint8_t*>(message->payload.data()), message->payload.size());
            service_.handle(peer, payload, &out);
        }
        service_.commit(&out);
        send_all(out);
        if (log_.failed() && writable_) {
            writable_ = false;
            log::error(
                "the log refuses writes after an I/O failure; restart after fixing the disk");
        }
    }

    void shutdown() {
        std::vector<Outgoing> out;
        service_.commit(&out);
        send_all(out);
        Status saved = log_.save_release_bitmaps();
        if (!saved.is_ok()) log::warn("cannot save release bitmaps", {{"error", saved}});
    }

    const std::atomic<bool>& writable() const { return writable_; }
    const std::atomic<bool>& directory_writable() const { return directory_writable_; }

private:
    void send_all(const std::vector<Outgoing>& out) {
        for (const Outgoing& reply : out) {
            if (!try_send(router_, reply.peer, std::span<const uint8_t>(reply.bytes))) {
                dropped_.Increment();
            }
        }
    }

    const ServerOptions& options_;
    SegmentedLog& log_;
    LogstoreMetrics logstore_metrics_;
    StorageService service_;
    prometheus::Counter& dropped_;
    zmq::context_t context_{1};
    zmq::socket_t router_;
    std::atomic<bool> writable_{true};
    std::atomic<bool> directory_writable_{true};
};

}  // namespace

int serve(const ServerOptions& options) {
    Status blocked = EventLoop::block_termination_signals();
    if (!blocked.is_ok()) log::warn("cannot block termination signals", {{"error", blocked}});
    RecoveryReport report;
    Result<std::unique_ptr<SegmentedLog>> log = SegmentedLog::open(options.log, &report);
    if (!log.is_ok()) {
        log::fatal("cannot open the log", {{"error", log.status()}});
        return 1;
    }
    log_recovery(report, **log);
    Metrics metrics;
    EventLoop loop;
    Server server(options, **log, metrics);
    Result<std::unique_ptr<HttpServer>> http =
        HttpServer::start(HttpServerOptions{options.http_address}, metrics, loop.heartbeat());
    if (!http.is_ok()) {
        log::fatal("cannot serve HTTP", {{"error", http.status()}});
        return 1;
    }
    const std::atomic<bool>& writable = server.writable();
    (*http)->add_readiness_check("log-writable", [&writable] {
        return writable ? Status::ok() : io_error("the log refuses writes after an I/O failure");
    });
    const std::atomic<bool>& directory_writable = server.directory_writable();
    std::string directory = options.log.directory;
    (*http)->add_readiness_check("data-dir-writable", [&directory_writable, directory] {
        return directory_writable ? Status::ok() : io_error(directory + " is not writable");
    });
    Status bound = server.bind();
    if (!bound.is_ok()) {
        log::fatal("cannot listen", {{"error", bound}});
        return 1;
    }
    server.attach(loop);
    log::info("serving", {{"listen", options.listen_endpoint}, {"http", options.http_address}});
    // The readiness checks read `server` (through references to its flags) from the HTTP
    // server's threads: those stop first, whatever the order of declarations.
    return serve_until_stopped(loop, *http, [&] { server.shutdown(); });
}

}  // namespace copycat::logstore
