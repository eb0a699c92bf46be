// A crash at each step of the rewrite-and-swap protocol (logstore/FORMAT.md, "Compaction"):
// the compactor's own steps and the logstore's install steps. The crash point handler throws
// at the k-th crash point a job passes; then either
//  - the whole node restarts: the log object is dropped and the directory reopened. The log
//    must start, hold the old or the new version of each rewritten range (the new one exactly
//    when the crash came after its manifest update), never both or neither, every entry of
//    each live version intact, no orphan; and a new job must succeed and end where an
//    uninterrupted job ends; or
//  - only the compactor dies (its own steps): the log runs on, and a new compactor must have
//    the leftovers removed (not a restart) and end where an uninterrupted job ends.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "logstore/file.h"
#include "tests/compactor/compactor_test_util.h"

namespace copycat::compactor {
namespace {

using logstore::LogstoreTest;
using logstore::SegmentedLog;

struct SimulatedCrash {
    std::string point;
};

struct Scenario {
    const char* name;
    bool major;
    compaction::Indexes indexes;
    size_t rewrites;  // in an uninterrupted job
};

// Segments of 4, each its own term: [1-4] term 1, [5-8] 2, [9-12] 3, [13-16] 4, the active
// [17-18] 5. RELEASE but 3 and 10 TOMBSTONE, 7 FULL, 14 UNKNOWN. Released as a consensus server
// would: not the first entry of a term, nothing in the active segment, not the UNKNOWN entry;
// and not 2 and 12 either.
std::vector<Entry> crash_entries() {
    std::vector<Entry> entries;
    for (uint64_t index = 1; index <= 18; ++index) {
        Mode mode = index == 3 || index == 10 ? Mode::Tombstone
                    : index == 7              ? Mode::Full
                    : index == 14             ? Mode::Unknown
                                              : Mode::Release;
        entries.push_back(entry(index, 1 + (index - 1) / 4, mode));
    }
    return entries;
}

const Scenario kScenarios[] = {
    // Every released entry goes: one rewrite per sealed segment.
    {"minor", false, make_indexes(18, 16, 12, 0), 4},
    // The same, combined into [1-8] and [9-16].
    {"major", true, make_indexes(18, 16, 12, 0), 2},
    // Snapshot: [1-4] empties, [5-8] keeps 7 (FULL, no global index), which stays, and so do
    // the released entries below it; minor then: 10 (TOMBSTONE) stays, 11, 15 and 16 go.
    {"snapshot", false, make_indexes(18, 18, 0, 6), 4},
};

// One install of an uninterrupted job.
struct Install {
    std::vector<uint64_t> replaces;
    std::string file_name;
};

class CompactorCrashTest : public LogstoreTest, public ::testing::WithParamInterface<Scenario> {
protected:
    std::string trial_dir() const { return root_ + "/trial"; }
    logstore::LogOptions trial_options() const {
        logstore::LogOptions trial = options(4);
        trial.directory = trial_dir();
        return trial;
    }

    void SetUp() override {
        LogstoreTest::SetUp();
        auto log = logstore::open_log(options(4));
        logstore::append_and_sync(*log, crash_entries());
        std::vector<uint64_t> released;
        for (uint64_t index = 1; index <= 18; ++index) {
            const bool first_of_term = (index - 1) % 4 == 0;
            if (index != 2 && index != 12 && index != 14 && index <= 16 && !first_of_term) {
                released.push_back(index);
            }
        }
        log->release(released);
        logstore::require_ok(log->save_release_bitmaps(), "save bitmaps");
        remember_segments(*log);
        pristine_names_ = names_of(*log);
    }

    // The job on `log` (in trial_dir()); a SimulatedCrash escapes it.
    Result<RunReport> run_job(SegmentedLog& log, HookedLogAccess* hooked = nullptr) {
        HookedLogAccess plain(log);
        HookedLogAccess& access = hooked != nullptr ? *hooked : plain;
        access.set_indexes(GetParam().indexes);
        Compactor compactor(access, compactor_options(trial_dir(), 4));
        return compactor.compact(GetParam().major);
    }

    void remember_segments(SegmentedLog& log) {
        for (auto& [name, entries] : entries_by_segment(log)) contents_[name] = entries;
    }

    static std::vector<std::string> names_of(const SegmentedLog& log) {
        std::vector<std::string> names;
        for (const auto& s : log.segments()) names.push_back(s.file_name);
        return names;
    }

    // The uninterrupted job on a copy: its crash points, installs and final state.
    void run_uninterrupted();
    // Crashes the job at crash point k of a fresh copy; the log object stays open if `keep`.
    std::unique_ptr<SegmentedLog> crash_at(size_t k, bool keep);
    // The live segments a crash at crash point k leaves: each install's range is new exactly
    // when k is at or after that install's manifest rename.
    std::vector<std::string> expected_names_after_crash(size_t k) const;
    std::vector<Entry> entries_of(const std::vector<std::string>& names) const;
    bool owned_by_compactor(size_t k) const;

    std::vector<std::string> pristine_names_;
    std::map<std::string, std::vector<Entry>> contents_;  // file name -> its entries
    std::vector<std::string> points_;
    std::vector<Install> installs_;
    std::vector<size_t> manifest_renames_;  // crash point position of each install's manifest
    std::string final_log_;
};

void CompactorCrashTest::run_uninterrupted() {
    logstore::copy_directory(log_dir(), trial_dir());
    auto log = logstore::open_log(trial_options());
    HookedLogAccess access(*log);
    access.after_install = [&](std::span<const uint64_t> replaces, const std::string& name) {
        installs_.push_back({{replaces.begin(), replaces.end()}, name});
        remember_segments(*log);
    };
    logstore::set_crash_point_handler([&](const char* name) { points_.push_back(name); });
    Result<RunReport> done = run_job(*log, &access);
    logstore::set_crash_point_handler(nullptr);
    logstore::require_ok(done.status(), "uninterrupted job");
    ASSERT_EQ(done->segments_rewritten, GetParam().rewrites);
    ASSERT_EQ(installs_.size(), GetParam().rewrites);
    final_log_ = logstore::describe_log(*log);
    for (size_t k = 0; k < points_.size(); ++k) {
        if (points_[k] == "install.after_manifest") manifest_renames_.push_back(k - 1);
    }
    ASSERT_EQ(manifest_renames_.size(), installs_.size());
}

std::unique_ptr<SegmentedLog> CompactorCrashTest::crash_at(size_t k, bool keep) {
    logstore::copy_directory(log_dir(), trial_dir());
    auto log = logstore::open_log(trial_options());
    size_t passed = 0;
    logstore::set_crash_point_handler([&](const char* name) {
        if (passed++ == k) throw SimulatedCrash{name};
    });
    bool crashed = false;
    try {
        (void)run_job(*log);
    } catch (const SimulatedCrash& crash) {
        crashed = crash.point == points_[k];
    }
    logstore::set_crash_point_handler(nullptr);
    EXPECT_TRUE(crashed) << "no crash at " << points_[k];
    if (!keep) log.reset();
    return log;
}

std::vector<std::string> CompactorCrashTest::expected_names_after_crash(size_t k) const {
    std::vector<std::string> names = pristine_names_;
    for (size_t r = 0; r < installs_.size() && k >= manifest_renames_[r]; ++r) {
        auto replaced = [&](const std::string& name) {
            uint64_t id = 0, version = 0;
            logstore::parse_segment_file_name(name, &id, &version);
            const auto& ids = installs_[r].replaces;
            return std::find(ids.begin(), ids.end(), id) != ids.end();
        };
        auto first = std::find_if(names.begin(), names.end(), replaced);
        *first = installs_[r].file_name;
        names.erase(std::remove_if(first + 1, names.end(), replaced), names.end());
    }
    return names;
}

std::vector<Entry> CompactorCrashTest::entries_of(const std::vector<std::string>& names) const {
    std::vector<Entry> entries;
    for (const std::string& name : names) {
        const std::vector<Entry>& held = contents_.at(name);
        entries.insert(entries.end(), held.begin(), held.end());
    }
    return entries;
}

// The compactor's own steps: from the first write of a rewrite to compactor.before_install,
// and compactor.after_install; the logstore's install steps lie in between.
bool CompactorCrashTest::owned_by_compactor(size_t k) const {
    bool in_install = false;
    for (size_t j = 0; j < k; ++j) {
        if (points_[j] == "compactor.before_install") in_install = true;
        if (points_[j] == "compactor.after_install") in_install = false;
    }
    return !in_install || points_[k] == "compactor.after_install";
}

TEST_P(CompactorCrashTest, EachRewriteStepPassesTheDocumentedCrashPoints) {
    run_uninterrupted();
    const std::vector<std::string> one_rewrite = {
        "replace.after_tmp_write",  // the new version, fdatasync'd under its .tmp name
        "replace.after_rename",     // under its own name (directory fsync'd next)
        "compactor.before_install",
        "replace.after_tmp_write",  // the logstore: the new version's release bitmap
        "replace.after_rename",     "install.after_verify",
        "replace.after_tmp_write",  // the manifest naming the new version
        "replace.after_rename",     "install.after_manifest",
        "install.after_remove",  // the replaced files removed
        "compactor.after_install",
    };
    std::vector<std::string> expected;
    for (size_t r = 0; r < GetParam().rewrites; ++r) {
        expected.insert(expected.end(), one_rewrite.begin(), one_rewrite.end());
    }
    EXPECT_EQ(points_, expected);
}

TEST_P(CompactorCrashTest, ANodeRestartedAfterACrashAtAnyStepHoldsOldOrNewVersions) {
    run_uninterrupted();
    for (size_t k = 0; k < points_.size(); ++k) {
        SCOPED_TRACE("crash at " + points_[k] + " (crash point " + std::to_string(k) + ")");
        crash_at(k, /*keep=*/false);
        logstore::RecoveryReport report;
        auto log = logstore::open_log(trial_options(), &report);
        std::vector<std::string> expected = expected_names_after_crash(k);
        EXPECT_EQ(names_of(*log), expected);
        EXPECT_EQ(logstore::read_all(*log), entries_of(expected));
        logstore::expect_no_orphans(trial_dir(), *log);
        Result<RunReport> again = run_job(*log);
        ASSERT_TRUE(again.is_ok()) << again.status().to_string();
        EXPECT_EQ(logstore::describe_log(*log), final_log_);
        logstore::expect_no_orphans(trial_dir(), *log);
    }
}

TEST_P(CompactorCrashTest, ACompactorRestartedAfterACrashInItsOwnStepsCleansUpAndFinishes) {
    run_uninterrupted();
    size_t tried = 0;
    for (size_t k = 0; k < points_.size(); ++k) {
        if (!owned_by_compactor(k)) continue;
        SCOPED_TRACE("compactor crash at " + points_[k] + " (crash point " + std::to_string(k) +
                     ")");
        tried++;
        std::unique_ptr<SegmentedLog> log = crash_at(k, /*keep=*/true);
        EXPECT_FALSE(log->failed());
        EXPECT_EQ(names_of(*log), expected_names_after_crash(k));
        Result<RunReport> again = run_job(*log);
        ASSERT_TRUE(again.is_ok()) << again.status().to_string();
        bool left_a_file = points_[k] != "compactor.after_install";
        EXPECT_EQ(again->leftovers_removed, left_a_file ? 1u : 0u);
        EXPECT_EQ(logstore::describe_log(*log), final_log_);
        logstore::expect_no_orphans(trial_dir(), *log);
    }
    EXPECT_EQ(tried, 4 * GetParam().rewrites);
}

INSTANTIATE_TEST_SUITE_P(Jobs, CompactorCrashTest, ::testing::ValuesIn(kScenarios),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace copycat::compactor
