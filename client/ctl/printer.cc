#include "client/ctl/printer.h"

#include <ostream>

namespace copycat::ctl {

Printer::Printer(std::ostream& out, std::ostream& err, Format format)
    : out_(out), err_(err), format_(format) {}

void Printer::result(const Outcome& outcome) {
    std::lock_guard lock(mutex_);
    print_outcome(outcome, format_, out_, err_);
    err_.flush();
}

void Printer::event(const Outcome& outcome) {
    std::lock_guard lock(mutex_);
    if (format_ == Format::json) {
        out_ << render_json(outcome.fields) << "\n";
    } else {
        for (const std::string& text : outcome.simple) out_ << text << "\n";
    }
    out_.flush();
}

void Printer::line(const std::string& text) {
    std::lock_guard lock(mutex_);
    out_ << text << "\n";
    out_.flush();
}

void Printer::error(const std::string& message) {
    std::lock_guard lock(mutex_);
    err_ << "Error: " << message << "\n";
    err_.flush();
}

void Printer::warning(const std::string& message) {
    std::lock_guard lock(mutex_);
    err_ << message << "\n";
    err_.flush();
}

}  // namespace copycat::ctl
