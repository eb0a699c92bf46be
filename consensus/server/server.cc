#include "consensus/server/server.h"

#include <algorithm>

#include "common/log.h"
#include "common/zmq_socket.h"

namespace copycat::server {

namespace {

// Messages taken from one socket before the core's output goes out: enough to batch under
// load, few enough that one busy socket does not starve the others.
constexpr size_t kReceiveBatch = 512;

raft::Options raft_options(const ServerOptions& options) {
    raft::Options raft;
    raft.id = options.node_id;
    const int64_t tick_us = options.tick.microseconds();
    raft.tick_ms = static_cast<uint64_t>(tick_us / 1000);
    raft.election_timeout_ticks =
        static_cast<uint32_t>(options.election_timeout.microseconds() / tick_us);
    raft.heartbeat_interval_ticks =
        static_cast<uint32_t>(options.heartbeat_interval.microseconds() / tick_us);
    raft.quiet_ticks_after_start = raft.election_timeout_ticks;
    return raft;
}

uint64_t wall_clock_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

// Forget a client connection idle for longer than any session may stay silent: no live
// session still counts on it then (each sent a request within its timeout, not on this
// connection: so this server knows it on another one, or it talks to another server, which
// sends it its events), and whatever the core still holds for it answers requests that its
// client gave up on long ago. connection_closed() tells the core, as for a lost connection.
std::chrono::steady_clock::duration idle_connection_after(
    const session::SessionServerOptions& core) {
    const auto longest_session = std::chrono::milliseconds(core.sessions.max_session_timeout_ms);
    return std::max<std::chrono::steady_clock::duration>(std::chrono::minutes(10),
                                                         longest_session + std::chrono::minutes(1));
}

}  // namespace

ConsensusServer::Rng::Rng() : engine_(std::random_device{}()) {}

ConsensusServer::ConsensusServer(const ServerOptions& options, Metrics& metrics)
    : options_(options),
      consensus_metrics_(metrics),
      logstore_(context_, options.logstore_endpoint,
                SnapshotHooks{[this](const raft::Snapshot& snapshot) {
                                  snapshot_writer_->submit(SnapshotWriter::Kind::persist, snapshot);
                              },
                              [this] { snapshot_writer_->submit(SnapshotWriter::Kind::discard); }}),
      peers_(context_, options.node_id, options.cluster_name, metrics),
      clients_(context_, metrics),
      // Asked only for copycat-ctl compact: a compactor that is not there fails that, at once.
      compactor_(context_, options.compactor_endpoint, std::chrono::milliseconds(0),
                 "consensus-" + std::to_string(options.node_id)),
      zap_(context_, metrics),
      handshake_failures_(handshake_failures_family(metrics)),
      wall_at_start_ms_(wall_clock_ms()),
      steady_at_start_(std::chrono::steady_clock::now()) {}

ConsensusServer::~ConsensusServer() = default;

Result<std::unique_ptr<ConsensusServer>> ConsensusServer::start(
    const ServerOptions& options, const statemachine::StateMachineFactory& factory,
    Metrics& metrics) {
    std::unique_ptr<ConsensusServer> server(new ConsensusServer(options, metrics));
    Result<raft::RestoredState> restored = server->restore(factory);
    if (!restored.is_ok()) return restored.status();
    COPYCAT_RETURN_IF_ERROR(server->bootstrap_if_new(*restored));
    server->saved_configuration_index_ = restored->configuration.index;
    session::SessionServerOptions core;
    core.raft = raft_options(options);
    core.sessions.default_session_timeout_ms =
        static_cast<uint64_t>(options.session_timeout.milliseconds());
    core.max_operation_bytes = options.max_operation_bytes;
    core.snapshot_every_entries = options.snapshot_every_entries;
    core.compact_log_every_entries = options.compact_log_every_entries;
    server->idle_connection_after_ = idle_connection_after(core);
    server->snapshot_writer_ = std::make_unique<SnapshotWriter>(*server->snapshots_);
    server->server_ = std::make_unique<session::SessionServer>(
        core, server->random_, std::move(restored.value()), factory);
    server->peers_.accept_snapshots(server->server_->state().snapshottable());
    COPYCAT_RETURN_IF_ERROR(server->bind());
    return server;
}

// The stored state: the newest usable snapshot (SNAPSHOTS.md, "Start-up") and the log after it.
Result<raft::RestoredState> ConsensusServer::restore(
    const statemachine::StateMachineFactory& factory) {
    const std::string folder = options_.data_dir + "/snapshots";
    Result<std::unique_ptr<SnapshotStore>> store = SnapshotStore::open(folder);
    if (!store.is_ok()) {
        return Status(store.status().code(),
                      "cannot open the snapshots in " + folder + ": " + store.status().message());
    }
    snapshots_ = std::move(store.value());
    auto timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.startup_timeout.chrono());
    Result<raft::RestoredState> restored = logstore_.restore(timeout);
    if (!restored.is_ok()) {
        return Status(restored.status().code(), "cannot restore from the logstore at " +
                                                    options_.logstore_endpoint + ": " +
                                                    restored.status().message());
    }
    Result<std::optional<raft::Snapshot>> snapshot = snapshots_->load(restored->entries);
    if (!snapshot.is_ok()) return snapshot.status();
    if (*snapshot && !factory()->snapshottable()) {
        return conflict("found snapshots in " + folder + ", but this state machine takes none: " +
                        "that data directory belongs to another state machine's server");
    }
    Result<bool> reset = attach_snapshot(*restored, std::move(snapshot.value()));
    if (!reset.is_ok()) return reset.status();
    if (*reset) {
        log::warn(
            "finishing an install from the leader that a crash interrupted: the log "
            "restarts after the snapshot",
            {{"snapshot_index", restored->snapshot->index}});
        COPYCAT_RETURN_IF_ERROR(logstore_.reset_log(restored->snapshot->index + 1, timeout));
    }
    if (restored->snapshot) note_snapshot_durable(restored->snapshot->index, std::nullopt);
    return restored;
}

Status ConsensusServer::bootstrap_if_new(raft::RestoredState& restored) {
    const bool empty =
        restored.configuration.members.empty() && restored.entries.empty() && !restored.snapshot;
    if (empty && !options_.initial_cluster.empty()) {
        raft::Configuration bootstrap;
        for (const PeerAddress& peer : options_.initial_cluster) {
            bootstrap.members.push_back({peer.id, raft::MemberType::active, true, peer.address});
        }
        std::sort(bootstrap.members.begin(), bootstrap.members.end(),
                  [](const raft::Member& a, const raft::Member& b) { return a.id < b.id; });
        restored.configuration = bootstrap;
        logstore_.save_configuration(bootstrap);
        // A member whose data was lost looks the same from here: bootstrapping it would make it
        // vote and count as if it had everything it acknowledged. Say so where it will be read.
        log::warn(
            "nothing is stored for this node: bootstrapping a new cluster from "
            "--initial-cluster. That is only for a brand-new cluster: a member that lost "
            "its data must not be restarted so; remove it from the cluster and join a new "
            "member with a new id (--join)",
            {{"members", bootstrap.members.size()}});
    } else if (empty && options_.join_endpoints.empty()) {
        return invalid_argument(
            "nothing is stored for this node: start a new cluster with --initial-cluster, or "
            "join one with --join");
    } else if (!empty) {
        log::info("restored",
                  {{"term", restored.hard_state.term},
                   {"entries", restored.entries.size()},
                   {"configuration_index", restored.configuration.index},
                   {"snapshot_index", restored.snapshot ? restored.snapshot->index : 0}});
    }
    return Status::ok();
}

// With CURVE (validate() checked the settings go together), the ZAP handler is bound before
// any socket listens: without it ZeroMQ would admit every key.
Status ConsensusServer::bind() {
    std::optional<CurveServer> peer_link;
    std::optional<CurveServer> client_link;
    if (options_.curve_key) {
        COPYCAT_RETURN_IF_ERROR(zap_.bind());
        zap_bound_ = true;
    }
    if (options_.curve_peer_keys) {
        peer_link = CurveServer{*options_.curve_key, *options_.curve_peer_keys, "peers"};
        zap_.admit(*peer_link);
        peers_.secure(*options_.curve_key, *options_.curve_peer_keys);
    }
    if (options_.curve_gateway_keys) {
        client_link = CurveServer{*options_.curve_key, *options_.curve_gateway_keys, "gateways"};
        if (options_.curve_peer_keys)
            client_link->admitted.by_name.insert(options_.curve_peer_keys->by_name.begin(),
                                                 options_.curve_peer_keys->by_name.end());
        zap_.admit(*client_link);
    }
    COPYCAT_RETURN_IF_ERROR(peers_.bind(options_.peer_listen, peer_link ? &*peer_link : nullptr));
    COPYCAT_RETURN_IF_ERROR(
        clients_.bind(options_.client_listen, client_link ? &*client_link : nullptr));
    for (size_t i = 0; i < options_.join_endpoints.size(); ++i) {
        auto socket = std::make_unique<zmq::socket_t>(make_dealer(
            context_, "join-" + std::to_string(options_.node_id), SocketOptions{100, 100}));
        if (client_link) {
            const std::string& key = *options_.curve_peer_keys->find(
                node_key_name(options_.join_ids[i]));  // validate() checked it is there
            make_curve_client(*socket, CurveClient{*options_.curve_key, key});
            join_monitors_.push_back(std::make_unique<HandshakeMonitor>(context_, *socket));
        }
        socket->connect(options_.join_endpoints[i]);
        join_sockets_.push_back(std::move(socket));
    }
    return Status::ok();
}

// Log time: entry timestamps, by which the session layer expires sessions. Read from the wall
// clock, a step of it (NTP, an operator, a VM resumed) would move log time by the step: forward
// by more than a session timeout, every session expires at once (and a step back would stop log
// time until the clock caught up, since it never goes back). So the wall clock is read once, at
// start, and moved on by the steady clock. Across leaders log time still follows each one's
// wall clock at its start, and the session layer takes the maximum, so it never goes back.
// Shown by WallClockStepProcessTest in tests/consensus/process_test.cc.
uint64_t ConsensusServer::now_ms() const {
    const auto elapsed = std::chrono::steady_clock::now() - steady_at_start_;
    return wall_at_start_ms_ +
           static_cast<uint64_t>(
               std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
}

void ConsensusServer::attach(EventLoop& loop) {
    loop_ = &loop;
    started_ = std::chrono::steady_clock::now();
    if (zap_bound_) loop.add_socket(zap_.socket(), [this] { zap_.on_readable(); });
    loop.add_socket(peers_.router(), [this] { on_peer_readable(); });
    loop.add_socket(clients_.router(), [this] { on_client_readable(); });
    loop.add_socket(logstore_.socket(), [this] { on_logstore_readable(); });
    loop.add_socket(compactor_.socket(), [this] { on_compactor_readable(); });
    loop.add_fd(snapshot_writer_->notify_fd(), [this] { on_snapshots_written(); });
    for (auto& socket : join_sockets_) loop.add_socket(*socket, [this] { on_join_readable(); });
    loop.add_periodic(options_.tick.chrono(), [this] { on_tick(); });
    loop.add_periodic(std::chrono::seconds(1), [this] { on_housekeeping(); });
    flush();  // the bootstrap's first output, if any
    if (!join_sockets_.empty()) {
        loop.add_periodic(2 * options_.election_timeout.chrono(), [this] { try_join(); });
        try_join();
    }
}

void ConsensusServer::on_tick() {
    catch_up_ticks();
    flush();
}

// Ticks follow the steady clock: after a stall, every tick that elapsed is delivered now, and
// before each input, not only when the tick timer fires. A process stopped (SIGSTOP, a stall)
// and resumed reads first what waited in its sockets: on the clock of before the stall a
// leader answered lease reads from a lease that had run out while it was stopped, stale
// (PausedLeaderTest in tests/consensus/linearizability_test.cc).
void ConsensusServer::catch_up_ticks() {
    auto elapsed = std::chrono::steady_clock::now() - started_;
    const uint64_t due = static_cast<uint64_t>(elapsed / options_.tick.chrono());
    server_->set_time_ms(now_ms());
    for (; ticks_done_ < due; ++ticks_done_) server_->tick();
}

void ConsensusServer::on_peer_readable() {
    peers_.receive(
        [this](raft::Envelope envelope) {
            catch_up_ticks();
            server_->step(envelope);
        },
        kReceiveBatch);
    flush();
}

void ConsensusServer::on_client_readable() {
    catch_up_ticks();  // for administration; each request catches up again (on_request)
    clients_.receive([this](session::ConnectionId c, uint64_t id,
                            session::Request r) { on_request(c, id, std::move(r)); },
                     [this](session::ConnectionId c, uint64_t id, const session::AdminRequest& r) {
                         on_admin(c, id, r);
                     },
                     [this](session::ConnectionId c) { on_lost(c); }, kReceiveBatch);
    flush();
}

void ConsensusServer::on_request(session::ConnectionId connection, uint64_t request_id,
                                 session::Request request) {
    catch_up_ticks();
    if (const auto* query = std::get_if<session::QueryRequest>(&request)) {
        consensus_metrics_.queries_total
            .Add({{"consistency", session::consistency_name(query->consistency)}})
            .Increment();
    }
    server_->request(connection, request_id, std::move(request));
}

void ConsensusServer::on_lost(session::ConnectionId connection) {
    server_->connection_closed(connection);
}

void ConsensusServer::on_logstore_readable() {
    std::optional<uint64_t> persisted = logstore_.on_readable();
    if (persisted) {
        catch_up_ticks();
        server_->persisted(*persisted);
        flush();
    }
    stop_if_failed();
}

void ConsensusServer::stop_if_failed() {
    if (!logstore_.failed() || logstore_failed_) return;
    logstore_failed_ = true;
    if (loop_ != nullptr) loop_->stop();
}

// --- snapshots (SNAPSHOTS.md) ----------------------------------------------------------------

void ConsensusServer::on_snapshots_written() {
    for (const SnapshotWriter::Done& done : snapshot_writer_->take_done()) {
        if (snapshot_failed_) break;
        if (!done.saved.is_ok()) {
            // Like a logstore write: what cannot be made durable stops the node (exit 1).
            log::error("cannot store a snapshot: the node stops",
                       {{"index", done.index}, {"error", done.saved.status()}});
            snapshot_failed_ = true;
            if (loop_ != nullptr) loop_->stop();
            break;
        }
        catch_up_ticks();
        std::optional<uint64_t> persisted = snapshot_done(done);
        if (persisted) server_->persisted(*persisted);
    }
    flush();
    stop_if_failed();
}

// One finished job of the writer: tells whoever waits for it. The PersistOps it made durable.
std::optional<uint64_t> ConsensusServer::snapshot_done(const SnapshotWriter::Done& done) {
    switch (done.kind) {
        case SnapshotWriter::Kind::taken:
            note_snapshot_durable(done.index, done);
            consensus_metrics_.snapshots_taken_total.Increment();
            log::info("snapshot stored", {{"index", done.index},
                                          {"term", done.term},
                                          {"bytes", done.saved->bytes},
                                          {"seconds", done.seconds}});
            server_->snapshot_stored(done.index);
            send_compaction_indexes();
            return std::nullopt;
        case SnapshotWriter::Kind::persist:
            note_snapshot_durable(done.index, done);
            if (done.saved->written) {
                consensus_metrics_.snapshots_installed_total.Increment();
                log::info("installed a snapshot from the leader", {{"index", done.index},
                                                                   {"term", done.term},
                                                                   {"bytes", done.saved->bytes},
                                                                   {"seconds", done.seconds}});
            }
            return logstore_.snapshot_durable(done.index);
        case SnapshotWriter::Kind::discard:
            stored_snapshot_index_ = 0;
            consensus_metrics_.snapshot_index.Set(0);
            log::info("dropped every snapshot with the log: this node takes the log again");
            return logstore_.snapshots_discarded();
    }
    return std::nullopt;
}

void ConsensusServer::note_snapshot_durable(raft::Index index,
                                            const std::optional<SnapshotWriter::Done>& write) {
    stored_snapshot_index_ = std::max(stored_snapshot_index_, index);
    consensus_metrics_.snapshot_index.Set(static_cast<double>(stored_snapshot_index_));
    if (!write || !write->saved->written) return;
    consensus_metrics_.snapshot_bytes.Set(static_cast<double>(write->saved->bytes));
    consensus_metrics_.snapshot_write_duration_seconds.Observe(write->seconds);
}

// What the logstore may compact up to: the newest snapshot taken here or installed, once durable
// (an installed one: once its whole PersistOp is, log reset included).
raft::Index ConsensusServer::snapshot_index() const {
    return std::max(stored_snapshot_index_, logstore_.durable_snapshot_index());
}

void ConsensusServer::on_housekeeping() {
    peers_.check_handshakes();
    for (size_t i = 0; i < join_monitors_.size(); ++i) {
        report_handshake_failures(*join_monitors_[i], handshake_failures_, "gateways",
                                  node_key_name(options_.join_ids[i]));
    }
    logstore_.request_status();
    send_compaction_indexes();
    forward_releases();
    expire_compactions();
    const auto silence = std::chrono::steady_clock::now() - logstore_.last_answer();
    logstore_reachable_ = silence < std::chrono::seconds(3);
    clients_.forget_idle(std::chrono::steady_clock::now(), idle_connection_after_,
                         [this](session::ConnectionId c) { on_lost(c); });
    refresh_metrics();
}

// What the logstore's compaction works from (compactor/README.md): the commit index, the global
// index, the latest durable snapshot and the last index every session acknowledged.
void ConsensusServer::send_compaction_indexes() {
    const raft::Raft& raft = server_->raft();
    logstore_.set_indexes(raft.commit_index(), raft.compaction_global_index(), snapshot_index(),
                          std::min(server_->state().completed_index(), raft.commit_index()));
}

// Releases go to the logstore once the entries that made them are in its sealed segments
// (session::DiskReleases); all of them again when it lost its bits.
void ConsensusServer::forward_releases() {
    if (logstore_.take_releases_lost()) disk_releases_.resend();
    std::optional<session::DiskReleases::Batch> batch =
        disk_releases_.take(logstore_.sealed_through(), server_->state().lowest_pending_release());
    if (batch) logstore_.release(*batch);
}

void ConsensusServer::flush() {
    session::ServerOutput output = server_->take_output();
    for (const raft::PersistOp& op : output.persist) {
        // The log starts again: releases of the old one mean nothing (the logstore drops its
        // bits with it).
        if (op.reset_log) disk_releases_.clear();
        logstore_.persist(op, server_->raft().commit_index());
    }
    const raft::Configuration& configuration = server_->raft().configuration();
    if (configuration.index != peers_configuration_index_) note_configuration(configuration);
    for (const raft::Envelope& envelope : output.messages) peers_.send(envelope);
    auto lost = [this](session::ConnectionId c) { on_lost(c); };
    for (const session::OutboundResponse& out : output.responses) {
        const session::ErrorCode code = out.response.error;
        consensus_metrics_.requests_total.Add({{"code", session::error_code_name(code)}})
            .Increment();
        // Refused or lost by consensus (not by the state machine, whose errors are answers).
        if (code != session::ErrorCode::ok && code != session::ErrorCode::application_error) {
            consensus_metrics_.proposals_failed_total.Increment();
        }
        clients_.send(out.connection, out.response, lost);
    }
    for (const session::OutboundEvents& out : output.events) {
        clients_.send(out.connection, out.publish, lost);
    }
    disk_releases_.add(output.released);
    if (output.snapshot) {
        snapshot_writer_->submit(SnapshotWriter::Kind::taken, std::move(*output.snapshot));
    }
    after_applied(output.applied);
    stop_if_failed();
}

void ConsensusServer::after_applied(const std::vector<raft::Entry>& applied) {
    const raft::Raft& raft = server_->raft();
    consensus_metrics_.proposals_committed_total.Increment(static_cast<double>(applied.size()));
    for (const raft::Entry& entry : applied) {
        answer_change(entry);
        if (entry.type == raft::EntryType::configuration) {
            Result<raft::Configuration> configuration = raft::decode_configuration(entry.payload);
            if (configuration.is_ok() && configuration->index > saved_configuration_index_) {
                logstore_.save_configuration(*configuration);
                saved_configuration_index_ = configuration->index;
            }
        }
    }
    // The session layer counts expiries as it applies them: no second decoding of every entry.
    const uint64_t expired = server_->state().sessions_expired();
    consensus_metrics_.session_expired_total.Increment(
        static_cast<double>(expired - sessions_expired_seen_));
    sessions_expired_seen_ = expired;
    if (raft.leader() != last_leader_ || raft.term() != last_term_) {
        if (raft.leader() != last_leader_ && raft.leader() != 0) {
            consensus_metrics_.leader_changes_seen_total.Increment();
            log::info("leader", {{"leader", raft.leader()}, {"term", raft.term()}});
        }
        last_leader_ = raft.leader();
        last_term_ = raft.term();
    }
    has_leader_ = raft.leader() != 0;
}

void ConsensusServer::note_configuration(const raft::Configuration& configuration) {
    peers_.update_peers(configuration);
    peers_configuration_index_ = configuration.index;
    if (configuration.find(options_.node_id) != nullptr) {
        if (!member_seen_) log::info("this node is a member", {{"index", configuration.index}});
        member_seen_ = true;
    } else if (member_seen_) {
        log::warn("this node is no longer in the configuration: it serves nothing until added",
                  {{"configuration_index", configuration.index}});
        member_seen_ = false;
    }
}

void ConsensusServer::refresh_metrics() {
    const raft::Raft& raft = server_->raft();
    consensus_metrics_.has_leader.Set(raft.leader() != 0 ? 1 : 0);
    consensus_metrics_.is_leader.Set(raft.role() == raft::Role::leader ? 1 : 0);
    consensus_metrics_.term.Set(static_cast<double>(raft.term()));
    consensus_metrics_.commit_index.Set(static_cast<double>(raft.commit_index()));
    consensus_metrics_.applied_index.Set(static_cast<double>(server_->state().last_applied()));
    for (raft::MemberType type : {raft::MemberType::inactive, raft::MemberType::reserve,
                                  raft::MemberType::passive, raft::MemberType::active}) {
        consensus_metrics_.member_type.Add({{"type", raft::member_type_name(type)}})
            .Set(raft.member_type() == type ? 1 : 0);
    }
    consensus_metrics_.sessions_open.Set(static_cast<double>(server_->state().sessions_live()));
    consensus_metrics_.session_events_pending.Set(
        static_cast<double>(server_->state().events_pending()));
}

Status ConsensusServer::ready() const {
    if (logstore_failed_) return io_error("the logstore failed a write: restart the node");
    if (snapshot_failed_) return io_error("a snapshot could not be stored: restart the node");
    if (!logstore_reachable_) return Status(StatusCode::unavailable, "logstore not answering");
    if (!has_leader_) return Status(StatusCode::unavailable, "no leader known");
    return Status::ok();
}

}  // namespace copycat::server
