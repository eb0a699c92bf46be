// LogstoreLink with PersistOps that touch snapshots (consensus/server/logstore_link.h,
// SNAPSHOTS.md): the snapshot file is durable before the log changes of its op reach the
// logstore, the log restarts after an installed snapshot it conflicts with or does not reach,
// a reset's hard state (its log floor) is durable before the log reset goes, which goes before
// the snapshots are discarded and all before anything after them, ops are reported durable only
// in order, and a restore reads back the floor; release batches larger than a request go in
// parts, and a logstore that answers after a batch that its release bits are not complete lost
// them. The logstore is a real StorageService over a real log in a temporary directory, served
// in-process on an inproc:// socket, so the test sees which requests arrive and in what order.
#include <gtest/gtest.h>

#include <zmq.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/zmq_socket.h"
#include "consensus/server/logstore_link.h"
#include "logstore/log.h"
#include "logstore/protocol.h"
#include "logstore/service.h"
#include "tests/support/subprocess.h"

namespace copycat::server {
namespace {

namespace fb = logstore::fb;
using testing::TempDir;

std::vector<raft::Entry> entries(raft::Index first, raft::Index last, raft::Term term) {
    std::vector<raft::Entry> out;
    for (raft::Index i = first; i <= last; ++i) {
        out.push_back({term, i, raft::EntryType::command, 0, 0, {static_cast<uint8_t>(i)}});
    }
    return out;
}

raft::PersistOp append_op(uint64_t seq, raft::Index first, raft::Index last, raft::Term term) {
    raft::PersistOp op;
    op.seq = seq;
    op.entries = entries(first, last, term);
    return op;
}

raft::PersistOp install_op(uint64_t seq, raft::Index index, raft::Term term,
                           std::optional<raft::Index> truncate_after) {
    raft::PersistOp op;
    op.seq = seq;
    op.snapshot = raft::Snapshot{index, term, raft::Configuration{1, 1, {}},
                                 std::make_shared<const std::vector<uint8_t>>(10, 7)};
    op.truncate_after = truncate_after;
    return op;
}

class LogstoreLinkTest : public ::testing::Test {
protected:
    LogstoreLinkTest()
        : log_(open_log()),
          service_(std::in_place, *log_, nullptr),
          router_(make_router(context_)),
          endpoint_("inproc://logstore-" + std::to_string(reinterpret_cast<uintptr_t>(this))) {
        router_.bind(endpoint_);
        link_.emplace(context_, endpoint_,
                      SnapshotHooks{[this](const raft::Snapshot& s) { stored_.push_back(s.index); },
                                    [this] { ++discards_; }});
    }

    std::unique_ptr<logstore::SegmentedLog> open_log() {
        logstore::LogOptions options;
        options.directory = temp_.path() + "/log";
        options.preallocate = false;
        options.segment_max_entries = 8;
        auto log = logstore::SegmentedLog::open(options, nullptr);
        EXPECT_TRUE(log.is_ok()) << log.status().to_string();
        return std::move(log.value());
    }

    // Serves what reached the logstore, as copycat-logstore does (handle each, then commit).
    void serve() {
        std::vector<logstore::Outgoing> out;
        while (std::optional<ReceivedMessage> message = try_receive(router_)) {
            std::span<const uint8_t> payload(static_cast<const uint8_t*>(message->payload.data()),
                                             message->payload.size());
            const fb::StorageMessage* parsed = logstore::parse_message(payload);
            ASSERT_NE(parsed, nullptr);
            received_.push_back(fb::EnumNameBody(parsed->body_type()));
            if (const fb::ReleaseRequest* release = parsed->body_as_ReleaseRequest()) {
                size_t count = release->indexes() == nullptr ? 0 : release->indexes()->size();
                releases_.push_back(
                    {count, release->reset(), release->partial(), release->global_cap()});
            }
            service_->handle(message->routing_frames.front().to_string(), payload, &out);
        }
        service_->commit(&out);
        for (const logstore::Outgoing& reply : out) {
            ASSERT_TRUE(try_send(router_, reply.peer, std::span<const uint8_t>(reply.bytes)));
        }
    }

    // Runs both sides until quiet; the highest seq the link reported durable so far.
    uint64_t pump() {
        for (int round = 0; round < 20; ++round) {
            serve();
            zmq::pollitem_t item{link_->socket().handle(), 0, ZMQ_POLLIN, 0};
            if (zmq::poll(&item, 1, std::chrono::milliseconds(20)) == 0) continue;
            note(link_->on_readable());
        }
        EXPECT_FALSE(link_->failed()) << link_->failure().to_string();
        return persisted_;
    }
    void note(std::optional<uint64_t> persisted) {
        if (!persisted) return;
        EXPECT_GT(*persisted, persisted_) << "reported durable twice or out of order";
        persisted_ = *persisted;
    }
    std::vector<std::string> take_received() { return std::exchange(received_, {}); }
    // Serves for a while without letting the link read any answer.
    void serve_only() {
        for (int round = 0; round < 10; ++round) {
            serve();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    // What a ReleaseRequest that reached the logstore said.
    struct ReleaseSeen {
        size_t indexes = 0;
        bool reset = false;
        bool partial = false;
        uint64_t global_cap = 0;
        bool operator==(const ReleaseSeen&) const = default;
    };

    // The released entries of the log, as its segments count them.
    uint64_t released_count() const {
        uint64_t count = 0;
        for (const logstore::SegmentSummary& segment : log_->segments()) count += segment.released;
        return count;
    }

    TempDir temp_;
    std::unique_ptr<logstore::SegmentedLog> log_;
    std::optional<logstore::StorageService> service_;  // emplaced again: a restarted logstore
    zmq::context_t context_{1};
    zmq::socket_t router_;
    std::string endpoint_;
    std::optional<LogstoreLink> link_;
    std::vector<raft::Index> stored_;  // SnapshotHooks::store calls
    int discards_ = 0;                 // SnapshotHooks::discard_all calls
    std::vector<std::string> received_;
    std::vector<ReleaseSeen> releases_;
    uint64_t persisted_ = 0;
};

TEST_F(LogstoreLinkTest, AnInstalledSnapshotIsStoredBeforeTheLogRestartsAfterIt) {
    link_->persist(append_op(1, 1, 5, 1), 0);
    EXPECT_EQ(pump(), 1u);
    take_received();
    // The leader's snapshot at 20 (term 2) conflicts with this log: Raft truncates after it.
    link_->persist(install_op(2, 20, 2, 20), 20);
    link_->persist(append_op(3, 21, 22, 2), 20);
    EXPECT_EQ(pump(), 1u);
    EXPECT_EQ(stored_, std::vector<raft::Index>{20});
    EXPECT_TRUE(take_received().empty()) << "a log change went out before the snapshot file";
    EXPECT_EQ(log_->last_index(), 5u);

    note(link_->snapshot_durable(20));
    EXPECT_EQ(pump(), 3u);
    EXPECT_EQ(take_received(), (std::vector<std::string>{"ResetLogRequest", "AppendRequest"}));
    EXPECT_EQ(log_->first_index(), 21u);
    EXPECT_EQ(log_->last_index(), 22u);
    EXPECT_EQ(link_->durable_snapshot_index(), 20u);
}

TEST_F(LogstoreLinkTest, ALogBehindItsSnapshotRestartsAfterIt) {
    link_->persist(append_op(1, 1, 5, 1), 0);
    EXPECT_EQ(pump(), 1u);
    take_received();
    link_->persist(install_op(2, 20, 2, std::nullopt), 20);  // a restart's op: log behind
    note(link_->snapshot_durable(20));
    EXPECT_EQ(pump(), 2u);
    EXPECT_EQ(take_received(), std::vector<std::string>{"ResetLogRequest"});
    EXPECT_EQ(log_->first_index(), 21u);
}

TEST_F(LogstoreLinkTest, ALogHoldingTheSnapshotIsKept) {
    link_->persist(append_op(1, 1, 30, 2), 0);
    EXPECT_EQ(pump(), 1u);
    take_received();
    link_->persist(install_op(2, 20, 2, std::nullopt), 20);
    // Only the file: once it is durable, the op is, with nothing sent to the logstore.
    std::optional<uint64_t> durable = link_->snapshot_durable(20);
    ASSERT_TRUE(durable.has_value());
    EXPECT_EQ(*durable, 2u);
    pump();
    EXPECT_TRUE(take_received().empty());
    EXPECT_EQ(log_->first_index(), 1u);
    EXPECT_EQ(log_->last_index(), 30u);
}

TEST_F(LogstoreLinkTest, AResetDropsTheLogThenTheSnapshotsBeforeAnythingElse) {
    link_->persist(append_op(1, 1, 10, 1), 0);
    EXPECT_EQ(pump(), 1u);
    take_received();
    raft::PersistOp reset;
    reset.seq = 2;
    reset.reset_log = true;
    link_->persist(reset, 0);
    link_->persist(append_op(3, 1, 2, 3), 0);
    EXPECT_EQ(pump(), 1u);
    EXPECT_EQ(take_received(), std::vector<std::string>{"ResetLogRequest"});
    EXPECT_EQ(discards_, 1) << "the snapshots go only once the log reset is durable";
    EXPECT_EQ(log_->last_index(), 0u);

    note(link_->snapshots_discarded());
    EXPECT_EQ(pump(), 3u);
    EXPECT_EQ(take_received(), std::vector<std::string>{"AppendRequest"});
    EXPECT_EQ(log_->first_index(), 1u);
    EXPECT_EQ(log_->last_index(), 2u);
}

TEST_F(LogstoreLinkTest, OpsBehindASnapshotWaitAndAreReportedInOrder) {
    link_->persist(append_op(1, 1, 30, 2), 0);
    raft::PersistOp vote;
    vote.seq = 3;
    vote.hard_state = raft::HardState{3, 2};
    link_->persist(install_op(2, 20, 2, std::nullopt), 20);
    link_->persist(vote, 20);
    link_->persist(append_op(4, 31, 31, 3), 20);
    EXPECT_EQ(pump(), 1u) << "nothing after the snapshot is durable before its file";
    EXPECT_EQ(log_->last_index(), 30u);
    EXPECT_EQ(log_->meta().term, 0u) << "the vote behind the snapshot must wait for it";
    note(link_->snapshot_durable(20));
    EXPECT_EQ(pump(), 4u);
    EXPECT_EQ(log_->meta().term, 3u);
    EXPECT_EQ(log_->last_index(), 31u);
}

TEST_F(LogstoreLinkTest, CompactionIndexesSentOnlyGrow) {
    link_->set_indexes(10, 5, 3, 9);
    link_->set_indexes(8, 6, 2, 7);
    pump();
    std::vector<logstore::Outgoing> out;
    service_->handle("probe", logstore::make_status(99), &out);
    ASSERT_EQ(out.size(), 1u);
    const fb::StatusResponse* status =
        logstore::parse_message(out[0].bytes)->body_as_StatusResponse();
    ASSERT_NE(status, nullptr);
    EXPECT_EQ(status->commit_index(), 10u);
    EXPECT_EQ(status->global_index(), 6u);
    EXPECT_EQ(status->snapshot_index(), 3u);
    EXPECT_EQ(status->minor_index(), 9u);
}

raft::PersistOp reset_op(uint64_t seq, raft::HardState hard_state) {
    raft::PersistOp op;
    op.seq = seq;
    op.hard_state = hard_state;
    op.reset_log = true;
    return op;
}

// A crash between the log reset and the floor's save would leave a node that forgot what it
// acknowledged and votes as if it never had: the ResetLog goes only once the SaveTerm carrying
// the floor is answered (after its fdatasync).
TEST_F(LogstoreLinkTest, AResetSavesItsFloorDurablyBeforeTheLogGoes) {
    link_->persist(append_op(1, 1, 10, 2), 0);
    EXPECT_EQ(pump(), 1u);
    take_received();
    link_->persist(reset_op(2, raft::HardState{3, 0, 2, 10}), 0);
    link_->persist(append_op(3, 1, 2, 3), 0);
    serve_only();
    EXPECT_EQ(take_received(), std::vector<std::string>{"SaveTermRequest"})
        << "the reset went out before the floor was known to be durable";
    EXPECT_EQ(log_->meta().floor_term, 2u);
    EXPECT_EQ(log_->meta().floor_index, 10u);
    EXPECT_EQ(log_->last_index(), 10u);

    EXPECT_EQ(pump(), 1u);
    EXPECT_EQ(take_received(), std::vector<std::string>{"ResetLogRequest"});
    EXPECT_EQ(log_->last_index(), 0u);
    EXPECT_EQ(discards_, 1);
    note(link_->snapshots_discarded());
    EXPECT_EQ(pump(), 3u);
    EXPECT_EQ(take_received(), std::vector<std::string>{"AppendRequest"});
    EXPECT_EQ(log_->meta().term, 3u);
    EXPECT_EQ(log_->meta().floor_index, 10u) << "the log reset keeps the floor";
}

TEST_F(LogstoreLinkTest, ARefusedFloorSaveKeepsTheLog) {
    link_->persist(append_op(1, 1, 10, 2), 0);
    raft::PersistOp vote;
    vote.seq = 2;
    vote.hard_state = raft::HardState{5, 1};
    link_->persist(vote, 0);
    EXPECT_EQ(pump(), 2u);
    take_received();
    // A term below the stored one is refused: the link fails, and the log must not go.
    link_->persist(reset_op(3, raft::HardState{4, 0, 2, 10}), 0);
    for (int round = 0; round < 10 && !link_->failed(); ++round) {
        serve_only();
        note(link_->on_readable());
    }
    EXPECT_TRUE(link_->failed());
    serve_only();
    EXPECT_EQ(take_received(), std::vector<std::string>{"SaveTermRequest"});
    EXPECT_EQ(log_->last_index(), 10u);
    EXPECT_EQ(discards_, 0);
    EXPECT_EQ(persisted_, 2u);
}

// What a restarted consensus process reads: the floor with term and vote.
TEST_F(LogstoreLinkTest, ARestoreReadsBackTheFloor) {
    link_->persist(append_op(1, 1, 4, 2), 0);
    link_->persist(reset_op(2, raft::HardState{3, 2, 2, 4}), 0);
    EXPECT_EQ(pump(), 1u);
    note(link_->snapshots_discarded());
    EXPECT_EQ(pump(), 2u);

    LogstoreLink restarted(context_, endpoint_, SnapshotHooks{});
    std::atomic<bool> restored_all{false};
    std::thread logstore([&] {
        while (!restored_all) {
            serve();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    Result<raft::RestoredState> restored = restarted.restore(std::chrono::seconds(10));
    restored_all = true;
    logstore.join();
    ASSERT_TRUE(restored.is_ok()) << restored.status().to_string();
    EXPECT_EQ(restored->hard_state, (raft::HardState{3, 2, 2, 4}));
    EXPECT_TRUE(restored->entries.empty());
}

using ReleaseBatch = session::DiskReleases::Batch;

// A request of release_chunk indexes each (8 MiB) keeps every message well below the limits;
// compaction acts on the bits only once the last part arrived (releases_complete).
TEST_F(LogstoreLinkTest, ABatchLargerThanAChunkGoesInPartsAndOnlyTheFirstResets) {
    link_->persist(append_op(1, 1, 10, 1), 0);
    EXPECT_EQ(pump(), 1u);
    link_->release(ReleaseBatch{.reset = true, .indexes = {2}});
    pump();
    ASSERT_EQ(released_count(), 1u);
    releases_.clear();

    // 3 goes in the first part, 9 in the last; the indexes between are not in the log.
    ReleaseBatch batch{.reset = true, .indexes = {3}, .global_cap = 7};
    for (uint64_t index = 1000; batch.indexes.size() < LogstoreLink::release_chunk + 4; ++index) {
        batch.indexes.push_back(index);
    }
    batch.indexes.push_back(9);
    link_->release(batch);
    pump();
    EXPECT_EQ(releases_, (std::vector<ReleaseSeen>{{LogstoreLink::release_chunk, true, true, 7},
                                                   {5, false, false, 7}}));
    EXPECT_EQ(released_count(), 2u) << "2 cleared by the first part; 3 and 9 released";
    std::vector<logstore::Outgoing> out;
    service_->handle("probe", logstore::make_status(99), &out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(
        logstore::parse_message(out[0].bytes)->body_as_StatusResponse()->releases_complete());
}

TEST_F(LogstoreLinkTest, AnEmptyBatchIsStillSent) {
    link_->release(ReleaseBatch{.reset = true, .indexes = {}, .global_cap = 4});
    pump();
    EXPECT_EQ(releases_, (std::vector<ReleaseSeen>{{0, true, false, 4}}));
}

// A restarted logstore starts with releases_complete false: the bits it read back are not
// known to be one cut, and the consensus server must send them all again (DiskReleases::resend).
TEST_F(LogstoreLinkTest, ReleasesAreLostWhenAnAnswerAfterABatchSaysTheyAreIncomplete) {
    link_->request_status();
    pump();
    EXPECT_FALSE(link_->take_releases_lost()) << "no batch was sent yet";
    link_->request_status();
    link_->release(ReleaseBatch{.reset = true, .indexes = {}});
    pump();
    EXPECT_FALSE(link_->take_releases_lost()) << "that status was answered before the batch";
    link_->request_status();
    link_->set_indexes(1, 0, 0, 0);
    pump();
    EXPECT_FALSE(link_->take_releases_lost()) << "the answers say the bits are complete";

    service_.emplace(*log_, nullptr);  // the logstore restarted
    link_->set_indexes(2, 0, 0, 0);
    pump();
    EXPECT_TRUE(link_->take_releases_lost());
    EXPECT_FALSE(link_->take_releases_lost()) << "cleared by the call";
    link_->release(ReleaseBatch{.reset = true, .indexes = {}});  // the resend
    link_->request_status();
    pump();
    EXPECT_FALSE(link_->take_releases_lost());
}

TEST_F(LogstoreLinkTest, AResetForgetsTheSealedPartUntilTheNewLogsStatusSays) {
    link_->persist(append_op(1, 1, 20, 1), 0);
    EXPECT_EQ(pump(), 1u);
    link_->request_status();
    pump();
    EXPECT_EQ(link_->sealed_through(), 16u) << "segments of 8: [1-8] and [9-16] are sealed";
    link_->persist(reset_op(2, raft::HardState{3, 0, 1, 20}), 0);
    link_->request_status();  // asked while the reset waits for its floor: about the old log
    pump();
    EXPECT_EQ(link_->sealed_through(), 0u)
        << "once the reset is sent, releases wait for the new log's sealed part";
    note(link_->snapshots_discarded());
    pump();
    EXPECT_EQ(link_->sealed_through(), 0u) << "not from a status asked before the reset";
    link_->request_status();
    pump();
    EXPECT_EQ(link_->sealed_through(), 0u) << "the new log is empty";
}

// A write the logstore never answers fails the link after op_timeout of probes; a stall of
// this process (no probe for a long time: SIGSTOP, a paused VM) is not counted as waiting.
class LogstoreLinkTimeoutTest : public LogstoreLinkTest {
protected:
    LogstoreLinkTimeoutTest() {
        link_.emplace(context_, endpoint_, SnapshotHooks{[](const raft::Snapshot&) {}, [] {}},
                      std::chrono::milliseconds(300));
    }
};

TEST_F(LogstoreLinkTimeoutTest, AWriteNeverAnsweredFailsTheLinkWhileProbesGoOn) {
    link_->persist(append_op(1, 1, 3, 1), 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!link_->failed() && std::chrono::steady_clock::now() < deadline) {
        link_->request_status();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(link_->failed());
    EXPECT_NE(link_->failure().message().find("not made durable within 300 ms"), std::string::npos)
        << link_->failure().to_string();
}

TEST_F(LogstoreLinkTimeoutTest, AStallOfThisProcessIsNotCountedAsWaiting) {
    link_->persist(append_op(1, 1, 3, 1), 0);
    link_->request_status();
    // No probe for twice the timeout: the process was stopped. Meanwhile the logstore did its
    // work; its answer waits unread.
    serve_only();
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    link_->request_status();
    EXPECT_FALSE(link_->failed()) << link_->failure().to_string();
    EXPECT_EQ(pump(), 1u);
}

}  // namespace
}  // namespace copycat::server
