// Snapshots (Raft paper §7, copycat: sent in chunks, one in flight): compaction by
// snapshot_taken, the InstallSnapshot exchange on both sides, restarts from a snapshot, and an
// isolated follower catching up through one.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <vector>

#include "tests/raft/harness.h"

namespace copycat::raft {
namespace {

constexpr int H = 25;           // Options::heartbeat_interval_ticks
constexpr size_t kChunk = 10;   // Options::snapshot_chunk_bytes in these tests
constexpr Index kTrailing = 2;  // Options::snapshot_trailing_entries in these tests

Options snapshot_options(NodeId id) {
    Options options = test_options(id);
    options.snapshot_chunk_bytes = kChunk;
    options.snapshot_trailing_entries = kTrailing;
    return options;
}

// Members 1..3 active and 4 passive, carried by an entry at index of term 1: unlike the
// configuration the servers start with, so that one taken from a snapshot shows.
Configuration four_members(Index index) {
    Configuration configuration = active_members(3);
    configuration.index = index;
    configuration.term = 1;
    configuration.members.push_back({4, MemberType::passive, true, {}});
    return configuration;
}

// A snapshot whose data is the bytes 0, 1, 2, ...: by default 25, so chunks of 10, 10 and 5.
Snapshot make_snapshot(Index index, Term term, Configuration configuration = active_members(3),
                       size_t bytes = 25) {
    auto data = std::make_shared<std::vector<uint8_t>>(bytes);
    std::iota(data->begin(), data->end(), uint8_t{0});
    return Snapshot{index, term, std::move(configuration), std::move(data)};
}

// The chunk of snapshot at offset, as leader 1 sends it in term.
InstallSnapshotRequest chunk(const Snapshot& snapshot, Term term, uint64_t offset) {
    const std::vector<uint8_t>& data = *snapshot.data;
    uint64_t end = std::min<uint64_t>(data.size(), offset + kChunk);
    InstallSnapshotRequest request;
    request.term = term;
    request.leader = 1;
    request.snapshot_index = snapshot.index;
    request.snapshot_term = snapshot.term;
    request.configuration = snapshot.configuration;
    request.offset = offset;
    request.total_bytes = data.size();
    request.done = end == data.size();
    request.data.assign(data.begin() + static_cast<long>(offset),
                        data.begin() + static_cast<long>(end));
    return request;
}

// Driver::deliver, also returning Ready::install (which the Driver's records leave out).
std::optional<Snapshot> deliver_keeping_install(Driver& node, NodeId from, Message message) {
    node->step(Envelope{from, node.id(), std::move(message)});
    Ready ready = node->take_ready();
    for (Envelope& envelope : ready.messages) node.outbox.push_back(std::move(envelope));
    for (PersistOp& op : ready.persist) node.unacked.push_back(std::move(op));
    for (Entry& entry : ready.committed) node.committed.push_back(std::move(entry));
    for (ReadState& read : ready.reads) node.reads.push_back(read);
    return ready.install;
}

// Delivers every chunk of snapshot, in order, from leader 1 in term; the snapshot installed.
std::optional<Snapshot> send_snapshot(Driver& follower, const Snapshot& snapshot, Term term) {
    std::optional<Snapshot> installed;
    for (uint64_t offset = 0; offset < snapshot.data->size(); offset += kChunk) {
        installed = deliver_keeping_install(follower, 1, chunk(snapshot, term, offset));
    }
    return installed;
}

std::vector<uint64_t> next_offsets(const std::vector<InstallSnapshotResponse>& responses) {
    std::vector<uint64_t> offsets;
    for (const InstallSnapshotResponse& response : responses) {
        offsets.push_back(response.next_offset);
    }
    return offsets;
}

std::vector<uint64_t> offsets_of(const std::vector<InstallSnapshotRequest>& chunks) {
    std::vector<uint64_t> offsets;
    for (const InstallSnapshotRequest& request : chunks) offsets.push_back(request.offset);
    return offsets;
}

std::vector<Index> indexes_of(const std::vector<Entry>& entries) {
    std::vector<Index> indexes;
    for (const Entry& entry : entries) indexes.push_back(entry.index);
    return indexes;
}

std::vector<Term> terms_of(const RaftLog& log) {
    std::vector<Term> terms;
    for (Index index = log.first_index(); index <= log.last_index(); ++index) {
        terms.push_back(log.at(index).term);
    }
    return terms;
}

// A follower (node 3) whose log holds entries with these terms, in the term of the last.
Driver follower_with_terms(const std::vector<Term>& terms) {
    Term term = terms.empty() ? 0 : terms.back();
    return Driver(snapshot_options(3),
                  restored_state(3, HardState{term, 0}, entries_with_terms(terms)));
}

// Node 1 of three, with entries 1..10 of term 1.
Driver ten_entries_node() {
    return Driver(snapshot_options(1),
                  restored_state(3, HardState{1, 0}, entries_with_terms(std::vector<Term>(10, 1))));
}

// Makes it leader of term 2, commits its initialize entry 11 with node 2, and takes a snapshot
// at 11 (the log keeps 10 and 11). Node 3 has not answered yet: the AppendRequest of entry 11
// to it is in the outbox.
void take_snapshot_at_11(Driver& leader) {
    elect(leader);
    answer_appends(leader, 2);
    leader.ack();
    ASSERT_EQ(leader->commit_index(), 11u);
    leader->snapshot_taken(make_snapshot(11, 2));
    ASSERT_EQ(leader->log().first_index(), 10u);
}

// Answers node from's AppendRequests in the leader's outbox as a follower with an empty log.
void refuse_appends(Driver& leader, NodeId from) {
    for (const AppendRequest& request : leader.take<AppendRequest>(from)) {
        leader.deliver(from, AppendResponse{request.term, false, 0, request.round});
    }
}

// Delivers the messages between leader and follower (each acknowledging its persist ops at
// once) until neither has anything for the other; the chunks the follower was sent, in order.
// Messages to anyone else are dropped.
std::vector<InstallSnapshotRequest> exchange(Driver& leader, Driver& follower) {
    std::vector<InstallSnapshotRequest> chunks;
    for (int rounds = 0; rounds < 1000; ++rounds) {
        leader.ack();
        follower.ack();
        std::vector<Envelope> from_leader = leader.take_all();
        std::vector<Envelope> from_follower = follower.take_all();
        bool any = false;
        for (Envelope& envelope : from_leader) {
            if (envelope.to != follower.id()) continue;
            if (auto* request = std::get_if<InstallSnapshotRequest>(&envelope.message)) {
                chunks.push_back(*request);
            }
            follower.deliver(envelope.from, std::move(envelope.message));
            any = true;
        }
        for (Envelope& envelope : from_follower) {
            if (envelope.to != leader.id()) continue;
            leader.deliver(envelope.from, std::move(envelope.message));
            any = true;
        }
        if (!any) return chunks;
    }
    ADD_FAILURE() << "leader and follower never went quiet";
    return chunks;
}

// --- compaction -------------------------------------------------------------------------------

TEST(RaftSnapshot, SnapshotTakenCompactsTheLogKeepingTheTrailingEntries) {
    Driver node = follower_with_terms(std::vector<Term>(10, 1));
    node.deliver(1, append_request(1, 1, 10, 1, {}, 10));
    ASSERT_EQ(node->applied_index(), 10u);

    node->snapshot_taken(make_snapshot(8, 1));
    ASSERT_TRUE(node->snapshot());
    EXPECT_EQ(node->snapshot()->index, 8u);
    EXPECT_EQ(node->log().first_index(), 7u) << "kTrailing = 2 entries up to the snapshot: 7, 8";
    EXPECT_EQ(node->log().last_index(), 10u) << "the entries after it stay";
    EXPECT_EQ(node->log().term_at(6), 1u) << "the term before the log is still known";

    node->snapshot_taken(make_snapshot(6, 1));
    EXPECT_EQ(node->snapshot()->index, 8u) << "an older snapshot changes nothing";
    EXPECT_EQ(node->log().first_index(), 7u);

    node->snapshot_taken(make_snapshot(10, 1));
    EXPECT_EQ(node->log().first_index(), 9u);
    EXPECT_EQ(node->log().last_index(), 10u);
}

TEST(RaftSnapshot, SnapshotWithinTheTrailingEntriesCompactsNothing) {
    Driver node = follower_with_terms({1, 1, 1});
    node.deliver(1, append_request(1, 1, 3, 1, {}, 3));
    node->snapshot_taken(make_snapshot(2, 1));
    EXPECT_EQ(node->snapshot()->index, 2u);
    EXPECT_EQ(node->log().first_index(), 1u);
    EXPECT_EQ(node->log().last_index(), 3u);
}

// --- leader side ------------------------------------------------------------------------------

TEST(RaftSnapshot, LeaderSendsAFollowerBehindItsLogTheSnapshotInChunksOneAtATimeInOrder) {
    Driver leader = ten_entries_node();
    take_snapshot_at_11(leader);
    refuse_appends(leader, 3);  // its next entry, 1, is before the leader's log (10)
    std::vector<InstallSnapshotRequest> sent = leader.take<InstallSnapshotRequest>(3);
    ASSERT_EQ(sent.size(), 1u);
    leader.tick(H - 1);  // up to the tick before the first heartbeat
    EXPECT_EQ(leader.count<InstallSnapshotRequest>(3), 0u) << "the first chunk is unanswered";

    leader.deliver(3, InstallSnapshotResponse{2, 11, 10, false});
    ASSERT_EQ(leader.count<InstallSnapshotRequest>(3), 1u);
    leader.take<AppendRequest>(2);
    leader.tick();
    ASSERT_EQ(leader.count<AppendRequest>(2), 1u) << "a heartbeat";
    EXPECT_EQ(leader.count<InstallSnapshotRequest>(3), 1u) << "no other while one is out";
    EXPECT_EQ(leader.count<AppendRequest>(3), 0u);
    sent.push_back(leader.take<InstallSnapshotRequest>(3).at(0));

    leader.deliver(3, InstallSnapshotResponse{2, 11, 20, false});
    std::vector<InstallSnapshotRequest> last = leader.take<InstallSnapshotRequest>(3);
    ASSERT_EQ(last.size(), 1u);
    sent.push_back(last[0]);

    EXPECT_EQ(offsets_of(sent), (std::vector<uint64_t>{0, 10, 20}));
    std::vector<uint8_t> data;
    for (const InstallSnapshotRequest& request : sent) {
        EXPECT_EQ(request.term, 2u);
        EXPECT_EQ(request.leader, 1u);
        EXPECT_EQ(request.snapshot_index, 11u);
        EXPECT_EQ(request.snapshot_term, 2u);
        EXPECT_EQ(request.configuration, leader->snapshot()->configuration);
        EXPECT_EQ(request.total_bytes, 25u);
        EXPECT_LE(request.data.size(), kChunk);
        EXPECT_EQ(request.done, request.offset == 20) << "done on the last chunk only";
        data.insert(data.end(), request.data.begin(), request.data.end());
    }
    EXPECT_EQ(data, *leader->snapshot()->data);
}

TEST(RaftSnapshot, LeaderResumesFromTheOffsetTheFollowerAsksFor) {
    Driver leader = ten_entries_node();
    take_snapshot_at_11(leader);
    refuse_appends(leader, 3);
    leader.take<InstallSnapshotRequest>(3);
    leader.deliver(3, InstallSnapshotResponse{2, 11, 10, false});
    leader.deliver(3, InstallSnapshotResponse{2, 11, 20, false});
    leader.take<InstallSnapshotRequest>(3);

    // It lost what it had (a restart): it wants the snapshot from the start again.
    leader.deliver(3, InstallSnapshotResponse{2, 11, 0, false});
    std::vector<InstallSnapshotRequest> sent = leader.take<InstallSnapshotRequest>(3);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].offset, 0u);
    leader.deliver(3, InstallSnapshotResponse{2, 11, 10, false});
    sent = leader.take<InstallSnapshotRequest>(3);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].offset, 10u);
}

// A chunk that is lost must not stop the transfer for good: the window of one reopens.
TEST(RaftSnapshot, LeaderSendsALostChunkAgain) {
    Driver leader = ten_entries_node();
    take_snapshot_at_11(leader);
    refuse_appends(leader, 3);
    ASSERT_EQ(leader.take<InstallSnapshotRequest>(3).size(), 1u);  // lost
    leader.tick(2 * H);
    std::vector<InstallSnapshotRequest> sent = leader.take<InstallSnapshotRequest>(3);
    ASSERT_FALSE(sent.empty()) << "no chunk went to node 3 again";
    EXPECT_EQ(sent[0].offset, 0u);
}

// --- follower side ----------------------------------------------------------------------------

TEST(RaftSnapshot, FollowerAssemblesTheChunksAndInstallsTheSnapshotOnTheLast) {
    Driver follower = follower_with_terms({1, 1, 1});
    Snapshot snapshot = make_snapshot(11, 2, four_members(9));
    EXPECT_FALSE(deliver_keeping_install(follower, 1, chunk(snapshot, 2, 0)));
    EXPECT_FALSE(deliver_keeping_install(follower, 1, chunk(snapshot, 2, 10)));
    EXPECT_EQ(follower->commit_index(), 0u) << "nothing changes before the last chunk";
    std::optional<Snapshot> installed =
        deliver_keeping_install(follower, 1, chunk(snapshot, 2, 20));
    ASSERT_TRUE(installed);
    EXPECT_EQ(installed->index, 11u);
    EXPECT_EQ(installed->term, 2u);
    EXPECT_EQ(installed->configuration, four_members(9));
    ASSERT_NE(installed->data, nullptr);
    EXPECT_EQ(*installed->data, *snapshot.data);

    EXPECT_EQ(follower->log().first_index(), 12u) << "the log restarts after the snapshot";
    EXPECT_EQ(follower->log().last_index(), 11u);
    EXPECT_EQ(follower->log().last_term(), 2u);
    EXPECT_EQ(follower->commit_index(), 11u);
    EXPECT_EQ(follower->applied_index(), 11u);
    EXPECT_EQ(follower->configuration(), four_members(9));
    ASSERT_TRUE(follower->snapshot());
    EXPECT_EQ(follower->snapshot()->index, 11u);

    follower.ack();
    std::vector<InstallSnapshotResponse> responses = follower.take<InstallSnapshotResponse>(1);
    EXPECT_EQ(next_offsets(responses), (std::vector<uint64_t>{10, 20, 25}));
    ASSERT_EQ(responses.size(), 3u);
    EXPECT_FALSE(responses[1].installed);
    EXPECT_TRUE(responses[2].installed);
    EXPECT_EQ(responses[2].snapshot_index, 11u);
    EXPECT_EQ(responses[2].term, 2u);
}

TEST(RaftSnapshot, FollowerAnswersInstalledOnlyAfterTheSnapshotPersistOpIsAcknowledged) {
    Driver follower = follower_with_terms({1, 1, 1});
    Snapshot snapshot = make_snapshot(11, 2);
    deliver_keeping_install(follower, 1, chunk(snapshot, 2, 0));
    deliver_keeping_install(follower, 1, chunk(snapshot, 2, 10));
    follower.ack();
    follower.take<InstallSnapshotResponse>(1);

    ASSERT_TRUE(deliver_keeping_install(follower, 1, chunk(snapshot, 2, 20)));
    EXPECT_EQ(follower.count<InstallSnapshotResponse>(), 0u);
    ASSERT_EQ(follower.unacked.size(), 1u);
    ASSERT_TRUE(follower.unacked[0].snapshot);
    EXPECT_EQ(follower.unacked[0].snapshot->index, 11u);
    EXPECT_EQ(*follower.unacked[0].snapshot->data, *snapshot.data);

    follower.ack();
    std::vector<InstallSnapshotResponse> responses = follower.take<InstallSnapshotResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_TRUE(responses[0].installed);
    EXPECT_EQ(responses[0].next_offset, 25u);
}

TEST(RaftSnapshot, FollowerKeepsItsLogAfterTheSnapshotWhenTheTermAtItsIndexMatches) {
    Driver follower = follower_with_terms({1, 1, 2, 2, 2, 2});
    ASSERT_TRUE(send_snapshot(follower, make_snapshot(4, 2), 2));
    EXPECT_EQ(follower->log().first_index(), 5u);
    EXPECT_EQ(terms_of(follower->log()), (std::vector<Term>{2, 2})) << "entries 5 and 6 stay";
    EXPECT_EQ(follower->commit_index(), 4u) << "nothing after the snapshot is known committed";

    follower.ack();
    follower.restart();
    EXPECT_EQ(follower->log().first_index(), 5u);
    EXPECT_EQ(terms_of(follower->log()), (std::vector<Term>{2, 2}));
    follower.deliver(1, append_request(2, 1, 6, 2, {}, 6));
    EXPECT_EQ(indexes_of(follower.committed), (std::vector<Index>{5, 6}));
}

// The follower's entries 5 and 6 (term 1) conflict with the snapshot (term 2 at 4): they go, in
// memory and on disk, and the leader's entries 5 and 6 take their place.
TEST(RaftSnapshot, FollowerDropsItsLogAfterTheSnapshotWhenTheTermAtItsIndexDiffers) {
    Driver follower = follower_with_terms({1, 1, 1, 1, 1, 1});
    ASSERT_TRUE(send_snapshot(follower, make_snapshot(4, 2), 2));
    EXPECT_EQ(follower->log().first_index(), 5u);
    EXPECT_EQ(follower->log().last_index(), 4u);
    EXPECT_EQ(follower->log().last_term(), 2u);
    follower.ack();

    follower.deliver(1, append_request(2, 1, 4, 2, {command(5, 2), command(6, 2)}, 6));
    follower.ack();
    EXPECT_EQ(terms_of(follower->log()), (std::vector<Term>{2, 2}));
    EXPECT_EQ(indexes_of(follower.committed), (std::vector<Index>{5, 6}));
    follower.restart();
    EXPECT_EQ(follower->log().first_index(), 5u);
    EXPECT_EQ(terms_of(follower->log()), (std::vector<Term>{2, 2})) << "as in memory";
}

TEST(RaftSnapshot, OutOfOrderChunkIsAnsweredWithTheOffsetTheFollowerWants) {
    Driver follower = follower_with_terms({1, 1, 1});
    Snapshot snapshot = make_snapshot(11, 2);
    EXPECT_FALSE(deliver_keeping_install(follower, 1, chunk(snapshot, 2, 10)));  // nothing yet
    EXPECT_FALSE(deliver_keeping_install(follower, 1, chunk(snapshot, 2, 0)));
    EXPECT_FALSE(deliver_keeping_install(follower, 1, chunk(snapshot, 2, 20)));  // 10 is missing
    follower.ack();
    std::vector<InstallSnapshotResponse> responses = follower.take<InstallSnapshotResponse>(1);
    EXPECT_EQ(next_offsets(responses), (std::vector<uint64_t>{0, 10, 10}));
    for (const InstallSnapshotResponse& response : responses) EXPECT_FALSE(response.installed);
    EXPECT_EQ(follower->commit_index(), 0u);

    EXPECT_FALSE(deliver_keeping_install(follower, 1, chunk(snapshot, 2, 10)));
    std::optional<Snapshot> installed =
        deliver_keeping_install(follower, 1, chunk(snapshot, 2, 20));
    ASSERT_TRUE(installed);
    EXPECT_EQ(*installed->data, *snapshot.data);
}

TEST(RaftSnapshot, RepeatedChunkIsAnsweredWithTheOffsetTheFollowerWants) {
    Driver follower = follower_with_terms({1, 1, 1});
    Snapshot snapshot = make_snapshot(11, 2);
    deliver_keeping_install(follower, 1, chunk(snapshot, 2, 0));
    deliver_keeping_install(follower, 1, chunk(snapshot, 2, 10));
    deliver_keeping_install(follower, 1, chunk(snapshot, 2, 10));
    follower.ack();
    EXPECT_EQ(next_offsets(follower.take<InstallSnapshotResponse>(1)),
              (std::vector<uint64_t>{10, 20, 20}));

    std::optional<Snapshot> installed =
        deliver_keeping_install(follower, 1, chunk(snapshot, 2, 20));
    ASSERT_TRUE(installed);
    EXPECT_EQ(*installed->data, *snapshot.data) << "the repeated bytes are not in it twice";
}

TEST(RaftSnapshot, ChunkFromAStaleTermIsRefused) {
    Driver follower = follower_with_terms({1, 1, 1});
    follower.deliver(1, vote_request(3, 1, 3, 1));  // node 1 runs again: term 3
    follower.ack();
    follower.outbox.clear();
    Snapshot snapshot = make_snapshot(11, 2);

    EXPECT_FALSE(deliver_keeping_install(follower, 1, chunk(snapshot, 2, 0)));
    std::vector<InstallSnapshotResponse> responses = follower.take<InstallSnapshotResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].term, 3u) << "so that the stale leader steps down";
    EXPECT_FALSE(responses[0].installed);
    EXPECT_EQ(follower->term(), 3u);
    EXPECT_EQ(follower->leader(), 0u);

    // Its bytes were not kept either: a chunk of term 3 at 10 is answered with 0.
    deliver_keeping_install(follower, 1, chunk(snapshot, 3, 10));
    follower.ack();
    EXPECT_EQ(next_offsets(follower.take<InstallSnapshotResponse>(1)), (std::vector<uint64_t>{0}));
}

TEST(RaftSnapshot, SnapshotAtOrBelowTheCommitIndexIsAcknowledgedWithoutReinstalling) {
    Driver follower = follower_with_terms({1, 1, 1, 1, 1, 1});
    follower.deliver(1, append_request(1, 1, 6, 1, {}, 6));
    follower.ack();
    follower.outbox.clear();
    for (Index index : {5, 6}) {
        EXPECT_FALSE(deliver_keeping_install(follower, 1, chunk(make_snapshot(index, 1), 1, 0)));
        std::vector<InstallSnapshotResponse> responses = follower.take<InstallSnapshotResponse>(1);
        ASSERT_EQ(responses.size(), 1u) << "at once: nothing to persist";
        EXPECT_TRUE(responses[0].installed);
        EXPECT_EQ(responses[0].snapshot_index, index);
        EXPECT_EQ(responses[0].next_offset, 25u);
    }
    EXPECT_TRUE(follower.unacked.empty());
    EXPECT_FALSE(follower->snapshot());
    EXPECT_EQ(follower->log().first_index(), 1u);
    EXPECT_EQ(follower->log().last_index(), 6u);
    EXPECT_EQ(follower->commit_index(), 6u);
}

// --- after the snapshot -----------------------------------------------------------------------

TEST(RaftSnapshot, LeaderContinuesWithAppendsAfterTheSnapshotAndTheFollowerCommitsTheRest) {
    Driver leader = ten_entries_node();
    take_snapshot_at_11(leader);
    for (uint8_t i = 12; i <= 14; ++i) ASSERT_TRUE(leader->propose({i}).is_ok());
    Driver follower(snapshot_options(3), restored_state(3));  // an empty log

    std::vector<InstallSnapshotRequest> chunks = exchange(leader, follower);
    EXPECT_EQ(offsets_of(chunks), (std::vector<uint64_t>{0, 10, 20}))
        << "one chunk at a time, in order, each once";
    ASSERT_TRUE(follower->snapshot());
    EXPECT_EQ(follower->snapshot()->index, 11u);
    EXPECT_EQ(terms_of(follower->log()), (std::vector<Term>{2, 2, 2})) << "entries 12..14";
    EXPECT_EQ(follower->log().first_index(), 12u);
    EXPECT_EQ(leader->commit_index(), 14u) << "with node 3's answers";

    leader.tick(H);  // the heartbeat carries the commit index
    exchange(leader, follower);
    EXPECT_EQ(follower->commit_index(), 14u);
    EXPECT_EQ(indexes_of(follower.committed), (std::vector<Index>{12, 13, 14}));
    for (Index index = 12; index <= 14; ++index) {
        EXPECT_EQ(follower->log().at(index), leader->log().at(index));
    }
}

TEST(RaftSnapshot, FollowerThatLostAPartialSnapshotGetsItAgainFromTheStart) {
    Driver leader = ten_entries_node();
    take_snapshot_at_11(leader);
    Driver follower(snapshot_options(3), restored_state(3));
    follower.deliver(1, leader.take<AppendRequest>(3).at(0));
    follower.ack();
    leader.deliver(3, follower.take<AppendResponse>(1).at(0));
    follower.deliver(1, leader.take<InstallSnapshotRequest>(3).at(0));  // 0..10
    follower.ack();
    leader.deliver(3, follower.take<InstallSnapshotResponse>(1).at(0));

    follower.restart();  // the chunk received is gone with its memory
    std::vector<InstallSnapshotRequest> chunks = exchange(leader, follower);
    EXPECT_EQ(offsets_of(chunks), (std::vector<uint64_t>{10, 0, 10, 20}));
    ASSERT_TRUE(follower->snapshot());
    EXPECT_EQ(*follower->snapshot()->data, *leader->snapshot()->data);
    EXPECT_EQ(follower->commit_index(), 11u);
}

// --- restarts ---------------------------------------------------------------------------------

TEST(RaftSnapshot, ServerRestoredWithASnapshotStartsFromIt) {
    RestoredState restored = restored_state(3, HardState{2, 0}, {command(11, 2), command(12, 2)});
    restored.snapshot = make_snapshot(10, 2, four_members(9));
    restored.first_index = 11;
    restored.term_before_first = 2;
    Driver node(snapshot_options(2), restored);
    EXPECT_EQ(node->commit_index(), 10u);
    EXPECT_EQ(node->applied_index(), 10u);
    EXPECT_EQ(node->log().first_index(), 11u);
    EXPECT_EQ(node->log().last_index(), 12u);
    EXPECT_EQ(node->log().term_at(10), 2u);
    EXPECT_EQ(node->configuration(), four_members(9));

    node.deliver(1, append_request(2, 1, 12, 2, {command(13, 2)}, 13));
    node.ack();
    EXPECT_EQ(indexes_of(node.committed), (std::vector<Index>{11, 12, 13}));
}

TEST(RaftSnapshot, RestoredEntriesTheSnapshotCoversAreDropped) {
    RestoredState restored = restored_state(3, HardState{1, 0}, entries_with_terms({1, 1, 1, 1}));
    restored.snapshot = make_snapshot(3, 1);
    Driver node(snapshot_options(2), restored);
    EXPECT_EQ(node->log().first_index(), 4u);
    EXPECT_EQ(node->log().last_index(), 4u);
    EXPECT_EQ(node->commit_index(), 3u);
    EXPECT_EQ(node->applied_index(), 3u);
}

TEST(RaftSnapshot, FollowerRestartedAfterInstallingResumesFromTheSnapshot) {
    Driver follower = follower_with_terms({1, 1, 1});
    ASSERT_TRUE(send_snapshot(follower, make_snapshot(11, 2, four_members(9)), 2));
    follower.deliver(1, append_request(2, 1, 11, 2, {command(12, 2), command(13, 2)}, 12));
    follower.ack();

    follower.restart();
    ASSERT_TRUE(follower->snapshot());
    EXPECT_EQ(follower->snapshot()->index, 11u);
    EXPECT_EQ(follower->commit_index(), 11u) << "12 was committed, but only the snapshot says so";
    EXPECT_EQ(follower->applied_index(), 11u);
    EXPECT_EQ(follower->log().first_index(), 12u);
    EXPECT_EQ(follower->log().last_index(), 13u);
    EXPECT_EQ(follower->configuration(), four_members(9));
    follower.deliver(1, append_request(2, 1, 13, 2, {}, 13));
    EXPECT_EQ(indexes_of(follower.committed), (std::vector<Index>{12, 13}));
}

// --- cluster ----------------------------------------------------------------------------------

TEST(RaftSnapshotCluster, IsolatedFollowerCatchesUpThroughASnapshotAndTheLogsAgreeAfterIt) {
    Cluster cluster(active_members(3), snapshot_options);
    cluster.elect(1);
    cluster.run();
    cluster.isolate(3);
    Raft& leader = cluster.node(1).raft();
    for (int i = 0; i < 60; ++i) {
        ASSERT_TRUE(leader.propose({static_cast<uint8_t>(i)}).is_ok());
        cluster.tick();
    }
    Index index = leader.applied_index();
    leader.snapshot_taken(
        make_snapshot(index, *leader.log().term_at(index), leader.configuration(), 95));
    ASSERT_GT(leader.log().first_index(), cluster.node(3)->log().last_index() + 1)
        << "node 3's next entry is compacted away";
    cluster.tick(2 * H);  // still isolated: whatever goes to node 3 is lost
    cluster.heal();
    cluster.tick(4 * H);

    ASSERT_EQ(cluster.leader(), 1u);
    const Raft& follower = cluster.node(3).raft();
    ASSERT_TRUE(follower.snapshot());
    EXPECT_EQ(follower.snapshot()->index, index);
    EXPECT_EQ(*follower.snapshot()->data, *leader.snapshot()->data);
    EXPECT_EQ(follower.log().first_index(), index + 1);
    for (NodeId id : cluster.ids()) {
        const Raft& node = cluster.node(id).raft();
        EXPECT_EQ(node.commit_index(), leader.commit_index()) << "node " << id;
        ASSERT_EQ(node.log().last_index(), leader.log().last_index()) << "node " << id;
        for (Index i = index + 1; i <= leader.log().last_index(); ++i) {
            EXPECT_EQ(node.log().at(i), leader.log().at(i)) << "node " << id << " index " << i;
        }
    }
    const std::vector<Entry>& applied = cluster.node(3).committed;
    ASSERT_FALSE(applied.empty());
    EXPECT_EQ(applied.back().index, leader.commit_index());
    auto after = std::find_if(applied.begin(), applied.end(),
                              [&](const Entry& entry) { return entry.index > index; });
    ASSERT_NE(after, applied.end());
    EXPECT_EQ(after->index, index + 1) << "applying resumes right after the snapshot";
    EXPECT_EQ(static_cast<Index>(applied.end() - after), leader.commit_index() - index);
}

// A server that took a snapshot past its durable log and crashed restarts with a stored log
// that ends before the snapshot: its first PersistOp carries the snapshot, telling storage the
// log restarts after it, so the next append leaves no gap (copycat-sim seed 16639).
TEST(RaftSnapshotRestart, StoredLogBehindTheSnapshotIsRestartedAfterIt) {
    RestoredState restored = restored_state(3, HardState{2, 0}, entries_with_terms({1, 1, 2}));
    restored.snapshot = make_snapshot(5, 2);
    Driver node(2, std::move(restored));
    node.collect();
    ASSERT_EQ(node.unacked.size(), 1u);
    ASSERT_TRUE(node.unacked[0].snapshot.has_value());
    EXPECT_EQ(node.unacked[0].snapshot->index, 5u);
    EXPECT_EQ(node->log().first_index(), 6u);
    EXPECT_EQ(node->commit_index(), 5u);

    RestoredState caught_up =
        restored_state(3, HardState{2, 0}, entries_with_terms({1, 1, 2, 2, 2}));
    caught_up.snapshot = make_snapshot(5, 2);
    Driver other(3, std::move(caught_up));
    other.collect();
    EXPECT_TRUE(other.unacked.empty()) << "a log that reaches the snapshot needs no rewrite";
}

}  // namespace
}  // namespace copycat::raft
