#include "client/ctl/output.h"

#include <algorithm>
#include <ostream>

#include "client/ctl/value_text.h"
#include "common/json.h"

namespace copycat::ctl {

Value Value::boolean(bool flag) {
    Value value;
    value.kind = Kind::boolean;
    value.flag = flag;
    return value;
}

Value Value::number(int64_t number) {
    Value value;
    value.kind = Kind::signed_number;
    value.signed_number = number;
    return value;
}

Value Value::unsigned_number_value(uint64_t number) {
    Value value;
    value.kind = Kind::unsigned_number;
    value.unsigned_number = number;
    return value;
}

Value Value::string(std::string text) {
    Value value;
    value.kind = Kind::text;
    value.text = std::move(text);
    return value;
}

Value Value::byte_string(std::string_view bytes) {
    Value value;
    value.kind = Kind::bytes;
    value.text = std::string(bytes);
    return value;
}

Value Value::array(std::vector<Value> items) {
    Value value;
    value.kind = Kind::array;
    value.items = std::move(items);
    return value;
}

Value Value::object(std::vector<Field> fields) {
    Value value;
    value.kind = Kind::object;
    value.fields = std::move(fields);
    return value;
}

Field field(std::string name, bool flag) { return {std::move(name), Value::boolean(flag)}; }
Field field(std::string name, int64_t number) { return {std::move(name), Value::number(number)}; }
Field field(std::string name, uint64_t number) {
    return {std::move(name), Value::unsigned_number_value(number)};
}
Field field(std::string name, const char* text) { return {std::move(name), Value::string(text)}; }
Field field(std::string name, std::string text) {
    return {std::move(name), Value::string(std::move(text))};
}
Field field(std::string name, Value value) { return {std::move(name), std::move(value)}; }
Field bytes_field(std::string name, std::string_view bytes) {
    return {std::move(name), Value::byte_string(bytes)};
}

namespace {

void write_value(JsonWriter& json, const Value& value);

void write_object(JsonWriter& json, const Object& object) {
    json.begin_object();
    for (const Field& f : object) {
        json.key(f.name);
        write_value(json, f.value);
        if (f.value.kind == Value::Kind::bytes && !is_valid_utf8(f.value.text)) {
            json.field(f.name + "_escaped", true);
        }
    }
    json.end_object();
}

void write_value(JsonWriter& json, const Value& value) {
    switch (value.kind) {
        case Value::Kind::null: json.null_value(); return;
        case Value::Kind::boolean: json.value(value.flag); return;
        case Value::Kind::signed_number: json.value(value.signed_number); return;
        case Value::Kind::unsigned_number: json.value(value.unsigned_number); return;
        case Value::Kind::text: json.value(value.text); return;
        case Value::Kind::bytes:
            json.value(is_valid_utf8(value.text) ? value.text : escape_bytes(value.text));
            return;
        case Value::Kind::array:
            json.begin_array();
            for (const Value& item : value.items) write_value(json, item);
            json.end_array();
            return;
        case Value::Kind::object: write_object(json, value.fields); return;
    }
}

std::string header_text(const std::string& name) {
    std::string header;
    for (char c : name) {
        header += c == '_' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return header;
}

// Columns on a terminal: code points (close enough for the text tables hold).
size_t display_width(std::string_view text) {
    return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

std::string padded(const std::string& text, size_t width, bool centered) {
    const size_t room = width - std::min(width, display_width(text));
    const size_t left = centered ? room / 2 : 0;
    return std::string(left, ' ') + text + std::string(room - left, ' ');
}

std::string table_line(const std::vector<std::string>& cells, const std::vector<size_t>& widths,
                       bool centered) {
    std::string line = "|";
    for (size_t i = 0; i < widths.size(); ++i) {
        line += " " + padded(i < cells.size() ? cells[i] : "", widths[i], centered) + " |";
    }
    return line + "\n";
}

std::string table_rule(const std::vector<size_t>& widths) {
    std::string line = "+";
    for (size_t width : widths) line += std::string(width + 2, '-') + "+";
    return line + "\n";
}

}  // namespace

std::string render_json(const Object& object) {
    JsonWriter json;
    write_object(json, object);
    return json.str();
}

std::string render_json_value(const Value& value) {
    JsonWriter json;
    write_value(json, value);
    return json.str();
}

std::string value_text(const Value& value) {
    switch (value.kind) {
        case Value::Kind::null: return "";
        case Value::Kind::boolean: return value.flag ? "true" : "false";
        case Value::Kind::signed_number: return std::to_string(value.signed_number);
        case Value::Kind::unsigned_number: return std::to_string(value.unsigned_number);
        case Value::Kind::text: return value.text;
        case Value::Kind::bytes: return display_text(value.text);
        case Value::Kind::array:
        case Value::Kind::object: return render_json_value(value);
    }
    return "";
}

std::string render_table(const std::vector<Object>& rows,
                         const std::vector<std::string>& known_columns) {
    std::vector<std::string> columns = known_columns;
    for (const Object& row : rows) {
        for (const Field& f : row) {
            if (std::find(columns.begin(), columns.end(), f.name) == columns.end()) {
                columns.push_back(f.name);
            }
        }
    }
    std::vector<std::string> headers;
    std::vector<size_t> widths;
    for (const std::string& column : columns) {
        headers.push_back(header_text(column));
        widths.push_back(display_width(headers.back()));
    }
    std::vector<std::vector<std::string>> cells;
    for (const Object& row : rows) {
        std::vector<std::string>& line = cells.emplace_back(columns.size());
        for (const Field& f : row) {
            const size_t i = static_cast<size_t>(std::find(columns.begin(), columns.end(), f.name) -
                                                 columns.begin());
            const bool bytes = f.value.kind == Value::Kind::bytes;
            line[i] = bytes ? cell_text(f.value.text) : value_text(f.value);
            widths[i] = std::max(widths[i], display_width(line[i]));
        }
    }
    std::string table = table_rule(widths) + table_line(headers, widths, true) + table_rule(widths);
    for (const auto& line : cells) table += table_line(line, widths, false);
    return table + table_rule(widths);
}

void print_outcome(const Outcome& outcome, Format format, std::ostream& out, std::ostream& err) {
    switch (format) {
        case Format::simple:
            for (const std::string& line : outcome.simple) out << line << "\n";
            break;
        case Format::json:
            if (outcome.rows) {
                for (const Object& row : *outcome.rows) out << render_json(row) << "\n";
            } else {
                out << session_result_json(outcome) << "\n";
            }
            break;
        case Format::table:
            out << render_table(outcome.rows ? *outcome.rows : std::vector<Object>{outcome.fields},
                                outcome.columns);
            break;
    }
    out.flush();
    for (const std::string& note : outcome.notes) err << note << "\n";
}

std::string session_result_json(const Outcome& outcome) {
    Object object{field("ok", true)};
    object.insert(object.end(), outcome.fields.begin(), outcome.fields.end());
    return render_json(object);
}

std::string session_error_json(std::string_view error) {
    return render_json({field("ok", false), field("error", std::string(error))});
}

}  // namespace copycat::ctl
