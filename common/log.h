// The process log: one line per event on stderr, JSON by default (CONVENTIONS.md, Processes):
//
//   {"ts":"2024-05-01T12:34:56.789Z","level":"info","msg":"segment rolled","node":"logstore-1",
//    "segment":"00000001.log","index":42}
//
// or, with Format::text (--log-format=text), for people:
//
//   2024-05-01T12:34:56.789Z INFO  [logstore-1] segment rolled segment=00000001.log index=42
//
// Usage: log::info("segment rolled", {{"segment", name}, {"index", 42}}).
//
// Every function may be called from any thread: a line is built first, then written whole with
// the sink under one mutex, so lines of different threads never interleave. main sets the node,
// level and format once at start-up (common/log_options.h does it from flags).
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/duration.h"
#include "common/status.h"

namespace copycat::log {

enum class Level { debug, info, warn, error, fatal };
enum class Format { json, text };

// "debug", "info", "warn", "error", "fatal"; parse_level also accepts "warning".
const char* level_name(Level level);
Result<Level> parse_level(std::string_view text);
// "json" or "text".
const char* format_name(Format format);
Result<Format> parse_format(std::string_view text);

// One extra key/value of a line. Strings, integers, doubles and bools are kept as such (numbers
// stay numbers in JSON); a Duration is written as "212ms", a Status as its to_string().
// Keys named ts, level, msg or node would hide the standard ones and are written with a
// leading underscore.
struct Field {
    using Value = std::variant<std::string, int64_t, uint64_t, double, bool>;

    Field(std::string_view key, std::string_view text) : key(key), value(std::string(text)) {}
    Field(std::string_view key, const char* text) : key(key), value(std::string(text)) {}
    Field(std::string_view key, const std::string& text) : key(key), value(text) {}
    Field(std::string_view key, bool flag) : key(key), value(flag) {}
    Field(std::string_view key, std::signed_integral auto number)
        : key(key), value(static_cast<int64_t>(number)) {}
    Field(std::string_view key, std::unsigned_integral auto number)
        : key(key), value(static_cast<uint64_t>(number)) {}
    Field(std::string_view key, std::floating_point auto number)
        : key(key), value(static_cast<double>(number)) {}
    Field(std::string_view key, Duration duration);
    Field(std::string_view key, const Status& status);

    std::string key;
    Value value;
};
using Fields = std::vector<Field>;

// The node this process speaks for ("logstore-1"), written on every line. Empty until set.
void set_node(std::string_view node);
// Lines below the threshold are dropped. Default: info.
void set_level(Level threshold);
Level level();
bool enabled(Level level);
void set_format(Format format);

// Where finished lines (each ending in '\n') go. Default, and after set_sink(nullptr): stderr,
// one write(2) loop per line. Tests use it to capture lines; the sink is called under the log
// mutex and must not log.
using Sink = std::function<void(std::string_view line)>;
void set_sink(Sink sink);

void write(Level level, std::string_view msg, const Fields& fields = {});
inline void debug(std::string_view msg, const Fields& fields = {}) {
    write(Level::debug, msg, fields);
}
inline void info(std::string_view msg, const Fields& fields = {}) {
    write(Level::info, msg, fields);
}
inline void warn(std::string_view msg, const Fields& fields = {}) {
    write(Level::warn, msg, fields);
}
inline void error(std::string_view msg, const Fields& fields = {}) {
    write(Level::error, msg, fields);
}
// Logs at level fatal; does not exit (main decides how to stop).
inline void fatal(std::string_view msg, const Fields& fields = {}) {
    write(Level::fatal, msg, fields);
}

// Bad input from the network or disk: logs a warning the first time `key` is seen and stays
// quiet after, so a flood of malformed messages gives one line (the caller counts every one
// in a metric). Use keys that name the kind of problem ("storage: bad flatbuffer from
// consensus"), not values taken from the input. The line carries the field once_key=key.
// At most 4096 keys are remembered; beyond that new keys are not logged. Returns whether a
// line was written.
bool warn_once(std::string_view key, std::string_view msg, const Fields& fields = {});
// Forgets the keys warn_once has seen (tests; or a periodic reminder).
void forget_once_keys();

// The pieces of the line format, exposed for tests and for tools that print log-like lines.
std::string format_timestamp(std::chrono::system_clock::time_point time);  // RFC 3339, ms, UTC
std::string format_line(Format format, std::chrono::system_clock::time_point time, Level level,
                        std::string_view node, std::string_view msg, const Fields& fields);

}  // namespace copycat::log
