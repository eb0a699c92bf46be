// The trace of a run: the last few hundred events (messages, crashes, partitions, role
// changes, commits, client operations), each with its virtual time, printed with the seed when
// a run fails. A ring buffer whose lines keep their capacity, so that tracing every step of
// every run costs little; with echo on, every line is also printed as it happens (--verbose).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace copycat::sim {

class Trace {
public:
    explicit Trace(size_t capacity, bool echo = false);

    // Starts a line at virtual time now_us; append to it with the returned string.
    std::string& line(uint64_t now_us);
    void add(uint64_t now_us, std::string_view text) { line(now_us) += text; }

    // The kept lines, oldest first, one per line.
    std::string text() const;
    uint64_t lines_written() const { return written_; }
    // Prints the line started last, if echo is on.
    void flush_echo();

private:
    std::vector<std::string> lines_;
    size_t next_ = 0;
    uint64_t written_ = 0;
    bool echo_ = false;
    bool pending_echo_ = false;
};

// "12.345678s" for a virtual time in microseconds.
std::string format_time(uint64_t time_us);

}  // namespace copycat::sim
