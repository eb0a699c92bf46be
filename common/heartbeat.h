// The event loop's sign of life for /livez: the loop thread calls beat() on every iteration,
// HTTP threads read age(). One atomic; safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace copycat {

class Heartbeat {
public:
    using Clock = std::chrono::steady_clock;

    // Starts as if it had just beaten, so a process is live while it starts up.
    Heartbeat() { beat(); }

    void beat(Clock::time_point now = Clock::now()) {
        last_beat_ticks_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    }

    // How long since the last beat (zero if the last beat is in the future of `now`).
    Clock::duration age(Clock::time_point now = Clock::now()) const {
        const Clock::duration last(last_beat_ticks_.load(std::memory_order_relaxed));
        const Clock::duration since = now.time_since_epoch() - last;
        return since < Clock::duration::zero() ? Clock::duration::zero() : since;
    }

private:
    std::atomic<Clock::rep> last_beat_ticks_{0};
};

}  // namespace copycat
