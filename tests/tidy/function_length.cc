#include "tests/tidy/function_length.h"

#include <array>
#include <cctype>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace copycat::tidy {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_identifier_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

std::string_view trim(std::string_view s) {
    const std::size_t start = s.find_first_not_of(" \t\r");
    if (start == npos) return {};
    return s.substr(start, s.find_last_not_of(" \t\r") - start + 1);
}

bool ends_with_word(std::string_view s, std::string_view word) {
    if (!s.ends_with(word)) return false;
    return s.size() == word.size() || !is_identifier_char(s[s.size() - word.size() - 1]);
}

bool has_word(std::string_view s, std::string_view word) {
    for (std::size_t pos = s.find(word); pos != npos; pos = s.find(word, pos + 1)) {
        const std::size_t end = pos + word.size();
        const bool starts = pos == 0 || !is_identifier_char(s[pos - 1]);
        const bool ends = end == s.size() || !is_identifier_char(s[end]);
        if (starts && ends) return true;
    }
    return false;
}

// The index of the bracket that opens the one closing at the end of `s`; npos if unbalanced.
std::size_t matching_open(std::string_view s) {
    int depth = 0;
    for (std::size_t i = s.size(); i-- > 0;) {
        const char c = s[i];
        if (c == ')' || c == ']' || c == '}') ++depth;
        if ((c == '(' || c == '[' || c == '{') && --depth == 0) return i;
    }
    return npos;
}

// Positions of `token` in `s` outside any (), [] or {}.
std::vector<std::size_t> top_level_positions(std::string_view s, std::string_view token) {
    std::vector<std::size_t> positions;
    int depth = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '(' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == ']' || c == '}') --depth;
        if (depth == 0 && s.substr(i).starts_with(token)) positions.push_back(i);
    }
    return positions;
}

// Drops what may follow a parameter list: cv and ref qualifiers, virt-specifiers, noexcept.
std::string_view strip_qualifiers(std::string_view s) {
    static constexpr std::array<std::string_view, 8> words = {
        "const", "override", "final", "noexcept", "mutable", "constexpr", "volatile", "try"};
    for (;;) {
        s = trim(s);
        bool stripped = false;
        for (const std::string_view word : words) {
            if (!stripped && ends_with_word(s, word)) {
                s.remove_suffix(word.size());
                stripped = true;
            }
        }
        if (stripped) continue;
        if (s.ends_with('&')) {
            s.remove_suffix(1);
            continue;
        }
        const std::size_t open = s.ends_with(')') ? matching_open(s) : npos;
        if (open == npos) return s;
        const std::string_view before = trim(s.substr(0, open));
        if (!ends_with_word(before, "noexcept") && !ends_with_word(before, "throw")) return s;
        s = before;
    }
}

// `[...]` at the end of `s` that is a lambda's capture list, not an array's size.
bool ends_with_lambda_capture(std::string_view s) {
    if (!s.ends_with(']')) return false;
    const std::size_t open = matching_open(s);
    if (open == npos) return false;
    const std::string_view before = trim(s.substr(0, open));
    return before.empty() || std::string_view("=(,{").find(before.back()) != npos;
}

bool ends_with_parameters(std::string_view s) {
    const std::string_view stripped = strip_qualifiers(s);
    return stripped.ends_with(')') || ends_with_lambda_capture(stripped);
}

bool has_trailing_return_type(std::string_view s) {
    for (const std::size_t pos : top_level_positions(s, "->")) {
        if (ends_with_parameters(s.substr(0, pos))) return true;
    }
    return false;
}

bool has_initializer_list(std::string_view s) {
    if (!s.ends_with(')') && !s.ends_with('}') && !s.ends_with("...")) return false;
    for (const std::size_t pos : top_level_positions(s, ":")) {
        const bool scope_operator =
            (pos + 1 < s.size() && s[pos + 1] == ':') || (pos > 0 && s[pos - 1] == ':');
        if (!scope_operator && ends_with_parameters(s.substr(0, pos))) return true;
    }
    return false;
}

enum class Scope { namespace_scope, class_scope, function_scope, other };

Scope classify(std::string_view head) {
    const std::string_view s = trim(head);
    if (s.empty()) return Scope::other;
    if (has_word(s, "namespace")) return Scope::namespace_scope;
    if (looks_like_function(s)) return Scope::function_scope;
    if (has_word(s, "extern") && s.find('(') == npos) return Scope::namespace_scope;  // "C"
    if (s.ends_with('=')) return Scope::other;
    for (const std::string_view word : {"class", "struct", "union", "enum"}) {
        if (has_word(s, word)) return Scope::class_scope;
    }
    return Scope::other;
}

bool is_access_specifier(std::string_view head) {
    const std::string_view s = trim(head);
    return s == "public" || s == "private" || s == "protected";
}

struct OpenBrace {
    Scope scope = Scope::other;
    int line = 0;       // 0-based line of the `{`
    int head_line = 0;  // 0-based first line of the signature
    int limit = 0;      // the most body lines allowed, for a function
};

// Feeds the code lines character by character through a stack of open braces.
class Scanner {
public:
    Scanner(const SourceText& source, const FunctionLimits& limits)
        : source_(source), limits_(limits) {}

    Findings run() {
        bool continued_directive = false;
        for (int line = 0; line < static_cast<int>(source_.code.size()); ++line) {
            const std::string_view code = source_.code[line];
            const bool directive = continued_directive || trim(code).starts_with('#');
            continued_directive = directive && trim(code).ends_with('\\');
            if (directive) continue;
            for (const char c : code) on_char(c, line);
            on_char(' ', line);
        }
        return std::move(findings_);
    }

private:
    void on_char(char c, int line) {
        if (function_depth_ > 0) {
            if (c == '{') stack_.push_back({Scope::other, line, line, 0});
            if (c == '}') close_brace(line);
            return;
        }
        if (c == '{') return open_brace(line);
        if (c == '}') return close_brace(line);
        if (c == ';' || (c == ':' && is_access_specifier(head_))) return reset_head();
        if (head_line_ < 0 && std::isspace(static_cast<unsigned char>(c)) == 0) head_line_ = line;
        head_ += c;
    }

    void open_brace(int line) {
        const Scope scope = classify(head_);
        const int head_line = head_line_ < 0 ? line : head_line_;
        stack_.push_back({scope, line, head_line, limit_for(head_line, line)});
        if (scope == Scope::function_scope) ++function_depth_;
        if (scope == Scope::other) {
            head_ += '{';
        } else {
            reset_head();
        }
    }

    void close_brace(int line) {
        if (stack_.empty()) return;  // unbalanced, e.g. braces split over #if branches
        const OpenBrace open = stack_.back();
        stack_.pop_back();
        if (open.scope == Scope::function_scope) {
            --function_depth_;
            report_if_long(open, line);
        }
        if (function_depth_ > 0) return;
        if (open.scope == Scope::other) {
            head_ += '}';
        } else {
            reset_head();
        }
    }

    void reset_head() {
        head_.clear();
        head_line_ = -1;
    }

    // A hatch counts on the line before the signature or on any line of it.
    int limit_for(int head_line, int brace_line) const {
        for (int line = head_line > 0 ? head_line - 1 : 0; line <= brace_line; ++line) {
            if (has_escape_hatch(source_.comments[line], "long-function")) {
                return limits_.long_lines;
            }
        }
        return limits_.lines;
    }

    void report_if_long(const OpenBrace& open, int close_line) {
        const int body_lines = close_line - open.line - 1;
        if (body_lines <= open.limit) return;
        std::string message = "function body is " + std::to_string(body_lines) + " lines (limit " +
                              std::to_string(open.limit);
        if (open.limit == limits_.lines) {
            message +=
                "; split it, or for a dispatcher put `// tidy: long-function (reason)` "
                "on the line before the signature";
        }
        findings_.push_back({open.head_line + 1, message + ")"});
    }

    const SourceText& source_;
    const FunctionLimits limits_;
    std::vector<OpenBrace> stack_;
    int function_depth_ = 0;
    std::string head_;    // code since the last `;`, `{` or `}` outside any function
    int head_line_ = -1;  // the line where head_ starts, -1 while it is blank
    Findings findings_;
};

}  // namespace

bool looks_like_function(std::string_view head) {
    const std::string_view s = trim(head);
    return ends_with_parameters(s) || has_trailing_return_type(s) || has_initializer_list(s);
}

Findings check_function_length(const SourceText& source, const FunctionLimits& limits) {
    return Scanner(source, limits).run();
}

}  // namespace copycat::tidy
