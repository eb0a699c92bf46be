// `copycat-ctl session`: commands read from a descriptor (stdin), one per line, run in order
// in ONE session, one JSON object printed per command (command_specs.cc has the contract).
#pragma once

#include <optional>
#include <string>

#include "client/ctl/connection.h"
#include "client/ctl/printer.h"
#include "client/ctl/signals.h"

namespace copycat::ctl {

// Lines from a descriptor, waiting also for SIGINT/SIGTERM.
class LineReader {
public:
    LineReader(int fd, SignalWatch& signals) : fd_(fd), signals_(signals) {}
    // The next line without its line end; nothing at the end of input or on SIGINT/SIGTERM.
    std::optional<std::string> next();
    bool interrupted() const { return interrupted_; }

private:
    bool fill();  // false: end of input or interrupted

    int fd_;
    SignalWatch& signals_;
    std::string buffer_;
    bool end_ = false;
    bool interrupted_ = false;
};

// The exit code: 0 once the input ended (or SIGINT/SIGTERM came) and the session closed; 1 if
// no session could be opened. Failed lines are reported in their JSON, not in the exit code.
int run_session_script(Connection& connection, int input_fd, Printer& printer,
                       SignalWatch& signals);

}  // namespace copycat::ctl
