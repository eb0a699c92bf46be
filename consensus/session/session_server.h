// SessionServer: one server's whole decision-making, without I/O. It joins the Raft core
// (consensus/raft/) and the session layer (ServerStateMachine) and handles client requests:
// the copycat-consensus process is a shell around it (sockets, the logstore, clocks), and the
// simulator (tests/sim/) runs the very same object with simulated network, disks and clocks.
//
// Contract with the shell, as Raft's (raft.h) plus clients:
//  - tick(), step(), persisted(), set_time_ms() as for raft::Raft;
//  - request(connection, request_id, request) for every client request; the connection is
//    the shell's name for where the answer goes (a gateway's socket identity);
//  - connection_closed() when the shell loses a connection: nothing more is sent to it;
//  - after any input, take_output(): Raft messages to send, PersistOps to carry out in order,
//    responses and event batches to send to connections, released indexes for the logstore,
//    and a snapshot taken here (if any) to store durably before calling snapshot_stored().
// Single-threaded: one caller at a time.
//
// What it promises (copycat.md §4.5–4.9):
//  - commands: only the leader logs them, after ServerStateMachine::admit_command; the answer
//    goes out when the entry applies here. A leader that steps down answers its waiting
//    commands no_leader (the client resubmits the same sequence; the result cache keeps it
//    applied once);
//  - queries: LINEARIZABLE through Raft::read_index, LINEARIZABLE_LEASE through lease_read, on
//    the leader only; SEQUENTIAL on any member that keeps the log and has seen the session
//    register and is not lagging the last commit index it knows, once the session's sequence
//    and index are applied (read your writes, monotonic reads);
//  - sessions: register, keep-alive (one entry for a whole batch) and unregister are logged by
//    the leader; the leader logs the expiry of suspected sessions;
//  - events: a batch goes to the connection its session last used on this server; a client's
//    reset, any request of a session on a new connection, and a keep-alive that leaves batches
//    unacknowledged resend its pending batches (the client drops what it already has); none
//    go while this server applies between compacted holes (below Raft::hole_horizon()): they
//    wait, and go once it is past them;
//  - a new leader holds session requests until it has applied its own first entry: before
//    that its session table may lack sessions that earlier leaders registered;
//  - bad client input (unknown sessions, oversized operations, huge keep-alive batches, out of
//    range values) is refused with an error code; it never crashes and never reaches the state
//    machine.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consensus/raft/raft.h"
#include "consensus/session/entries.h"
#include "consensus/session/protocol.h"
#include "consensus/session/server_state_machine.h"

namespace copycat::session {

using ConnectionId = uint64_t;

struct SessionServerOptions {
    raft::Options raft;
    ServerStateMachineOptions sessions;
    size_t max_operation_bytes = 1024 * 1024;  // larger arguments are refused (bad_request)
    size_t max_keep_alive_sessions = 10'000;   // per request
    size_t max_waiting_queries = 100'000;      // queries waiting for a read index or to catch up
    // Session requests a new leader holds until it has applied its first entry; beyond, they
    // are answered no_leader (the client retries).
    size_t max_held_requests = 10'000;
    // Take a snapshot each time the state machine applied this many entries since the last
    // one (0: never; only for snapshottable state machines). A snapshot is handed out for
    // storing only once every event up to its index is acknowledged (copycat.md §2.5).
    uint64_t snapshot_every_entries = 0;
    // Remove released entries from Raft's in-memory log (log.h) each time this many entries
    // applied since the last time (0: never). Off by default until the simulator passes with
    // it (copycat-sim --compaction memory): it still finds violations.
    uint64_t compact_log_every_entries = 0;
};

struct OutboundResponse {
    ConnectionId connection = 0;
    Response response;
};

struct OutboundEvents {
    ConnectionId connection = 0;
    PublishRequest publish;
};

struct ServerOutput {
    std::vector<raft::Envelope> messages;
    std::vector<raft::PersistOp> persist;
    std::vector<OutboundResponse> responses;
    std::vector<OutboundEvents> events;
    std::vector<Release> released;  // for the logstore's release bitmaps (DiskReleases)
    // Removed from Raft's in-memory log this time (holes now; for the simulator's invariants).
    std::vector<Index> compacted;
    // Applied this time, in order (for the simulator's invariants and the shell's metrics).
    std::vector<raft::Entry> applied;
    // A snapshot of the state machine taken here: store it durably, then snapshot_stored().
    std::optional<raft::Snapshot> snapshot;
    bool empty() const;
};

class SessionServer {
public:
    // A snapshot in `restored` is loaded into the state machine at once (asserts if it does not
    // load: the stored state is then unusable). `random` must outlive the server. The factory
    // makes the state machine, and makes it again, empty, when this server resets
    // (raft::Ready::reset).
    SessionServer(SessionServerOptions options, raft::Random& random, raft::RestoredState restored,
                  statemachine::StateMachineFactory factory);
    ~SessionServer();

    void set_time_ms(uint64_t now_ms);
    void tick();
    void step(const raft::Envelope& envelope);
    void persisted(uint64_t seq);
    void request(ConnectionId connection, uint64_t request_id, Request request);
    // The shell lost a connection: events for its sessions wait until they come back, and
    // answers still due to it are dropped.
    void connection_closed(ConnectionId connection);
    // The snapshot of ServerOutput::snapshot at this index is durable: Raft may compact its
    // log behind it and send it to followers. Other indexes (stale) are ignored.
    void snapshot_stored(raft::Index index);
    ServerOutput take_output();

    // Administration (the leader only; otherwise the core's refusal).
    Result<raft::Index> configure(std::vector<raft::Member> members,
                                  raft::Index expected_configuration_index,
                                  std::optional<raft::Term> expected_configuration_term = {});
    Status transfer_leadership(raft::NodeId target);

    const raft::Raft& raft() const { return *raft_; }
    const ServerStateMachine& state() const { return *state_; }

private:
    enum class ProposalKind { register_session, keep_alive, unregister, command };
    // A logged client request waiting for its entry to apply, by log index.
    struct PendingProposal {
        ConnectionId connection = 0;
        uint64_t request_id = 0;
        raft::Term term = 0;  // of the entry: another entry at the index means it was lost
        ProposalKind kind = ProposalKind::command;
        SessionId session = 0;
        uint64_t sequence = 0;
        std::vector<SessionId> keep_alive_sessions;
    };
    struct PendingQuery {
        ConnectionId connection = 0;
        uint64_t request_id = 0;
        QueryRequest request;
        Index read_index = 0;  // apply up to here before answering
    };
    struct HeldRequest {
        ConnectionId connection = 0;
        uint64_t request_id = 0;
        Request request;
    };

    // output and drain
    void drain();
    void process(raft::Ready ready);
    void install(const raft::Snapshot& snapshot);
    void apply(const raft::Entry& entry);
    void after_apply();
    void observe_leadership();
    void step_down_answers();
    void run_held_requests();
    void propose_expiries();
    void maybe_take_snapshot();
    void reset_state();
    void compact_log();
    statemachine::CompactionMode resolve(statemachine::CompactionMode mode) const;
    std::optional<raft::Configuration> configuration_at(Index index) const;

    // answers
    void respond(ConnectionId connection, Response response);
    void refuse(ConnectionId connection, uint64_t request_id, ErrorCode error, std::string message);
    void refuse_no_leader(ConnectionId connection, uint64_t request_id);
    void answer(const raft::Entry& entry, const Applied& applied);
    bool matches(const PendingProposal& proposal, const Applied& applied) const;
    Response answer_for(const PendingProposal& proposal, const Applied& applied);
    Response command_response(uint64_t request_id, const CommandApplied& result, Index index);
    void resend_after_keep_alive(const PendingProposal& proposal, const Applied& applied);

    // events and connections
    void note_connection(SessionId session, ConnectionId connection, bool resend = true);
    bool events_may_go() const;
    void send_events(ConnectionId connection, std::vector<PublishRequest> batches);

    // requests
    bool leading() const;
    bool leader_ready() const;
    // Not the leader: answered no_leader. A leader not ready yet: held. True if handled so.
    bool refused_or_held(ConnectionId connection, uint64_t request_id, Request& request);
    Result<Index> propose(const SessionEntry& entry, statemachine::CompactionMode mode);
    void track(Index index, PendingProposal proposal);
    void note_connections(ConnectionId connection, const Request& request);
    void dispatch(ConnectionId connection, uint64_t request_id, Request request);
    void handle(ConnectionId connection, uint64_t request_id, RegisterRequest request);
    void handle(ConnectionId connection, uint64_t request_id, KeepAliveRequest request);
    void handle(ConnectionId connection, uint64_t request_id, UnregisterRequest request);
    void handle(ConnectionId connection, uint64_t request_id, CommandRequest request);
    void handle(ConnectionId connection, uint64_t request_id, QueryRequest request);
    void handle(ConnectionId connection, uint64_t request_id, ResetRequest request);
    void start_read(PendingQuery query);
    void start_sequential(PendingQuery query);
    void on_read(const raft::ReadState& read);
    void answer_waiting_queries();
    bool try_answer(const PendingQuery& query);
    size_t queries_waiting() const { return reads_.size() + waiting_queries_.size(); }

    SessionServerOptions options_;
    statemachine::StateMachineFactory factory_;
    std::unique_ptr<raft::Raft> raft_;
    std::unique_ptr<ServerStateMachine> state_;
    ServerOutput output_;

    std::map<Index, PendingProposal> proposals_;
    std::map<uint64_t, PendingQuery> reads_;   // by read id, until Raft says ready
    std::list<PendingQuery> waiting_queries_;  // until applied far enough
    std::deque<HeldRequest> held_;             // a new leader's, until leader_ready()
    std::map<SessionId, ConnectionId> connections_;
    uint64_t next_read_id_ = 1;

    // The leadership last observed: a change answers waiting requests and resets the session
    // layer's leader state.
    bool was_leading_ = false;
    raft::Term observed_term_ = 0;
    raft::NodeId observed_leader_ = 0;
    raft::Term initialize_applied_term_ = 0;  // term of the last initialize entry applied
    bool proposed_ = false;          // since the drain loop last looked: more Ready may follow
    bool queries_dirty_ = false;     // something applied or queued: check waiting queries
    bool expiry_check_due_ = false;  // something applied: look for sessions to expire

    // Leader-only, forgotten on a change of leadership: commands admitted that Raft then
    // refused to log (the lowest sequence per session), and expiries it refused to log.
    std::map<SessionId, uint64_t> unlogged_admissions_;
    std::set<SessionId> unlogged_expiries_;

    Index last_snapshot_index_ = 0;
    std::optional<raft::Snapshot> pending_snapshot_;   // taken; waits for acknowledgements
    std::optional<raft::Snapshot> unstored_snapshot_;  // handed out; waits for snapshot_stored
    Index compacted_at_ = 0;  // applied index of the last in-memory log compaction
};

}  // namespace copycat::session
