// JSON text for logs and for the machine-readable output of tools (`inspect -w json`, the last
// line of a benchmark). Builds strings only; copycat never parses JSON.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace copycat {

// The body of a JSON string literal for `text`, without the surrounding quotes: quotes,
// backslashes and control characters escaped, bytes that are not valid UTF-8 replaced by
// U+FFFD, so that any input (for example a malformed network message) gives valid JSON.
std::string json_escape(std::string_view text);

// Appends `"` + json_escape(text) + `"` to `out`.
void append_json_string(std::string& out, std::string_view text);

// Builds one JSON value (usually an object) in a string, adding commas and colons itself:
//
//   JsonWriter json;
//   json.begin_object().field("index", 42).key("nodes").begin_array().value("n1").end_array();
//   json.end_object();
//   std::string text = json.str();   // {"index":42,"nodes":["n1"]}
//
// Misuse (a value where a key is due, unbalanced ends) is a programming error and asserts.
// Not thread-safe; one writer per string.
class JsonWriter {
public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view name);

    JsonWriter& value(std::string_view text);
    JsonWriter& value(const char* text) { return value(std::string_view(text)); }
    JsonWriter& value(bool flag);
    // NaN and infinities have no JSON form and are written as null.
    JsonWriter& value(double number);
    JsonWriter& value(std::signed_integral auto number) { return signed_value(number); }
    JsonWriter& value(std::unsigned_integral auto number) { return unsigned_value(number); }
    JsonWriter& null_value();

    // key(name) followed by value(v).
    template <typename T>
    JsonWriter& field(std::string_view name, const T& v) {
        key(name);
        return value(v);
    }

    // The text so far; a complete value once every begin has its end.
    const std::string& str() const { return out_; }
    bool complete() const { return stack_.empty() && !out_.empty(); }

private:
    enum class Scope { object_expecting_key, object_expecting_value, array };
    struct Level {
        Scope scope;
        bool empty;
    };

    JsonWriter& signed_value(int64_t number);
    JsonWriter& unsigned_value(uint64_t number);
    void before_value();
    void after_value();

    std::string out_;
    std::vector<Level> stack_;
};

}  // namespace copycat
