// copycat-ctl run as a subprocess, the way a user runs it, for the process tests of tests/ctl:
// its stdin from a string, its stdout and stderr kept apart, its exit code and how long it took.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace copycat::testing {

struct CtlResult {
    int exit_code = -1;
    std::string out;
    std::string err;
    std::chrono::milliseconds took{0};
};

std::string read_file(const std::string& path);
std::vector<std::string> lines_of(const std::string& text);
// The exit code, stdout and stderr, for failure messages.
std::string describe(const CtlResult& result);

// copycat-ctl (`binary`) against the gateway at `endpoint`, with a 5 s dial timeout (a later
// --dial-timeout in the arguments overrides it); stdin from a file and stdout and stderr kept
// apart (through sh).
class Ctl {
public:
    Ctl(std::string binary, std::string endpoint)
        : binary_(std::move(binary)), endpoint_(std::move(endpoint)) {}

    CtlResult run(const std::vector<std::string>& args, const std::string& input = "",
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

    // A copycat-ctl left running (watch, lock, elect); its stdout is output(), stderr err().
    Subprocess start(const std::vector<std::string>& args);
    std::string last_err_path() const { return last_err_; }
    const std::string& scratch() const { return scratch_.path(); }

private:
    std::vector<std::string> argv(const std::vector<std::string>& args, const std::string& input);

    std::string binary_;
    std::string endpoint_;
    TempDir scratch_;
    int runs_ = 0;
    std::string last_err_;
    std::string last_out_;
};

}  // namespace copycat::testing
