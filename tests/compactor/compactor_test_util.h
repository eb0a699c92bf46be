// Helpers for the compactor's tests on real logs: entries with chosen terms and compaction
// modes, a log in a temporary directory (tests/logstore/log_test_util.h), and a Compactor
// working on it in-process through LocalLogAccess.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compactor/compactor.h"
#include "compactor/log_access.h"
#include "schemas/storage_generated.h"
#include "tests/compactor/indexes.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::compactor {

using logstore::Entry;
using Mode = storage::CompactionMode;

// An entry of 24 payload bytes (deterministic for index and term) with the given mode.
Entry entry(uint64_t index, uint64_t term, Mode mode);

// LocalLogAccess with hooks around install: what happens between the compactor's copy of the
// release bits and the install, and what the log holds right after each install.
class HookedLogAccess : public LocalLogAccess {
public:
    using LocalLogAccess::LocalLogAccess;
    std::function<void(const std::string& file_name)> before_install;
    std::function<void(std::span<const uint64_t> replaces, const std::string& file_name)>
        after_install;

    Result<logstore::SegmentSummary> install(std::span<const uint64_t> replaces,
                                             const std::string& file_name) override;
};

// The options a Compactor needs for a log in `directory`, combining up to `max_entries`.
CompactorOptions compactor_options(const std::string& directory, uint64_t max_entries = 1 << 20,
                                   double threshold = 0.5);

// The entries of `all` without those whose index is in `removed`.
std::vector<Entry> without(const std::vector<Entry>& all, const std::vector<uint64_t>& removed);

// segment file name -> entries, for every live segment of the log.
std::vector<std::pair<std::string, std::vector<Entry>>> entries_by_segment(
    logstore::SegmentedLog& log);

}  // namespace copycat::compactor
