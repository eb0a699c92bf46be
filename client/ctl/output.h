// copycat-ctl's results as values, and the three ways of printing them (-w simple|json|table).
//
// A command produces an Outcome: its result as one object of named fields (what -w json prints,
// and what `copycat-ctl session` prints after "ok": true), optionally one row per item (member
// list, endpoint status, list: -w json then prints one object per row, -w table one line per
// row), and the lines of simple output, which each command words itself (etcdctl-like: `get`
// prints the value, `put` prints OK). Byte values follow value_text.h.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace copycat::ctl {

enum class Format : uint8_t { simple, json, table };

struct Field;

// A JSON-like value; `bytes` is a byte string printed as value_text.h says.
struct Value {
    enum class Kind : uint8_t {
        null,
        boolean,
        signed_number,
        unsigned_number,
        text,
        bytes,
        array,
        object
    };
    Kind kind = Kind::null;
    bool flag = false;
    int64_t signed_number = 0;
    uint64_t unsigned_number = 0;
    std::string text;           // text and bytes
    std::vector<Value> items;   // array
    std::vector<Field> fields;  // object, in order

    static Value null() { return {}; }
    static Value boolean(bool flag);
    static Value number(int64_t number);
    static Value unsigned_number_value(uint64_t number);
    static Value string(std::string text);
    static Value byte_string(std::string_view bytes);
    static Value array(std::vector<Value> items);
    static Value object(std::vector<Field> fields);
};

struct Field {
    std::string name;
    Value value;
};

using Object = std::vector<Field>;

// Shorthands for building objects.
Field field(std::string name, bool flag);
Field field(std::string name, int64_t number);
Field field(std::string name, uint64_t number);
Field field(std::string name, int number) = delete;  // say which signedness
Field field(std::string name, const char* text);
Field field(std::string name, std::string text);
Field field(std::string name, Value value);
Field bytes_field(std::string name, std::string_view bytes);

struct Outcome {
    Object fields;
    std::optional<std::vector<Object>> rows;
    std::vector<std::string> columns;  // of the rows, for a table of none
    std::vector<std::string> simple;   // lines
    std::vector<std::string> notes;    // for people, on stderr whatever the format
    int exit_code = 0;
};

// {"name":value,...}; a bytes field that is not valid UTF-8 is followed by "name_escaped":true.
std::string render_json(const Object& object);
// Every JSON value of `value` (objects as render_json).
std::string render_json_value(const Value& value);
// An etcdctl-style table: the columns are `columns`, then the other field names of the rows in
// order of appearance, upper-cased with '_' as ' '.
std::string render_table(const std::vector<Object>& rows,
                         const std::vector<std::string>& columns = {});
// A cell or a simple-output word for a value (bytes as display_text, nested values as JSON).
std::string value_text(const Value& value);

// Prints an outcome in a format: simple lines, JSON (one object, or one per row), or a table
// (of the rows, or of the one object). Notes go to err.
void print_outcome(const Outcome& outcome, Format format, std::ostream& out, std::ostream& err);

// What `copycat-ctl session` prints for a result: {"ok":true, fields...}; rows, if any, are
// already in the fields (commands put them in "value").
std::string session_result_json(const Outcome& outcome);
// {"ok":false,"error":"..."}
std::string session_error_json(std::string_view error);

}  // namespace copycat::ctl
