// What the logstore does for copycat-compactor besides installing (schemas/storage.fbs):
// a copy of the release bits of sealed segments, and the removal of compaction leftovers
// (FORMAT.md, "Compaction leftovers"), both on the log and through the service; and what it
// keeps of the consensus server's release batches for the compactor (ReleaseRequest: reset,
// partial, global_cap; StatusResponse: sealed_through, releases_complete).
#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>

#include "logstore/protocol.h"
#include "logstore/segment.h"
#include "logstore/service.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

// Entries 1-14 in segments [1-4] [5-8] [9-12] and the active [13-14]; 2, 4, 5 and 13 released.
class CompactionRequestsTest : public LogstoreTest {
protected:
    void SetUp() override {
        LogstoreTest::SetUp();
        log_ = open_log(options(4));
        append_and_sync(*log_, entries_);
        std::vector<uint64_t> released = {2, 4, 5, 13};
        log_->release(released);
    }

    void touch(const std::string& name) { std::ofstream(log_path(name)) << "x"; }

    // One request to the service, as the consensus server sends it; the reply lives in reply_
    // until the next request.
    const fb::StorageMessage& ask(StorageService& service, const std::vector<uint8_t>& request) {
        std::vector<Outgoing> out;
        service.handle("consensus", request, &out);
        if (out.size() != 1) throw std::runtime_error("not one reply to a request");
        reply_ = std::move(out[0].bytes);
        const fb::StorageMessage* message = parse_message(reply_);
        if (message == nullptr) throw std::runtime_error("a reply that does not verify");
        return *message;
    }
    const fb::StatusResponse& status(StorageService& service) {
        const fb::StatusResponse* status = ask(service, make_status(1)).body_as_StatusResponse();
        if (status == nullptr) throw std::runtime_error("no StatusResponse");
        return *status;
    }
    // The release bits of the sealed segments 1-3, as the compactor asks for them.
    const fb::ReleaseBitsResponse& release_bits(StorageService& service) {
        const std::vector<uint64_t> ids = {1, 2, 3};
        const fb::ReleaseBitsResponse* bits =
            ask(service, make_release_bits(1, ids)).body_as_ReleaseBitsResponse();
        if (bits == nullptr || bits->segments() == nullptr) {
            throw std::runtime_error("no ReleaseBitsResponse");
        }
        return *bits;
    }
    std::vector<std::vector<uint8_t>> bits_per_segment(StorageService& service) {
        std::vector<std::vector<uint8_t>> out;
        for (const fb::SegmentBits* segment : *release_bits(service).segments()) {
            out.push_back(segment_bits_of(*segment).value().bits);
        }
        return out;
    }
    void release(StorageService& service, std::vector<uint64_t> indexes, ReleaseBatch batch) {
        if (ask(service, make_release(1, indexes, batch)).body_as_ReleaseResponse() == nullptr) {
            throw std::runtime_error("the release was refused");
        }
    }

    const std::vector<Entry> entries_ = test_entries(1, 14, 1);
    std::unique_ptr<SegmentedLog> log_;
    std::vector<uint8_t> reply_;
};

using Bits = std::vector<std::vector<uint8_t>>;
constexpr uint64_t kNoCap = UINT64_MAX;

TEST_F(CompactionRequestsTest, ReleaseBitsOfSealedSegmentsByRecordPosition) {
    std::vector<uint64_t> ids = {3, 1, 4, 77};
    std::vector<SegmentBits> bits = log_->release_bits(ids);
    ASSERT_EQ(bits.size(), 2u) << "the active segment 4 and the unknown 77 are left out";
    EXPECT_EQ(bits[0].id, 1u) << "in log order";
    EXPECT_EQ(bits[0].version, 1u);
    EXPECT_EQ(bits[0].records, 4u);
    EXPECT_EQ(bits[0].bits, (std::vector<uint8_t>{0b1010}));  // records 1 and 3: indexes 2, 4
    EXPECT_EQ(bits[1].id, 3u);
    EXPECT_EQ(bits[1].bits, (std::vector<uint8_t>{0}));
    EXPECT_TRUE(bits[0].released(1));
    EXPECT_FALSE(bits[0].released(2));
}

TEST_F(CompactionRequestsTest, ReleaseBitsFollowTheInstalledVersion) {
    std::string name = segment_file_name(1, 2);
    write_segment_file(log_path(name), {1, 2, 1, 0}, pick(entries_, {1, 3, 4}));
    ASSERT_OK(log_->install_segment(std::vector<uint64_t>{1}, name));
    std::vector<uint64_t> ids = {1};
    std::vector<SegmentBits> bits = log_->release_bits(ids);
    ASSERT_EQ(bits.size(), 1u);
    EXPECT_EQ(bits[0].version, 2u);
    EXPECT_EQ(bits[0].records, 3u);
    EXPECT_EQ(bits[0].bits, (std::vector<uint8_t>{0b100})) << "4 is now the third record";
}

TEST_F(CompactionRequestsTest, LeftoversAreTheCompactorsFilesTheManifestDoesNotName) {
    std::string live = segment_file_name(1, 2);
    write_segment_file(log_path(live), {1, 2, 1, 0}, pick(entries_, {1, 3, 4}));
    ASSERT_OK(log_->install_segment(std::vector<uint64_t>{1}, live));
    const std::vector<std::string> leftovers = {
        "segment-00000001-v3.log", "segment-00000001-v3.release", "segment-00000002-v2.log.tmp",
        "segment-00000002-v5.log"};
    for (const std::string& name : leftovers) touch(name);
    const std::vector<std::string> not_ours = {"segment-00000009-v1.log", "notes.txt",
                                               "segment-00000003-v1.release.tmp"};
    for (const std::string& name : not_ours) touch(name);
    Result<std::vector<std::string>> removed = log_->remove_leftovers();
    ASSERT_OK(removed);
    std::vector<std::string> sorted = *removed;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, leftovers);
    for (const std::string& name : not_ours) EXPECT_TRUE(file_exists(log_path(name))) << name;
    EXPECT_TRUE(file_exists(log_path(live))) << "the live compacted version stays";
    EXPECT_TRUE(file_exists(log_path(release_file_name(1, 2))));
    ASSERT_OK(log_->remove_leftovers());
    EXPECT_TRUE(log_->remove_leftovers()->empty()) << "nothing left to remove";
    std::string before = describe_log(*log_);
    log_.reset();
    EXPECT_EQ(describe_log(*open_log(options(4))), before);
}

// The same two requests over the storage protocol, and a CompactRequest, which only the
// compactor serves.
TEST_F(CompactionRequestsTest, TheServiceAnswersReleaseBitsAndLeftoverRemoval) {
    StorageService service(*log_, nullptr);
    touch("segment-00000002-v2.log");
    std::vector<uint64_t> ids = {1, 2};
    auto ask = [&](const std::vector<uint8_t>& request) {
        std::vector<Outgoing> out;
        service.handle("compactor", request, &out);
        EXPECT_EQ(out.size(), 1u);
        return out.empty() ? std::vector<uint8_t>{} : out[0].bytes;
    };
    std::vector<uint8_t> reply = ask(make_release_bits(7, ids));
    const fb::StorageMessage* message = parse_message(reply);
    ASSERT_NE(message, nullptr);
    EXPECT_EQ(message->request_id(), 7u);
    const auto* segments = message->body_as_ReleaseBitsResponse()->segments();
    ASSERT_EQ(segments->size(), 2u);
    std::optional<SegmentBits> second = segment_bits_of(*segments->Get(1));
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->id, 2u);
    EXPECT_EQ(second->bits, (std::vector<uint8_t>{0b1})) << "5 is the first record of 2";

    reply = ask(make_remove_leftovers(8));
    message = parse_message(reply);
    ASSERT_NE(message, nullptr);
    const auto* removed = message->body_as_RemoveLeftoversResponse()->removed();
    ASSERT_EQ(removed->size(), 1u);
    EXPECT_EQ(removed->Get(0)->str(), "segment-00000002-v2.log");

    reply = ask(make_compact(9, false));
    message = parse_message(reply);
    ASSERT_NE(message, nullptr);
    ASSERT_NE(message->body_as_ErrorResponse(), nullptr);
    EXPECT_EQ(message->body_as_ErrorResponse()->code(), fb::ErrorCode::InvalidArgument);
}

// Compaction must not act on bits that are not one cut of the log: none are, at start-up.
TEST_F(CompactionRequestsTest, ReleasesAreCompleteOnlyOnceABatchArrivesWhole) {
    StorageService service(*log_, nullptr);
    EXPECT_FALSE(status(service).releases_complete()) << "at start-up";
    EXPECT_FALSE(release_bits(service).complete());
    release(service, {6}, ReleaseBatch{.reset = true, .partial = true, .global_cap = kNoCap});
    EXPECT_FALSE(status(service).releases_complete()) << "more of the batch follows";
    EXPECT_FALSE(release_bits(service).complete());
    release(service, {7}, ReleaseBatch{.reset = false, .partial = false, .global_cap = kNoCap});
    EXPECT_TRUE(status(service).releases_complete());
    EXPECT_TRUE(release_bits(service).complete());
    release(service, {}, ReleaseBatch{.reset = false, .partial = true, .global_cap = kNoCap});
    EXPECT_FALSE(status(service).releases_complete()) << "a new batch began";
    EXPECT_FALSE(release_bits(service).complete());
}

TEST_F(CompactionRequestsTest, AResetReleaseClearsTheBitsSetBefore) {
    StorageService service(*log_, nullptr);
    EXPECT_EQ(bits_per_segment(service), (Bits{{0b1010}, {0b1}, {0}}));
    release(service, {3}, ReleaseBatch{.reset = true, .partial = false, .global_cap = kNoCap});
    EXPECT_EQ(bits_per_segment(service), (Bits{{0b100}, {0}, {0}})) << "only 3 is released";
    EXPECT_EQ(released_total(*log_), 1u) << "13, in the active segment, is cleared too";
    release(service, {9}, ReleaseBatch{.reset = false, .partial = false, .global_cap = kNoCap});
    EXPECT_EQ(bits_per_segment(service), (Bits{{0b100}, {0}, {0b1}})) << "no reset: added";
}

// The bits a logstore reads back at start-up are advisory: the first batch of a consensus
// process clears them, for good (the cleared bitmaps are saved).
TEST_F(CompactionRequestsTest, AResetClearsTheBitsLoadedAtStartUp) {
    ASSERT_OK(log_->save_release_bitmaps());
    log_.reset();
    log_ = open_log(options(4));
    ASSERT_EQ(released_total(*log_), 4u) << "the bitmaps were not loaded";
    {
        StorageService service(*log_, nullptr);
        EXPECT_EQ(bits_per_segment(service), (Bits{{0b1010}, {0b1}, {0}}));
        release(service, {}, ReleaseBatch{.reset = true, .partial = false, .global_cap = kNoCap});
        EXPECT_EQ(bits_per_segment(service), (Bits{{0}, {0}, {0}}));
        EXPECT_TRUE(release_bits(service).complete());
    }
    log_.reset();
    log_ = open_log(options(4));
    EXPECT_EQ(released_total(*log_), 0u) << "cleared bits came back after a restart";
}

// Each batch's cap is right for its own cut: the last request's replaces the one before.
TEST_F(CompactionRequestsTest, TheGlobalCapIsTheOneTheLastReleaseRequestSet) {
    StorageService service(*log_, nullptr);
    EXPECT_EQ(release_bits(service).global_cap(), kNoCap) << "never set";
    release(service, {6}, ReleaseBatch{.reset = true, .partial = false, .global_cap = 40});
    EXPECT_EQ(release_bits(service).global_cap(), 40u);
    release(service, {7}, ReleaseBatch{.reset = false, .partial = true, .global_cap = 30});
    EXPECT_EQ(release_bits(service).global_cap(), 30u);
    release(service, {8}, ReleaseBatch{.reset = false, .partial = false, .global_cap = 35});
    EXPECT_EQ(release_bits(service).global_cap(), 35u) << "it may grow";
    release(service, {}, ReleaseBatch{.reset = false, .partial = false, .global_cap = kNoCap});
    EXPECT_EQ(release_bits(service).global_cap(), kNoCap) << "a batch without a cap";
}

// The consensus server sends a release only once the entry that made it is sealed.
TEST_F(CompactionRequestsTest, SealedThroughIsTheEndOfTheLastSealedSegment) {
    StorageService service(*log_, nullptr);
    EXPECT_EQ(status(service).sealed_through(), 12u) << "the active segment starts at 13";
    append_and_sync(*log_, test_entries(15, 16, 1));
    EXPECT_EQ(status(service).sealed_through(), 12u) << "[13-16] is full but still active";
    append_and_sync(*log_, test_entries(17, 17, 1));
    EXPECT_EQ(status(service).sealed_through(), 16u);

    LogOptions empty = options(4);
    empty.directory = root_ + "/empty";
    auto empty_log = open_log(empty);
    StorageService empty_service(*empty_log, nullptr);
    EXPECT_EQ(status(empty_service).sealed_through(), 0u) << "nothing is sealed";
}

}  // namespace
}  // namespace copycat::logstore
