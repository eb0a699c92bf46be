#include "tests/compactor/compactor_test_util.h"

#include <algorithm>

namespace copycat::compactor {

Entry entry(uint64_t index, uint64_t term, Mode mode) {
    return Entry{index, term, static_cast<uint8_t>(mode), logstore::test_payload(index, term, 24)};
}

Result<logstore::SegmentSummary> HookedLogAccess::install(std::span<const uint64_t> replaces,
                                                          const std::string& file_name) {
    if (before_install) before_install(file_name);
    Result<logstore::SegmentSummary> installed = LocalLogAccess::install(replaces, file_name);
    if (installed.is_ok() && after_install) after_install(replaces, file_name);
    return installed;
}

CompactorOptions compactor_options(const std::string& directory, uint64_t max_entries,
                                   double threshold) {
    CompactorOptions options;
    options.log_directory = directory;
    options.threshold = threshold;
    options.limits.segment_max_entries = max_entries;
    return options;
}

std::vector<Entry> without(const std::vector<Entry>& all, const std::vector<uint64_t>& removed) {
    std::vector<Entry> kept;
    for (const Entry& e : all) {
        if (std::find(removed.begin(), removed.end(), e.index) == removed.end()) kept.push_back(e);
    }
    return kept;
}

std::vector<std::pair<std::string, std::vector<Entry>>> entries_by_segment(
    logstore::SegmentedLog& log) {
    std::vector<std::pair<std::string, std::vector<Entry>>> segments;
    for (const logstore::SegmentSummary& s : log.segments()) {
        std::vector<Entry> entries;
        if (s.records > 0) {
            Result<std::vector<Entry>> read = log.read(s.first_index, s.last_index, SIZE_MAX);
            logstore::require_ok(read.status(), "read " + s.file_name);
            entries = std::move(*read);
        }
        segments.emplace_back(s.file_name, std::move(entries));
    }
    return segments;
}

}  // namespace copycat::compactor
