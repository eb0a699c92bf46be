// LogstoreLink: copycat-consensus's connection to the copycat-logstore of its node (DESIGN.md,
// "Durability"). It restores the Raft state at start-up, carries out the core's PersistOps
// asynchronously (the leader's own write overlaps replication) and reports them durable in
// order, and passes on configurations, released entries and compaction indexes.
//
// PersistOp → requests, in order on one connection (the logstore handles a connection's
// requests in order): SaveTerm for the hard state, with its log floor (answered after its
// fdatasync), Truncate for truncate_after (floor: the commit index), Append for the entries
// (answered by a DurableAck after the group commit's fdatasync; an ack covers every append up
// to its request id). An op is durable when each of its requests is answered; persisted(seq) is
// reported for the longest prefix of durable ops, so the core hears of them in order.
//
// Ops that touch snapshots (consensus/server/SNAPSHOTS.md) wait for files as well as requests:
//  - a snapshot (installed from the leader, or a restart's log behind its snapshot) goes to
//    SnapshotHooks::store first; only once the server reports it durable (snapshot_durable())
//    does the rest of the op go out: ResetLog{index + 1} instead of a Truncate when the op
//    truncates at or before the snapshot or the log does not reach it (the log then restarts
//    after the snapshot), then the entries;
//  - reset_log (a follower dropping its log and state) first saves its hard state, which holds
//    the floor (the end of the log being dropped), and sends ResetLog{1} only once that SaveTerm
//    is answered: a crash then finds the old log or the floor, never an empty log without it
//    (a node that forgot what it acknowledged could vote a candidate missing it in). Once the
//    reset is durable it has every stored snapshot discarded (SnapshotHooks::discard_all,
//    reported by snapshots_discarded()) before anything else goes out: a crash in between
//    restarts from a stored snapshot with an empty log, a state Raft may reset again, never from
//    a snapshot beside entries of the new log;
// and every later op waits behind such an op, so the logstore sees requests in op order.
//
// Any error from the logstore on a persist request is fatal (failed()): the node can no longer
// promise durability, and an fdatasync error is never retried (TESTING.md #12). So is an op
// not durable within op_timeout: its requests were lost (the logstore restarted) or the
// logstore hangs; either way the node stops, and its restart reads the log afresh.
//
// One writer: restore() claims the log (LoadMetaRequest.claim_writer) on a connection with a
// routing id of this process's own, so that requests an earlier consensus process left queued
// in the logstore are refused rather than land after this one read the log, and their replies
// never reach this one. Replies to requests this link never sent are ignored.
//
// Single-threaded: the event loop's thread only (the hooks are called on it too).
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "consensus/raft/raft.h"
#include "consensus/session/disk_releases.h"
#include "logstore/client.h"

namespace copycat::server {

// Where the snapshot files of PersistOps go (the consensus server's snapshot writer). Each
// call starts a durable write or removal; its end is reported to the link.
struct SnapshotHooks {
    std::function<void(const raft::Snapshot& snapshot)> store;  // then snapshot_durable()
    std::function<void()> discard_all;                          // then snapshots_discarded()
};

class LogstoreLink {
public:
    LogstoreLink(zmq::context_t& context, const std::string& endpoint, SnapshotHooks hooks,
                 std::chrono::milliseconds op_timeout = std::chrono::seconds(15));

    // At start-up, before the event loop runs: claims the log, waits until everything in it is
    // durable, then reads term, vote, the stored configuration and every entry. Keeps trying
    // for `timeout` (a logstore may still be starting, or recovering a long log).
    Result<raft::RestoredState> restore(std::chrono::milliseconds timeout);
    // At start-up, after restore(): drops the whole log, which starts again empty at next_index
    // (an install from the leader that a crash interrupted before its ResetLog; SNAPSHOTS.md).
    Status reset_log(raft::Index next_index, std::chrono::milliseconds timeout);

    void persist(const raft::PersistOp& op, raft::Index commit_index);
    // The snapshot of the op waiting at SnapshotHooks::store is durable / every stored snapshot
    // is gone (after SnapshotHooks::discard_all). Each returns, like on_readable(), the highest
    // PersistOp seq that became durable, if any.
    std::optional<uint64_t> snapshot_durable(raft::Index index);
    std::optional<uint64_t> snapshots_discarded();
    void save_configuration(const raft::Configuration& configuration);
    // A batch of session::DiskReleases, in requests of at most release_chunk indexes (all but
    // the last partial).
    void release(const session::DiskReleases::Batch& batch);
    // Each index is sent only growing: a lower value than one sent before is replaced by that.
    void set_indexes(raft::Index commit_index, raft::Index global_index, raft::Index snapshot_index,
                     raft::Index minor_index);
    // A liveness probe (its answer refreshes last_answer()); also fails the link when the
    // oldest op has waited longer than op_timeout. Call it about once a second: a gap of over
    // min(3 s, op_timeout / 2) between calls is taken for a stall of this process, and is not
    // counted as waiting.
    void request_status();

    // Reads every reply waiting on the socket. Returns the highest PersistOp seq that became
    // durable (in order), if any.
    std::optional<uint64_t> on_readable();

    zmq::socket_t& socket() { return client_.socket(); }
    bool failed() const { return !failure_.is_ok(); }
    const Status& failure() const { return failure_; }
    std::chrono::steady_clock::time_point last_answer() const { return last_answer_; }
    size_t ops_in_flight() const { return ops_.size(); }
    uint64_t durable_index() const { return durable_index_; }
    // The highest snapshot index of an op reported durable (an installed snapshot), or 0.
    raft::Index durable_snapshot_index() const { return durable_snapshot_index_; }
    // The end of the logstore's sealed segments, as its latest status said (0 before one).
    raft::Index sealed_through() const { return sealed_through_; }
    // Whether the logstore said, after the release batches sent so far arrived, that its
    // release bits are not complete: it lost them (it restarted). Cleared by the call.
    bool take_releases_lost() { return std::exchange(releases_lost_, false); }

    static constexpr size_t release_chunk = 1 << 20;

private:
    struct Op {
        uint64_t seq = 0;
        std::set<uint64_t> waiting;  // request ids not yet answered (not appends)
        uint64_t append_id = 0;      // 0: no append, or it is durable
        bool unsent = false;         // parts still wait in unsent_
        bool resets_log = false;     // reset_log: the stored snapshots are discarded with it
        raft::Index snapshot_index = 0;
        std::chrono::steady_clock::time_point sent;
    };
    // The parts of an op, in the order they go out; an op that waits stops at one. The hard
    // state goes first: a reset op's floor must be durable before its ResetLog is sent. For the
    // other ops that wait (snapshots) the order is the same as if it came after the log reset
    // and discard steps, which do nothing for them: SaveTerm, the snapshot file, log changes.
    enum class Step { hard_state, reset_log, discard_snapshots, snapshot, log, done };
    enum class Wait { nothing, hard_state_saved, log_reset, snapshots_discarded, snapshot_stored };
    struct Unsent {
        raft::PersistOp op;
        raft::Index commit_index = 0;
        Step step = Step::hard_state;
    };

    static bool must_wait(const raft::PersistOp& op) { return op.reset_log || op.snapshot; }
    void advance();
    bool run_step(Unsent& unsent, Op& tracked);
    // Returns the SaveTerm's request id.
    uint64_t send_hard_state(Op& tracked, const raft::HardState& hard_state);
    void send_log_changes(Op& tracked, const raft::PersistOp& op, raft::Index commit_index);
    Op& op_with_seq(uint64_t seq);
    std::optional<uint64_t> pop_durable();
    void send(const std::vector<uint8_t>& bytes);
    uint64_t next_id();
    Status wait_until_durable(std::chrono::steady_clock::time_point deadline);
    void handle(const logstore::Reply& reply);
    void note_status(uint64_t id, const logstore::fb::StatusResponse& status);
    void forget_sealed_part();
    void fail(Status status);
    Result<logstore::Reply> call(const std::function<std::vector<uint8_t>(uint64_t)>& build,
                                 std::chrono::steady_clock::time_point deadline);

    std::chrono::milliseconds op_timeout_;
    // The last request_status(): a much longer gap since is a stall of this process.
    std::optional<std::chrono::steady_clock::time_point> last_status_request_;
    logstore::StorageClient client_;
    SnapshotHooks hooks_;
    uint64_t last_sent_id_ = 0;
    uint64_t last_append_id_ = 0;
    std::deque<Op> ops_;
    std::deque<Unsent> unsent_;        // the op being sent (front), and the ops behind it
    Wait wait_ = Wait::nothing;        // what the front of unsent_ waits for
    uint64_t awaited_request_id_ = 0;  // the SaveTerm or ResetLog that wait_ waits for
    raft::Index awaited_snapshot_index_ = 0;
    // The log's last index once every request sent so far is carried out: whether an
    // installed snapshot's op must reset the log.
    raft::Index log_last_index_ = 0;
    raft::Index durable_snapshot_index_ = 0;
    raft::Index sent_commit_index_ = 0;  // SetIndexes values sent, each only growing
    raft::Index sent_global_index_ = 0;
    raft::Index sent_snapshot_index_ = 0;
    std::set<uint64_t> other_requests_;  // release, set_indexes, status, configuration
    raft::Index sent_minor_index_ = 0;
    raft::Index sealed_through_ = 0;
    uint64_t statuses_valid_from_ = 0;  // request ids below it asked before a log reset
    uint64_t last_release_id_ = 0;      // the last release request sent
    bool releases_lost_ = false;
    Status failure_;
    std::chrono::steady_clock::time_point last_answer_{};
    uint64_t durable_index_ = 0;
    uint64_t completed_seq_ = 0;
};

}  // namespace copycat::server
