// The vocabulary of the Raft core (consensus/raft/): entries, members, configurations and
// the messages servers exchange. Plain values: the shells turn them into FlatBuffers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"

namespace copycat::raft {

using NodeId = uint64_t;  // 0 means "none"; ids are chosen by the operator, never by address
using Index = uint64_t;
using Term = uint64_t;

enum class EntryType : uint8_t {
    initialize = 1,     // the no-op each leader appends first, carrying its timestamp
    configuration = 2,  // payload: encode_configuration()
    command = 3,        // payload: opaque to Raft (sessions, commands, keep-alives)
};

struct Entry {
    Term term = 0;
    Index index = 0;
    EntryType type = EntryType::command;
    uint64_t timestamp_ms = 0;    // the leader's clock when it appended the entry
    uint8_t compaction_mode = 0;  // passed through to the logstore
    std::vector<uint8_t> payload;
    // The timestamp of the entry before it (0: none, or from before this field): a server that
    // skips entries compaction removed runs the tasks due by then before this entry, as the
    // servers that applied them did (ServerStateMachine::apply).
    uint64_t previous_timestamp_ms = 0;

    bool operator==(const Entry&) const = default;
};

enum class MemberType : uint8_t { inactive = 0, reserve = 1, passive = 2, active = 3 };
const char* member_type_name(MemberType type);

struct Member {
    NodeId id = 0;
    MemberType type = MemberType::active;
    bool available = true;  // decided by the leader from heartbeats, committed (copycat.md 4.11)
    // Where its peers reach it (a ZeroMQ endpoint). Opaque to the core; logged with the
    // configuration so that every server learns a joining member's address from the log.
    std::string address;

    bool operator==(const Member&) const = default;
};

// A cluster configuration: members sorted by id. index/term: the entry that carries it.
struct Configuration {
    Index index = 0;
    Term term = 0;
    std::vector<Member> members;

    const Member* find(NodeId id) const;
    bool is_voter(NodeId id) const;
    std::vector<NodeId> voters() const;
    size_t quorum() const;  // majority of the voters
    bool operator==(const Configuration&) const = default;
};

std::vector<uint8_t> encode_configuration(const Configuration& configuration);
Result<Configuration> decode_configuration(std::span<const uint8_t> bytes);

struct HardState {
    Term term = 0;
    NodeId vote = 0;
    // The end of the log this node dropped when it last reset (Ready::reset): it may have
    // acknowledged entries up to there, so it grants votes only to candidates at least as up
    // to date as that (and as its log). 0/0: never reset.
    Term floor_term = 0;
    Index floor_index = 0;
    // The holes this node took from leaders (AppendRequest::holes_released_by) were released
    // by entries at or below it; stored with those entries, so that after a restart it still
    // waits for its state to be whole before it answers reads (Raft::hole_horizon()).
    Index holes_released_by = 0;
    bool operator==(const HardState&) const = default;
};

// --- messages -------------------------------------------------------------------------------

struct AppendRequest {
    Term term = 0;
    NodeId leader = 0;
    Index prev_index = 0;
    Term prev_term = 0;
    Index commit_index = 0;
    Index global_index = 0;
    uint64_t round = 0;  // heartbeat round, echoed, for ReadIndex and leases
    std::vector<Entry> entries;
    // Every entry that released one of the holes in the leader's log (entries its compaction
    // removed) is at or below this index: a follower that takes the holes has a whole state
    // again once it applied this far (Raft::hole_horizon()).
    Index holes_released_by = 0;
};

struct AppendResponse {
    Term term = 0;
    bool success = false;
    // success: the last index this request verified (prev_index + its entries).
    // failure: where the leader should look next (the follower's last index, or the
    // index before the first entry of a conflicting term).
    Index index = 0;
    uint64_t round = 0;
    // The follower dropped its log and state to take the leader's log again from index 1: it
    // lacked entries below the global index that the leader's log has compacted away, so
    // catching it up from there could miss deletes (copycat.md §4.3, §4.12).
    bool reset = false;
};

// Pre-vote (copycat.md 4.1): asks whether a vote would be granted, without raising a term.
struct PollRequest {
    Term term = 0;  // the term the candidate would start (its current term + 1)
    NodeId candidate = 0;
    Index last_index = 0;
    Term last_term = 0;
};

struct PollResponse {
    Term term = 0;
    bool accepted = false;
};

struct VoteRequest {
    Term term = 0;
    NodeId candidate = 0;
    Index last_index = 0;
    Term last_term = 0;
    bool transfer = false;  // leadership transfer: voters ignore their current leader
};

struct VoteResponse {
    Term term = 0;
    bool granted = false;
};

// Leadership transfer: the leader tells a caught-up target to start an election now.
struct TimeoutNow {
    Term term = 0;
};

// To RESERVE members, which keep no log: the configuration and the commit index.
struct ConfigureRequest {
    Term term = 0;
    NodeId leader = 0;
    Index commit_index = 0;
    Configuration configuration;
};

struct ConfigureResponse {
    Term term = 0;
};

// A snapshot, sent in chunks to a follower whose next entry the leader no longer has.
struct InstallSnapshotRequest {
    Term term = 0;
    NodeId leader = 0;
    Index snapshot_index = 0;
    Term snapshot_term = 0;
    Configuration configuration;  // in force at snapshot_index
    uint64_t offset = 0;          // of this chunk in the snapshot
    uint64_t total_bytes = 0;
    std::vector<uint8_t> data;
    bool done = false;  // the last chunk
};

struct InstallSnapshotResponse {
    Term term = 0;
    Index snapshot_index = 0;
    uint64_t next_offset = 0;  // what the follower wants next; total_bytes once installed
    bool installed = false;
};

using Message = std::variant<AppendRequest, AppendResponse, PollRequest, PollResponse, VoteRequest,
                             VoteResponse, TimeoutNow, ConfigureRequest, ConfigureResponse,
                             InstallSnapshotRequest, InstallSnapshotResponse>;

const char* message_name(const Message& message);
Term message_term(const Message& message);

struct Envelope {
    NodeId from = 0;
    NodeId to = 0;
    Message message;
};

}  // namespace copycat::raft
