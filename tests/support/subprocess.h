// A child process for process-level tests: started with fork/exec, stopped by its pid
// (never by name), its stderr kept in a file for when a test fails.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace copycat::testing {

class Subprocess {
public:
    // Starts argv[0] with the rest as arguments; stdout and stderr go to output_path.
    static Result<Subprocess> start(const std::vector<std::string>& argv,
                                    const std::string& output_path);
    Subprocess(Subprocess&& other) noexcept;
    Subprocess& operator=(Subprocess&& other) noexcept;
    Subprocess(const Subprocess&) = delete;
    Subprocess& operator=(const Subprocess&) = delete;
    // Kills (SIGKILL) and reaps the child if it is still running.
    ~Subprocess();

    pid_t pid() const { return pid_; }
    bool running();
    void signal(int signal_number);
    // Waits for the child to exit; returns its exit code, or 128+signal if a signal ended
    // it, or -1 if it is still running after timeout.
    int wait(std::chrono::milliseconds timeout);
    // SIGKILL and reap.
    void kill_now();
    std::string output() const;
    // The direct children of the process (from /proc), e.g. the program strace runs.
    std::vector<pid_t> children() const;

private:
    Subprocess(pid_t pid, std::string output_path);
    pid_t pid_ = -1;
    int exit_code_ = -1;
    std::string output_path_;
};

// A fresh directory under /tmp, removed (with its contents) on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// strace, which the fault-injection tests run a process under (a test skips without it).
inline constexpr const char* kStracePath = "/usr/bin/strace";

// The command to put before a process's argv so that its fdatasync calls fail with EIO from
// the `first_failing`-th on (PostgreSQL's fsyncgate, TESTING.md #12).
std::vector<std::string> failing_fdatasync_wrapper(int first_failing);

// Calls condition until it returns true or timeout passes; returns the last result.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout);

}  // namespace copycat::testing

#include <thread>

namespace copycat::testing {

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace copycat::testing
