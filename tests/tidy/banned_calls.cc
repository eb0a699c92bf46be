#include "tests/tidy/banned_calls.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace copycat::tidy {
namespace {

constexpr std::size_t npos = std::string_view::npos;

enum class Match {
    name,            // the identifier anywhere: `steady_clock`
    call,            // a call of the free function: `rand(`, `std::rand(`; not `x.rand(`
    std_name,        // the identifier after `std::`: `std::thread`, not `std::this_thread`
    namespace_name,  // the identifier before `::`: `zmq::`
};

struct Ban {
    std::string_view name;
    Match match;
    std::string_view reason;
    std::string_view hatch = {};  // the escape hatch that allows it on its line, if any
};

constexpr std::string_view clock = "a clock: a core takes time as an input";
constexpr std::string_view randomness = "randomness: a core uses the generator it is given";
constexpr std::string_view threads = "threads and locks: a core is single-threaded";
constexpr std::string_view sockets = "sockets: I/O belongs in the process shell";
constexpr std::string_view files = "files: a core reaches storage through its interface";
constexpr std::string_view sleeping = "sleeping: a core never waits";
constexpr std::string_view environment = "the environment: configuration is passed in";
constexpr std::string_view unordered =
    "iteration order is not deterministic: use std::map or a sorted vector, or end the line "
    "with `// tidy: unordered-ok (reason)`";

constexpr std::array core_bans = {
    Ban{"system_clock", Match::name, clock},
    Ban{"steady_clock", Match::name, clock},
    Ban{"high_resolution_clock", Match::name, clock},
    Ban{"time", Match::call, clock},
    Ban{"gettimeofday", Match::name, clock},
    Ban{"clock_gettime", Match::name, clock},
    Ban{"srand", Match::call, randomness},
    Ban{"random_device", Match::name, randomness},
    Ban{"thread", Match::std_name, threads},
    Ban{"jthread", Match::std_name, threads},
    Ban{"mutex", Match::std_name, threads},
    Ban{"shared_mutex", Match::std_name, threads},
    Ban{"recursive_mutex", Match::std_name, threads},
    Ban{"timed_mutex", Match::std_name, threads},
    Ban{"zmq", Match::namespace_name, sockets},
    Ban{"socket", Match::call, sockets},
    Ban{"fopen", Match::name, files},
    Ban{"ifstream", Match::name, files},
    Ban{"ofstream", Match::name, files},
    Ban{"fstream", Match::name, files},
    Ban{"open", Match::call, files},
    Ban{"sleep", Match::name, sleeping},
    Ban{"usleep", Match::name, sleeping},
    Ban{"nanosleep", Match::name, sleeping},
    Ban{"sleep_for", Match::name, sleeping},
    Ban{"sleep_until", Match::name, sleeping},
    Ban{"getenv", Match::name, environment},
    Ban{"secure_getenv", Match::name, environment},
    Ban{"unordered_map", Match::name, unordered, "unordered-ok"},
    Ban{"unordered_set", Match::name, unordered, "unordered-ok"},
    Ban{"unordered_multimap", Match::name, unordered, "unordered-ok"},
    Ban{"unordered_multiset", Match::name, unordered, "unordered-ok"},
};

constexpr std::array everywhere_bans = {
    Ban{"rand", Match::call, "not reproducible: use a seeded generator and log the seed"},
    Ban{"system", Match::call, "runs a shell: start the process explicitly"},
};

// Words after which `name(` is a call, not the declaration of a function called name.
constexpr std::array<std::string_view, 11> expression_keywords = {
    "return", "co_return", "co_yield", "co_await", "throw", "case",
    "else",   "do",        "and",      "or",       "not"};

bool is_identifier_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

// One identifier on a code line, with what surrounds it.
struct Identifier {
    std::string_view name;
    std::string_view qualifier;  // `std` in `std::rand`; empty for none or for `::rand`
    bool qualified = false;      // after `::`
    bool member = false;         // after `.` or `->`
    bool declared = false;       // after a type: `int time(`, `Result<File> open(`, `~open(`
    bool called = false;         // before `(`
    bool scoping = false;        // before `::`
};

// The last non-space position before `end`, or npos.
std::size_t previous_char(std::string_view line, std::size_t end) {
    return line.substr(0, end).find_last_not_of(' ');
}

std::string_view word_ending_at(std::string_view line, std::size_t last) {
    std::size_t start = last + 1;
    while (start > 0 && is_identifier_char(line[start - 1])) --start;
    return line.substr(start, last + 1 - start);
}

bool follows_a_type(std::string_view line, std::size_t prev) {
    const char c = line[prev];
    if (is_identifier_char(c)) {
        const std::string_view word = word_ending_at(line, prev);
        return std::find(expression_keywords.begin(), expression_keywords.end(), word) ==
               expression_keywords.end();
    }
    const char before = prev > 0 ? line[prev - 1] : ' ';
    if (c == '>') return before != '-';
    if (c == '*' || c == '&') return is_identifier_char(before) || before == '>';
    return c == '~';
}

void describe_before(std::string_view line, std::size_t start, Identifier& id) {
    const std::size_t prev = previous_char(line, start);
    if (prev == npos) return;
    const char c = line[prev];
    const char before = prev > 0 ? line[prev - 1] : ' ';
    id.member = c == '.' || (c == '>' && before == '-');
    id.qualified = c == ':' && before == ':';
    if (id.qualified) {
        const std::size_t last = previous_char(line, prev - 1);
        if (last != npos && is_identifier_char(line[last])) {
            id.qualifier = word_ending_at(line, last);
        }
    } else if (!id.member) {
        id.declared = follows_a_type(line, prev);
    }
}

void describe_after(std::string_view line, std::size_t end, Identifier& id) {
    const std::size_t next = line.find_first_not_of(' ', end);
    if (next == npos) return;
    id.called = line[next] == '(';
    id.scoping = line.substr(next).starts_with("::");
}

std::vector<Identifier> identifiers(std::string_view line) {
    std::vector<Identifier> found;
    std::size_t pos = 0;
    while (pos < line.size()) {
        if (!is_identifier_char(line[pos])) {
            ++pos;
            continue;
        }
        std::size_t end = pos;
        while (end < line.size() && is_identifier_char(line[end])) ++end;
        if (std::isdigit(static_cast<unsigned char>(line[pos])) == 0) {
            Identifier id;
            id.name = line.substr(pos, end - pos);
            describe_before(line, pos, id);
            describe_after(line, end, id);
            found.push_back(id);
        }
        pos = end;
    }
    return found;
}

bool matches(const Ban& ban, const Identifier& id) {
    if (id.name != ban.name) return false;
    switch (ban.match) {
        case Match::name: return true;
        case Match::std_name: return id.qualified && id.qualifier == "std";
        case Match::namespace_name: return id.scoping;
        case Match::call:
            return id.called && !id.member && !id.declared &&
                   (id.qualifier.empty() || id.qualifier == "std");
    }
    return false;
}

bool is_include(std::string_view code) {
    const std::size_t hash = code.find_first_not_of(' ');
    if (hash == npos || code[hash] != '#') return false;
    const std::size_t word = code.find_first_not_of(' ', hash + 1);
    return word != npos && code.substr(word).starts_with("include");
}

Findings check_bans(const SourceText& source, std::span<const Ban> bans, std::string_view kind) {
    Findings findings;
    for (std::size_t line = 0; line < source.code.size(); ++line) {
        if (is_include(source.code[line])) continue;
        for (const Identifier& id : identifiers(source.code[line])) {
            for (const Ban& ban : bans) {
                if (!matches(ban, id)) continue;
                if (!ban.hatch.empty() && has_escape_hatch(source.comments[line], ban.hatch)) {
                    continue;
                }
                findings.push_back(
                    {static_cast<int>(line) + 1, std::string(kind) + "`" + std::string(ban.name) +
                                                     "`: " + std::string(ban.reason)});
            }
        }
    }
    return findings;
}

}  // namespace

Findings check_banned_everywhere(const SourceText& source) {
    return check_bans(source, everywhere_bans, "banned call ");
}

Findings check_banned_in_core(const SourceText& source) {
    return check_bans(source, core_bans, "banned in a pure core: ");
}

Findings check_no_iostream(const SourceText& source) {
    Findings findings;
    for (std::size_t line = 0; line < source.code.size(); ++line) {
        const std::string_view code = source.code[line];
        if (!is_include(code)) continue;
        const std::size_t open = code.find('<');
        if (open == npos || !code.substr(open).starts_with("<iostream>")) continue;
        findings.push_back({static_cast<int>(line) + 1,
                            "#include <iostream> in library code: return a Status or log; "
                            "only binaries print"});
    }
    return findings;
}

}  // namespace copycat::tidy
