// SIGINT, SIGTERM and SIGCHLD as something to wait for: copycat-ctl's commands that hold (watch,
// lock, elect, group join, session) run until interrupted, then close their session cleanly.
//
// Construct it before any other thread starts (the client's runtime thread must inherit the
// blocked mask, or the default action of a signal delivered there would end the process).
#pragma once

#include <signal.h>

#include <chrono>

namespace copycat::ctl {

class SignalWatch {
public:
    // Blocks SIGINT, SIGTERM and SIGCHLD in the calling thread and reads them from a signalfd.
    SignalWatch();
    // Restores the mask the thread had.
    ~SignalWatch();
    SignalWatch(const SignalWatch&) = delete;
    SignalWatch& operator=(const SignalWatch&) = delete;

    // Waits up to timeout for one of the signals: its number, or 0.
    int wait(std::chrono::milliseconds timeout);
    // The descriptor to poll alongside others (readable when a signal is pending).
    int fd() const { return fd_; }
    // The mask to give a child process (what the thread had before).
    const sigset_t& original_mask() const { return original_; }

private:
    int fd_ = -1;
    sigset_t original_{};
};

bool is_interrupt(int signal_number);

}  // namespace copycat::ctl
