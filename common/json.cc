#include "common/json.h"

#include <charconv>
#include <cmath>

#include "common/assert.h"

namespace copycat {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Length of the valid UTF-8 sequence starting at text[0], or 0 if it is not valid
// (truncated, overlong, a surrogate, or above U+10FFFF).
size_t utf8_sequence_length(std::string_view text) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(0);
    size_t length = 0;
    unsigned char min_second = 0x80, max_second = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) min_second = 0xA0;  // overlong
        if (lead == 0xED) max_second = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) min_second = 0x90;  // overlong
        if (lead == 0xF4) max_second = 0x8F;  // above U+10FFFF
    } else {
        return 0;
    }
    if (text.size() < length || byte(1) < min_second || byte(1) > max_second) return 0;
    for (size_t i = 2; i < length; ++i) {
        if (!is_continuation(byte(i))) return 0;
    }
    return length;
}

void append_escaped_ascii(std::string& out, char c) {
    switch (c) {
        case '"': out += "\\\""; return;
        case '\\': out += "\\\\"; return;
        case '\n': out += "\\n"; return;
        case '\r': out += "\\r"; return;
        case '\t': out += "\\t"; return;
        case '\b': out += "\\b"; return;
        case '\f': out += "\\f"; return;
    }
    if (static_cast<unsigned char>(c) < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[(c >> 4) & 0xF];
        out += kHex[c & 0xF];
        return;
    }
    out += c;
}

void append_escaped(std::string& out, std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        if (static_cast<unsigned char>(text[i]) < 0x80) {
            append_escaped_ascii(out, text[i]);
            ++i;
            continue;
        }
        const size_t length = utf8_sequence_length(text.substr(i));
        if (length == 0) {
            out += kReplacementCharacter;
            ++i;
        } else {
            out.append(text.substr(i, length));
            i += length;
        }
    }
}

}  // namespace

std::string json_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_escaped(out, text);
    return out;
}

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    append_escaped(out, text);
    out += '"';
}

JsonWriter& JsonWriter::begin_object() {
    before_value();
    out_ += '{';
    stack_.push_back({Scope::object_expecting_key, true});
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    COPYCAT_ASSERT(!stack_.empty() && stack_.back().scope == Scope::object_expecting_key,
                   "JsonWriter: end_object() without an open object, or right after a key");
    stack_.pop_back();
    out_ += '}';
    after_value();
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    before_value();
    out_ += '[';
    stack_.push_back({Scope::array, true});
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    COPYCAT_ASSERT(!stack_.empty() && stack_.back().scope == Scope::array,
                   "JsonWriter: end_array() without an open array");
    stack_.pop_back();
    out_ += ']';
    after_value();
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    COPYCAT_ASSERT(!stack_.empty() && stack_.back().scope == Scope::object_expecting_key,
                   "JsonWriter: key() outside an object or where a value is due");
    if (!stack_.back().empty) out_ += ',';
    append_json_string(out_, name);
    out_ += ':';
    stack_.back().scope = Scope::object_expecting_value;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
    before_value();
    append_json_string(out_, text);
    after_value();
    return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
    before_value();
    out_ += flag ? "true" : "false";
    after_value();
    return *this;
}

JsonWriter& JsonWriter::value(double number) {
    if (!std::isfinite(number)) return null_value();
    before_value();
    char buffer[32];
    auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, number);
    COPYCAT_ASSERT(error == std::errc(), "JsonWriter: a double did not fit in 32 characters");
    out_.append(buffer, end);
    after_value();
    return *this;
}

JsonWriter& JsonWriter::null_value() {
    before_value();
    out_ += "null";
    after_value();
    return *this;
}

JsonWriter& JsonWriter::signed_value(int64_t number) {
    before_value();
    out_ += std::to_string(number);
    after_value();
    return *this;
}

JsonWriter& JsonWriter::unsigned_value(uint64_t number) {
    before_value();
    out_ += std::to_string(number);
    after_value();
    return *this;
}

void JsonWriter::before_value() {
    if (stack_.empty()) {
        COPYCAT_ASSERT(out_.empty(), "JsonWriter: a second top-level value");
        return;
    }
    Level& level = stack_.back();
    COPYCAT_ASSERT(level.scope != Scope::object_expecting_key,
                   "JsonWriter: a value inside an object needs key() first");
    if (level.scope == Scope::array && !level.empty) out_ += ',';
}

void JsonWriter::after_value() {
    if (stack_.empty()) return;
    Level& level = stack_.back();
    level.empty = false;
    if (level.scope == Scope::object_expecting_value) level.scope = Scope::object_expecting_key;
}

}  // namespace copycat
