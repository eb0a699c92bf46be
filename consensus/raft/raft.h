// Raft: the consensus core of one server (DESIGN.md, "Layers inside the code"). A
// deterministic object without I/O: it takes messages, ticks and storage acknowledgements,
// and hands back, through take_ready(), what to send, what to persist and what to apply.
// No sockets, clocks, threads or files; the only randomness is the injected generator.
//
// Contract with the shell (the consensus server, or the simulator):
//  - call tick() at a steady pace (one tick = Options::tick_ms of the node's clock);
//  - deliver every received message with step();
//  - carry out Ready::persist operations in order, durably, and report each one with
//    persisted(seq) once it is durable (acks may cover several: persisted(n) means every
//    operation up to n);
//  - send Ready::messages (they are safe to send now: anything that needed durable state
//    is held back inside until persisted() covers it);
//  - apply Ready::committed entries in order; answer Ready::reads once the state machine
//    has applied up to their index.
// Single-threaded: one caller at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "consensus/raft/log.h"
#include "consensus/raft/types.h"

namespace copycat::raft {

enum class Role { follower, candidate, leader };
const char* role_name(Role role);

// A deterministic source of randomness, injected so that the simulator can replay a seed.
class Random {
public:
    virtual ~Random() = default;
    virtual uint64_t next() = 0;  // uniform over 64 bits
    uint64_t uniform(uint64_t below) { return below == 0 ? 0 : next() % below; }
};

struct Options {
    NodeId id = 0;
    uint64_t tick_ms = 10;
    uint32_t election_timeout_ticks = 75;  // T: followers time out in [T, 2T)
    uint32_t heartbeat_interval_ticks = 25;
    size_t max_append_bytes = 32 * 1024;  // payload bytes per AppendRequest
    uint32_t max_inflight_appends = 2;    // pipelined AppendRequests per follower
    uint32_t unavailable_after_heartbeats = 3;
    bool pre_vote = true;
    // After a start, refuse polls and votes (except for a leadership transfer) for this many
    // ticks, as if a leader had just been heard: a restarted server has forgotten when it last
    // heard one, and voting at once could elect a leader inside the old one's lease.
    uint32_t quiet_ticks_after_start = 75;
    // Lease reads are served for this fraction of the election timeout after a heartbeat
    // round started; the rest is the margin for clock drift between servers (the documented
    // bound: clocks that differ in rate by less than 1 - lease_fraction). Ticks round time to
    // a tick each side, which eats into the margin when the election timeout is only a few
    // ticks: keep it at tens of ticks (the default 75) where lease reads matter.
    double lease_fraction = 0.8;
    size_t snapshot_chunk_bytes = 32 * 1024;  // InstallSnapshotRequest data per chunk
    // After a snapshot, the log keeps this many entries before it, so that a follower a
    // little behind catches up from the log rather than by a snapshot.
    Index snapshot_trailing_entries = 64;
    // A member that stopped answering still holds back the global index (and with it the
    // removal of deletes from the log) for this long; after that it is left out, and if it
    // comes back behind the global index it drops its log and state and takes everything
    // again (copycat.md §4.12, globalSuspendTimeout: 1 hour).
    uint64_t global_suspend_ticks = 360'000;
};

// A snapshot of the state machine at index (its last applied entry); data is opaque.
struct Snapshot {
    Index index = 0;
    Term term = 0;
    Configuration configuration;  // in force at index
    std::shared_ptr<const std::vector<uint8_t>> data;
};

Status validate(const Options& options);

// What a server restores from its storage at start-up.
struct RestoredState {
    HardState hard_state;
    std::optional<Snapshot> snapshot;  // the latest stored snapshot: the log follows it
    Configuration configuration;       // the latest configuration it stored (may be empty)
    std::vector<Entry> entries;        // the whole log, in order (holes allowed)
    Index first_index = 1;             // where the log starts (after a snapshot)
    Term term_before_first = 0;        // term of the entry before first_index, if known
};

// One durable write the shell must make: set the hard state, drop the whole log (reset_log),
// store the snapshot and drop the whole log up to it (the log restarts after it), drop entries
// after an index, append entries (their indexes may skip holes). In that order (the hard state
// first: a reset carries the floor it must not lose), all of it, before persisted(seq).
struct PersistOp {
    uint64_t seq = 0;
    std::optional<HardState> hard_state;
    std::optional<Snapshot> snapshot;
    std::optional<Index> truncate_after;
    std::vector<Entry> entries;
    // Before anything but the hard state: drop the whole log; it starts again, empty, at
    // index 1 (a follower reset).
    bool reset_log = false;
};

enum class ReadStatus { ready, not_leader, lost_leadership };

struct ReadState {
    uint64_t id = 0;
    ReadStatus status = ReadStatus::ready;
    Index index = 0;  // apply up to here, then answer
};

struct Ready {
    std::vector<Envelope> messages;
    std::vector<PersistOp> persist;
    // A snapshot received from the leader: load it into the state machine (replacing its
    // state) before applying `committed`, which then continues after it.
    std::optional<Snapshot> install;
    // This follower dropped its log and state (AppendResponse::reset): start the state machine
    // again, empty, before applying `committed` (which then starts again from index 1).
    bool reset = false;
    std::vector<Entry> committed;  // newly committed, in order, to apply (holes skipped)
    std::vector<ReadState> reads;
    bool empty() const {
        return messages.empty() && persist.empty() && committed.empty() && reads.empty() &&
               !install && !reset;
    }
};

// Why a proposal was refused.
struct NotLeader {
    NodeId leader_hint = 0;
};

class Raft {
public:
    Raft(const Options& options, Random& random, RestoredState restored);
    ~Raft();  // out of line: Progress and PendingRead are complete only in raft.cc

    void tick();
    void step(const Envelope& envelope);
    void persisted(uint64_t seq);
    Ready take_ready();

    // Leader only: appends a command entry; its index, or the status saying why not
    // (not the leader, or a leadership transfer in progress).
    Result<Index> propose(std::vector<uint8_t> payload, uint8_t compaction_mode = 0);
    // Leader only: a single-server configuration change, refused unless the expected index
    // (and term, when given) is the current configuration's (compare and set: with the term,
    // a configuration that a new leader wrote at the same index after dropping the one the
    // caller saw is told apart), no other change is uncommitted, and this leader has
    // committed an entry of its term.
    Result<Index> propose_configuration(std::vector<Member> members,
                                        Index expected_configuration_index,
                                        std::optional<Term> expected_configuration_term = {});
    // Linearizable read (ReadIndex): answered in Ready::reads once a heartbeat round that
    // started after the read confirms leadership. One round serves every waiting read.
    void read_index(uint64_t read_id);
    // Lease read: answered at once if the leader's lease holds, else like read_index.
    void lease_read(uint64_t read_id);
    // Hands leadership to target once it is caught up; false if not possible now.
    Status transfer_leadership(NodeId target);

    // The shell took (and durably stored) a snapshot at snapshot.index <= applied_index():
    // the in-memory log is compacted, and followers behind it are sent the snapshot.
    void snapshot_taken(Snapshot snapshot);
    const std::optional<Snapshot>& snapshot() const { return snapshot_; }

    // Log compaction in memory (log.h): the state machine no longer needs these entries...
    void release(std::span<const Index> indexes) { log_.release(indexes); }
    // ...and removes those common/compaction.h allows, up to minor_index (lastCompleted of
    // the session layer) and with the global index, capped at pending_release (the sequential
    // modes stay from the lowest entry released but not handed out yet: see
    // ServerStateMachine::lowest_pending_release), never by snapshot coverage (see raft.cc).
    // Returns the indexes removed.
    std::vector<Index> compact_log(Index minor_index,
                                   Index pending_release = std::numeric_limits<Index>::max());

    // The shell's clock, for entry timestamps; set before tick() (never goes back).
    void set_time_ms(uint64_t now_ms) { now_ms_ = std::max(now_ms_, now_ms); }

    NodeId id() const { return options_.id; }
    Role role() const { return role_; }
    Term term() const { return hard_state_.term; }
    NodeId vote() const { return hard_state_.vote; }
    NodeId leader() const { return leader_; }
    Index commit_index() const { return commit_index_; }
    Index applied_index() const { return applied_index_; }
    Index durable_index() const { return durable_index_; }
    Index global_index() const { return global_index_; }
    // The applied state is the state of a whole log prefix only at or after this index: below
    // it, this node applied a log with holes (entries compaction removed after later entries
    // released them), and skipping them leaves intermediate states no server went through
    // (a key written in a hole reads as absent until the write that replaced it). Reads wait
    // until the applied index reaches it. 0: no holes to catch up across.
    Index hole_horizon() const { return hole_horizon_; }
    // Below what compaction may remove the sequential modes (copycat.md §2.4): the global index,
    // and once there is a snapshot, no further than just after it. A member that installs the
    // snapshot (or this node, starting from it) holds the writes up to it, and must find every
    // delete after it in the log.
    Index compaction_global_index() const;
    const RaftLog& log() const { return log_; }
    const Configuration& configuration() const { return configuration_; }
    MemberType member_type() const;

private:
    struct Progress;
    struct PendingRead;

    // roles and timers
    void become_follower(Term term, NodeId leader);
    void become_candidate();
    void become_leader();
    void start_poll();
    void reset_election_timer();
    void tick_leader();
    void tick_follower();
    bool heard_from_leader_recently() const;
    bool may_campaign() const;
    size_t granted_by_voters() const;
    void accept_leader(Term term, NodeId leader);
    void add_progress(NodeId id);

    // messages
    void handle(NodeId from, const AppendRequest& request);
    void handle(NodeId from, const AppendResponse& response);
    void handle(NodeId from, const PollRequest& request);
    void handle(NodeId from, const PollResponse& response);
    void handle(NodeId from, const VoteRequest& request);
    void handle(NodeId from, const VoteResponse& response);
    void handle(NodeId from, const TimeoutNow& request);
    void handle(NodeId from, const ConfigureRequest& request);
    void handle(NodeId from, const ConfigureResponse& response);
    void handle(NodeId from, const InstallSnapshotRequest& request);
    void handle(NodeId from, const InstallSnapshotResponse& response);
    void install_snapshot(Snapshot snapshot);
    bool send_snapshot_chunk(Progress& progress);
    bool log_up_to_date(Index last_index, Term last_term) const;
    Progress* answering_progress(NodeId from, Term term);

    // replication
    void replicate(NodeId to, bool heartbeat);
    void broadcast();
    AppendRequest make_append(Index prev_index, const Progress& to) const;
    enum class AppendOutcome { appended, refused, reset };
    AppendOutcome append_from_leader(const AppendRequest& request);
    bool must_reset(const AppendRequest& request, Index take_from) const;
    void reset_log_and_state();
    bool suspended(const Progress& progress) const;
    void append_local(std::vector<Entry> entries);
    uint64_t stamp() const;
    uint64_t previous_timestamp() const;
    void advance_commit();
    void set_commit(Index index);
    void update_global_index(Index own);
    Index removal_global_index() const;
    Index lacking_deletes_bound() const;

    // reads
    void start_round();
    void confirm_round(Progress& progress, uint64_t round);
    bool lease_holds() const;
    bool sole_voter() const;
    void release_reads_for_commit();
    void fail_reads(ReadStatus status);

    // configuration
    void note_configuration_entry(const Entry& entry);
    void forget_configurations_after(Index index);
    void forget_configurations_before(Index index);
    void apply_configuration_from_log();
    void commit_configurations(Index commit_index);
    void check_availability();

    // output
    void send(NodeId to, Message message, bool needs_durable_log);
    uint64_t persist(std::optional<HardState> hard_state, std::optional<Index> truncate_after,
                     std::vector<Entry> entries);
    void save_hard_state();

    Options options_;
    Random& random_;
    uint64_t now_ms_ = 0;

    HardState hard_state_;
    Role role_ = Role::follower;
    NodeId leader_ = 0;
    RaftLog log_;
    Configuration configuration_;            // in force: the latest in the log, or committed
    Configuration committed_configuration_;  // when the log holds no newer one
    std::map<Index, Configuration> log_configurations_;  // configuration entries in the log
    Index commit_index_ = 0;
    Index applied_index_ = 0;  // handed out in Ready::committed
    Index durable_index_ = 0;
    Index global_index_ = 0;
    Index hole_horizon_ = 0;             // hole_horizon()
    std::optional<Snapshot> snapshot_;   // the latest, taken here or installed
    std::optional<Snapshot> receiving_;  // chunks of a snapshot arriving from the leader
    std::vector<uint8_t> received_bytes_;

    // timers (ticks)
    uint64_t ticks_ = 0;
    uint64_t election_deadline_ = 0;
    uint64_t last_leader_contact_ = 0;  // tick of the last valid message from the leader
    uint64_t last_heartbeat_ = 0;

    // elections
    std::set<NodeId> votes_granted_;
    std::set<NodeId> votes_refused_;
    bool polling_ = false;
    bool transfer_election_ = false;

    // leader state
    std::vector<std::unique_ptr<Progress>> progress_;
    std::map<NodeId, Progress*> progress_index_;
    bool replicate_pending_ = false;
    Index first_index_of_term_ = 0;  // this leader's initialize entry
    std::optional<NodeId> transfer_target_;
    uint64_t transfer_deadline_ = 0;
    uint64_t round_ = 0;  // heartbeat rounds, for ReadIndex and the lease
    std::map<uint64_t, uint64_t> round_start_tick_;
    uint64_t lease_round_start_tick_ = 0;
    bool lease_valid_ = false;
    bool lease_forfeited_ = false;  // a TimeoutNow went out this term: no more lease reads
    std::deque<PendingRead> reads_for_commit_;  // before this leader's first commit
    std::deque<PendingRead> reads_waiting_;     // for the next round
    std::deque<PendingRead> reads_in_round_;    // sent with a round, waiting for a majority

    // output
    uint64_t next_persist_seq_ = 1;
    uint64_t persisted_seq_ = 0;
    uint64_t hard_state_seq_ = 0;
    std::vector<std::pair<uint64_t, Index>> unpersisted_;  // (seq, last index after it)
    std::vector<std::pair<uint64_t, Envelope>> held_;      // messages waiting for persistence
    Ready ready_;
};

}  // namespace copycat::raft
