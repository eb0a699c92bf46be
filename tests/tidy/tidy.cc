// copycat-tidy: runs the tidy checks (tidy_checks.h) over every C++ file of a repository.
//
//   copycat-tidy ROOT               print each problem as path:line: message; exit 1 if any
//   copycat-tidy --list-files ROOT  print the files it would check, one a line (format test)
//
// Exit codes: 0 clean, 1 problems found, 2 bad usage or nothing to check.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/tidy/tidy_checks.h"

namespace copycat::tidy {
namespace {

constexpr int exit_clean = 0;
constexpr int exit_problems = 1;
constexpr int exit_usage = 2;

int usage() {
    std::cerr << "usage: copycat-tidy [--list-files] ROOT\n"
                 "Checks line length, whitespace, function length and banned calls in the C++\n"
                 "files under ROOT (see tests/tidy/tidy_checks.h).\n";
    return exit_usage;
}

bool read_file(const std::filesystem::path& path, std::string& text) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    return true;
}

int check_all(const std::filesystem::path& root, const std::vector<std::string>& files) {
    int problem_count = 0;
    for (const std::string& file : files) {
        std::string text;
        if (!read_file(root / file, text)) {
            std::cout << file << ":0: cannot read the file\n";
            ++problem_count;
            continue;
        }
        for (const Problem& problem : check_source(file, text)) {
            std::cout << to_string(problem) << "\n";
            ++problem_count;
        }
    }
    std::cout << "tidy: " << files.size() << " files, " << problem_count << " problems\n";
    return problem_count == 0 ? exit_clean : exit_problems;
}

int run(const std::vector<std::string_view>& args) {
    const bool list_only = !args.empty() && args.front() == "--list-files";
    if (args.size() != (list_only ? 2u : 1u) || args.back().starts_with("-")) return usage();
    const std::filesystem::path root(args.back());
    const std::vector<std::string> files = list_source_files(root);
    if (files.empty()) {
        std::cerr << "copycat-tidy: no C++ files under " << root << ": is it the repository?\n";
        return exit_usage;
    }
    if (!list_only) return check_all(root, files);
    for (const std::string& file : files) std::cout << file << "\n";
    return exit_clean;
}

}  // namespace
}  // namespace copycat::tidy

int main(int argc, char** argv) {
    return copycat::tidy::run(std::vector<std::string_view>(argv + 1, argv + argc));
}
