// The tidy checks (STYLE.md, "Formatting"): what clang-format does not enforce.
//
// On every C++ file of the repository:
//   - lines of at most 100 columns (UTF-8 code points), no tabs, no trailing whitespace;
//   - function bodies of at most 80 lines; a `// tidy: long-function (reason)` comment on the
//     line before the signature raises the limit to 160 (dispatchers);
//   - no `rand(` / `std::rand` and no `system(`;
//   - no `#include <iostream>` in library code under common/.
// In the pure cores (consensus/raft/, consensus/session/, consensus/statemachine/,
// client/core/, compactor/plan/): no clocks, randomness, threads, locks, sockets, files,
// sleeping or environment, and no unordered containers unless the line carries
// `// tidy: unordered-ok (reason)`.
//
// Banned names are matched on code only: comments and string literals never count, and a name
// inside a longer identifier (`runtime(`, `reopen(`) is not the banned one.
//
// Pure: nothing here reads a file except list_source_files(), so tests feed sources from memory.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace copycat::tidy {

struct Limits {
    int line_columns = 100;
    int function_lines = 80;
    int long_function_lines = 160;  // with `// tidy: long-function (reason)`
};

// One rule broken at one line of one file.
struct Problem {
    std::string path;  // relative to the repository root, '/'-separated
    int line = 0;      // 1-based
    std::string message;
};

// Every problem in `text`, the content of the file at `path` (relative to the repository root;
// the path decides whether the core rules apply). Sorted by line.
std::vector<Problem> check_source(std::string_view path, std::string_view text,
                                  const Limits& limits = {});

// True when `path` (relative, '/'-separated) lies in one of the pure cores.
bool is_core_path(std::string_view path);

// The C++ files (.h, .hh, .hpp, .cc, .cpp, .cxx) under `root`, relative and sorted, leaving
// out build*/, data/, run/, hidden folders, generated/ folders and *_generated.h files.
std::vector<std::string> list_source_files(const std::filesystem::path& root);

// "path:line: message"
std::string to_string(const Problem& problem);

}  // namespace copycat::tidy
