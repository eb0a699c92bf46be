// The single-threaded event loop of a process shell (DESIGN.md, Layers): waits with zmq::poll
// on ZeroMQ sockets and raw file descriptors, runs timers on the steady clock, and turns
// SIGTERM/SIGINT into a call of on_termination (default: stop()).
//
// Threads: everything here is for the loop's own thread, except stop() (any thread) and
// heartbeat() (read by the HTTP server's threads for /livez). Callbacks run on the loop thread,
// one at a time; they may add or remove sockets, descriptors and timers, including their own.
// An exception thrown by a callback leaves run() and reaches its caller.
//
// Signals: SIGTERM and SIGINT are read from a signalfd, which only works if no thread lets them
// through: main calls block_termination_signals() first, before starting any thread (civetweb's
// included), so that every thread inherits the blocked mask.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "common/heartbeat.h"
#include "common/status.h"

namespace copycat {

class EventLoop {
public:
    using Clock = std::chrono::steady_clock;
    using Callback = std::function<void()>;
    using TimerId = uint64_t;

    struct Options {
        // The loop wakes at least this often (to refresh the heartbeat), timers or not.
        std::chrono::milliseconds heartbeat_interval{500};
        // Read SIGTERM/SIGINT from a signalfd (blocking them in the calling thread).
        bool handle_termination_signals = true;
        // The time source for timers; tests inject a fake one. Default: Clock::now.
        std::function<Clock::time_point()> now = nullptr;
    };

    // Blocks SIGTERM and SIGINT in the calling thread (and the threads it starts later).
    static Status block_termination_signals();

    EventLoop();
    explicit EventLoop(Options options);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Calls on_readable whenever the socket has a message (ZMQ_POLLIN). The callback should
    // receive what is waiting; one that receives nothing is called again at once. The socket
    // must stay open until removed or until the loop is destroyed.
    void add_socket(zmq::socket_t& socket, Callback on_readable);
    void remove_socket(zmq::socket_t& socket);
    // The same for a file descriptor (POLLIN), e.g. a pipe or an eventfd.
    void add_fd(int fd, Callback on_readable);
    void remove_fd(int fd);

    // Runs `callback` once, `delay` from now. Timers fire in order of due time (ties in the
    // order they were added), never early, after the sockets that are ready.
    TimerId add_timer(Clock::duration delay, Callback callback);
    // Runs `callback` every `interval` (> 0), first `interval` from now. When the loop falls
    // behind, missed runs are skipped rather than run in a burst.
    TimerId add_periodic(Clock::duration interval, Callback callback);
    // Cancels a timer; false if it already fired (one-shot) or was cancelled.
    bool cancel(TimerId id);

    // Called on the loop thread with the signal number when SIGTERM or SIGINT arrives.
    void on_termination(std::function<void(int signal_number)> handler);

    // Runs until stop(). A failure of zmq::poll other than EINTR ends it with io_error.
    Status run();
    // One iteration: waits at most max_wait for sockets, descriptors or a due timer, then runs
    // the callbacks that are ready. For tests and for shells that drive the loop themselves.
    Status run_once(Clock::duration max_wait);
    // Makes run() return after the current iteration. Safe from any thread; from another
    // thread it takes effect within heartbeat_interval.
    void stop() { stopping_ = true; }
    bool stopping() const { return stopping_; }

    const Heartbeat& heartbeat() const { return heartbeat_; }
    Clock::time_point now() const { return options_.now(); }

private:
    struct Source {
        uint64_t id;
        zmq::socket_t* socket;  // null for a file descriptor
        int fd;
        Callback callback;
    };
    struct Timer {
        Clock::time_point due;
        Clock::duration interval;  // zero for one-shot
        Callback callback;
    };
    using TimerKey = std::pair<Clock::time_point, TimerId>;

    void add_source(zmq::socket_t* socket, int fd, Callback callback);
    void remove_source(zmq::socket_t* socket, int fd);
    Clock::duration poll_timeout(Clock::duration max_wait) const;
    std::vector<uint64_t> poll_sources(Clock::duration timeout);
    void run_source(uint64_t source_id);
    void fire_due_timers();
    void fire_timer(TimerId id);
    void read_signals();

    Options options_;
    std::atomic<bool> stopping_{false};
    Heartbeat heartbeat_;
    uint64_t next_source_id_ = 1;
    std::vector<Source> sources_;
    TimerId next_timer_id_ = 1;
    std::map<TimerKey, Timer> timers_;                // in firing order
    std::map<TimerId, Clock::time_point> timer_due_;  // to find a timer by id
    int signal_fd_ = -1;
    std::function<void(int)> on_termination_;
};

}  // namespace copycat
