#include "client/ctl/signals.h"

#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/assert.h"

namespace copycat::ctl {

SignalWatch::SignalWatch() {
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGCHLD);
    COPYCAT_ASSERT(pthread_sigmask(SIG_BLOCK, &blocked, &original_) == 0, "cannot block signals");
    fd_ = signalfd(-1, &blocked, SFD_CLOEXEC | SFD_NONBLOCK);
    COPYCAT_ASSERT(fd_ >= 0, "cannot create a signalfd (out of descriptors?)");
}

SignalWatch::~SignalWatch() {
    ::close(fd_);
    pthread_sigmask(SIG_SETMASK, &original_, nullptr);
}

int SignalWatch::wait(std::chrono::milliseconds timeout) {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(timeout.count())) <= 0) return 0;
    signalfd_siginfo info{};
    if (::read(fd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return 0;
    return static_cast<int>(info.ssi_signo);
}

bool is_interrupt(int signal_number) { return signal_number == SIGINT || signal_number == SIGTERM; }

}  // namespace copycat::ctl
