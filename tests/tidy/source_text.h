// A C++ source split, line by line, into what the compiler reads and what it skips, so that the
// tidy checks can look at code without being fooled by comments and literals, and at comments
// alone for the `tidy:` escape hatches. Used only by the tidy checks.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace copycat::tidy {

// Three views of the same lines, byte for byte the same length, without the '\n'.
struct SourceText {
    std::vector<std::string> raw;       // as written
    std::vector<std::string> code;      // comments and literal contents blanked to spaces
    std::vector<std::string> comments;  // only the comments; everything else blanked
};

// Understands // and /* */ comments, "strings" with escapes, 'c' literals, digit separators
// (1'000) and raw strings (R"x(...)x"). Never fails: unterminated literals end at the line.
SourceText split_source(std::string_view text);

// True when `comment_line` holds `tidy: <name> (<reason>)` with a non-empty reason.
bool has_escape_hatch(std::string_view comment_line, std::string_view name);

// For a comment that starts with `tidy:` but is not a known escape hatch with a reason, what is
// wrong with it; nothing otherwise.
std::optional<std::string> malformed_escape_hatch(std::string_view comment_line);

}  // namespace copycat::tidy
