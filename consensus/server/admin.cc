// Administration on the client port: status, member changes, leadership transfer, the session
// list; and the joining side of a member change (try_join).
#include <algorithm>

#include "common/assert.h"
#include "common/log.h"
#include "common/zmq_socket.h"
#include "consensus/server/server.h"
#include "consensus/wire/client_codec.h"

namespace copycat::server {

namespace {

std::vector<session::MemberInfo> member_infos(const raft::Configuration& configuration) {
    std::vector<session::MemberInfo> members;
    for (const raft::Member& member : configuration.members) {
        members.push_back(
            {member.id, static_cast<uint8_t>(member.type), member.available, member.address});
    }
    return members;
}

const char* role_text(const raft::Raft& raft) {
    switch (raft.member_type()) {
        case raft::MemberType::passive: return "passive";
        case raft::MemberType::reserve: return "reserve";
        case raft::MemberType::inactive: return "inactive";
        case raft::MemberType::active: break;
    }
    return raft::role_name(raft.role());
}

}  // namespace

void ConsensusServer::on_admin(session::ConnectionId connection, uint64_t request_id,
                               const session::AdminRequest& request) {
    session::AdminResponse response;
    response.request_id = request_id;
    if (std::holds_alternative<session::StatusRequest>(request)) {
        response.body = status();
    } else if (const auto* change = std::get_if<session::MemberChangeRequest>(&request)) {
        response = change_members(*change, connection, request_id);
        if (response.error == session::ErrorCode::ok &&
            std::holds_alternative<std::monostate>(response.body)) {
            return;  // answered when the configuration commits
        }
    } else if (const auto* compact = std::get_if<session::CompactLogRequest>(&request)) {
        std::optional<session::AdminResponse> refused =
            compact_now(connection, request_id, compact->major);
        if (!refused) return;  // answered when the compactor is done
        response = std::move(*refused);
    } else if (const auto* transfer = std::get_if<session::TransferLeadershipRequest>(&request)) {
        Status started = server_->transfer_leadership(transfer->target);
        if (!started.is_ok()) {
            response.error = server_->raft().role() == raft::Role::leader
                                 ? session::ErrorCode::configuration_error
                                 : session::ErrorCode::no_leader;
            response.message = started.message();
        }
    } else {
        session::SessionsResponse sessions;
        for (const session::SessionInfo& info : server_->state().sessions()) {
            sessions.sessions.push_back({info.id, info.client_id, static_cast<uint8_t>(info.state),
                                         info.timeout_ms, info.command_sequence, info.event_index,
                                         info.events_pending});
        }
        response.body = std::move(sessions);
    }
    answer_admin(connection, std::move(response));
}

void ConsensusServer::answer_admin(session::ConnectionId connection,
                                   session::AdminResponse response) {
    if (response.leader == 0) response.leader = server_->raft().leader();
    clients_.send(connection, response, [this](session::ConnectionId c) { on_lost(c); });
}

// --- copycat-ctl compact: a run of this node's compactor, now ----------------------------------

namespace {

// How long a run may take before its asker is told it timed out (the run goes on).
constexpr auto kCompactionAnswerTimeout = std::chrono::minutes(10);

session::AdminResponse compaction_error(uint64_t request_id, session::ErrorCode code,
                                        std::string message) {
    session::AdminResponse response;
    response.request_id = request_id;
    response.error = code;
    response.message = std::move(message);
    return response;
}

}  // namespace

std::optional<session::AdminResponse> ConsensusServer::compact_now(session::ConnectionId connection,
                                                                   uint64_t request_id,
                                                                   bool major) {
    const uint64_t id = compactor_.next_request_id();
    if (!compactor_.send(logstore::make_compact(id, major)).is_ok()) {
        return compaction_error(request_id, session::ErrorCode::internal_error,
                                "the compactor of node " + std::to_string(options_.node_id) + " (" +
                                    options_.compactor_endpoint +
                                    ") does not take requests: is it running?");
    }
    compactions_[id] = {connection, request_id, std::chrono::steady_clock::now()};
    log::info("compaction asked of the compactor", {{"major", major}, {"request", id}});
    return std::nullopt;
}

void ConsensusServer::on_compactor_readable() {
    while (std::optional<logstore::Reply> reply =
               compactor_.receive(std::chrono::milliseconds(0))) {
        auto found = compactions_.find(reply->request_id());
        if (found == compactions_.end()) continue;  // expired, or not ours
        const PendingCompaction pending = found->second;
        compactions_.erase(found);
        const Status error = reply->error();
        const logstore::fb::CompactResponse* done =
            reply->message() != nullptr ? reply->message()->body_as_CompactResponse() : nullptr;
        if (!error.is_ok() || done == nullptr) {
            answer_admin(
                pending.connection,
                compaction_error(pending.request_id, session::ErrorCode::internal_error,
                                 "the compactor: " +
                                     (error.is_ok() ? std::string("no answer") : error.message())));
            continue;
        }
        session::AdminResponse response;
        response.request_id = pending.request_id;
        response.body = session::CompactLogResponse{
            done->major(),           done->segments_rewritten(), done->segments_replaced(),
            done->entries_removed(), done->reclaimed_bytes(),    done->duration_seconds()};
        answer_admin(pending.connection, std::move(response));
    }
}

void ConsensusServer::expire_compactions() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = compactions_.begin(); it != compactions_.end();) {
        if (now - it->second.asked < kCompactionAnswerTimeout) {
            ++it;
            continue;
        }
        answer_admin(it->second.connection,
                     compaction_error(it->second.request_id, session::ErrorCode::timeout,
                                      "the compactor did not answer within 10 minutes"));
        it = compactions_.erase(it);
    }
}

session::StatusResponse ConsensusServer::status() const {
    const raft::Raft& raft = server_->raft();
    session::StatusResponse status;
    status.node_id = options_.node_id;
    status.role = role_text(raft);
    status.member_type = static_cast<uint8_t>(raft.member_type());
    status.term = raft.term();
    status.leader = raft.leader();
    status.commit_index = raft.commit_index();
    status.applied_index = server_->state().last_applied();
    status.first_index = raft.log().first_index();
    status.last_index = raft.log().last_index();
    status.configuration_index = raft.configuration().index;
    status.configuration_term = raft.configuration().term;
    status.members = member_infos(raft.configuration());
    status.sessions = server_->state().sessions_live();
    status.events_pending = server_->state().events_pending();
    status.logstore_reachable = logstore_reachable_ && !logstore_failed_;
    status.client_address = options_.client_advertise;
    return status;
}

// A single-server change on the leader; an empty ok body means "answered once committed".
session::AdminResponse ConsensusServer::change_members(const session::MemberChangeRequest& request,
                                                       session::ConnectionId connection,
                                                       uint64_t request_id) {
    session::AdminResponse response;
    response.request_id = request_id;
    const raft::Raft& raft = server_->raft();
    const raft::Configuration& current = raft.configuration();
    auto refuse = [&](session::ErrorCode code, std::string message) {
        response.error = code;
        response.message = std::move(message);
        return response;
    };
    if (raft.role() != raft::Role::leader) {
        return refuse(session::ErrorCode::no_leader, "not the leader");
    }
    if (request.node == 0) return refuse(session::ErrorCode::bad_request, "node id 0");
    if (request.type > static_cast<uint8_t>(raft::MemberType::active)) {
        return refuse(session::ErrorCode::bad_request, "unknown member type");
    }
    if (request.expected_index != 0 && request.expected_index != current.index) {
        return refuse(session::ErrorCode::configuration_error,
                      "the configuration changed (now at index " + std::to_string(current.index) +
                          "); look again and retry");
    }
    if (request.action == session::MemberChangeRequest::Action::leave &&
        request.node == options_.node_id) {
        return hand_over_before_leaving(response);
    }
    std::vector<raft::Member> members = current.members;
    auto found = std::find_if(members.begin(), members.end(),
                              [&](const raft::Member& m) { return m.id == request.node; });
    const auto type = static_cast<raft::MemberType>(request.type);
    switch (request.action) {
        case session::MemberChangeRequest::Action::join:
            if (request.address.empty()) {
                return refuse(session::ErrorCode::bad_request, "a joining member needs an address");
            }
            if (found != members.end()) {
                if (found->address == request.address && found->type == type) {
                    response.body =
                        session::MemberChangeResponse{current.index, member_infos(current)};
                    return response;  // already a member: nothing to log (copycat #73)
                }
                return refuse(session::ErrorCode::illegal_member_state,
                              "node " + std::to_string(request.node) +
                                  " is already a member with another address or type; a member "
                                  "that lost its data must be removed and join with a new id");
            }
            members.push_back({request.node, type, true, request.address});
            break;
        case session::MemberChangeRequest::Action::leave:
            if (found == members.end()) {
                response.body = session::MemberChangeResponse{current.index, member_infos(current)};
                return response;
            }
            members.erase(found);
            break;
        case session::MemberChangeRequest::Action::set_type:
            if (found == members.end()) {
                return refuse(session::ErrorCode::bad_request,
                              "node " + std::to_string(request.node) + " is not a member");
            }
            found->type = type;
            break;
    }
    Result<raft::Index> proposed = server_->configure(members, current.index, current.term);
    if (!proposed.is_ok()) {
        return refuse(session::ErrorCode::configuration_error, proposed.status().message());
    }
    track_change(*proposed, {connection, request_id, server_->raft().term()});
    flush();
    return response;
}

// An older change still waiting at this index was proposed by this server in an earlier term,
// and its entry is gone: this leader has just written another one there. Answer it before its
// place is taken, or its caller would only time out.
void ConsensusServer::track_change(raft::Index index, PendingChange change) {
    auto [pending, inserted] = pending_changes_.try_emplace(index, change);
    if (inserted) return;
    answer_change_lost(pending->second);
    pending->second = change;
}

void ConsensusServer::answer_change_lost(const PendingChange& change) {
    session::AdminResponse response;
    response.request_id = change.request_id;
    response.leader = server_->raft().leader();
    response.error = session::ErrorCode::no_leader;
    response.message = "the change was lost in a change of leader; look and retry";
    clients_.send(change.connection, response, [this](session::ConnectionId c) { on_lost(c); });
}

// A leader does not remove itself: it would stop leading before it learns that the change
// committed. It hands leadership to another voter, and the caller asks that one: an available
// one (a voter the leader has not heard from lately would not take over). Raft offers no way
// to tell which voter is caught up; transfer_leadership() brings the target up to date before
// it hands over, and refuses one that cannot take over at all, so each is tried in turn.
session::AdminResponse ConsensusServer::hand_over_before_leaving(session::AdminResponse response) {
    const raft::Configuration& current = server_->raft().configuration();
    for (const raft::Member& member : current.members) {
        if (member.id == options_.node_id || member.type != raft::MemberType::active ||
            !member.available) {
            continue;
        }
        Status started = server_->transfer_leadership(member.id);
        if (!started.is_ok()) continue;
        response.error = session::ErrorCode::no_leader;
        response.leader = member.id;
        response.message = "this node leads and is leaving: leadership moves to node " +
                           std::to_string(member.id) + "; ask it to remove this node";
        return response;
    }
    response.error = session::ErrorCode::configuration_error;
    response.message = "the leader cannot leave: no other available voter can take over now";
    return response;
}

// A change is answered when the entry at its index applies here: ok if it is the configuration
// this leader proposed (same index and term: the same entry), otherwise the proposal was lost
// in a change of leader. Not on losing leadership: a leader that stepped down may still see
// its change commit, and then the change did happen. The answer carries the configuration that
// entry holds: by the time it applies here, the one in force may be a later change already.
void ConsensusServer::answer_change(const raft::Entry& applied) {
    auto pending = pending_changes_.find(applied.index);
    if (pending == pending_changes_.end()) return;
    if (applied.type != raft::EntryType::configuration || applied.term != pending->second.term) {
        answer_change_lost(pending->second);
        pending_changes_.erase(pending);
        return;
    }
    Result<raft::Configuration> configuration = raft::decode_configuration(applied.payload);
    COPYCAT_ASSERT(configuration.is_ok(), "an applied configuration entry does not decode");
    session::AdminResponse response;
    response.request_id = pending->second.request_id;
    response.leader = server_->raft().leader();
    response.body = session::MemberChangeResponse{applied.index, member_infos(*configuration)};
    clients_.send(pending->second.connection, response,
                  [this](session::ConnectionId c) { on_lost(c); });
    pending_changes_.erase(pending);
}

void ConsensusServer::learn_peer_addresses(const std::vector<session::MemberInfo>& members) {
    std::vector<raft::Member> peers;
    for (const session::MemberInfo& member : members) {
        if (member.id == 0 || member.address.empty()) continue;
        peers.push_back({member.id, raft::MemberType::active, true, member.address});
    }
    peers_.add_peers(peers);
}

// The joining side: until this node is in its configuration, ask the --join members in turn to
// add it (the one that leads does; the others answer no_leader).
void ConsensusServer::try_join() {
    if (member_seen_ || join_sockets_.empty()) return;
    session::MemberChangeRequest join;
    join.action = session::MemberChangeRequest::Action::join;
    join.node = options_.node_id;
    join.type = static_cast<uint8_t>(options_.join_type);
    join.address = options_.peer_advertise;
    zmq::socket_t& socket = *join_sockets_[next_join_endpoint_++ % join_sockets_.size()];
    // The members' status first: their peer addresses, which this node needs to answer the
    // leader before the configuration that adds it reaches its own log.
    std::vector<uint8_t> status = wire::encode_admin_request(0, session::StatusRequest{});
    try_send(socket, std::span<const uint8_t>(status));
    std::vector<uint8_t> bytes = wire::encode_admin_request(next_join_endpoint_, join);
    try_send(socket, std::span<const uint8_t>(bytes));
}

void ConsensusServer::on_join_readable() {
    for (auto& socket : join_sockets_) {
        while (std::optional<ReceivedMessage> message = try_receive(*socket)) {
            Result<wire::ClientMessage> decoded =
                wire::decode_client(message->payload.data(), message->payload.size());
            if (!decoded.is_ok()) continue;
            const auto* response = std::get_if<session::AdminResponse>(&*decoded);
            if (response == nullptr) continue;
            if (const auto* status = std::get_if<session::StatusResponse>(&response->body)) {
                if (!member_seen_) learn_peer_addresses(status->members);
                continue;
            }
            if (response->error == session::ErrorCode::ok) {
                log::info("joined the cluster", {{"leader", response->leader}});
            } else if (response->error == session::ErrorCode::illegal_member_state &&
                       !member_seen_) {
                log::fatal("cannot join", {{"error", response->message}});
                if (loop_ != nullptr) loop_->stop();
                join_refused_ = true;
            }
        }
    }
}

}  // namespace copycat::server
