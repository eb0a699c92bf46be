// The compactor on a real SegmentedLog in a temporary directory, in-process (LocalLogAccess):
// after minor, major and snapshot compaction every entry the rules keep reads back identically
// (index, term, mode, payload), the removed ones are holes, release bits set during a rewrite
// are kept, leftovers go, and the log reopens as it was left.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "common/metrics.h"
#include "logstore/segment.h"
#include "tests/compactor/compactor_test_util.h"
#include "tests/support/http_get.h"

namespace copycat::compactor {
namespace {

using logstore::LogstoreTest;
using logstore::SegmentedLog;

// Segments of 5: [1-5] [6-10] [11-15] [16-20], active [21-23].
//   1-5   term 1: 1 R, 2 R*, 3 R*, 4 TOMBSTONE*, 5 R
//   6-10  term 1: 6 R*, 7 QUORUM*, 8 FULL*; term 2: 9 R, 10 R*
//   11-15 term 2: 11 R, 12 R, 13 R*, 14 UNKNOWN, 15 FULL
//   16-20 term 3: 16 R, 17 TOMBSTONE*, 18 SNAPSHOT, 19 R*, 20 R*
//   21-23 term 3: R (the active segment)
// (* released; R = RELEASE). Released as a consensus server would: never the first entry of a
// term (a leader's initialize entry) nor one in the active segment.
std::vector<Entry> sample_entries() {
    std::vector<Mode> modes = {Mode::Release,   Mode::Release,  Mode::Release, Mode::Tombstone,
                               Mode::Release,   Mode::Release,  Mode::Quorum,  Mode::Full,
                               Mode::Release,   Mode::Release,  Mode::Release, Mode::Release,
                               Mode::Release,   Mode::Unknown,  Mode::Full,    Mode::Release,
                               Mode::Tombstone, Mode::Snapshot, Mode::Release, Mode::Release,
                               Mode::Release,   Mode::Release,  Mode::Release};
    std::vector<Entry> entries;
    for (uint64_t index = 1; index <= modes.size(); ++index) {
        uint64_t term = index <= 8 ? 1 : index <= 15 ? 2 : 3;
        entries.push_back(entry(index, term, modes[index - 1]));
    }
    return entries;
}
const std::vector<uint64_t> kSampleReleased = {2, 3, 4, 6, 7, 8, 10, 13, 17, 19, 20};
// Every released entry may go: up to 20 complete, the tombstones below the global index 18.
const compaction::Indexes kAllMayGo = make_indexes(23, 20, 18, 0);

class RewriteTest : public LogstoreTest {
protected:
    void SetUp() override {
        LogstoreTest::SetUp();
        log_ = logstore::open_log(options(5));
        logstore::append_and_sync(*log_, entries_);
        log_->release(kSampleReleased);
        access_ = std::make_unique<HookedLogAccess>(*log_);
    }

    Result<RunReport> compact(bool major, const compaction::Indexes& indexes,
                              uint64_t max_entries = 5, CompactorMetrics* metrics = nullptr) {
        access_->set_indexes(indexes);
        Compactor compactor(*access_, compactor_options(log_dir(), max_entries), metrics);
        return compactor.compact(major);
    }

    // A new, empty log of segments of `entries_per_segment` in place of the sample.
    void reset_log(uint64_t entries_per_segment) {
        access_.reset();
        log_.reset();
        std::filesystem::remove_all(log_dir());
        log_ = logstore::open_log(options(entries_per_segment));
        access_ = std::make_unique<HookedLogAccess>(*log_);
    }

    void reopen() {
        access_.reset();
        log_.reset();
        log_ = logstore::open_log(options(5));
        access_ = std::make_unique<HookedLogAccess>(*log_);
    }

    std::vector<std::string> segment_names() {
        std::vector<std::string> names;
        for (const auto& s : log_->segments()) names.push_back(s.file_name);
        return names;
    }

    // The log holds exactly `expected`, the indexes in between are holes, and so after a reopen.
    void expect_log_holds(const std::vector<Entry>& expected) {
        for (int pass = 0; pass < 2; ++pass) {
            SCOPED_TRACE(pass == 0 ? "open" : "reopened");
            EXPECT_EQ(logstore::read_all(*log_), expected);
            for (const Entry& e : entries_) {
                bool kept = std::any_of(expected.begin(), expected.end(),
                                        [&](const Entry& k) { return k.index == e.index; });
                EXPECT_EQ(log_->term_at(e.index), kept ? std::optional(e.term) : std::nullopt)
                    << "index " << e.index;
            }
            logstore::expect_no_orphans(log_dir(), *log_);
            reopen();
        }
    }

    const std::vector<Entry> entries_ = sample_entries();
    std::unique_ptr<SegmentedLog> log_;
    std::unique_ptr<HookedLogAccess> access_;
};

TEST_F(RewriteTest, MinorCompactionDropsReleasedEntriesOfChosenSegments) {
    // Eligible up to min(commit 23, minor 20): segments 1-4. Segment 3 has 1 of 5 released
    // (0.2 < 0.5): not chosen, so 13 stays.
    Result<RunReport> done = compact(false, kAllMayGo);
    ASSERT_OK(done);
    EXPECT_EQ(done->segments_rewritten, 3u);
    EXPECT_EQ(done->segments_replaced, 3u);
    EXPECT_EQ(done->entries_removed, 10u);
    EXPECT_EQ(done->reclaimed_bytes, 10u * 49) << "records of 25 + 24 bytes";
    // The tombstones 4 and 17 are below the global index: minor removes them too, in order.
    expect_log_holds(without(entries_, {2, 3, 4, 6, 7, 8, 10, 17, 19, 20}));
    EXPECT_EQ(segment_names(),
              (std::vector<std::string>{"segment-00000001-v2.log", "segment-00000002-v2.log",
                                        "segment-00000003-v1.log", "segment-00000004-v2.log",
                                        "segment-00000005-v1.log"}));
}

TEST_F(RewriteTest, AReleasedEntryThatMustStayKeepsEveryReleasedEntryBelowIt) {
    // No global index: the tombstone 17 must stay, and with it every released entry below it
    // (a replay must not run it without them); only 19 and 20, above it, go.
    Result<RunReport> done = compact(false, make_indexes(23, 23, 0, 0));
    ASSERT_OK(done);
    EXPECT_EQ(done->entries_removed, 2u);
    expect_log_holds(without(entries_, {19, 20}));
}

TEST_F(RewriteTest, ARewriteThatWouldRemoveNothingIsSkipped) {
    // No global index: 17 stays, so nothing below it goes; segments 1 and 2 qualify by their
    // released ratio, yet are not rewritten.
    compaction::Indexes indexes = make_indexes(23, 23, 0, 0);
    Result<RunReport> done = compact(false, indexes);
    ASSERT_OK(done);
    EXPECT_EQ(done->segments_rewritten, 1u) << "19 and 20 go";
    // Now 1 of its 3 records is released, x version 2 passes the threshold, yet none may go.
    done = compact(false, indexes);
    ASSERT_OK(done);
    EXPECT_EQ(done->segments_rewritten, 0u);
    EXPECT_EQ(segment_names()[0], "segment-00000001-v1.log");
    EXPECT_EQ(segment_names()[3], "segment-00000004-v2.log");
}

TEST_F(RewriteTest, MajorCompactionCombinesNeighboursAndDropsTombstonesBelowGlobal) {
    // Eligible up to min(23, 20): segments 1-4. Grouped by what each keeps at most (5 entries a
    // segment): [1, 2] (3 + 2), [3] (4), [4] (3).
    Result<RunReport> done = compact(true, kAllMayGo);
    ASSERT_OK(done);
    EXPECT_EQ(done->segments_rewritten, 3u);
    EXPECT_EQ(done->segments_replaced, 4u);
    EXPECT_EQ(done->entries_removed, 11u);
    // The tombstones 4 and 17 are below the global index 18 and go; what is not released stays.
    expect_log_holds(without(entries_, {2, 3, 4, 6, 7, 8, 10, 13, 17, 19, 20}));
    EXPECT_EQ(segment_names(),
              (std::vector<std::string>{"segment-00000001-v2.log", "segment-00000003-v2.log",
                                        "segment-00000004-v2.log", "segment-00000005-v1.log"}));
    auto summaries = log_->segments();
    EXPECT_EQ(summaries[0].first_index, 1u);
    EXPECT_EQ(summaries[0].last_index, 9u);
    EXPECT_EQ(summaries[1].first_index, 11u) << "a combined segment keeps the first's range start";
}

TEST_F(RewriteTest, MajorCompactionKeepsTombstonesAtOrAboveGlobal) {
    ASSERT_OK(compact(true, make_indexes(23, 20, 4, 0)));
    // 4 and 17 stay, and so does every released entry below 17: only 19 and 20 go.
    EXPECT_EQ(logstore::read_all(*log_), without(entries_, {19, 20}));
}

TEST_F(RewriteTest, SnapshotCompactionEmptiesCoveredSegmentsThatMajorThenCombines) {
    Result<RunReport> done = compact(false, make_indexes(23, 23, 0, 12));
    ASSERT_OK(done);
    // Snapshot: 1-12 go whatever they are (1-5 and 6-10 become empty). 13 stays: the tombstone
    // 17 must (no global index), so every released entry below it does. Minor then: segment 4
    // drops 19 and 20.
    std::vector<uint64_t> removed = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 19, 20};
    expect_log_holds(without(entries_, removed));
    auto summaries = log_->segments();
    ASSERT_EQ(summaries.size(), 5u);
    for (int k : {0, 1}) {
        EXPECT_EQ(summaries[k].records, 0u);
        EXPECT_EQ(summaries[k].size_bytes, logstore::kSegmentHeaderBytes) << "a header alone";
        EXPECT_EQ(summaries[k].version, 2u);
    }
    done = compact(true, make_indexes(23, 23, 0, 12));
    ASSERT_OK(done);
    EXPECT_EQ(done->segments_rewritten, 1u) << "[1, 2, 3] combined; 4 has nothing to lose";
    EXPECT_EQ(done->segments_replaced, 3u);
    EXPECT_EQ(segment_names(),
              (std::vector<std::string>{"segment-00000001-v3.log", "segment-00000004-v2.log",
                                        "segment-00000005-v1.log"}));
    expect_log_holds(without(entries_, removed));
}

// Segments of 3 in one term, the active one [7-8]: a tombstone goes with the writes before it,
// however major compaction groups the segments (the plan sees the whole sealed log).
TEST_F(RewriteTest, ATombstoneGoesWithTheWritesBeforeItHoweverSegmentsAreGrouped) {
    for (uint64_t max_entries : {2, 5}) {
        SCOPED_TRACE("combining up to " + std::to_string(max_entries));
        reset_log(3);
        std::vector<Entry> entries = {entry(1, 1, Mode::Release),   entry(2, 1, Mode::Release),
                                      entry(3, 1, Mode::Release),   entry(4, 1, Mode::Release),
                                      entry(5, 1, Mode::Tombstone), entry(6, 1, Mode::Release),
                                      entry(7, 1, Mode::Release)};
        logstore::append_and_sync(*log_, entries);
        std::vector<uint64_t> released = {2, 3, 4, 5};
        log_->release(released);
        ASSERT_OK(compact(true, make_indexes(7, 7, 7, 0), max_entries));
        EXPECT_EQ(logstore::read_all(*log_), without(entries, {2, 3, 4, 5}));
    }
}

// A released entry that must stay (UNKNOWN: only a snapshot removes it) keeps the tombstone
// above it too, since the write the tombstone undid may be among the entries kept below.
TEST_F(RewriteTest, ADeleteStaysAboveAReleasedEntryThatMustStay) {
    reset_log(3);
    std::vector<Entry> entries = {entry(1, 1, Mode::Release),   entry(2, 1, Mode::Release),
                                  entry(3, 1, Mode::Unknown),   entry(4, 1, Mode::Release),
                                  entry(5, 1, Mode::Tombstone), entry(6, 1, Mode::Release),
                                  entry(7, 1, Mode::Release),   entry(8, 1, Mode::Release)};
    logstore::append_and_sync(*log_, entries);
    std::vector<uint64_t> released = {2, 3, 4, 5, 6};
    log_->release(released);
    ASSERT_OK(compact(true, make_indexes(8, 8, 8, 0)));
    EXPECT_EQ(logstore::read_all(*log_), without(entries, {6}));
}

// Bits that are not one cut of the log (a logstore that has not heard a whole batch since it
// started) count for nothing; the cap of the last batch bounds the global index.
TEST_F(RewriteTest, IncompleteBitsRemoveNothingAndTheCapBoundsTheGlobalIndex) {
    access_->set_release_state(/*complete=*/false);
    Result<RunReport> done = compact(true, kAllMayGo);
    ASSERT_OK(done);
    EXPECT_EQ(done->entries_removed, 0u);
    access_->set_release_state(/*complete=*/true, /*global_cap=*/17);
    ASSERT_OK(compact(true, kAllMayGo));
    EXPECT_EQ(logstore::read_all(*log_), without(entries_, {19, 20})) << "17 stays at the cap";
}

TEST_F(RewriteTest, ReleasesDuringARewriteAreNotLost) {
    // Between the compactor's copy of the bits and each install, 5 (segment 1) and 11
    // (segment 3, kept) are released: both rewritten segments must carry them.
    access_->before_install = [&](const std::string&) {
        std::vector<uint64_t> late = {5, 11, 12};
        log_->release(late);
    };
    ASSERT_OK(compact(true, kAllMayGo));
    access_->before_install = nullptr;
    std::vector<uint64_t> again = {5, 11, 12};
    EXPECT_EQ(log_->release(again), 0u) << "already released in the installed versions";
    reopen();
    EXPECT_EQ(log_->release(again), 0u) << "and saved with them";
    ASSERT_OK(compact(true, kAllMayGo));
    std::vector<Entry> held = logstore::read_all(*log_);
    EXPECT_FALSE(std::any_of(held.begin(), held.end(), [](const Entry& e) {
        return e.index == 5 || e.index == 12;
    })) << "the late releases let the next run remove them";
}

TEST_F(RewriteTest, LeftoversOfInterruptedRunsAreRemoved) {
    const std::vector<std::string> leftovers = {
        "segment-00000001-v2.log", "segment-00000001-v2.log.tmp", "segment-00000003-v4.log",
        "segment-00000003-v4.release"};
    for (const std::string& name : leftovers) {
        logstore::write_file_bytes(log_path(name), std::vector<uint8_t>{1, 2, 3});
    }
    Result<RunReport> done = compact(false, kAllMayGo);
    ASSERT_OK(done);
    EXPECT_EQ(done->leftovers_removed, leftovers.size());
    EXPECT_EQ(done->segments_rewritten, 3u) << "then 1-v2 is written afresh and installed";
    logstore::expect_no_orphans(log_dir(), *log_);
}

TEST_F(RewriteTest, ARefusedInstallChangesNothingAndItsFileGoesNextRun) {
    std::string before = logstore::describe_log(*log_);
    access_->before_install = [&](const std::string& name) {
        logstore::flip_bit(log_path(name), logstore::kSegmentHeaderBytes + 30, 2);
    };
    Result<RunReport> failed = compact(false, kAllMayGo);
    ASSERT_FALSE(failed.is_ok());
    EXPECT_NE(failed.status().message().find("minor compaction stopped after 0 rewrites"),
              std::string::npos)
        << failed.status().message();
    EXPECT_NE(failed.status().message().find("refused segment-00000001-v2.log"), std::string::npos)
        << failed.status().message();
    EXPECT_EQ(logstore::describe_log(*log_), before);
    access_->before_install = nullptr;
    Result<RunReport> done = compact(false, kAllMayGo);
    ASSERT_OK(done);
    EXPECT_EQ(done->leftovers_removed, 1u);
    EXPECT_EQ(done->segments_rewritten, 3u);
}

TEST_F(RewriteTest, AStopRequestEndsTheRunBetweenTwoRewrites) {
    std::atomic<bool> stop{false};
    access_->before_install = [&](const std::string&) { stop = true; };
    access_->set_indexes(kAllMayGo);
    Compactor compactor(*access_, compactor_options(log_dir(), 5));
    Result<RunReport> done = compactor.compact(false, &stop);
    ASSERT_OK(done);
    EXPECT_EQ(done->segments_rewritten, 1u) << "the rewrite under way finishes; no other begins";
}

TEST_F(RewriteTest, PassesAreCountedInTheMetrics) {
    Metrics metrics;
    CompactorMetrics compactor_metrics(metrics);
    Result<RunReport> minor = compact(false, kAllMayGo, 5, &compactor_metrics);
    Result<RunReport> major = compact(true, kAllMayGo, 5, &compactor_metrics);
    ASSERT_OK(minor);
    ASSERT_OK(major);
    std::string text = metrics.render();
    using testing::metric_sum;
    EXPECT_EQ(metric_sum(text, "copycat_compactor_runs_total", {"kind=\"minor\""}), 1);
    EXPECT_EQ(metric_sum(text, "copycat_compactor_runs_total", {"kind=\"snapshot\""}), 1);
    EXPECT_EQ(metric_sum(text, "copycat_compactor_runs_total", {"kind=\"major\""}), 1);
    EXPECT_EQ(metric_sum(text, "copycat_compactor_failures_total"), 0);
    EXPECT_EQ(metric_sum(text, "copycat_compactor_duration_seconds_count", {"kind=\"major\""}), 1);
    EXPECT_EQ(metric_sum(text, "copycat_compactor_reclaimed_bytes_total"),
              static_cast<double>(minor->reclaimed_bytes + major->reclaimed_bytes));
    EXPECT_EQ(metric_sum(text, "copycat_compactor_entries_removed_total"),
              static_cast<double>(minor->entries_removed + major->entries_removed));
}

}  // namespace
}  // namespace copycat::compactor
