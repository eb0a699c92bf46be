#include "tests/ctl/ctl_runner.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace copycat::testing {

using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string describe(const CtlResult& result) {
    return "exit " + std::to_string(result.exit_code) + "\nstdout:\n" + result.out + "stderr:\n" +
           result.err;
}

std::vector<std::string> Ctl::argv(const std::vector<std::string>& args, const std::string& input) {
    const std::string id = std::to_string(++runs_);
    const std::string in = scratch_.path() + "/in." + id;
    std::ofstream(in) << input;
    last_err_ = scratch_.path() + "/err." + id;
    last_out_ = scratch_.path() + "/out." + id;
    std::vector<std::string> argv = {
        "/bin/sh",        "-c",          "exec \"$0\" \"$@\" <\"$IN\" 2>\"$ERR\"",
        binary_,          "--endpoints", endpoint_,
        "--dial-timeout", "5s"};
    argv.insert(argv.end(), args.begin(), args.end());
    // sh reads IN and ERR from its environment: set for this child only via env(1).
    argv.insert(argv.begin(), {"/usr/bin/env", "IN=" + in, "ERR=" + last_err_});
    return argv;
}

CtlResult Ctl::run(const std::vector<std::string>& args, const std::string& input,
                   std::chrono::milliseconds timeout) {
    const auto start = Clock::now();
    std::vector<std::string> command = argv(args, input);
    auto process = Subprocess::start(command, last_out_);
    EXPECT_TRUE(process.is_ok());
    CtlResult result;
    if (!process.is_ok()) return result;
    result.exit_code = process->wait(timeout);
    result.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    result.out = read_file(last_out_);
    result.err = read_file(last_err_);
    return result;
}

Subprocess Ctl::start(const std::vector<std::string>& args) {
    std::vector<std::string> command = argv(args, "");
    auto process = Subprocess::start(command, last_out_);
    EXPECT_TRUE(process.is_ok());
    return std::move(process).value();
}

}  // namespace copycat::testing
