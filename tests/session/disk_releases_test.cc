// DiskReleases (consensus/session/disk_releases.h): releases reach the stored log only once the
// entry that made them is sealed, in the order of those entries, each batch with the cap for
// deletes of its cut; the first batch, and the first after a resend, clears the bits and sends
// every release sent before.
#include "consensus/session/disk_releases.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace copycat::session {
namespace {

using Batch = DiskReleases::Batch;
using Indexes = std::vector<Index>;
constexpr Index kNoCap = DiskReleases::no_cap;

// A batch must come; its indexes sorted (their order within a batch is not promised here).
Batch expect_batch(DiskReleases& releases, Index sealed_through, Index pending = kNoCap) {
    std::optional<Batch> batch = releases.take(sealed_through, pending);
    EXPECT_TRUE(batch.has_value()) << "no batch at sealed_through " << sealed_through;
    if (!batch) return Batch{};
    std::sort(batch->indexes.begin(), batch->indexes.end());
    return *batch;
}

// A started DiskReleases whose first (reset) batch went out.
DiskReleases started() {
    DiskReleases releases;
    EXPECT_TRUE(expect_batch(releases, 0).reset);
    return releases;
}

TEST(DiskReleasesTest, TheFirstBatchResetsEvenWhenEmpty) {
    DiskReleases releases;
    Batch first = expect_batch(releases, 0);
    EXPECT_TRUE(first.reset);
    EXPECT_TRUE(first.indexes.empty());
    EXPECT_EQ(first.global_cap, kNoCap);
    EXPECT_FALSE(releases.take(0, kNoCap).has_value()) << "the reset was sent";
}

TEST(DiskReleasesTest, AReleaseWaitsUntilTheEntryThatMadeItIsSealed) {
    DiskReleases releases = started();
    releases.add(std::vector<Release>{{3, 10}, {5, 12}});
    Batch early = expect_batch(releases, 9);  // for the cap alone
    EXPECT_TRUE(early.indexes.empty()) << "made at 10 and 12, above the sealed end";
    EXPECT_EQ(releases.waiting(), 2u);
    Batch batch = expect_batch(releases, 10);
    EXPECT_FALSE(batch.reset);
    EXPECT_EQ(batch.indexes, Indexes{3}) << "made at 10: sealed now";
    EXPECT_EQ(releases.waiting(), 1u);
    EXPECT_EQ(expect_batch(releases, 12).indexes, Indexes{5});
    EXPECT_EQ(releases.waiting(), 0u);
    EXPECT_EQ(releases.sent(), 2u);
}

// The bits are then exactly the releases made up to some entry: a cut of the log.
TEST(DiskReleasesTest, ReleasesGoInTheOrderOfTheEntriesThatMadeThem) {
    DiskReleases releases = started();
    releases.add(std::vector<Release>{{7, 10}, {2, 11}, {5, 12}, {4, 20}});
    std::optional<Batch> batch = releases.take(12, kNoCap);
    ASSERT_TRUE(batch.has_value());
    EXPECT_EQ(batch->indexes, (Indexes{7, 2, 5})) << "4 was made at 20, above the sealed end";
}

TEST(DiskReleasesTest, TheCapIsTheLowestIndexNotSentYet) {
    DiskReleases releases = started();
    releases.add(std::vector<Release>{{9, 10}, {6, 20}, {8, 30}});
    EXPECT_EQ(expect_batch(releases, 10, 100).global_cap, 6u) << "6 and 8 wait";
    EXPECT_EQ(expect_batch(releases, 10, 4).global_cap, 4u) << "the state machine holds 4";
    EXPECT_EQ(expect_batch(releases, 20, 100).global_cap, 8u);
    EXPECT_EQ(expect_batch(releases, 30, 100).global_cap, 100u);
    EXPECT_EQ(expect_batch(releases, 30, kNoCap).global_cap, kNoCap);
}

TEST(DiskReleasesTest, OnlySomethingNewOrAChangedCapMakesABatch) {
    DiskReleases releases = started();
    releases.add(std::vector<Release>{{3, 10}, {6, 20}});
    Batch batch = expect_batch(releases, 10, 50);
    EXPECT_EQ(batch.indexes, Indexes{3});
    EXPECT_EQ(batch.global_cap, 6u);
    EXPECT_FALSE(releases.take(10, 50).has_value());
    EXPECT_FALSE(releases.take(19, 50).has_value()) << "6 is still not sealed";
    EXPECT_FALSE(releases.take(19, 7).has_value()) << "the cap is still 6";
    batch = expect_batch(releases, 19, 5);
    EXPECT_TRUE(batch.indexes.empty());
    EXPECT_FALSE(batch.reset);
    EXPECT_EQ(batch.global_cap, 5u) << "only the cap changed";
}

// The resend crosses the 65536-index chunks that remember what was sent.
TEST(DiskReleasesTest, AResendSendsEverythingSentBeforeOnceWithAReset) {
    DiskReleases releases = started();
    releases.add(std::vector<Release>{{300000, 10}, {5, 11}, {70000, 12}, {65536, 13}});
    EXPECT_EQ(expect_batch(releases, 13).indexes, (Indexes{5, 65536, 70000, 300000}));
    releases.add(std::vector<Release>{{65535, 14}, {9, 30}});
    releases.resend();
    Batch batch = expect_batch(releases, 20);
    EXPECT_TRUE(batch.reset);
    EXPECT_EQ(batch.indexes, (Indexes{5, 65535, 65536, 70000, 300000}));
    EXPECT_EQ(batch.global_cap, 9u);
    EXPECT_FALSE(releases.take(20, 9).has_value()) << "the resend was sent";
    Batch next = expect_batch(releases, 30);
    EXPECT_FALSE(next.reset);
    EXPECT_EQ(next.indexes, Indexes{9});
}

TEST(DiskReleasesTest, ClearForgetsWhatWasSentAndWhatWaits) {
    DiskReleases releases = started();
    releases.add(std::vector<Release>{{3, 10}, {6, 20}});
    EXPECT_EQ(expect_batch(releases, 10, 50).global_cap, 6u);
    releases.clear();
    EXPECT_EQ(releases.waiting(), 0u);
    EXPECT_EQ(releases.sent(), 0u);
    Batch batch = expect_batch(releases, 20, 6);
    EXPECT_TRUE(batch.reset);
    EXPECT_TRUE(batch.indexes.empty()) << "3 was sent to the log that was dropped, 6 waited";
    EXPECT_EQ(batch.global_cap, 6u) << "from the state machine alone";
    releases.resend();
    EXPECT_TRUE(expect_batch(releases, 20, 6).indexes.empty());
}

TEST(DiskReleasesTest, SentCountsEachIndexOnce) {
    DiskReleases releases = started();
    releases.add(std::vector<Release>{{4, 10}, {4, 11}, {200000, 12}});
    (void)expect_batch(releases, 12);
    EXPECT_EQ(releases.sent(), 2u);
    releases.resend();
    EXPECT_EQ(expect_batch(releases, 12).indexes, (Indexes{4, 200000}));
}

}  // namespace
}  // namespace copycat::session
