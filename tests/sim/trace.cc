#include "tests/sim/trace.h"

#include <cstdio>

#include "common/assert.h"

namespace copycat::sim {

Trace::Trace(size_t capacity, bool echo) : lines_(capacity), echo_(echo) {
    COPYCAT_ASSERT(capacity > 0, "a trace keeps at least one line");
}

std::string format_time(uint64_t time_us) {
    char text[32];
    std::snprintf(text, sizeof text, "%llu.%06llus",
                  static_cast<unsigned long long>(time_us / 1'000'000),
                  static_cast<unsigned long long>(time_us % 1'000'000));
    return text;
}

std::string& Trace::line(uint64_t now_us) {
    flush_echo();
    std::string& line = lines_[next_];
    next_ = (next_ + 1) % lines_.size();
    ++written_;
    line.clear();
    line += format_time(now_us);
    line += ' ';
    pending_echo_ = echo_;
    return line;
}

void Trace::flush_echo() {
    if (!pending_echo_) return;
    pending_echo_ = false;
    const std::string& last = lines_[(next_ + lines_.size() - 1) % lines_.size()];
    std::fprintf(stdout, "%s\n", last.c_str());
}

std::string Trace::text() const {
    std::string text;
    const size_t kept = written_ < lines_.size() ? written_ : lines_.size();
    for (size_t i = 0; i < kept; ++i) {
        text += lines_[(next_ + lines_.size() - kept + i) % lines_.size()];
        text += '\n';
    }
    return text;
}

}  // namespace copycat::sim
