// ConsensusServer: the copycat-consensus process (DESIGN.md, Processes): the shell around the
// pure SessionServer (Raft + sessions + the state machine). It owns the sockets (peers, clients),
// the link to its node's copycat-logstore, the clock and the timers, and the HTTP port.
//
//  - Start: restores the newest usable snapshot from <data-dir>/snapshots (SNAPSHOTS.md) and
//    term, vote, configuration and the log after it from the logstore; a node with nothing
//    stored bootstraps from --initial-cluster (saving that configuration first) or joins an
//    existing cluster through --join (asking a member to add it, until it is in the
//    configuration).
//  - Ticks follow elapsed time: each tick timer delivers as many Raft ticks as the steady clock
//    says have passed, so a stalled process catches up rather than slowing time down.
//  - Entry timestamps (log time, which expires sessions) are the wall clock at start plus the
//    steady clock since: a step of the wall clock does not move them (now_ms()).
//  - After every batch of input, the core's output goes out: PersistOps to the logstore (the
//    leader's own write overlaps replication), messages to peers, answers and events to
//    connections, released indexes to the logstore; committed configurations are saved.
//  - Snapshots (state machines that take them): one taken here is stored durably by the
//    snapshot writer's thread, then the core hears snapshot_stored() and the logstore the
//    snapshot index; one in a PersistOp (installed from the leader) goes through LogstoreLink,
//    which holds the op's log changes until the file is durable. A snapshot that cannot be
//    stored stops the node (exit 1), as a failed logstore write does.
//  - Administration (status, member changes, leadership transfer, session list) is answered
//    here, on the client port.
//
// Single-threaded (the event loop's), but for the snapshot writer's thread, which only touches
// the snapshot store; the HTTP server's threads read only atomics.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>

#include "common/curve.h"
#include "common/event_loop.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "consensus/server/client_port.h"
#include "consensus/server/consensus_metrics.h"
#include "consensus/server/logstore_link.h"
#include "consensus/server/options.h"
#include "consensus/server/peer_transport.h"
#include "consensus/server/snapshot_store.h"
#include "consensus/server/snapshot_writer.h"
#include "consensus/session/session_server.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::server {

class ConsensusServer {
public:
    // Connects to the logstore, restores, binds. Errors say what to fix.
    static Result<std::unique_ptr<ConsensusServer>> start(
        const ServerOptions& options, const statemachine::StateMachineFactory& factory,
        Metrics& metrics);
    ~ConsensusServer();

    void attach(EventLoop& loop);
    // Readiness for /readyz (any thread).
    Status ready() const;
    // Set when the logstore failed or a snapshot could not be stored: the process must stop
    // (exit 1).
    bool failed() const { return logstore_failed_ || join_refused_ || snapshot_failed_; }

private:
    struct PendingChange {
        session::ConnectionId connection = 0;
        uint64_t request_id = 0;
        raft::Term term = 0;  // of the proposed entry
    };
    // A copycat-ctl compact waiting for the compactor's answer.
    struct PendingCompaction {
        session::ConnectionId connection = 0;
        uint64_t request_id = 0;
        std::chrono::steady_clock::time_point asked;
    };
    class Rng : public raft::Random {
    public:
        Rng();
        uint64_t next() override { return engine_(); }

    private:
        std::mt19937_64 engine_;
    };

    ConsensusServer(const ServerOptions& options, Metrics& metrics);
    Result<raft::RestoredState> restore(const statemachine::StateMachineFactory& factory);
    Status bootstrap_if_new(raft::RestoredState& restored);
    Status bind();
    uint64_t now_ms() const;

    // input
    void on_tick();
    void catch_up_ticks();
    void on_peer_readable();
    void on_client_readable();
    void on_logstore_readable();
    void on_compactor_readable();
    void on_housekeeping();
    void send_compaction_indexes();
    void forward_releases();
    void on_request(session::ConnectionId connection, uint64_t request_id,
                    session::Request request);
    void on_lost(session::ConnectionId connection);

    // output
    void flush();
    void stop_if_failed();

    // snapshots
    void on_snapshots_written();
    std::optional<uint64_t> snapshot_done(const SnapshotWriter::Done& done);
    void note_snapshot_durable(raft::Index index, const std::optional<SnapshotWriter::Done>& write);
    raft::Index snapshot_index() const;
    void after_applied(const std::vector<raft::Entry>& applied);
    void note_configuration(const raft::Configuration& configuration);
    void refresh_metrics();

    // administration (admin.cc)
    void on_admin(session::ConnectionId connection, uint64_t request_id,
                  const session::AdminRequest& request);
    session::StatusResponse status() const;
    session::AdminResponse change_members(const session::MemberChangeRequest& request,
                                          session::ConnectionId connection, uint64_t request_id);
    session::AdminResponse hand_over_before_leaving(session::AdminResponse response);
    // Asks the node's compactor for a run; answered by on_compactor_readable(). An error
    // response if it cannot be asked.
    std::optional<session::AdminResponse> compact_now(session::ConnectionId connection,
                                                      uint64_t request_id, bool major);
    void expire_compactions();
    void answer_admin(session::ConnectionId connection, session::AdminResponse response);
    void track_change(raft::Index index, PendingChange change);
    void answer_change(const raft::Entry& applied);
    void answer_change_lost(const PendingChange& change);
    void try_join();
    void on_join_readable();
    void learn_peer_addresses(const std::vector<session::MemberInfo>& members);

    ServerOptions options_;
    ConsensusMetrics consensus_metrics_;
    zmq::context_t context_{1};
    LogstoreLink logstore_;
    session::DiskReleases disk_releases_;  // releases on their way to the logstore
    PeerTransport peers_;
    ClientPort clients_;
    logstore::StorageClient compactor_;  // asked only for copycat-ctl compact
    ZapHandler zap_;                     // bound only with CURVE
    bool zap_bound_ = false;
    prometheus::Family<prometheus::Counter>& handshake_failures_;
    Rng random_;
    std::unique_ptr<SnapshotStore> snapshots_;
    std::unique_ptr<SnapshotWriter> snapshot_writer_;  // after snapshots_: stops before it goes
    std::unique_ptr<session::SessionServer> server_;
    EventLoop* loop_ = nullptr;

    std::chrono::steady_clock::time_point started_;
    // now_ms(): the wall clock read once at start, then moved on by the steady clock.
    const uint64_t wall_at_start_ms_;
    const std::chrono::steady_clock::time_point steady_at_start_;
    // A client connection with no traffic for this long is forgotten (ClientPort::forget_idle).
    std::chrono::steady_clock::duration idle_connection_after_{};
    uint64_t ticks_done_ = 0;
    raft::Index peers_configuration_index_ = UINT64_MAX;
    raft::Index saved_configuration_index_ = 0;
    raft::NodeId last_leader_ = 0;
    raft::Term last_term_ = 0;
    uint64_t sessions_expired_seen_ = 0;  // of ServerStateMachine::sessions_expired()
    std::map<raft::Index, PendingChange> pending_changes_;
    std::map<uint64_t, PendingCompaction> compactions_;  // by compactor request id
    std::vector<std::unique_ptr<zmq::socket_t>> join_sockets_;
    std::vector<std::unique_ptr<HandshakeMonitor>> join_monitors_;  // with CURVE: one a socket
    size_t next_join_endpoint_ = 0;
    bool member_seen_ = false;  // this node has been in its configuration
    bool join_refused_ = false;
    raft::Index stored_snapshot_index_ = 0;  // the newest durable snapshot (0 after a discard)

    std::atomic<bool> has_leader_{false};
    std::atomic<bool> logstore_reachable_{true};
    std::atomic<bool> logstore_failed_{false};
    std::atomic<bool> snapshot_failed_{false};
};

}  // namespace copycat::server
