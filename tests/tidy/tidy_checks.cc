#include "tests/tidy/tidy_checks.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "tests/tidy/banned_calls.h"
#include "tests/tidy/finding.h"
#include "tests/tidy/function_length.h"
#include "tests/tidy/source_text.h"

namespace copycat::tidy {
namespace {

constexpr std::array<std::string_view, 5> core_folders = {"consensus/raft/", "consensus/session/",
                                                          "consensus/statemachine/", "client/core/",
                                                          "compactor/plan/"};

constexpr std::array<std::string_view, 6> source_extensions = {".h",  ".hh",  ".hpp",
                                                               ".cc", ".cpp", ".cxx"};

// Columns as an editor shows them: one per UTF-8 code point, not per byte.
int columns(std::string_view line) {
    int count = 0;
    for (const char c : line) {
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
    }
    return count;
}

Findings check_lines(const SourceText& source, const Limits& limits) {
    Findings findings;
    for (std::size_t index = 0; index < source.raw.size(); ++index) {
        const std::string_view line = source.raw[index];
        const int number = static_cast<int>(index) + 1;
        const int width = columns(line);
        if (width > limits.line_columns) {
            findings.push_back({number, "line is " + std::to_string(width) + " columns (limit " +
                                            std::to_string(limits.line_columns) + ")"});
        }
        if (line.find('\t') != std::string_view::npos) {
            findings.push_back({number, "tab character: indent with spaces"});
        }
        if (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
            findings.push_back({number, "trailing whitespace"});
        }
    }
    return findings;
}

Findings check_hatch_comments(const SourceText& source) {
    Findings findings;
    for (std::size_t index = 0; index < source.comments.size(); ++index) {
        if (auto problem = malformed_escape_hatch(source.comments[index])) {
            findings.push_back({static_cast<int>(index) + 1, *problem});
        }
    }
    return findings;
}

void append(Findings& to, Findings from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

bool is_skipped_folder(const std::filesystem::path& folder, int depth) {
    const std::string name = folder.filename().string();
    if (depth == 0 && (name == "data" || name == "run")) return true;
    return name.starts_with('.') || name.starts_with("build") || name.starts_with("cmake-build") ||
           name == "generated" || name == "third_party";
}

bool is_source_file(const std::filesystem::path& file) {
    const std::string name = file.filename().string();
    if (name.ends_with("_generated.h")) return false;
    const std::string extension = file.extension().string();
    return std::find(source_extensions.begin(), source_extensions.end(), extension) !=
           source_extensions.end();
}

}  // namespace

bool is_core_path(std::string_view path) {
    return std::any_of(core_folders.begin(), core_folders.end(),
                       [path](std::string_view folder) { return path.starts_with(folder); });
}

std::vector<Problem> check_source(std::string_view path, std::string_view text,
                                  const Limits& limits) {
    const SourceText source = split_source(text);
    Findings findings = check_lines(source, limits);
    append(findings, check_hatch_comments(source));
    append(findings, check_function_length(source, FunctionLimits{limits.function_lines,
                                                                  limits.long_function_lines}));
    append(findings, check_banned_everywhere(source));
    if (is_core_path(path)) append(findings, check_banned_in_core(source));
    if (path.starts_with("common/")) append(findings, check_no_iostream(source));
    std::stable_sort(findings.begin(), findings.end(),
                     [](const Finding& a, const Finding& b) { return a.line < b.line; });
    std::vector<Problem> problems;
    for (Finding& finding : findings) {
        problems.push_back({std::string(path), finding.line, std::move(finding.message)});
    }
    return problems;
}

std::vector<std::string> list_source_files(const std::filesystem::path& root) {
    namespace fs = std::filesystem;
    std::vector<std::string> files;
    std::error_code error;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, error);
    for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
        if (it->is_directory() && is_skipped_folder(it->path(), it.depth())) {
            it.disable_recursion_pending();
        } else if (it->is_regular_file() && is_source_file(it->path())) {
            files.push_back(it->path().lexically_relative(root).generic_string());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::string to_string(const Problem& problem) {
    return problem.path + ":" + std::to_string(problem.line) + ": " + problem.message;
}

}  // namespace copycat::tidy
