#include "compactor/server.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common/event_loop.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/serve.h"
#include "common/zmq_socket.h"
#include "compactor/plan/schedule.h"
#include "compactor/remote_log_access.h"
#include "logstore/client.h"
#include "logstore/file.h"
#include "logstore/protocol.h"

namespace copycat::compactor {
namespace {

namespace fb = logstore::fb;
using Clock = std::chrono::steady_clock;

// How often the logstore is asked whether it answers, and how old an answer /readyz accepts.
constexpr auto kProbeInterval = std::chrono::seconds(1);
constexpr auto kProbeAnswerMaxAge = std::chrono::seconds(3);

// A routing id of this process's own (logstore/client.h): replies meant for a connection of
// an earlier compactor process never reach this one.
std::string routing_id(uint32_t node_id, const char* role) {
    return "compactor-" + std::to_string(node_id) + "-" + role + "-" + std::to_string(::getpid());
}

// Runs compaction jobs on a thread of its own. A run reads, writes and fdatasyncs segments
// and waits for the logstore for seconds at a time; meanwhile the event loop keeps answering
// /livez, /metrics and the socket. The thread has its own connection to the logstore.
class CompactionThread {
public:
    struct Finished {
        bool major = false;
        Result<RunReport> outcome = RunReport{};
        double seconds = 0;
    };

    CompactionThread(const ServerOptions& options, zmq::context_t& context,
                     CompactorMetrics& metrics)
        : options_(options), context_(context), metrics_(metrics) {}
    ~CompactionThread() { stop(); }

    Status start() {
        event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (event_fd_ < 0) return io_error("cannot create an eventfd");
        thread_ = std::thread([this] { main(); });
        return Status::ok();
    }
    // Readable when a job has finished (take_finished()).
    int ready_fd() const { return event_fd_; }

    void submit(bool major) {
        std::lock_guard lock(mutex_);
        job_ = major;
        wake_.notify_one();
    }

    std::optional<Finished> take_finished() {
        uint64_t count = 0;
        (void)::read(event_fd_, &count, sizeof count);
        std::lock_guard lock(mutex_);
        if (finished_.empty()) return std::nullopt;
        Finished done = std::move(finished_.front());
        finished_.pop_front();
        return done;
    }

    // A running job stops between two rewrites; then the thread ends.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
        if (event_fd_ >= 0) ::close(event_fd_);
        event_fd_ = -1;
    }

private:
    void main() {
        RemoteLogAccess log(context_, options_.logstore_endpoint,
                            routing_id(options_.node_id, "worker"),
                            std::chrono::milliseconds(options_.logstore_timeout.milliseconds()));
        Compactor compactor(log, options_.compactor, &metrics_);
        while (std::optional<bool> major = next_job()) {
            auto started = Clock::now();
            Finished done{*major, compactor.compact(*major, &stopping_), 0};
            done.seconds = std::chrono::duration<double>(Clock::now() - started).count();
            std::lock_guard lock(mutex_);
            finished_.push_back(std::move(done));
            uint64_t one = 1;
            (void)::write(event_fd_, &one, sizeof one);
        }
    }

    std::optional<bool> next_job() {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || job_.has_value(); });
        if (stopping_) return std::nullopt;
        std::optional<bool> job = job_;
        job_.reset();
        return job;
    }

    const ServerOptions& options_;
    zmq::context_t& context_;
    CompactorMetrics& metrics_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::optional<bool> job_;
    std::deque<Finished> finished_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    int event_fd_ = -1;
};

std::vector<uint8_t> compact_response(uint64_t request_id, bool major, const RunReport& done,
                                      double seconds) {
    flatbuffers::FlatBufferBuilder builder(128);
    return logstore::finish_message(
        builder, request_id,
        fb::CreateCompactResponse(builder, major, done.segments_rewritten, done.segments_replaced,
                                  done.entries_removed, done.reclaimed_bytes,
                                  done.leftovers_removed, seconds));
}

class Server {
public:
    Server(const ServerOptions& options, Metrics& metrics)
        : options_(options),
          metrics_(metrics),
          router_(make_router(context_, SocketOptions{1000, 1000, 1 << 20, false})),
          probe_(context_, options.logstore_endpoint, std::chrono::milliseconds(0),
                 routing_id(options.node_id, "probe")),
          thread_(options, context_, metrics_) {}

    Status start(EventLoop& loop) {
        try {
            router_.bind(options_.listen_endpoint);
        } catch (const zmq::error_t& e) {
            return Status(StatusCode::unavailable,
                          "cannot listen on " + options_.listen_endpoint + ": " + e.what());
        }
        COPYCAT_RETURN_IF_ERROR(thread_.start());
        loop.add_socket(router_, [this] { on_requests(); });
        loop.add_fd(thread_.ready_fd(), [this] { on_finished(); });
        loop.add_socket(probe_.socket(), [this] { on_probe_replies(); });
        loop.add_periodic(kProbeInterval, [this] { probe(); });
        loop.add_periodic(options_.minor_interval.chrono(), [this] { tick(false); });
        loop.add_periodic(options_.major_interval.chrono(), [this] { tick(true); });
        probe();
        return Status::ok();
    }

    // Stops a running job between two rewrites and answers whoever still waits.
    void shutdown() {
        thread_.stop();
        for (const plan::Waiter& waiter : schedule_.drain()) {
            reply(waiter, logstore::make_error(waiter.request_id, fb::ErrorCode::Stopped,
                                               "copycat-compactor is shutting down"));
        }
    }

    bool logstore_answers() const {
        Clock::duration age = Clock::now().time_since_epoch() -
                              Clock::duration(last_probe_answer_.load(std::memory_order_relaxed));
        return age < kProbeAnswerMaxAge;
    }

private:
    void on_requests() {
        while (std::optional<ReceivedMessage> message = try_receive(router_)) {
            if (message->routing_frames.empty()) continue;
            std::string peer = message->routing_frames.front().to_string();
            handle(peer,
                   std::span<const uint8_t>(static_cast<const uint8_t*>(message->payload.data()),
                                            message->payload.size()));
        }
        start_next();
    }

    void handle(const std::string& peer, std::span<const uint8_t> bytes) {
        const fb::StorageMessage* message = logstore::parse_message(bytes);
        if (message == nullptr) {
            metrics_.record_bad_request("malformed");
            log::warn_once("compactor: malformed request",
                           "a message on the compactor's socket failed verification; answered "
                           "with an error and counted",
                           {{"bytes", bytes.size()}});
            reply({peer, 0}, logstore::make_error(0, fb::ErrorCode::Malformed,
                                                  "message is not a valid StorageMessage"));
            return;
        }
        const fb::CompactRequest* compact = message->body_as_CompactRequest();
        if (compact == nullptr) {
            metrics_.record_bad_request("not_a_request");
            std::string type = fb::EnumNameBody(message->body_type());
            log::warn_once("compactor: not a request " + type,
                           "a message the compactor does not serve", {{"type", type}});
            reply({peer, message->request_id()},
                  logstore::make_error(message->request_id(), fb::ErrorCode::InvalidArgument,
                                       type + " is not a request copycat-compactor serves "
                                              "(it serves CompactRequest)"));
            return;
        }
        schedule_.request(compact->major(), {peer, message->request_id()});
    }

    void tick(bool major) {
        schedule_.tick(major);
        start_next();
    }

    void start_next() {
        if (std::optional<bool> major = schedule_.start_next()) thread_.submit(*major);
    }

    void on_finished() {
        while (std::optional<CompactionThread::Finished> done = thread_.take_finished()) {
            for (const plan::Waiter& waiter : schedule_.finish()) {
                if (done->outcome.is_ok()) {
                    reply(waiter, compact_response(waiter.request_id, done->major, *done->outcome,
                                                   done->seconds));
                } else {
                    const Status& failed = done->outcome.status();
                    reply(waiter, logstore::make_error(waiter.request_id,
                                                       logstore::error_code_for(failed.code()),
                                                       failed.message()));
                }
            }
        }
        start_next();
    }

    void reply(const plan::Waiter& waiter, const std::vector<uint8_t>& bytes) {
        if (!try_send(router_, waiter.peer, std::span<const uint8_t>(bytes))) {
            log::warn_once("compactor: reply dropped", "a reply could not be sent (peer gone)",
                           {{"peer", waiter.peer}});
        }
    }

    void probe() { (void)probe_.send(logstore::make_status(probe_.next_request_id())); }

    void on_probe_replies() {
        while (probe_.receive(std::chrono::milliseconds(0))) {
            last_probe_answer_.store(Clock::now().time_since_epoch().count(),
                                     std::memory_order_relaxed);
        }
    }

    const ServerOptions& options_;
    CompactorMetrics metrics_;
    zmq::context_t context_{1};
    zmq::socket_t router_;
    logstore::StorageClient probe_;
    std::atomic<Clock::rep> last_probe_answer_{0};
    plan::Schedule schedule_;
    CompactionThread thread_;
};

}  // namespace

int serve(const ServerOptions& options) {
    Status blocked = EventLoop::block_termination_signals();
    if (!blocked.is_ok()) log::warn("cannot block termination signals", {{"error", blocked}});
    // One compactor per data directory: two would write the same new versions. The directory
    // may not exist yet when the compactor starts before its logstore.
    Status made = logstore::make_directories(options.data_dir);
    Result<logstore::File> lock = made.is_ok()
                                      ? logstore::lock_file(options.data_dir + "/compactor.lock")
                                      : Result<logstore::File>(made);
    if (!lock.is_ok()) {
        log::fatal("cannot lock the data directory", {{"error", lock.status()}});
        return 1;
    }
    Metrics metrics;
    EventLoop loop;
    Result<std::unique_ptr<HttpServer>> http =
        HttpServer::start(HttpServerOptions{options.http_address}, metrics, loop.heartbeat());
    if (!http.is_ok()) {
        log::fatal("cannot serve HTTP", {{"error", http.status()}});
        return 1;
    }
    Server server(options, metrics);
    Status started = server.start(loop);
    if (!started.is_ok()) {
        log::fatal("cannot start", {{"error", started}});
        return 1;
    }
    (*http)->add_readiness_check("logstore", [&server] {
        return server.logstore_answers()
                   ? Status::ok()
                   : Status(StatusCode::unavailable, "the logstore does not answer");
    });
    const std::string host = options.http_address.substr(0, options.http_address.rfind(':'));
    log::info("serving", {{"listen", options.listen_endpoint},
                          {"logstore", options.logstore_endpoint},
                          {"http", host + ":" + std::to_string((*http)->port())}});
    // The readiness check reads `server` from the HTTP threads: those stop first.
    return serve_until_stopped(loop, *http, [&] { server.shutdown(); });
}

}  // namespace copycat::compactor
