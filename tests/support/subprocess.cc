#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace copycat::testing {

Result<Subprocess> Subprocess::start(const std::vector<std::string>& argv,
                                     const std::string& output_path) {
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return io_error(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
        int fd = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    return Subprocess(pid, output_path);
}

Subprocess::Subprocess(pid_t pid, std::string output_path)
    : pid_(pid), output_path_(std::move(output_path)) {}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_), output_path_(std::move(other.output_path_)) {
    other.pid_ = -1;
}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
    if (this != &other) {
        kill_now();
        pid_ = other.pid_;
        exit_code_ = other.exit_code_;
        output_path_ = std::move(other.output_path_);
        other.pid_ = -1;
    }
    return *this;
}

Subprocess::~Subprocess() { kill_now(); }

bool Subprocess::running() {
    if (pid_ < 0) return false;
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == 0) return true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    return false;
}

void Subprocess::signal(int signal_number) {
    if (pid_ > 0) ::kill(pid_, signal_number);
}

int Subprocess::wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() > deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return exit_code_;
}

void Subprocess::kill_now() {
    if (pid_ < 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_code_ = 128 + SIGKILL;
    pid_ = -1;
}

std::string Subprocess::output() const {
    std::ifstream in(output_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<pid_t> Subprocess::children() const {
    std::vector<pid_t> pids;
    if (pid_ < 0) return pids;
    std::error_code ignored;
    std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
    for (const auto& task : std::filesystem::directory_iterator(tasks, ignored)) {
        std::ifstream in(task.path() / "children");
        for (pid_t child = 0; in >> child;) pids.push_back(child);
    }
    return pids;
}

TempDir::TempDir() {
    char pattern[] = "/tmp/copycat-test-XXXXXX";
    char* made = ::mkdtemp(pattern);
    path_ = made != nullptr ? made : "";
}

TempDir::~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

std::vector<std::string> failing_fdatasync_wrapper(int first_failing) {
    return {kStracePath,
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=fdatasync",
            "-e",
            "inject=fdatasync:error=EIO:when=" + std::to_string(first_failing) + "+"};
}

}  // namespace copycat::testing
