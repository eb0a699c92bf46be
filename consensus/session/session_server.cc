#include "consensus/session/session_server.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace copycat::session {
namespace {

size_t operation_bytes(const Operation& operation) {
    return operation.type.size() + operation.argument.size();
}

std::string too_large(const char* what, size_t bytes, size_t limit) {
    return std::string(what) + " of " + std::to_string(bytes) + " bytes is over the limit of " +
           std::to_string(limit) + " bytes";
}

}  // namespace

bool ServerOutput::empty() const {
    return messages.empty() && persist.empty() && responses.empty() && events.empty() &&
           released.empty() && compacted.empty() && applied.empty() && !snapshot;
}

SessionServer::SessionServer(SessionServerOptions options, raft::Random& random,
                             raft::RestoredState restored,
                             statemachine::StateMachineFactory factory)
    : options_(std::move(options)),
      factory_(std::move(factory)),
      state_(std::make_unique<ServerStateMachine>(factory_(), options_.sessions)) {
    const std::optional<raft::Snapshot> snapshot = restored.snapshot;
    raft_ = std::make_unique<raft::Raft>(options_.raft, random, std::move(restored));
    if (snapshot) install(*snapshot);  // Raft hands out the entries after it
    observe_leadership();
    drain();
}

SessionServer::~SessionServer() = default;

// --- inputs ---------------------------------------------------------------------------------

void SessionServer::set_time_ms(uint64_t now_ms) { raft_->set_time_ms(now_ms); }

void SessionServer::tick() {
    raft_->tick();
    drain();
}

void SessionServer::step(const raft::Envelope& envelope) {
    raft_->step(envelope);
    drain();
}

void SessionServer::persisted(uint64_t seq) {
    raft_->persisted(seq);
    drain();
}

void SessionServer::request(ConnectionId connection, uint64_t request_id, Request request) {
    dispatch(connection, request_id, std::move(request));
    drain();
}

void SessionServer::connection_closed(ConnectionId connection) {
    std::erase_if(connections_, [&](const auto& item) { return item.second == connection; });
    std::erase_if(proposals_,
                  [&](const auto& item) { return item.second.connection == connection; });
    std::erase_if(reads_, [&](const auto& item) { return item.second.connection == connection; });
    waiting_queries_.remove_if([&](const PendingQuery& q) { return q.connection == connection; });
    std::erase_if(held_, [&](const HeldRequest& held) { return held.connection == connection; });
}

void SessionServer::snapshot_stored(raft::Index index) {
    if (!unstored_snapshot_ || unstored_snapshot_->index != index) return;
    last_snapshot_index_ = std::max(last_snapshot_index_, index);
    raft_->snapshot_taken(std::move(*unstored_snapshot_));
    unstored_snapshot_.reset();
    drain();
}

ServerOutput SessionServer::take_output() { return std::exchange(output_, ServerOutput{}); }

Result<raft::Index> SessionServer::configure(std::vector<raft::Member> members,
                                             raft::Index expected_configuration_index,
                                             std::optional<raft::Term> expected_term) {
    if (!leading()) {
        return Status(StatusCode::unavailable,
                      "not the leader (leader hint " + std::to_string(raft_->leader()) + ")");
    }
    Result<raft::Index> index = raft_->propose_configuration(
        std::move(members), expected_configuration_index, expected_term);
    drain();
    return index;
}

Status SessionServer::transfer_leadership(raft::NodeId target) {
    if (!leading()) {
        return Status(StatusCode::unavailable,
                      "not the leader (leader hint " + std::to_string(raft_->leader()) + ")");
    }
    Status status = raft_->transfer_leadership(target);
    drain();
    return status;
}

// --- drain: what Raft hands out, and what follows from it -----------------------------------

// Each pass takes Raft's Ready, applies it, then does what the new state allows (answers,
// held requests, expiries, snapshots). Those may propose entries, which make another Ready:
// the loop ends when a pass neither got nor made anything.
void SessionServer::drain() {
    while (true) {
        proposed_ = false;
        raft::Ready ready = raft_->take_ready();
        const bool got = !ready.empty();
        if (got) process(std::move(ready));
        observe_leadership();
        after_apply();
        if (!got && !proposed_) break;
    }
}

void SessionServer::process(raft::Ready ready) {
    for (raft::PersistOp& op : ready.persist) output_.persist.push_back(std::move(op));
    for (raft::Envelope& envelope : ready.messages) {
        output_.messages.push_back(std::move(envelope));
    }
    if (ready.reset) reset_state();
    if (ready.install) install(*ready.install);
    for (const raft::Entry& entry : ready.committed) apply(entry);
    for (const raft::ReadState& read : ready.reads) on_read(read);
    // Before a step-down in this Ready is observed: reads confirmed while leading are answered.
    answer_waiting_queries();
}

// Raft dropped this follower's log to take the leader's again from index 1: the state built
// from the old log goes too, and is built again from what arrives.
void SessionServer::reset_state() {
    state_ = std::make_unique<ServerStateMachine>(factory_(), options_.sessions);
    last_snapshot_index_ = 0;
    pending_snapshot_.reset();
    unstored_snapshot_.reset();
    compacted_at_ = 0;
    initialize_applied_term_ = 0;
    connections_.clear();
    queries_dirty_ = true;
}

void SessionServer::install(const raft::Snapshot& snapshot) {
    static const std::vector<uint8_t> no_data;
    const std::vector<uint8_t>& data = snapshot.data != nullptr ? *snapshot.data : no_data;
    Status installed = state_->install(data, snapshot.index);
    // Raft has already moved its applied index to the snapshot: going on without its state
    // would apply the entries after it to the wrong state and diverge from the other servers.
    COPYCAT_ASSERT(installed.is_ok(),
                   "a snapshot that the session layer cannot load: the stored or received "
                   "snapshot is corrupt; restore this server from another one");
    last_snapshot_index_ = std::max(last_snapshot_index_, snapshot.index);
    std::erase_if(connections_,
                  [&](const auto& item) { return !state_->session_live(item.first); });
    queries_dirty_ = true;
}

void SessionServer::apply(const raft::Entry& entry) {
    state_->defer_releases_until(raft_->hole_horizon());
    if (entry.type == raft::EntryType::initialize) {
        initialize_applied_term_ = std::max(initialize_applied_term_, entry.term);
    }
    const bool events_were_held = !events_may_go();
    Applied applied = state_->apply(entry);
    if (!events_may_go()) {
        // Still between holes: the batches stay pending (send_events()).
    } else if (events_were_held) {
        // Past the holes: what was held goes now, this entry's batches among it.
        for (const auto& [session, connection] : connections_) {
            send_events(connection, state_->pending_events(session));
        }
    } else {
        for (PublishRequest& batch : applied.events) {
            const auto connection = connections_.find(batch.session);
            if (connection == connections_.end()) continue;
            output_.events.push_back({connection->second, std::move(batch)});
        }
    }
    for (SessionId ended : applied.ended) connections_.erase(ended);
    answer(entry, applied);
    output_.applied.push_back(entry);
    queries_dirty_ = true;
    expiry_check_due_ = true;
}

void SessionServer::after_apply() {
    answer_waiting_queries();
    if (leader_ready()) {
        run_held_requests();
        // Sessions become suspected only when entries apply; a refused expiry is retried.
        if (expiry_check_due_ || !unlogged_expiries_.empty()) propose_expiries();
    }
    expiry_check_due_ = false;
    maybe_take_snapshot();
    std::vector<Release> released = state_->take_released(raft_->durable_index());
    std::vector<Index> indexes;
    indexes.reserve(released.size());
    for (const Release& release : released) indexes.push_back(release.index);
    raft_->release(indexes);
    output_.released.insert(output_.released.end(), released.begin(), released.end());
    compact_log();
}

void SessionServer::compact_log() {
    const Index applied = state_->last_applied();
    if (options_.compact_log_every_entries == 0 ||
        applied < compacted_at_ + options_.compact_log_every_entries) {
        return;
    }
    compacted_at_ = applied;
    std::vector<Index> removed =
        raft_->compact_log(state_->completed_index(), state_->lowest_pending_release());
    output_.compacted.insert(output_.compacted.end(), removed.begin(), removed.end());
}

// DEFAULT is decided here, once, before the entry is logged (copycat.md §2.4): SNAPSHOT for a
// state machine that takes snapshots, else SEQUENTIAL.
statemachine::CompactionMode SessionServer::resolve(statemachine::CompactionMode mode) const {
    if (mode != statemachine::CompactionMode::default_mode) return mode;
    return state_->snapshottable() ? statemachine::CompactionMode::snapshot
                                   : statemachine::CompactionMode::sequential;
}

// A change of leader or term: the session layer forgets its leader-only bookkeeping, and a
// server that led answers what it was still holding (the client retries with the new leader).
void SessionServer::observe_leadership() {
    const bool leading_now = leading();
    if (leading_now == was_leading_ && raft_->term() == observed_term_ &&
        raft_->leader() == observed_leader_) {
        return;
    }
    if (was_leading_) step_down_answers();
    was_leading_ = leading_now;
    observed_term_ = raft_->term();
    observed_leader_ = raft_->leader();
    state_->reset_leader_state();
    unlogged_admissions_.clear();
    unlogged_expiries_.clear();
}

void SessionServer::step_down_answers() {
    std::map<Index, PendingProposal> proposals = std::exchange(proposals_, {});
    for (const auto& [index, proposal] : proposals) {
        refuse_no_leader(proposal.connection, proposal.request_id);
    }
    std::deque<HeldRequest> held = std::exchange(held_, {});
    for (const HeldRequest& request : held) {
        refuse_no_leader(request.connection, request.request_id);
    }
    // Linearizable reads Raft already confirmed may wait for the session's commands, which a
    // lost leadership may have dropped: the client asks the new leader. (Reads Raft has not
    // confirmed come back from it as lost_leadership.)
    waiting_queries_.remove_if([&](const PendingQuery& query) {
        if (query.request.consistency == Consistency::sequential) return false;
        refuse_no_leader(query.connection, query.request_id);
        return true;
    });
}

void SessionServer::run_held_requests() {
    std::deque<HeldRequest> held = std::exchange(held_, {});
    for (HeldRequest& request : held) {
        dispatch(request.connection, request.request_id, std::move(request.request));
    }
}

// The session layer marks each session it hands out as being expired; one whose entry Raft
// refused (a leadership transfer under way) is kept here and proposed again, unless a
// keep-alive made it open meanwhile.
void SessionServer::propose_expiries() {
    std::vector<SessionId> sessions = state_->take_sessions_to_expire();
    if (!unlogged_expiries_.empty()) {
        for (const SessionInfo& info : state_->sessions()) {
            if (unlogged_expiries_.contains(info.id) &&
                info.state == statemachine::SessionState::unstable) {
                sessions.push_back(info.id);
            }
        }
        unlogged_expiries_.clear();
    }
    for (SessionId session : sessions) {
        const UnregisterEntry entry{session, true};
        if (!propose(entry, entry_compaction(entry)).is_ok()) unlogged_expiries_.insert(session);
    }
}

// A snapshot is taken at the applied index, held pending until every session has acknowledged
// its events up to that index (through the log), then handed out to be stored.
void SessionServer::maybe_take_snapshot() {
    if (pending_snapshot_ && !unstored_snapshot_ &&
        state_->events_completed_index() >= pending_snapshot_->index) {
        unstored_snapshot_ = pending_snapshot_;
        output_.snapshot = std::move(*pending_snapshot_);
        pending_snapshot_.reset();
    }
    if (options_.snapshot_every_entries == 0 || pending_snapshot_ || unstored_snapshot_ ||
        !state_->snapshottable()) {
        return;
    }
    const Index applied = state_->last_applied();
    if (applied < last_snapshot_index_ + options_.snapshot_every_entries) return;
    // Not a state between compacted holes (Raft::hole_horizon()): a server that loads it could
    // not tell, and would answer reads from it.
    if (applied < raft_->hole_horizon()) return;
    const std::optional<raft::Term> term = raft_->log().term_at(applied);
    std::optional<raft::Configuration> configuration = configuration_at(applied);
    if (!term || !configuration) return;
    pending_snapshot_ =
        raft::Snapshot{applied, *term, std::move(*configuration),
                       std::make_shared<const std::vector<uint8_t>>(state_->snapshot())};
}

// The configuration in force at index: the latest configuration entry at or before it.
std::optional<raft::Configuration> SessionServer::configuration_at(Index index) const {
    if (raft_->configuration().index <= index) return raft_->configuration();
    const raft::RaftLog& log = raft_->log();
    for (Index i = std::min(index, log.last_index()); i >= log.first_index() && i > 0; --i) {
        const raft::Entry* held = log.find(i);  // configuration entries are never compacted
        if (held == nullptr || held->type != raft::EntryType::configuration) continue;
        const raft::Entry& entry = *held;
        Result<raft::Configuration> decoded = raft::decode_configuration(entry.payload);
        if (!decoded.is_ok()) return std::nullopt;
        decoded->index = entry.index;
        decoded->term = entry.term;
        return std::move(decoded.value());
    }
    if (raft_->snapshot() && raft_->snapshot()->index <= index) {
        return raft_->snapshot()->configuration;
    }
    return std::nullopt;  // not known here (the log before it is gone): skip this snapshot
}

// --- answers --------------------------------------------------------------------------------

void SessionServer::respond(ConnectionId connection, Response response) {
    response.leader = raft_->leader();
    output_.responses.push_back({connection, std::move(response)});
}

void SessionServer::refuse(ConnectionId connection, uint64_t request_id, ErrorCode error,
                           std::string message) {
    Response response;
    response.request_id = request_id;
    response.error = error;
    response.message = std::move(message);
    respond(connection, std::move(response));
}

void SessionServer::refuse_no_leader(ConnectionId connection, uint64_t request_id) {
    const raft::NodeId leader = raft_->leader();
    std::string message = "not the leader; ask node " + std::to_string(leader);
    if (leader == 0) message = "no leader known here; retry later";
    if (leader == raft_->id()) message = "this server is handing leadership over; retry later";
    refuse(connection, request_id, ErrorCode::no_leader, std::move(message));
}

// The entry at a waiting proposal's index applied: answer from what it produced, unless
// another entry took that index (the proposal was lost in a leader change).
void SessionServer::answer(const raft::Entry& entry, const Applied& applied) {
    const auto found = proposals_.find(entry.index);
    if (found == proposals_.end()) return;
    PendingProposal proposal = std::move(found->second);
    proposals_.erase(found);
    if (entry.term != proposal.term || !matches(proposal, applied)) {
        refuse_no_leader(proposal.connection, proposal.request_id);
        return;
    }
    respond(proposal.connection, answer_for(proposal, applied));
    resend_after_keep_alive(proposal, applied);
}

bool SessionServer::matches(const PendingProposal& proposal, const Applied& applied) const {
    switch (proposal.kind) {
        case ProposalKind::register_session:
            return std::holds_alternative<RegisterApplied>(applied.result);
        case ProposalKind::keep_alive: {
            const auto* result = std::get_if<KeepAliveApplied>(&applied.result);
            return result != nullptr &&
                   result->sessions.size() == proposal.keep_alive_sessions.size();
        }
        case ProposalKind::unregister: {
            const auto* result = std::get_if<UnregisterApplied>(&applied.result);
            return result != nullptr && result->session == proposal.session && !result->expired;
        }
        case ProposalKind::command: {
            const auto* result = std::get_if<CommandApplied>(&applied.result);
            return result != nullptr && result->session == proposal.session &&
                   result->sequence == proposal.sequence;
        }
    }
    return false;
}

Response SessionServer::answer_for(const PendingProposal& proposal, const Applied& applied) {
    Response response;
    response.request_id = proposal.request_id;
    if (const auto* registered = std::get_if<RegisterApplied>(&applied.result)) {
        response.body = RegisterResponse{registered->session, registered->timeout_ms};
        note_connection(registered->session, proposal.connection, false);
    } else if (const auto* kept = std::get_if<KeepAliveApplied>(&applied.result)) {
        response.body = KeepAliveResponse{kept->sessions};
    } else if (const auto* unregistered = std::get_if<UnregisterApplied>(&applied.result)) {
        response.error = unregistered->error;
        if (unregistered->error == ErrorCode::ok) {
            response.body = UnregisterResponse{};
        } else {
            response.message = "session " + std::to_string(proposal.session) + " is not live";
        }
    } else if (const auto* command = std::get_if<CommandApplied>(&applied.result)) {
        return command_response(proposal.request_id, *command, applied.index);
    }
    return response;
}

Response SessionServer::command_response(uint64_t request_id, const CommandApplied& result,
                                         Index index) {
    Response response;
    response.request_id = request_id;
    response.error = result.error;
    response.message = result.message;
    // An application error is a result too (cached, in the session's order): the client
    // learns the index and event index it happened at.
    if (result.error == ErrorCode::ok || result.error == ErrorCode::application_error) {
        response.body = OperationResponse{index, result.event_index, result.value};
    }
    return response;
}

// A keep-alive acknowledges the batches its client had; those it leaves were in flight or
// lost (a connection drops silently when full): resend them, the client drops duplicates.
void SessionServer::resend_after_keep_alive(const PendingProposal& proposal,
                                            const Applied& applied) {
    if (proposal.kind != ProposalKind::keep_alive) return;
    const auto& results = std::get<KeepAliveApplied>(applied.result).sessions;
    for (size_t i = 0; i < results.size(); ++i) {
        if (results[i] != ErrorCode::ok) continue;
        const auto connection = connections_.find(proposal.keep_alive_sessions[i]);
        if (connection == connections_.end()) continue;
        send_events(connection->second, state_->pending_events(connection->first));
    }
}

// --- events and connections -----------------------------------------------------------------

// Only live sessions are recorded: a client naming sessions that do not exist must not grow
// the table.
void SessionServer::note_connection(SessionId session, ConnectionId connection, bool resend) {
    if (!state_->session_live(session)) return;
    const auto [found, inserted] = connections_.try_emplace(session, connection);
    if (!inserted && found->second == connection) return;
    found->second = connection;
    if (resend) send_events(connection, state_->pending_events(session));
}

// Between compacted holes (Raft::hole_horizon()) this server's sessions are not the log's: a
// session the log has expired may still look live here, its batches chained across an entry
// that published to it and was removed once the expiry no longer waited for its client. Its
// client, paused past its timeout, would take the next batch as if none was missing. They
// wait: the batches stay pending and go once this server applied past the holes.
bool SessionServer::events_may_go() const {
    return state_->last_applied() >= raft_->hole_horizon();
}

void SessionServer::send_events(ConnectionId connection, std::vector<PublishRequest> batches) {
    if (!events_may_go()) return;
    for (PublishRequest& batch : batches) output_.events.push_back({connection, std::move(batch)});
}

// --- requests -------------------------------------------------------------------------------

bool SessionServer::leading() const { return raft_->role() == raft::Role::leader; }

// A new leader applies every entry earlier leaders committed before its own first entry: until
// then its session table and request sequences may be behind the log.
bool SessionServer::leader_ready() const {
    return leading() && initialize_applied_term_ == raft_->term();
}

bool SessionServer::refused_or_held(ConnectionId connection, uint64_t request_id,
                                    Request& request) {
    if (!leading()) {
        refuse_no_leader(connection, request_id);
        return true;
    }
    if (leader_ready()) return false;
    if (held_.size() >= options_.max_held_requests) {
        refuse(connection, request_id, ErrorCode::no_leader,
               "this new leader is still catching up with the log; retry");
    } else {
        held_.push_back({connection, request_id, std::move(request)});
    }
    return true;
}

Result<Index> SessionServer::propose(const SessionEntry& entry, statemachine::CompactionMode mode) {
    Result<Index> index = raft_->propose(encode_entry(entry), static_cast<uint8_t>(resolve(mode)));
    if (index.is_ok()) proposed_ = true;
    return index;
}

void SessionServer::track(Index index, PendingProposal proposal) {
    proposal.term = raft_->term();
    proposals_[index] = std::move(proposal);
}

// Every request naming a session, wherever it goes and whatever the answer, tells this server
// where the session's client is now (copycat.md §4.5: connections are local to each server).
void SessionServer::note_connections(ConnectionId connection, const Request& request) {
    if (const auto* keep_alive = std::get_if<KeepAliveRequest>(&request)) {
        if (keep_alive->sessions.size() > options_.max_keep_alive_sessions) return;
        for (const KeepAliveItem& item : keep_alive->sessions) {
            note_connection(item.session, connection);
        }
    } else if (const auto* unregister = std::get_if<UnregisterRequest>(&request)) {
        note_connection(unregister->session, connection);
    } else if (const auto* command = std::get_if<CommandRequest>(&request)) {
        note_connection(command->session, connection);
    } else if (const auto* query = std::get_if<QueryRequest>(&request)) {
        note_connection(query->session, connection);
    }
}

void SessionServer::dispatch(ConnectionId connection, uint64_t request_id, Request request) {
    note_connections(connection, request);
    const bool session_request = std::holds_alternative<RegisterRequest>(request) ||
                                 std::holds_alternative<KeepAliveRequest>(request) ||
                                 std::holds_alternative<UnregisterRequest>(request) ||
                                 std::holds_alternative<CommandRequest>(request);
    if (session_request && refused_or_held(connection, request_id, request)) return;
    std::visit([&](auto& typed) { handle(connection, request_id, std::move(typed)); }, request);
}

void SessionServer::handle(ConnectionId connection, uint64_t request_id, RegisterRequest request) {
    if (request.client_id.size() > options_.max_operation_bytes) {
        return refuse(
            connection, request_id, ErrorCode::bad_request,
            too_large("a client id", request.client_id.size(), options_.max_operation_bytes));
    }
    const RegisterEntry entry{std::move(request.client_id),
                              state_->choose_session_timeout(request.timeout_ms)};
    const Result<Index> index = propose(entry, entry_compaction(entry));
    if (!index.is_ok()) return refuse_no_leader(connection, request_id);
    track(*index, {connection, request_id, 0, ProposalKind::register_session, 0, 0, {}});
}

void SessionServer::handle(ConnectionId connection, uint64_t request_id, KeepAliveRequest request) {
    const size_t count = request.sessions.size();
    if (count > options_.max_keep_alive_sessions) {
        return refuse(connection, request_id, ErrorCode::bad_request,
                      "a keep-alive for " + std::to_string(count) +
                          " sessions is over the limit of " +
                          std::to_string(options_.max_keep_alive_sessions));
    }
    if (count == 0) {
        Response response;
        response.request_id = request_id;
        response.body = KeepAliveResponse{};
        return respond(connection, std::move(response));
    }
    PendingProposal proposal{connection, request_id, 0, ProposalKind::keep_alive, 0, 0, {}};
    for (const KeepAliveItem& item : request.sessions) {
        state_->note_keep_alive(item);
        proposal.keep_alive_sessions.push_back(item.session);
    }
    const KeepAliveEntry entry{std::move(request.sessions)};
    const Result<Index> index = propose(entry, entry_compaction(entry));
    if (!index.is_ok()) return refuse_no_leader(connection, request_id);
    track(*index, std::move(proposal));
}

void SessionServer::handle(ConnectionId connection, uint64_t request_id,
                           UnregisterRequest request) {
    // The leader is ready: it has applied every register a client can know the id of.
    if (!state_->session_live(request.session)) {
        return refuse(connection, request_id, ErrorCode::unknown_session,
                      "session " + std::to_string(request.session) + " is not live");
    }
    const UnregisterEntry entry{request.session, false};
    const Result<Index> index = propose(entry, entry_compaction(entry));
    if (!index.is_ok()) return refuse_no_leader(connection, request_id);
    track(*index, {connection, request_id, 0, ProposalKind::unregister, request.session, 0, {}});
}

void SessionServer::handle(ConnectionId connection, uint64_t request_id, CommandRequest request) {
    const size_t bytes = operation_bytes(request.operation);
    if (bytes > options_.max_operation_bytes) {
        return refuse(connection, request_id, ErrorCode::bad_request,
                      too_large("an operation", bytes, options_.max_operation_bytes));
    }
    if (request.sequence == 0) {
        return refuse(connection, request_id, ErrorCode::bad_request,
                      "command sequences start at 1");
    }
    if (const auto unlogged = unlogged_admissions_.find(request.session);
        unlogged != unlogged_admissions_.end() && request.sequence > unlogged->second) {
        Response response;
        response.request_id = request_id;
        response.error = ErrorCode::command_error;
        response.last_sequence = unlogged->second - 1;
        response.message = "command " + std::to_string(unlogged->second) +
                           " was not logged: resubmit the commands after " +
                           std::to_string(response.last_sequence);
        return respond(connection, std::move(response));
    }
    const Admission admission =
        state_->admit_command(request.session, request.sequence, request.operation);
    if (admission.error != ErrorCode::ok) {
        Response response;
        response.request_id = request_id;
        response.error = admission.error;
        response.message = admission.message;
        response.last_sequence = admission.last_sequence;
        return respond(connection, std::move(response));
    }
    const CommandEntry entry{request.session, request.sequence, std::move(request.operation)};
    const Result<Index> index = propose(entry, admission.compaction);
    if (!index.is_ok()) {
        // The admission advanced the leader's request sequence past an entry that is not in the
        // log: later sequences wait until this one is logged (no gap in the log). A refused
        // resubmission (at or below the request sequence) changes nothing: lowering the mark to
        // it would drop the mark once it is logged, while the admitted one is still missing,
        // and the log would skip it for good (copycat-sim seeds 402 and 1050, tests/sim
        // FINDINGS.md 7). While a mark is set, only sequences up to it are admitted, so it is
        // the only unlogged one.
        if (admission.advanced) unlogged_admissions_.try_emplace(entry.session, entry.sequence);
        return refuse_no_leader(connection, request_id);
    }
    if (const auto unlogged = unlogged_admissions_.find(entry.session);
        unlogged != unlogged_admissions_.end() && unlogged->second == entry.sequence) {
        unlogged_admissions_.erase(unlogged);
    }
    track(
        *index,
        {connection, request_id, 0, ProposalKind::command, request.session, request.sequence, {}});
}

void SessionServer::handle(ConnectionId connection, uint64_t request_id, QueryRequest request) {
    const size_t bytes = operation_bytes(request.operation);
    if (bytes > options_.max_operation_bytes) {
        return refuse(connection, request_id, ErrorCode::bad_request,
                      too_large("an operation", bytes, options_.max_operation_bytes));
    }
    const Admission admission = state_->admit_query(request.operation);
    if (admission.error != ErrorCode::ok) {
        return refuse(connection, request_id, admission.error, admission.message);
    }
    if (queries_waiting() >= options_.max_waiting_queries) {
        return refuse(connection, request_id, ErrorCode::timeout,
                      "too many queries waiting on this server; retry later or elsewhere");
    }
    PendingQuery query{connection, request_id, std::move(request), 0};
    switch (query.request.consistency) {
        case Consistency::linearizable:
        case Consistency::linearizable_lease: return start_read(std::move(query));
        case Consistency::sequential: return start_sequential(std::move(query));
    }
    refuse(connection, request_id, ErrorCode::bad_request, "unknown consistency level");
}

void SessionServer::handle(ConnectionId connection, uint64_t /*request_id*/, ResetRequest request) {
    if (!state_->session_live(request.session)) return;  // one-way: nothing to answer
    note_connection(request.session, connection, false);
    state_->acknowledge_events(request.session, request.index);
    send_events(connection, state_->pending_events(request.session));
}

void SessionServer::start_read(PendingQuery query) {
    if (!leading()) return refuse_no_leader(query.connection, query.request_id);
    const uint64_t read_id = next_read_id_++;
    const bool lease = query.request.consistency == Consistency::linearizable_lease;
    reads_[read_id] = std::move(query);
    if (lease) {
        raft_->lease_read(read_id);
    } else {
        raft_->read_index(read_id);
    }
}

// copycat.md §4.7: served here only by a member that keeps the log, has applied the session's
// registration (else it would wrongly say unknown_session) and is not behind the commit index
// it knows; otherwise the client asks the leader.
void SessionServer::start_sequential(PendingQuery query) {
    const raft::MemberType type = raft_->member_type();
    if (type == raft::MemberType::reserve || type == raft::MemberType::inactive) {
        return refuse(query.connection, query.request_id, ErrorCode::illegal_member_state,
                      std::string("a ") + raft::member_type_name(type) +
                          " member keeps no log to serve queries from");
    }
    const Index applied = state_->last_applied();
    if (applied < query.request.session || applied < raft_->commit_index()) {
        return refuse_no_leader(query.connection, query.request_id);
    }
    waiting_queries_.push_back(std::move(query));
    queries_dirty_ = true;
}

void SessionServer::on_read(const raft::ReadState& read) {
    const auto found = reads_.find(read.id);
    if (found == reads_.end()) return;  // its connection closed
    PendingQuery query = std::move(found->second);
    reads_.erase(found);
    switch (read.status) {
        case raft::ReadStatus::ready:
            query.read_index = read.index;
            waiting_queries_.push_back(std::move(query));
            queries_dirty_ = true;
            return;
        case raft::ReadStatus::not_leader:
            return refuse_no_leader(query.connection, query.request_id);
        case raft::ReadStatus::lost_leadership:
            return refuse(query.connection, query.request_id, ErrorCode::query_error,
                          "the leader lost its leadership before confirming the read; retry");
    }
}

void SessionServer::answer_waiting_queries() {
    if (!queries_dirty_) return;
    queries_dirty_ = false;
    waiting_queries_.remove_if([&](const PendingQuery& query) { return try_answer(query); });
}

bool SessionServer::try_answer(const PendingQuery& query) {
    // Not across compacted holes either: the state there is no state of the log's.
    if (state_->last_applied() < std::max(query.read_index, raft_->hole_horizon())) return false;
    const SessionId session = query.request.session;
    if (!state_->session_live(session)) {
        refuse(query.connection, query.request_id, ErrorCode::unknown_session,
               "session " + std::to_string(session) + " is not live");
        return true;
    }
    if (!state_->query_ready(session, query.request.sequence, query.request.index)) return false;
    const CommandApplied result = state_->query(session, query.request.operation);
    respond(query.connection, command_response(query.request_id, result, state_->last_applied()));
    return true;
}

}  // namespace copycat::session
