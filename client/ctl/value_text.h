// How copycat-ctl shows byte values (map keys and values) as text, and reads them back.
//
// Values are bytes. A value that is valid UTF-8 is printed as it is. Any other value is printed
// escaped: printable ASCII except the backslash as itself, the backslash as "\\", every other
// byte as "\xNN" (two lower-case hex digits). In -w json the escaped text is a JSON string and
// the object says so with "<field>_escaped": true (for example "value_escaped": true), so a
// script can tell "\x00" the text from the byte 0. In -w table a cell is escaped also when it
// holds control characters (a newline would break the table).
//
// `put --escaped` and `cas --escaped` read their values in the escaped form, so that any bytes
// can be written from a shell and what was printed can be written back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace copycat::ctl {

using Bytes = std::vector<uint8_t>;

inline std::string_view as_text(const Bytes& bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
inline Bytes to_bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

bool is_valid_utf8(std::string_view text);
// Valid UTF-8 without control characters (C0, DEL): fits on one line of a table.
bool is_single_line_text(std::string_view text);

// The escaped form described above (always ASCII).
std::string escape_bytes(std::string_view bytes);
// The inverse; refuses a backslash followed by anything but "\\" or "xNN".
Result<Bytes> unescape_bytes(std::string_view text);

// What simple output prints: the text itself when valid UTF-8, else escaped.
std::string display_text(std::string_view bytes);
// What a table cell holds: the text when single-line text, else escaped.
std::string cell_text(std::string_view bytes);

}  // namespace copycat::ctl
