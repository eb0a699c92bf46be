#include "tests/tidy/source_text.h"

#include <array>
#include <cctype>
#include <cstddef>

namespace copycat::tidy {
namespace {

bool is_identifier_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

enum class State { code, line_comment, block_comment, string, character, raw_string };

// Walks the text once; `code_` and `comments_` start as copies of it / blanks and are edited
// in place, so that columns stay where they were.
class Splitter {
public:
    explicit Splitter(std::string_view text)
        : text_(text), code_(text), comments_(text.size(), ' ') {}

    SourceText run() {
        while (pos_ < text_.size()) step();
        return SourceText{split_lines(text_), split_lines(code_), split_lines(comments_)};
    }

private:
    char at(std::size_t pos) const { return pos < text_.size() ? text_[pos] : '\0'; }

    void step() {
        if (text_[pos_] == '\n') {
            comments_[pos_] = '\n';
            if (state_ == State::line_comment || state_ == State::string ||
                state_ == State::character) {
                state_ = State::code;  // an unterminated literal ends with its line
            }
            ++pos_;
            return;
        }
        switch (state_) {
            case State::code: step_code(); break;
            case State::line_comment: take_comment(1); break;
            case State::block_comment: step_block_comment(); break;
            case State::string: step_literal('"'); break;
            case State::character: step_literal('\''); break;
            case State::raw_string: step_raw_string(); break;
        }
    }

    void step_code() {
        const char c = text_[pos_];
        const char next = at(pos_ + 1);
        if (c == '/' && next == '/') {
            state_ = State::line_comment;
            take_comment(2);
        } else if (c == '/' && next == '*') {
            state_ = State::block_comment;
            take_comment(2);
        } else if (c == '"') {
            start_string();
        } else if (c == '\'' && !is_digit_separator()) {
            state_ = State::character;
            ++pos_;
        } else {
            ++pos_;
        }
    }

    // Moves `count` characters from the code into the comments.
    void take_comment(std::size_t count) {
        for (std::size_t i = 0; i < count && pos_ < text_.size(); ++i, ++pos_) {
            comments_[pos_] = text_[pos_];
            code_[pos_] = ' ';
        }
    }

    void step_block_comment() {
        const bool closes = text_[pos_] == '*' && at(pos_ + 1) == '/';
        take_comment(closes ? 2 : 1);
        if (closes) state_ = State::code;
    }

    void step_literal(char quote) {
        const char c = text_[pos_];
        if (c == quote) {
            state_ = State::code;
            ++pos_;
            return;
        }
        blank(pos_++);
        if (c == '\\' && pos_ < text_.size() && text_[pos_] != '\n') blank(pos_++);
    }

    void step_raw_string() {
        if (text_.substr(pos_).starts_with(raw_end_)) {
            for (std::size_t i = 0; i + 1 < raw_end_.size(); ++i) blank(pos_ + i);
            pos_ += raw_end_.size();
            state_ = State::code;
            return;
        }
        blank(pos_++);
    }

    void blank(std::size_t pos) {
        if (text_[pos] != '\n') code_[pos] = ' ';
    }

    // The identifier-like token that ends just before `pos_`.
    std::string_view token_before() const {
        std::size_t start = pos_;
        while (start > 0 && is_identifier_char(text_[start - 1])) --start;
        return text_.substr(start, pos_ - start);
    }

    bool is_digit_separator() const {
        const std::string_view token = token_before();
        return !token.empty() && std::isdigit(static_cast<unsigned char>(token.front())) != 0;
    }

    void start_string() {
        static constexpr std::array<std::string_view, 5> raw_prefixes = {"R", "u8R", "uR", "UR",
                                                                         "LR"};
        const std::string_view token = token_before();
        bool raw = false;
        for (const std::string_view prefix : raw_prefixes) raw = raw || token == prefix;
        const std::size_t paren = text_.find('(', pos_ + 1);
        if (!raw || paren == std::string_view::npos) {
            state_ = State::string;
            ++pos_;
            return;
        }
        raw_end_ = ")" + std::string(text_.substr(pos_ + 1, paren - pos_ - 1)) + "\"";
        for (std::size_t i = pos_ + 1; i <= paren; ++i) blank(i);
        pos_ = paren + 1;
        state_ = State::raw_string;
    }

    static std::vector<std::string> split_lines(std::string_view text) {
        std::vector<std::string> lines;
        std::size_t start = 0;
        while (start < text.size()) {
            std::size_t end = text.find('\n', start);
            if (end == std::string_view::npos) end = text.size();
            lines.emplace_back(text.substr(start, end - start));
            start = end + 1;
        }
        return lines;
    }

    std::string_view text_;
    std::string code_;
    std::string comments_;
    std::size_t pos_ = 0;
    State state_ = State::code;
    std::string raw_end_;  // `)delimiter"` while inside a raw string
};

struct HatchComment {
    std::string_view name;
    bool has_reason = false;
};

// Parses `tidy: <name> (<reason>)` starting at `text`, which begins right after `tidy:`.
HatchComment parse_hatch(std::string_view text) {
    std::size_t pos = text.find_first_not_of(' ');
    if (pos == std::string_view::npos) return {};
    std::size_t end = pos;
    while (end < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[end])) != 0 || text[end] == '-')) {
        ++end;
    }
    HatchComment hatch;
    hatch.name = text.substr(pos, end - pos);
    const std::size_t open = text.find_first_not_of(' ', end);
    if (open == std::string_view::npos || text[open] != '(') return hatch;
    const std::size_t close = text.find(')', open);
    if (close == std::string_view::npos) return hatch;
    const std::string_view reason = text.substr(open + 1, close - open - 1);
    hatch.has_reason = reason.find_first_not_of(' ') != std::string_view::npos;
    return hatch;
}

constexpr std::string_view hatch_marker = "tidy:";

}  // namespace

SourceText split_source(std::string_view text) { return Splitter(text).run(); }

bool has_escape_hatch(std::string_view comment_line, std::string_view name) {
    for (std::size_t pos = comment_line.find(hatch_marker); pos != std::string_view::npos;
         pos = comment_line.find(hatch_marker, pos + 1)) {
        const HatchComment hatch = parse_hatch(comment_line.substr(pos + hatch_marker.size()));
        if (hatch.name == name && hatch.has_reason) return true;
    }
    return false;
}

std::optional<std::string> malformed_escape_hatch(std::string_view comment_line) {
    const std::size_t start = comment_line.find_first_of("/*");
    if (start == std::string_view::npos) return std::nullopt;
    const std::size_t text = comment_line.find_first_not_of("/* ", start);
    if (text == std::string_view::npos || !comment_line.substr(text).starts_with(hatch_marker)) {
        return std::nullopt;
    }
    const HatchComment hatch = parse_hatch(comment_line.substr(text + hatch_marker.size()));
    const std::string name(hatch.name);
    if (name != "long-function" && name != "unordered-ok") {
        return "unknown tidy comment `tidy: " + name + "` (known: long-function, unordered-ok)";
    }
    if (!hatch.has_reason) return "`tidy: " + name + "` needs a reason: `tidy: " + name + " (why)`";
    return std::nullopt;
}

}  // namespace copycat::tidy
