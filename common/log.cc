#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <set>

#include "common/json.h"

namespace copycat::log {
namespace {

constexpr size_t kMaxOnceKeys = 4096;

struct State {
    std::atomic<Level> threshold{Level::info};
    std::atomic<Format> format{Format::json};
    std::mutex mutex;  // guards everything below
    std::string node;
    Sink sink;
    std::set<std::string, std::less<>> once_keys;
};

State& state() {
    static State* instance = new State();  // never destroyed: threads may log during exit
    return *instance;
}

void write_to_stderr(std::string_view line) {
    while (!line.empty()) {
        const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return;  // nowhere left to report it
        line.remove_prefix(static_cast<size_t>(written));
    }
}

bool is_reserved_key(std::string_view key) {
    return key == "ts" || key == "level" || key == "msg" || key == "node";
}

std::string output_key(std::string_view key) {
    return is_reserved_key(key) ? "_" + std::string(key) : std::string(key);
}

std::string double_text(double number) {
    char buffer[32];
    auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, number);
    return error == std::errc() ? std::string(buffer, end) : "nan";
}

void write_json_value(JsonWriter& json, const Field::Value& value) {
    std::visit([&](const auto& v) { json.value(v); }, value);
}

std::string json_line(const std::string& ts, Level level, std::string_view node,
                      std::string_view msg, const Fields& fields) {
    JsonWriter json;
    json.begin_object().field("ts", ts).field("level", level_name(level));
    json.field("msg", msg).field("node", node);
    for (const Field& field : fields) {
        json.key(output_key(field.key));
        write_json_value(json, field.value);
    }
    json.end_object();
    return json.str() + "\n";
}

// logfmt-style: bare when unambiguous, else a JSON string literal.
std::string text_string(std::string_view text) {
    bool bare = !text.empty();
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte <= ' ' || c == '"' || c == '=' || c == '\\' || byte >= 0x7F) bare = false;
    }
    if (bare) return std::string(text);
    std::string quoted;
    append_json_string(quoted, text);
    return quoted;
}

std::string text_value(const Field::Value& value) {
    if (const auto* text = std::get_if<std::string>(&value)) return text_string(*text);
    if (const auto* number = std::get_if<int64_t>(&value)) return std::to_string(*number);
    if (const auto* number = std::get_if<uint64_t>(&value)) return std::to_string(*number);
    if (const auto* number = std::get_if<double>(&value)) return double_text(*number);
    return std::get<bool>(value) ? "true" : "false";
}

std::string upper_level_name(Level level) {
    std::string name = level_name(level);
    for (char& c : name) c = static_cast<char>(c - 'a' + 'A');
    name.resize(5, ' ');
    return name;
}

std::string text_line(const std::string& ts, Level level, std::string_view node,
                      std::string_view msg, const Fields& fields) {
    std::string line = ts + " " + upper_level_name(level) + " ";
    if (!node.empty()) line += "[" + json_escape(node) + "] ";
    line += json_escape(msg);  // keeps the line one line
    for (const Field& field : fields) {
        line += " " + json_escape(output_key(field.key)) + "=" + text_value(field.value);
    }
    return line + "\n";
}

}  // namespace

Field::Field(std::string_view key, Duration duration)
    : key(key), value(format_duration(duration)) {}

Field::Field(std::string_view key, const Status& status) : key(key), value(status.to_string()) {}

const char* level_name(Level level) {
    switch (level) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
        case Level::fatal: return "fatal";
    }
    return "unknown";
}

Result<Level> parse_level(std::string_view text) {
    for (Level level : {Level::debug, Level::info, Level::warn, Level::error, Level::fatal}) {
        if (text == level_name(level)) return level;
    }
    if (text == "warning") return Level::warn;
    return invalid_argument("log level '" + std::string(text) +
                            "' is not one of debug, info, warn, error, fatal");
}

const char* format_name(Format format) { return format == Format::json ? "json" : "text"; }

Result<Format> parse_format(std::string_view text) {
    if (text == "json") return Format::json;
    if (text == "text") return Format::text;
    return invalid_argument("log format '" + std::string(text) + "' is not json or text");
}

void set_node(std::string_view node) {
    std::lock_guard lock(state().mutex);
    state().node = node;
}

void set_level(Level threshold) { state().threshold = threshold; }
Level level() { return state().threshold; }
bool enabled(Level level) { return level >= state().threshold.load(); }
void set_format(Format format) { state().format = format; }

void set_sink(Sink sink) {
    std::lock_guard lock(state().mutex);
    state().sink = std::move(sink);
}

std::string format_timestamp(std::chrono::system_clock::time_point time) {
    using namespace std::chrono;
    const auto since_epoch_ms = duration_cast<milliseconds>(time.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(since_epoch_ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(since_epoch_ms % 1000));
    return buffer;
}

std::string format_line(Format format, std::chrono::system_clock::time_point time, Level level,
                        std::string_view node, std::string_view msg, const Fields& fields) {
    const std::string ts = format_timestamp(time);
    if (format == Format::text) return text_line(ts, level, node, msg, fields);
    return json_line(ts, level, node, msg, fields);
}

void write(Level level, std::string_view msg, const Fields& fields) {
    if (!enabled(level)) return;
    const auto now = std::chrono::system_clock::now();
    State& s = state();
    std::lock_guard lock(s.mutex);
    const std::string line = format_line(s.format, now, level, s.node, msg, fields);
    if (s.sink) {
        s.sink(line);
    } else {
        write_to_stderr(line);
    }
}

bool warn_once(std::string_view key, std::string_view msg, const Fields& fields) {
    if (!enabled(Level::warn)) return false;
    {
        State& s = state();
        std::lock_guard lock(s.mutex);
        if (s.once_keys.size() >= kMaxOnceKeys || s.once_keys.contains(key)) return false;
        s.once_keys.emplace(key);
    }
    Fields with_key = fields;
    with_key.emplace_back("once_key", key);
    write(Level::warn, msg, with_key);
    return true;
}

void forget_once_keys() {
    std::lock_guard lock(state().mutex);
    state().once_keys.clear();
}

}  // namespace copycat::log
