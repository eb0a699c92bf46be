#include "common/event_loop.h"

#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/assert.h"

namespace copycat {
namespace {

sigset_t termination_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    return signals;
}

// Rounded up, so that the loop never wakes before a timer is due and spins.
std::chrono::milliseconds ceil_to_milliseconds(EventLoop::Clock::duration duration) {
    return std::chrono::ceil<std::chrono::milliseconds>(duration);
}

}  // namespace

Status EventLoop::block_termination_signals() {
    const sigset_t signals = termination_signals();
    const int error = pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    if (error != 0) {
        return io_error(std::string("cannot block SIGTERM/SIGINT: ") + std::strerror(error));
    }
    return Status::ok();
}

EventLoop::EventLoop() : EventLoop(Options{}) {}

EventLoop::EventLoop(Options options) : options_(std::move(options)) {
    if (!options_.now) options_.now = [] { return Clock::now(); };
    on_termination_ = [this](int) { stop(); };
    if (!options_.handle_termination_signals) return;
    const Status blocked = block_termination_signals();
    COPYCAT_ASSERT(blocked.is_ok(), "pthread_sigmask failed for SIGTERM/SIGINT");
    const sigset_t signals = termination_signals();
    signal_fd_ = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    COPYCAT_ASSERT(signal_fd_ >= 0, "signalfd failed: out of file descriptors? (ulimit -n)");
    add_fd(signal_fd_, [this] { read_signals(); });
}

EventLoop::~EventLoop() {
    if (signal_fd_ >= 0) ::close(signal_fd_);
}

void EventLoop::add_socket(zmq::socket_t& socket, Callback on_readable) {
    add_source(&socket, -1, std::move(on_readable));
}

void EventLoop::remove_socket(zmq::socket_t& socket) { remove_source(&socket, -1); }

void EventLoop::add_fd(int fd, Callback on_readable) {
    COPYCAT_ASSERT(fd >= 0, "EventLoop::add_fd needs an open file descriptor");
    add_source(nullptr, fd, std::move(on_readable));
}

void EventLoop::remove_fd(int fd) { remove_source(nullptr, fd); }

void EventLoop::add_source(zmq::socket_t* socket, int fd, Callback callback) {
    const bool known = std::any_of(sources_.begin(), sources_.end(), [&](const Source& s) {
        return s.socket == socket && s.fd == fd;
    });
    COPYCAT_ASSERT(!known, "EventLoop: socket or descriptor added twice");
    sources_.push_back({next_source_id_++, socket, fd, std::move(callback)});
}

void EventLoop::remove_source(zmq::socket_t* socket, int fd) {
    std::erase_if(sources_, [&](const Source& s) { return s.socket == socket && s.fd == fd; });
}

EventLoop::TimerId EventLoop::add_timer(Clock::duration delay, Callback callback) {
    const TimerId id = next_timer_id_++;
    const Clock::time_point due = now() + std::max(delay, Clock::duration::zero());
    timers_.emplace(TimerKey{due, id}, Timer{due, Clock::duration::zero(), std::move(callback)});
    timer_due_.emplace(id, due);
    return id;
}

EventLoop::TimerId EventLoop::add_periodic(Clock::duration interval, Callback callback) {
    COPYCAT_ASSERT(interval > Clock::duration::zero(), "a periodic timer needs an interval > 0");
    const TimerId id = add_timer(interval, std::move(callback));
    timers_.at(TimerKey{timer_due_.at(id), id}).interval = interval;
    return id;
}

bool EventLoop::cancel(TimerId id) {
    auto found = timer_due_.find(id);
    if (found == timer_due_.end()) return false;
    timers_.erase(TimerKey{found->second, id});
    timer_due_.erase(found);
    return true;
}

void EventLoop::on_termination(std::function<void(int signal_number)> handler) {
    on_termination_ = std::move(handler);
}

Status EventLoop::run() {
    Status status;
    while (!stopping_ && status.is_ok()) status = run_once(options_.heartbeat_interval);
    stopping_ = false;  // the loop may be run again
    return status;
}

Status EventLoop::run_once(Clock::duration max_wait) {
    heartbeat_.beat();
    std::vector<uint64_t> ready;
    try {
        ready = poll_sources(poll_timeout(max_wait));
    } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) return io_error(std::string("zmq_poll failed: ") + e.what());
    }
    for (uint64_t source_id : ready) run_source(source_id);
    fire_due_timers();
    heartbeat_.beat();
    return Status::ok();
}

EventLoop::Clock::duration EventLoop::poll_timeout(Clock::duration max_wait) const {
    Clock::duration timeout = std::min<Clock::duration>(max_wait, options_.heartbeat_interval);
    if (!timers_.empty()) timeout = std::min(timeout, timers_.begin()->first.first - now());
    return std::max(timeout, Clock::duration::zero());
}

std::vector<uint64_t> EventLoop::poll_sources(Clock::duration timeout) {
    std::vector<zmq::pollitem_t> items;
    items.reserve(sources_.size());
    for (const Source& source : sources_) {
        void* handle = source.socket == nullptr ? nullptr : source.socket->handle();
        items.push_back({handle, source.fd, ZMQ_POLLIN, 0});
    }
    zmq::poll(items, ceil_to_milliseconds(timeout));
    std::vector<uint64_t> ready;
    for (size_t i = 0; i < items.size(); ++i) {
        // An error or hang-up on a descriptor also calls its callback, which sees it on read.
        if (items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) ready.push_back(sources_[i].id);
    }
    return ready;
}

void EventLoop::run_source(uint64_t source_id) {
    auto found = std::find_if(sources_.begin(), sources_.end(),
                              [&](const Source& s) { return s.id == source_id; });
    if (found == sources_.end()) return;        // removed by an earlier callback
    const Callback callback = found->callback;  // a copy: the callback may remove its source
    callback();
}

void EventLoop::fire_due_timers() {
    const Clock::time_point now_time = now();
    std::vector<TimerId> due;
    for (const auto& [key, timer] : timers_) {
        if (key.first > now_time) break;
        due.push_back(key.second);
    }
    // Timers added by these callbacks wait for the next iteration, even with zero delay.
    for (TimerId id : due) fire_timer(id);
}

void EventLoop::fire_timer(TimerId id) {
    auto found = timer_due_.find(id);
    if (found == timer_due_.end()) return;  // cancelled by an earlier callback
    auto node = timers_.extract(TimerKey{found->second, id});
    Timer& timer = node.mapped();
    const Callback callback = timer.callback;  // a copy: the callback may cancel its timer
    if (timer.interval == Clock::duration::zero()) {
        timer_due_.erase(found);
    } else {
        const Clock::time_point now_time = now();
        timer.due += timer.interval;
        if (timer.due <= now_time) timer.due = now_time + timer.interval;  // skip missed runs
        found->second = timer.due;
        node.key() = TimerKey{timer.due, id};
        timers_.insert(std::move(node));
    }
    callback();
}

void EventLoop::read_signals() {
    signalfd_siginfo info;
    while (true) {
        const ssize_t got = ::read(signal_fd_, &info, sizeof info);
        if (got < 0 && errno == EINTR) continue;
        if (got != static_cast<ssize_t>(sizeof info)) return;  // EAGAIN: all read
        on_termination_(static_cast<int>(info.ssi_signo));
    }
}

}  // namespace copycat
