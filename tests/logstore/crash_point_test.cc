// A crash at each step of the multi-step operations (FORMAT.md, "Operations and their crash
// points"). A crash point handler throws at the k-th crash point the operation passes; the
// crashed log object is dropped and the directory reopened, as a restarted process would.
// The reopened log must hold the state from before the operation or the one after it, never a
// mix, with the orphans removed, and must go on accepting appends.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "logstore/file.h"
#include "logstore/log.h"
#include "logstore/segment.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

struct SimulatedCrash {
    std::string point;
};

enum class State { before, after };

// One crash point the operation passes, in order, and what a crash there must leave.
struct Step {
    std::string point;
    State state;
    std::optional<uint64_t> finished_truncate_intent = std::nullopt;
};

using Operation = std::function<void(SegmentedLog&)>;

class CrashPointTest : public LogstoreTest {
protected:
    std::string trial_dir() const { return root_ + "/trial"; }
    LogOptions trial_options(const std::string& directory) const {
        LogOptions trial = options_;
        trial.directory = directory;
        return trial;
    }

    // The pristine log in log_dir(), built by `setup` and closed.
    void prepare(const LogOptions& options, const Operation& setup) {
        options_ = options;
        auto log = open_log(options_);
        setup(*log);
    }

    // Runs the operation on a copy of the pristine log and returns the crash points it passed.
    std::vector<std::string> run_without_crash(const Operation& operation) {
        copy_directory(log_dir(), trial_dir());
        auto log = open_log(trial_options(trial_dir()));
        std::vector<std::string> points;
        set_crash_point_handler([&](const char* name) { points.push_back(name); });
        operation(*log);
        set_crash_point_handler(nullptr);
        return points;
    }

    std::string state_after_reopen() { return describe_log(*open_log(trial_options(trial_dir()))); }

    // Runs the operation on a copy of the pristine log, crashing at the k-th crash point.
    void crash_at(size_t k, const Operation& operation) {
        copy_directory(log_dir(), trial_dir());
        auto log = open_log(trial_options(trial_dir()));
        size_t passed = 0;
        set_crash_point_handler([&](const char* name) {
            if (passed++ == k) throw SimulatedCrash{name};
        });
        bool crashed = false;
        try {
            operation(*log);
        } catch (const SimulatedCrash&) {
            crashed = true;
        }
        set_crash_point_handler(nullptr);
        EXPECT_TRUE(crashed);
    }

    void expect_every_crash_recovers(const Operation& operation, const std::vector<Step>& steps);
    void expect_log_goes_on(std::unique_ptr<SegmentedLog> log);

    LogOptions options_;
};

// After a crash: an append still works, and survives a crash right after its sync (a copy of
// the directory taken while the log is open) with nothing else changed.
void CrashPointTest::expect_log_goes_on(std::unique_ptr<SegmentedLog> log) {
    std::string before = describe_log(*log);
    std::vector<Entry> entries = read_all(*log);
    Entry next = test_entry(log->last_index() + 1, 9);
    append_and_sync(*log, {next});
    std::string copy = root_ + "/after";
    copy_directory(trial_dir(), copy);
    auto restarted = open_log(trial_options(copy));
    EXPECT_EQ(read_all(*restarted), concat(entries, {next}));
    EXPECT_EQ(released_total(*restarted), released_total(*log));
}

void CrashPointTest::expect_every_crash_recovers(const Operation& operation,
                                                 const std::vector<Step>& steps) {
    copy_directory(log_dir(), trial_dir());
    const std::string before = state_after_reopen();
    std::vector<std::string> points = run_without_crash(operation);
    const std::string after = state_after_reopen();
    ASSERT_NE(before, after);
    std::vector<std::string> expected_points;
    for (const Step& step : steps) expected_points.push_back(step.point);
    ASSERT_EQ(points, expected_points);
    for (size_t k = 0; k < steps.size(); ++k) {
        SCOPED_TRACE("crash at " + steps[k].point + " (crash point " + std::to_string(k) + ")");
        crash_at(k, operation);
        RecoveryReport report;
        auto log = open_log(trial_options(trial_dir()), &report);
        EXPECT_EQ(describe_log(*log), steps[k].state == State::before ? before : after);
        EXPECT_EQ(report.finished_truncate_intent, steps[k].finished_truncate_intent);
        expect_no_orphans(trial_dir(), *log);
        expect_log_goes_on(std::move(log));
    }
}

// Entries 1-10 in segments [1-4] [5-8] [9-10]; releases in the first two, saved.
void ten_entries_with_releases(SegmentedLog& log) {
    append_and_sync(log, test_entries(1, 10, 1));
    std::vector<uint64_t> released = {2, 3, 6};
    log.release(released);
    require_ok(log.save_release_bitmaps(), "save release bitmaps");
}

TEST_F(CrashPointTest, InstallCompactedSegment) {
    prepare(options(4), ten_entries_with_releases);
    const std::string name = segment_file_name(1, 2);
    Operation install = [&](SegmentedLog& log) {
        write_segment_file(trial_dir() + "/" + name, {1, 2, 1, 0},
                           pick(test_entries(1, 4, 1), {1, 3, 4}));
        std::vector<uint64_t> replaces = {1};
        Result<SegmentSummary> installed = log.install_segment(replaces, name);
        require_ok(installed.status(), "install");
        EXPECT_EQ(installed->released, 1u) << "the release of 3 is carried over";
    };
    const std::vector<Step> steps = {
        {"replace.after_tmp_write", State::before},  // the new version's bitmap
        {"replace.after_rename", State::before},     // bitmap in place; the file is an orphan
        {"install.after_verify", State::before},     // verified; nothing live changed
        {"replace.after_tmp_write", State::before},  // MANIFEST.tmp, not read
        {"replace.after_rename", State::after},      // the new manifest decides
        {"install.after_manifest", State::after},    // the old files are orphans
        {"install.after_remove", State::after},      // done
    };
    expect_every_crash_recovers(install, steps);
}

TEST_F(CrashPointTest, TruncateAcrossSegments) {
    prepare(options(4), [](SegmentedLog& log) {
        append_and_sync(log, test_entries(1, 14, 1));  // [1-4] [5-8] [9-12] [13-14]
        std::vector<uint64_t> released = {2, 5, 8, 10};
        log.release(released);
        require_ok(log.save_release_bitmaps(), "save release bitmaps");
    });
    Operation truncate = [](SegmentedLog& log) {
        require_ok(log.truncate_after(6, 0), "truncate");
    };
    const std::vector<Step> steps = {
        {"replace.after_tmp_write", State::before},  // the manifest with the intent
        {"replace.after_rename", State::after,
         6},  // bits cut, records not yet start-up finishes the truncation
        {"truncate.after_manifest", State::after, 6},  // nothing cut yet
        {"replace.after_tmp_write", State::after, 6},  // the bitmap without the cut bits
        {"replace.after_rename", State::after, 6},     // bits cut, records not yet
        {"truncate.after_cut", State::after, 6},       // dropped files remain
        {"truncate.after_remove", State::after, 6},    // dropped files gone
        {"replace.after_tmp_write", State::after, 6},  // the manifest without the intent
        {"replace.after_rename", State::after},        // done
    };
    expect_every_crash_recovers(truncate, steps);
}

TEST_F(CrashPointTest, RollOver) {
    prepare(options(4), [](SegmentedLog& log) { append_and_sync(log, test_entries(1, 4, 1)); });
    Operation append = [](SegmentedLog& log) { append_and_sync(log, test_entries(5, 6, 1)); };
    // The roll-over comes before entry 5 is staged, so a crash leaves entries 1-4 in any case.
    const std::vector<Step> steps = {
        {"roll.after_create", State::before},
        {"replace.after_tmp_write", State::before},
        {"replace.after_rename", State::before},
        {"roll.after_manifest", State::before},
    };
    expect_every_crash_recovers(append, steps);
}

TEST_F(CrashPointTest, Reset) {
    prepare(options(4), ten_entries_with_releases);
    Operation reset = [](SegmentedLog& log) { require_ok(log.reset(50), "reset"); };
    const std::vector<Step> steps = {
        {"reset.after_create", State::before},
        {"replace.after_tmp_write", State::before},
        {"replace.after_rename", State::after},
        {"reset.after_manifest", State::after},
    };
    expect_every_crash_recovers(reset, steps);
}

// A crash while a new data directory is set up: the meta file, then the first manifest.
TEST_F(CrashPointTest, FirstStart) {
    options_ = options();
    const std::vector<std::string> expected = {"replace.after_tmp_write", "replace.after_rename",
                                               "replace.after_tmp_write", "replace.after_rename"};
    std::vector<std::string> points;
    set_crash_point_handler([&](const char* name) { points.push_back(name); });
    open_log(trial_options(trial_dir()));
    set_crash_point_handler(nullptr);
    ASSERT_EQ(points, expected);
    for (size_t k = 0; k < expected.size(); ++k) {
        SCOPED_TRACE("crash at crash point " + std::to_string(k));
        std::filesystem::remove_all(trial_dir());
        size_t passed = 0;
        set_crash_point_handler([&](const char* name) {
            if (passed++ == k) throw SimulatedCrash{name};
        });
        EXPECT_THROW(open_log(trial_options(trial_dir())), SimulatedCrash);
        set_crash_point_handler(nullptr);
        RecoveryReport report;
        auto log = open_log(trial_options(trial_dir()), &report);
        EXPECT_EQ(report.created, k < 3) << "the first manifest is in place after its rename";
        EXPECT_EQ(log->first_index(), 1u);
        EXPECT_EQ(log->last_index(), 0u);
        EXPECT_EQ(log->meta(), Meta{});
        expect_no_orphans(trial_dir(), *log);
        expect_log_goes_on(std::move(log));
    }
}

}  // namespace
}  // namespace copycat::logstore
