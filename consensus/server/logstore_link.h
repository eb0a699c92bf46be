// LogstoreLink: copycat-consensus's connection to the copycat-logstore of its node (DESIGN.md,
// "Durability"). It restores the Raft state at start-up, carries out the core's PersistOps
// asynchronously (the leader's own write overlaps replication) and reports them durable in
// order, and passes on configurations, released entries and compaction indexes.
//
// PersistOp → requests, in order on one connection (the logstore handles a connection's
// requests in order): SaveTerm for the hard state (answered after its fdatasync), Truncate for
// truncate_after (floor: the commit index), Append for the entries (answered by a DurableAck
// after the group commit's fdatasync; an ack covers every append up to its request id). An op
// is durable when each of its requests is answered; persisted(seq) is reported for the longest
// prefix of durable ops, so the core hears of them in order.
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
// Single-threaded: the event loop's thread only.
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
#include <vector>

#include "common/status.h"
#include "consensus/raft/raft.h"
#include "logstore/client.h"

namespace copycat::server {

class LogstoreLink {
public:
    LogstoreLink(zmq::context_t& context, const std::string& endpoint,
                 std::chrono::milliseconds op_timeout = std::chrono::seconds(15));

    // At start-up, before the event loop runs: claims the log, waits until everything in it is
    // durable, then reads term, vote, the stored configuration and every entry. Keeps trying
    // for `timeout` (a logstore may still be starting, or recovering a long log).
    Result<raft::RestoredState> restore(std::chrono::milliseconds timeout);

    void persist(const raft::PersistOp& op, raft::Index commit_index);
    void save_configuration(const raft::Configuration& configuration);
    void release(std::span<const uint64_t> indexes);
    void set_indexes(raft::Index commit_index, raft::Index global_index);
    // A liveness probe (its answer refreshes last_answer()); also fails the link when the
    // oldest op has waited longer than op_timeout. Call it about once a second.
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

private:
    struct Op {
        uint64_t seq = 0;
        std::set<uint64_t> waiting;  // request ids not yet answered (not appends)
        uint64_t append_id = 0;      // 0: no append, or it is durable
        std::chrono::steady_clock::time_point sent;
    };
    void send(const std::vector<uint8_t>& bytes);
    uint64_t next_id();
    Status wait_until_durable(std::chrono::steady_clock::time_point deadline);
    void handle(const logstore::Reply& reply);
    void fail(Status status);
    Result<logstore::Reply> call(const std::function<std::vector<uint8_t>(uint64_t)>& build,
                                 std::chrono::steady_clock::time_point deadline);

    std::chrono::milliseconds op_timeout_;
    logstore::StorageClient client_;
    uint64_t last_sent_id_ = 0;
    uint64_t last_append_id_ = 0;
    std::deque<Op> ops_;
    std::set<uint64_t> other_requests_;  // release, set_indexes, status, configuration
    Status failure_;
    std::chrono::steady_clock::time_point last_answer_{};
    uint64_t durable_index_ = 0;
    uint64_t completed_seq_ = 0;
};

}  // namespace copycat::server
