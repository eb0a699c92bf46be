// Where copycat-ctl's output goes: results and events on stdout in the chosen format, errors
// on stderr. Thread-safe: events are printed from the client's runtime thread while the main
// thread prints results. Every line is flushed at once (scripts read them as they come).
#pragma once

#include <iosfwd>
#include <mutex>
#include <string>

#include "client/ctl/output.h"

namespace copycat::ctl {

class Printer {
public:
    Printer(std::ostream& out, std::ostream& err, Format format);

    Format format() const { return format_; }
    // A command's result (print_outcome).
    void result(const Outcome& outcome);
    // Something that happened (a watched change, a leader elected): -w json prints its
    // fields as one object, the other formats its simple lines.
    void event(const Outcome& outcome);
    // One line as it is (the JSON lines of `copycat-ctl session`).
    void line(const std::string& text);
    // "Error: message" on stderr.
    void error(const std::string& message);
    // A line on stderr as it is (warnings).
    void warning(const std::string& message);

private:
    std::mutex mutex_;
    std::ostream& out_;
    std::ostream& err_;
    Format format_;
};

}  // namespace copycat::ctl
