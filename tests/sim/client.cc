#include "tests/sim/client.h"

#include <algorithm>

#include "common/assert.h"
#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/ops.h"
#include "tests/sim/sim_plants.h"

namespace copycat::sim {
namespace {

using session::Consistency;
using session::ErrorCode;
using session::Response;

constexpr const char* map_name = "m";

std::string str(uint64_t value) { return std::to_string(value); }

Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }

std::optional<std::string> text_of(const std::optional<Bytes>& value) {
    if (!value) return std::nullopt;
    return std::string(value->begin(), value->end());
}

const session::OperationResponse* operation_body(const Response& response) {
    return std::get_if<session::OperationResponse>(&response.body);
}

template <typename Op>
std::optional<typename Op::Output> decode(const Response& response) {
    const session::OperationResponse* body = operation_body(response);
    if (body == nullptr) return std::nullopt;
    Result<typename Op::Output> output = statemachine::decode_output<Op>(body->value);
    if (!output.is_ok()) return std::nullopt;
    return std::move(output).value();
}

session::Operation map_operation(const Op& op) {
    using namespace resources;
    switch (op.kind) {
        case OpKind::write:
            return statemachine::make_operation(MapPut{map_name, op.key, bytes_of(*op.value), 0});
        case OpKind::cas: {
            std::optional<Bytes> expected;
            if (op.expected) expected = bytes_of(*op.expected);
            return statemachine::make_operation(
                MapCas{map_name, op.key, expected, bytes_of(*op.value), 0});
        }
        case OpKind::remove: return statemachine::make_operation(MapRemove{map_name, op.key});
        case OpKind::read: return statemachine::make_operation(MapGet{map_name, op.key});
    }
    return {};
}

struct RequestText {
    std::string operator()(const session::RegisterRequest& r) const {
        return "register " + r.client_id;
    }
    std::string operator()(const session::KeepAliveRequest& r) const {
        std::string text = "keep-alive";
        for (const session::KeepAliveItem& item : r.sessions) {
            text += " s" + str(item.session) + " seq " + str(item.command_sequence) + " event " +
                    str(item.event_index);
        }
        return text;
    }
    std::string operator()(const session::UnregisterRequest& r) const {
        return "unregister s" + str(r.session);
    }
    std::string operator()(const session::CommandRequest& r) const {
        return "command s" + str(r.session) + " seq " + str(r.sequence) + " " +
               (r.operation.type.empty() ? std::string("no-op") : r.operation.type);
    }
    std::string operator()(const session::QueryRequest& r) const {
        return std::string("query s") + str(r.session) + " " +
               session::consistency_name(r.consistency) + " seq " + str(r.sequence) + " index " +
               str(r.index) + " " + r.operation.type;
    }
    std::string operator()(const session::ResetRequest& r) const {
        return "reset s" + str(r.session) + " to event " + str(r.index);
    }
};

}  // namespace

std::string describe(const ToNode& input) {
    if (const auto* closed = std::get_if<ConnectionClosed>(&input)) {
        return "client c" + str(static_cast<uint64_t>(connection_client(closed->connection))) +
               " closes its connection to n" + str(closed->node);
    }
    const auto& request = std::get<ClientRequest>(input);
    return "client c" + str(static_cast<uint64_t>(connection_client(request.connection))) +
           " -> n" + str(request.node) + " " + std::visit(RequestText{}, request.request) +
           " (request " + str(request.request_id) + ")";
}

Clients::Clients(ClientOptions options, std::vector<raft::NodeId> nodes, Rng rng, History& history,
                 SessionChecks& checks)
    : options_(options),
      nodes_(std::move(nodes)),
      rng_(std::move(rng)),
      history_(history),
      checks_(checks) {
    COPYCAT_ASSERT(!nodes_.empty(), "clients need a node to talk to");
}

void Clients::start(uint64_t now_us) {
    for (int index = 0; index < options_.clients; ++index) {
        Client client;
        client.index = index;
        client.client_id = "client-" + str(static_cast<uint64_t>(index));
        client.watcher = rng_.chance(options_.watch_chance);
        const int slots =
            static_cast<int>(rng_.between(1, static_cast<uint64_t>(options_.max_slots)));
        const bool locks = rng_.chance(options_.lock_chance);
        for (int slot = 0; slot < slots; ++slot) {
            Slot made;
            made.locks = locks && slot == 0;
            made.process = next_process_id_++;
            client.slots.push_back(made);
        }
        client.leader = rng_.pick(nodes_);
        clients_.push_back(std::move(client));
    }
    for (Client& client : clients_) register_session(client, now_us);
    if (options_.batch_keep_alives) {
        schedule(now_us + options_.session_timeout_ms * 1000 / 3,
                 Timer{gateway_index(), TimerKind::gateway_keep_alive, 0, 0});
    }
}

// --- the event loop --------------------------------------------------------------------------

void Clients::schedule(uint64_t at_us, Event event) {
    events_.emplace(std::make_pair(at_us, next_event_sequence_++), std::move(event));
}

std::optional<uint64_t> Clients::next_event_us() const {
    if (events_.empty()) return std::nullopt;
    return events_.begin()->first.first;
}

int Clients::client_of(const Event& event) const {
    if (const Timer* timer = std::get_if<Timer>(&event)) {
        return timer->kind == TimerKind::resume ? -1 : timer->client;
    }
    if (const Arrival* arrival = std::get_if<Arrival>(&event)) {
        return connection_client(arrival->message.connection);
    }
    return -1;
}

std::optional<ToNode> Clients::step(uint64_t now_us) {
    COPYCAT_ASSERT(!events_.empty(), "Clients::step() with no event");
    Event event = std::move(events_.begin()->second);
    events_.erase(events_.begin());
    if (ToNode* message = std::get_if<ToNode>(&event)) return std::move(*message);
    const int owner = client_of(event);
    if (owner >= 0 && owner < count() && clients_[owner].paused) {
        clients_[owner].held.push_back(std::move(event));
        return std::nullopt;
    }
    if (const Timer* timer = std::get_if<Timer>(&event)) {
        handle(*timer, now_us);
    } else {
        handle(std::get<Arrival>(event), now_us);
    }
    return std::nullopt;
}

void Clients::send_to_client(ToClient message, uint64_t now_us) {
    if (rng_.chance(options_.loss)) return;
    const uint64_t at_us = arrival_us(to_client_, message.connection, now_us);
    schedule(at_us, Arrival{std::move(message)});
}

// A connection delivers in order (TCP): a message never overtakes the one sent before it on
// the same connection, in the same direction. Messages on different connections do.
uint64_t Clients::arrival_us(std::map<ConnectionId, uint64_t>& last, ConnectionId connection,
                             uint64_t now_us) {
    uint64_t& previous = last[connection];
    previous =
        std::max(previous, now_us + rng_.between(options_.latency_min_us, options_.latency_max_us));
    return previous;
}

void Clients::send(Client& client, raft::NodeId node, uint64_t request_id, session::Request request,
                   uint64_t now_us) {
    auto [connection, opened] = client.connections.try_emplace(node, 0);
    if (opened) connection->second = make_connection(client.index, ++client.connection_serial);
    ClientRequest message{node, connection->second, request_id, std::move(request)};
    if (rng_.chance(options_.loss)) return;
    schedule(arrival_us(to_node_, connection->second, now_us), ToNode{std::move(message)});
}

// A connection that timed out is given up, as a client library does: the node hears it
// closed, and a new one replaces it (answers still on their way on the old one are lost).
void Clients::close_connection(Client& client, raft::NodeId node, uint64_t now_us) {
    const auto connection = client.connections.find(node);
    if (connection == client.connections.end()) return;
    schedule(arrival_us(to_node_, connection->second, now_us),
             ToNode{ConnectionClosed{node, connection->second}});
    client.connections.erase(connection);
}

// An attempt times out after attempt_timeout_us, doubled for each attempt of the same thing
// that timed out before (up to 8 times): a client backs off rather than flood a slow cluster
// with resubmissions, each of which the leader logs again.
uint64_t Clients::track(Client& client, RequestKind kind, uint64_t key, raft::NodeId node,
                        int timeouts, uint64_t now_us) {
    const uint64_t id = next_request_id_++;
    requests_[id] = RequestRef{client.index, client.generation, kind, key, node};
    ++stats_.attempts;
    const uint64_t backoff = uint64_t{1} << std::min(timeouts, 3);
    uint64_t timeout_us = options_.attempt_timeout_us * backoff;
    // A keep-alive that takes longer than its interval is tried again elsewhere: waiting for
    // it longer would let the session expire.
    if (kind == RequestKind::keep_alive)
        timeout_us = std::min(timeout_us, client.timeout_ms * 1000 / 3);
    schedule(now_us + timeout_us,
             Timer{client.index, TimerKind::attempt_timeout, client.generation, id});
    return id;
}

raft::NodeId Clients::leader_target(Client& client) {
    if (client.leader == 0 || rng_.chance(options_.random_node_chance)) {
        client.leader = rng_.pick(nodes_);
    }
    return client.leader;
}

raft::NodeId Clients::other_node(raft::NodeId besides) {
    if (nodes_.size() == 1) return nodes_.front();
    raft::NodeId node = besides;
    while (node == besides) node = rng_.pick(nodes_);
    return node;
}

void Clients::handle(const Timer& timer, uint64_t now_us) {
    if (timer.client == gateway_index()) return handle_gateway(timer, now_us);
    Client& client = clients_[timer.client];
    if (timer.kind == TimerKind::resume) return resume(client, now_us);
    if (timer.generation != client.generation) return;  // of an earlier session
    switch (timer.kind) {
        case TimerKind::invoke: return invoke(client, static_cast<int>(timer.key), now_us);
        case TimerKind::keep_alive:
            schedule(now_us + client.timeout_ms * 1000 / 3,
                     Timer{client.index, TimerKind::keep_alive, client.generation, 0});
            if (client.keep_alive_request == 0 && !options_.batch_keep_alives) {
                keep_alive(client, now_us);
            }
            return;
        case TimerKind::lock_release:
            return release_lock(client, static_cast<int>(timer.key), now_us);
        case TimerKind::resend: return resend(client, timer.request, timer.key, now_us);
        case TimerKind::attempt_timeout: break;
        case TimerKind::resume:
        case TimerKind::gateway_keep_alive:
        case TimerKind::gateway_timeout: return;
    }
    const auto found = requests_.find(timer.key);
    if (found == requests_.end()) return;  // answered
    attempt_timed_out(client, found->second, timer.key, now_us);
}

void Clients::attempt_timed_out(Client& client, const RequestRef& ref, uint64_t request_id,
                                uint64_t now_us) {
    const auto command = client.commands.find(ref.key);
    const auto query = client.queries.find(ref.key);
    const bool latest =
        ref.kind == RequestKind::register_session ? client.register_request == request_id
        : ref.kind == RequestKind::keep_alive     ? client.keep_alive_request == request_id
        : ref.kind == RequestKind::unregister     ? client.unregister_request == request_id
        : ref.kind == RequestKind::command
            ? command != client.commands.end() && command->second.request_id == request_id
            : query != client.queries.end() && query->second.request_id == request_id;
    if (!latest) return;
    ++stats_.timeouts;
    close_connection(client, ref.node, now_us);
    switch (ref.kind) {
        case RequestKind::register_session:
            ++client.register_timeouts;
            client.leader = other_node(ref.node);
            return register_session(client, now_us);
        case RequestKind::keep_alive:
            ++client.keep_alive_timeouts;
            client.keep_alive_request = 0;
            client.leader = other_node(ref.node);
            return keep_alive(client, now_us);
        case RequestKind::unregister:
            client.leader = other_node(ref.node);
            return unregister(client, now_us);
        case RequestKind::command: return command_timed_out(client, ref.key, now_us);
        case RequestKind::query: return query_timed_out(client, ref.key, now_us);
    }
}

void Clients::query_timed_out(Client& client, uint64_t query_id, uint64_t now_us) {
    Query& query = client.queries.at(query_id);
    if (++query.timeouts >= options_.max_timeouts) {
        const Query done = query;
        client.queries.erase(query_id);
        finish(client, done.slot, done.operation, Outcome::fail, {}, now_us);
        return slot_done(client, done.slot, now_us);
    }
    query.target = query.consistency == Consistency::sequential ? other_node(query.target) : 0;
    if (query.consistency != Consistency::sequential) client.leader = other_node(client.leader);
    send_query(client, query_id, now_us);
}

// A refused attempt is tried again after a short delay, if still needed.
void Clients::resend(Client& client, RequestKind kind, uint64_t key, uint64_t now_us) {
    switch (kind) {
        case RequestKind::register_session:
            if (client.session == 0) register_session(client, now_us);
            return;
        case RequestKind::keep_alive:
            if (client.keep_alive_request == 0) keep_alive(client, now_us);
            return;
        case RequestKind::command:
            if (client.commands.contains(key)) send_command(client, key, now_us);
            return;
        case RequestKind::query:
            if (client.queries.contains(key)) send_query(client, key, now_us);
            return;
        case RequestKind::unregister:
            if (client.unregister_request != 0) unregister(client, now_us);
            return;
    }
}

void Clients::handle(const Arrival& arrival, uint64_t now_us) {
    const ToClient& message = arrival.message;
    if (connection_client(message.connection) == gateway_index()) {
        return gateway_arrival(message, now_us);
    }
    Client& client = clients_[connection_client(message.connection)];
    const auto connection = client.connections.find(message.node);
    if (connection == client.connections.end() || connection->second != message.connection) {
        return;  // a connection the client closed
    }
    if (std::holds_alternative<session::PublishRequest>(message.message)) {
        return on_events(client, message, now_us);
    }
    const Response& response = std::get<Response>(message.message);
    const auto found = requests_.find(response.request_id);
    if (found == requests_.end()) return;
    const RequestRef ref = found->second;
    requests_.erase(found);
    if (ref.generation != client.generation) return;
    if (response.error != ErrorCode::ok) {
        note(client, "<- n" + str(message.node) + " request " + str(response.request_id) + ": " +
                         session::error_code_name(response.error) + " (" + response.message +
                         ", leader " + str(response.leader) + ", last sequence " +
                         str(response.last_sequence) + ")");
    }
    if (response.leader != 0) client.leader = response.leader;
    switch (ref.kind) {
        case RequestKind::register_session:
            if (response.error == ErrorCode::ok) return on_registered(client, response, now_us);
            if (response.request_id != client.register_request) return;
            ++stats_.refusals;
            if (response.leader == 0) client.leader = other_node(ref.node);
            schedule(now_us + rng_.between(0, options_.retry_delay_max_us),
                     Timer{client.index, TimerKind::resend, client.generation, 0,
                           RequestKind::register_session});
            return;
        case RequestKind::keep_alive: return on_keep_alive(client, ref, response, now_us);
        case RequestKind::command:
            return on_command(client, ref, response.request_id, response, now_us);
        case RequestKind::query:
            return on_query(client, ref, response.request_id, response, now_us);
        case RequestKind::unregister: return on_unregistered(client, ref, response, now_us);
    }
}

void Clients::pause(int index, uint64_t until_us, uint64_t now_us) {
    Client& client = clients_[index];
    if (client.paused) return;
    client.paused = true;
    ++stats_.pauses;
    note(client, "pauses until " + str(until_us) + " us");
    schedule(std::max(until_us, now_us), Timer{index, TimerKind::resume, 0, 0});
}

void Clients::resume(Client& client, uint64_t now_us) {
    if (!client.paused) return;
    client.paused = false;
    note(client, "resumes: " + str(client.held.size()) + " held events");
    std::vector<Event> held = std::exchange(client.held, {});
    for (Event& event : held) schedule(now_us, std::move(event));
}

void Clients::resume_all(uint64_t now_us) {
    for (Client& client : clients_) resume(client, now_us);
}

// --- the gateway -----------------------------------------------------------------------------

void Clients::handle_gateway(const Timer& timer, uint64_t now_us) {
    if (timer.kind == TimerKind::gateway_keep_alive) {
        if (timer.key == 0) {  // the periodic one; a retry has key 1
            schedule(now_us + options_.session_timeout_ms * 1000 / 3,
                     Timer{gateway_index(), TimerKind::gateway_keep_alive, 0, 0});
        }
        return gateway_keep_alive(now_us);
    }
    if (timer.kind != TimerKind::gateway_timeout || timer.key != gateway_.request) return;
    // Timed out: the connection is given up, and the keep-alive goes to another node now.
    ++stats_.timeouts;
    if (const auto connection = gateway_.connections.find(gateway_.request_node);
        connection != gateway_.connections.end()) {
        schedule(arrival_us(to_node_, connection->second, now_us),
                 ToNode{ConnectionClosed{gateway_.request_node, connection->second}});
        gateway_.connections.erase(connection);
    }
    gateway_.request = 0;
    gateway_.leader = other_node(gateway_.request_node);
    gateway_keep_alive(now_us);
}

void Clients::gateway_keep_alive(uint64_t now_us) {
    if (gateway_.request != 0) return;  // its timeout sends the next one
    session::KeepAliveRequest request;
    gateway_.items.clear();
    for (const Client& client : clients_) {
        if (client.session == 0 || client.paused) continue;
        gateway_.items.emplace_back(client.index, client.session);
        request.sessions.push_back({client.session, client.answered_sequence, client.event_index});
    }
    if (request.sessions.empty()) return;
    if (gateway_.leader == 0 || rng_.chance(options_.random_node_chance)) {
        gateway_.leader = rng_.pick(nodes_);
    }
    const raft::NodeId node = gateway_.leader;
    auto [connection, opened] = gateway_.connections.try_emplace(node, 0);
    if (opened) {
        connection->second = make_connection(gateway_index(), ++gateway_.connection_serial);
    }
    gateway_.request = next_request_id_++;
    gateway_.request_node = node;
    ++stats_.keep_alives;
    ++stats_.attempts;
    schedule(now_us + std::min(options_.attempt_timeout_us, options_.session_timeout_ms * 1000 / 3),
             Timer{gateway_index(), TimerKind::gateway_timeout, 0, gateway_.request});
    if (rng_.chance(options_.loss)) return;
    schedule(arrival_us(to_node_, connection->second, now_us),
             ToNode{ClientRequest{node, connection->second, gateway_.request, std::move(request)}});
}

void Clients::gateway_arrival(const ToClient& message, uint64_t now_us) {
    const auto connection = gateway_.connections.find(message.node);
    if (connection == gateway_.connections.end() || connection->second != message.connection) {
        return;  // a connection the gateway closed
    }
    if (const auto* response = std::get_if<Response>(&message.message)) {
        return gateway_answered(*response, now_us);
    }
    const auto& batch = std::get<session::PublishRequest>(message.message);
    for (Client& client : clients_) {
        if (client.session != batch.session) continue;
        if (client.paused) {
            client.held.push_back(Arrival{message});  // waits with the client's other input
        } else {
            on_events(client, message, now_us);
        }
        return;
    }
}

void Clients::gateway_answered(const Response& response, uint64_t now_us) {
    if (response.request_id != gateway_.request) return;
    gateway_.request = 0;
    const auto* body = std::get_if<session::KeepAliveResponse>(&response.body);
    if (response.error != ErrorCode::ok || body == nullptr ||
        body->sessions.size() != gateway_.items.size()) {
        ++stats_.refusals;
        const bool hint = response.leader != 0 && response.leader != gateway_.request_node;
        gateway_.leader = hint ? response.leader : other_node(gateway_.request_node);
        schedule(now_us + rng_.between(0, options_.retry_delay_max_us),
                 Timer{gateway_index(), TimerKind::gateway_keep_alive, 0, 1});
        return;
    }
    if (response.leader != 0) gateway_.leader = response.leader;
    for (size_t item = 0; item < gateway_.items.size(); ++item) {
        if (body->sessions[item] != ErrorCode::unknown_session) continue;
        Client& client = clients_[gateway_.items[item].first];
        // A client paused since finds out itself when it resumes.
        if (client.session == gateway_.items[item].second && !client.paused) {
            session_ended(client, now_us);
        }
    }
}

// --- sessions --------------------------------------------------------------------------------

void Clients::register_session(Client& client, uint64_t now_us) {
    const raft::NodeId node = leader_target(client);
    const uint64_t id =
        track(client, RequestKind::register_session, 0, node, client.register_timeouts, now_us);
    client.register_request = id;
    send(client, node, id, session::RegisterRequest{client.client_id, options_.session_timeout_ms},
         now_us);
}

void Clients::on_registered(Client& client, const Response& response, uint64_t now_us) {
    const auto* body = std::get_if<session::RegisterResponse>(&response.body);
    if (body == nullptr || client.session != 0) return;
    client.register_timeouts = 0;
    client.session = body->session;
    client.timeout_ms = std::max<uint64_t>(body->timeout_ms, 3);
    ++client.generation;
    client.event_index = body->session;
    client.index_seen = body->session;
    client.next_sequence = 0;
    client.answered_sequence = 0;
    client.answered_above.clear();
    client.register_request = 0;
    ++stats_.sessions_registered;
    note(client, "registered session " + str(client.session) + " (timeout " +
                     str(client.timeout_ms) + " ms)");
    schedule(now_us + client.timeout_ms * 1000 / 3,
             Timer{client.index, TimerKind::keep_alive, client.generation, 0});
    if (client.watcher) {
        Command watch;
        watch.purpose = Purpose::watch;
        watch.operation_bytes =
            statemachine::make_operation(resources::MapWatch{map_name, "", true});
        submit(client, std::move(watch), now_us);
    }
    for (size_t slot = 0; slot < client.slots.size(); ++slot) {
        client.slots[slot].busy = false;
        client.slots[slot].phase = LockPhase::idle;
        schedule(now_us + rng_.between(0, options_.think_max_us),
                 Timer{client.index, TimerKind::invoke, client.generation, slot});
    }
}

// The client closes its session (copycat.md §3.5, close), once nothing of it is pending, and
// registers a new one: the unregister path runs under the same faults as the rest.
void Clients::unregister(Client& client, uint64_t now_us) {
    const raft::NodeId node = leader_target(client);
    const uint64_t id = track(client, RequestKind::unregister, 0, node, 0, now_us);
    client.unregister_request = id;
    send(client, node, id, session::UnregisterRequest{client.session}, now_us);
}

void Clients::on_unregistered(Client& client, const RequestRef& ref, const Response& response,
                              uint64_t now_us) {
    if (response.request_id != client.unregister_request) return;
    if (response.error == ErrorCode::ok || response.error == ErrorCode::unknown_session) {
        ++stats_.sessions_closed;
        note(client,
             std::string("closed its session: ") + session::error_code_name(response.error));
        return session_ended(client, now_us);
    }
    ++stats_.refusals;
    if (response.leader == 0 || response.leader == ref.node) client.leader = other_node(ref.node);
    schedule(now_us + rng_.between(0, options_.retry_delay_max_us),
             Timer{client.index, TimerKind::resend, client.generation, 0, RequestKind::unregister});
}

void Clients::keep_alive(Client& client, uint64_t now_us) {
    if (client.session == 0) return;
    const raft::NodeId node = leader_target(client);
    const uint64_t id =
        track(client, RequestKind::keep_alive, 0, node, client.keep_alive_timeouts, now_us);
    client.keep_alive_request = id;
    ++stats_.keep_alives;
    session::KeepAliveRequest request;
    request.sessions.push_back({client.session, client.answered_sequence, client.event_index});
    send(client, node, id, std::move(request), now_us);
}

void Clients::on_keep_alive(Client& client, const RequestRef& ref, const Response& response,
                            uint64_t now_us) {
    if (response.request_id != client.keep_alive_request) return;
    client.keep_alive_request = 0;
    client.keep_alive_timeouts = 0;
    const auto* body = std::get_if<session::KeepAliveResponse>(&response.body);
    if (response.error == ErrorCode::ok && body != nullptr && body->sessions.size() == 1) {
        if (body->sessions.front() == ErrorCode::unknown_session) session_ended(client, now_us);
        return;
    }
    if (response.error == ErrorCode::unknown_session) return session_ended(client, now_us);
    ++stats_.refusals;
    if (response.leader == 0) client.leader = other_node(ref.node);
    schedule(now_us + rng_.between(0, options_.retry_delay_max_us),
             Timer{client.index, TimerKind::resend, client.generation, 0, RequestKind::keep_alive});
}

// The session has ended (a ready leader or the log said unknown_session): what was pending
// may or may not have happened, and the client starts over with a new session.
void Clients::session_ended(Client& client, uint64_t now_us) {
    if (client.session == 0) return;
    if (client.unregister_request == 0) ++stats_.sessions_expired;
    note(client, "session " + str(client.session) + " has ended");
    for (auto& [sequence, command] : client.commands) {
        if (command.operation < 0) continue;
        const Outcome outcome = command.maybe_logged.empty() ? Outcome::fail : Outcome::info;
        finish(client, command.slot, command.operation, outcome, {}, now_us);
    }
    for (auto& [id, query] : client.queries) {
        finish(client, query.slot, query.operation, Outcome::fail, {}, now_us);
    }
    client.commands.clear();
    client.queries.clear();
    for (Slot& slot : client.slots) {
        slot.busy = false;
        slot.phase = LockPhase::idle;
        slot.granted.clear();
        slot.failed.clear();
    }
    client.session = 0;
    ++client.generation;
    client.keep_alive_request = 0;
    client.unregister_request = 0;
    register_session(client, now_us);
}

void Clients::on_events(Client& client, const ToClient& message, uint64_t now_us) {
    const auto& batch = std::get<session::PublishRequest>(message.message);
    if (client.session == 0 || batch.session != client.session) return;
    if (sim_plants.client_accepts_any_batch) {
        client.event_index = batch.event_index;
        checks_.observe_delivery(batch);
        return;
    }
    if (batch.event_index <= client.event_index) return;  // already received
    if (batch.previous_index != client.event_index) {
        ++stats_.resets;
        send(client, message.node, next_request_id_++,
             session::ResetRequest{client.session, client.event_index}, now_us);
        return;
    }
    client.event_index = batch.event_index;
    ++stats_.events_delivered;
    checks_.observe_delivery(batch);
    for (const session::Event& event : batch.events) lock_event(client, event, now_us);
}

bool Clients::idle() const {
    if (!read_back_keys_.empty()) return false;
    for (const Client& client : clients_) {
        if (client.session == 0 || client.paused || client.unregister_request != 0 ||
            !client.commands.empty() || !client.queries.empty()) {
            return false;
        }
        for (const Slot& slot : client.slots) {
            if (slot.busy) return false;
        }
    }
    return true;
}

bool Clients::busy(const Client& client) {
    return std::any_of(client.slots.begin(), client.slots.end(),
                       [](const Slot& slot) { return slot.busy; });
}

std::vector<int> Clients::lock_holders() const {
    std::vector<int> holders;
    for (const Client& client : clients_) {
        for (const Slot& slot : client.slots) {
            if (slot.phase == LockPhase::holding) holders.push_back(client.index);
        }
    }
    return holders;
}

std::string Clients::describe_pending() const {
    std::string text;
    for (const Client& client : clients_) {
        std::string busy;
        if (client.session == 0) busy += " registering";
        if (client.paused) busy += " paused";
        for (const auto& [sequence, command] : client.commands) {
            busy += " command " + str(sequence) + " (" +
                    (command.operation_bytes.type.empty() ? std::string("no-op")
                                                          : command.operation_bytes.type) +
                    ", " + str(static_cast<uint64_t>(command.timeouts)) + " timeouts)";
        }
        for (const auto& [id, query] : client.queries) busy += " query of " + query.key;
        if (busy.empty()) continue;
        text += (text.empty() ? "c" : "; c") + str(static_cast<uint64_t>(client.index)) +
                (client.session != 0 ? " s" + str(client.session) : std::string()) + ":" + busy;
    }
    if (!read_back_keys_.empty()) text += "; " + str(read_back_keys_.size()) + " keys to read back";
    return text.empty() ? "clients idle" : text;
}

std::vector<ClientSession> Clients::sessions() const {
    std::vector<ClientSession> sessions;
    for (const Client& client : clients_) {
        if (client.session != 0)
            sessions.push_back({client.index, client.session, client.event_index});
    }
    return sessions;
}

void Clients::read_back(const std::vector<std::string>& keys, uint64_t now_us) {
    read_back_keys_.assign(keys.rbegin(), keys.rend());
    for (Client& client : clients_) {
        for (size_t slot = 0; slot < client.slots.size(); ++slot) {
            if (client.slots[slot].busy || client.slots[slot].locks) continue;
            schedule(now_us, Timer{client.index, TimerKind::invoke, client.generation, slot});
        }
    }
}

// --- commands --------------------------------------------------------------------------------

uint64_t Clients::submit(Client& client, Command command, uint64_t now_us) {
    const uint64_t sequence = ++client.next_sequence;
    client.commands.emplace(sequence, std::move(command));
    send_command(client, sequence, now_us);
    return sequence;
}

void Clients::send_command(Client& client, uint64_t sequence, uint64_t now_us) {
    Command& command = client.commands.at(sequence);
    const raft::NodeId node = leader_target(client);
    const uint64_t id =
        track(client, RequestKind::command, sequence, node, command.timeouts, now_us);
    command.request_id = id;
    command.maybe_logged.insert(id);
    command.sent = true;
    send(client, node, id,
         session::CommandRequest{client.session, sequence, command.operation_bytes}, now_us);
}

void Clients::on_command(Client& client, const RequestRef& ref, uint64_t request_id,
                         const Response& response, uint64_t now_us) {
    const auto found = client.commands.find(ref.key);
    if (found == client.commands.end()) return;  // answered already
    Command& command = found->second;
    switch (response.error) {
        case ErrorCode::ok:
        case ErrorCode::application_error:
            return command_answered(client, ref.key, response, now_us);
        case ErrorCode::unknown_session:
            command.maybe_logged.erase(request_id);
            return session_ended(client, now_us);
        case ErrorCode::command_error:
            command.maybe_logged.erase(request_id);
            if (request_id != command.request_id) return;
            ++stats_.command_errors;
            return resubmit_after(client, response.last_sequence, now_us);
        case ErrorCode::bad_request:
        case ErrorCode::unknown_operation:
            command.maybe_logged.erase(request_id);
            if (request_id != command.request_id) return;  // already filled with a no-op
            if (command.purpose != Purpose::bad) {
                violation("client protocol", "session " + str(client.session) + "'s command " +
                                                 str(ref.key) +
                                                 " was refused: " + response.message);
            }
            return fill_with_no_op(client, ref.key, now_us);
        default:
            if (request_id != command.request_id) return;
            return command_refused(client, ref.key, ref.node, response, now_us);
    }
}

// Not logged here (no_leader, or the node could not take it now): the same sequence again,
// at the leader the node named, or elsewhere.
void Clients::command_refused(Client& client, uint64_t sequence, raft::NodeId node,
                              const Response& response, uint64_t now_us) {
    ++stats_.refusals;
    if (response.leader == 0 || response.leader == node) client.leader = other_node(node);
    schedule(
        now_us + rng_.between(0, options_.retry_delay_max_us),
        Timer{client.index, TimerKind::resend, client.generation, sequence, RequestKind::command});
}

// copycat.md §3.5: the leader refused a sequence out of order; resubmit every unanswered
// command after last_sequence, in order. If the client has answers past last_sequence (a new
// leader that has not applied them yet, or forgot what it admitted), a keep-alive carrying
// them resets the leader's sequence first.
void Clients::resubmit_after(Client& client, uint64_t last_sequence, uint64_t now_us) {
    if (client.answered_sequence > last_sequence && client.keep_alive_request == 0) {
        keep_alive(client, now_us);
    }
    for (auto& [sequence, command] : client.commands) {
        if (sequence > last_sequence) send_command(client, sequence, now_us);
    }
}

void Clients::command_answered(Client& client, uint64_t sequence, const Response& response,
                               uint64_t now_us) {
    Command command = std::move(client.commands.at(sequence));
    client.commands.erase(sequence);
    client.answered_above.insert(sequence);
    while (client.answered_above.erase(client.answered_sequence + 1) > 0) {
        ++client.answered_sequence;
    }
    if (const session::OperationResponse* body = operation_body(response)) {
        client.index_seen = std::max(client.index_seen, body->index);
    }
    const bool ok = response.error == ErrorCode::ok;
    switch (command.purpose) {
        case Purpose::map: {
            if (!ok) {
                violation("client protocol", "a map command failed: " + response.message);
                finish(client, command.slot, command.operation, Outcome::fail, {}, now_us);
                return slot_done(client, command.slot, now_us);
            }
            OpOutput output;
            if (const auto cas = decode<resources::MapCas>(response)) {
                output = OpOutput::cas(cas->succeeded);
            }
            finish(client, command.slot, command.operation, Outcome::ok, output, now_us);
            return slot_done(client, command.slot, now_us);
        }
        case Purpose::lock_acquire:
        case Purpose::lock_release: return lock_answered(client, command, response, now_us);
        case Purpose::watch:
            if (!ok) violation("client protocol", "map.watch failed: " + response.message);
            return;
        case Purpose::bad:
            violation("bad input", "session " + str(client.session) + "'s malformed command " +
                                       str(sequence) + " was logged and answered " +
                                       session::error_code_name(response.error));
            return slot_done(client, command.slot, now_us);
        case Purpose::no_op: return slot_done(client, command.slot, now_us);
    }
}

void Clients::command_timed_out(Client& client, uint64_t sequence, uint64_t now_us) {
    Command& command = client.commands.at(sequence);
    ++command.timeouts;
    if (command.purpose == Purpose::map && command.timeouts >= options_.max_timeouts) {
        // Given up: the caller learns nothing (info), and the sequence still needs filling;
        // the slot waits for the no-op, so that a session never has more in flight than slots.
        finish(client, command.slot, command.operation, Outcome::info, {}, now_us);
        command.operation = -1;
        command.purpose = Purpose::no_op;
        command.operation_bytes = {};
        ++stats_.no_ops;
        note(client, "gives up on command " + str(sequence) + ": a no-op fills it");
    }
    client.leader = other_node(client.leader);
    send_command(client, sequence, now_us);
}

// copycat #102: a sequence the leader will never log must still be filled, or every later
// command of the session waits behind it.
void Clients::fill_with_no_op(Client& client, uint64_t sequence, uint64_t now_us) {
    Command& command = client.commands.at(sequence);
    const int operation = std::exchange(command.operation, -1);
    command.purpose = Purpose::no_op;
    command.operation_bytes = {};
    ++stats_.no_ops;
    finish(client, command.slot, operation, Outcome::fail, {}, now_us);
    send_command(client, sequence, now_us);
}

// --- queries ---------------------------------------------------------------------------------

void Clients::send_query(Client& client, uint64_t query_id, uint64_t now_us) {
    Query& query = client.queries.at(query_id);
    raft::NodeId node = 0;
    if (query.consistency == Consistency::sequential) {
        if (query.target == 0) query.target = rng_.pick(nodes_);
        node = query.target;
    } else {
        node = leader_target(client);
    }
    const uint64_t id = track(client, RequestKind::query, query_id, node, query.timeouts, now_us);
    query.request_id = id;
    const bool floors = !sim_plants.query_without_floors;
    session::QueryRequest request{client.session, floors ? query.sequence : 0,
                                  floors ? query.floor : 0, query.consistency,
                                  map_operation(Op::read(query.key))};
    send(client, node, id, std::move(request), now_us);
}

void Clients::on_query(Client& client, const RequestRef& ref, uint64_t request_id,
                       const Response& response, uint64_t now_us) {
    const auto found = client.queries.find(ref.key);
    if (found == client.queries.end()) return;
    if (response.error == ErrorCode::ok) return query_answered(client, ref.key, response, now_us);
    if (found->second.request_id != request_id) return;  // an earlier attempt's refusal
    switch (response.error) {
        case ErrorCode::unknown_session: return session_ended(client, now_us);
        case ErrorCode::application_error:
        case ErrorCode::bad_request:
        case ErrorCode::unknown_operation: {
            violation("client protocol", "a map.get was refused: " + response.message);
            const Query query = found->second;
            client.queries.erase(found);
            finish(client, query.slot, query.operation, Outcome::fail, {}, now_us);
            return slot_done(client, query.slot, now_us);
        }
        default: return query_refused(client, ref.key, ref.node, response.leader, now_us);
    }
}

void Clients::query_refused(Client& client, uint64_t query_id, raft::NodeId node, raft::NodeId hint,
                            uint64_t now_us) {
    Query& query = client.queries.at(query_id);
    ++stats_.refusals;
    if (++query.refusals >= options_.max_refusals) {
        const Query done = query;
        client.queries.erase(query_id);
        finish(client, done.slot, done.operation, Outcome::fail, {}, now_us);
        return slot_done(client, done.slot, now_us);
    }
    query.target = query.consistency == Consistency::sequential ? other_node(query.target) : 0;
    if (query.consistency != Consistency::sequential) {
        client.leader = hint != 0 && hint != node ? hint : other_node(node);
    }
    schedule(
        now_us + rng_.between(0, options_.retry_delay_max_us),
        Timer{client.index, TimerKind::resend, client.generation, query_id, RequestKind::query});
}

void Clients::query_answered(Client& client, uint64_t query_id, const Response& response,
                             uint64_t now_us) {
    const Query query = client.queries.at(query_id);
    client.queries.erase(query_id);
    const session::OperationResponse* body = operation_body(response);
    const std::optional<resources::MapGet::Output> output = decode<resources::MapGet>(response);
    if (body == nullptr || !output) {
        violation("client protocol", "a map.get answer does not decode");
        finish(client, query.slot, query.operation, Outcome::fail, {}, now_us);
        return slot_done(client, query.slot, now_us);
    }
    client.index_seen = std::max(client.index_seen, body->index);
    checks_.observe_read(ReadSeen{client.session, map_name, query.key, output->value,
                                  output->version, body->index, query.floor, query.sequence,
                                  query.consistency});
    if (query.operation >= 0) {
        finish(client, query.slot, query.operation, Outcome::ok,
               OpOutput::read(text_of(output->value)), now_us);
    } else {
        ++stats_.sequential_reads;
    }
    slot_done(client, query.slot, now_us);
}

// --- slots -----------------------------------------------------------------------------------

void Clients::invoke(Client& client, int slot, uint64_t now_us) {
    Slot& state = client.slots[slot];
    if (client.session == 0 || state.busy || client.unregister_request != 0) return;
    if (invoking_ && options_.close_chance > 0 && client.commands.empty() &&
        client.queries.empty() && !busy(client) && rng_.chance(options_.close_chance)) {
        return unregister(client, now_us);
    }
    if (state.locks) {
        if (invoking_) invoke_lock(client, slot, now_us);
        return;
    }
    if (invoking_ || !read_back_keys_.empty()) invoke_map(client, slot, now_us);
}

void Clients::invoke_map(Client& client, int slot, uint64_t now_us) {
    Slot& state = client.slots[slot];
    state.busy = true;
    if (invoking_ && rng_.chance(options_.bad_command_chance)) {
        Command bad;
        bad.purpose = Purpose::bad;
        bad.slot = slot;
        bad.operation_bytes = statemachine::make_operation(resources::MapPut{"", "k", {}, 0});
        submit(client, std::move(bad), now_us);
        return;
    }
    Op op = invoking_ ? next_op() : Op::read(read_back_keys_.back());
    if (!invoking_) read_back_keys_.pop_back();
    if (op.kind != OpKind::read) {
        Command command;
        command.slot = slot;
        command.operation = history_.invoke(state.process, op, now_us);
        command.operation_bytes = map_operation(op);
        ++stats_.operations;
        note(client, "invoke " + describe(history_.operation(command.operation)));
        submit(client, std::move(command), now_us);
        return;
    }
    Query query;
    query.slot = slot;
    query.key = op.key;
    query.sequence = client.next_sequence;
    query.floor = client.index_seen;
    if (invoking_ && rng_.chance(options_.sequential_read_chance)) {
        query.consistency = Consistency::sequential;
    } else {
        query.consistency = rng_.chance(options_.lease_read_chance)
                                ? Consistency::linearizable_lease
                                : Consistency::linearizable;
        query.operation = history_.invoke(state.process, op, now_us);
        ++stats_.operations;
        note(client, "invoke " + describe(history_.operation(query.operation)));
    }
    const uint64_t id = client.next_query_id++;
    client.queries.emplace(id, std::move(query));
    send_query(client, id, now_us);
}

void Clients::slot_done(Client& client, int slot, uint64_t now_us) {
    if (slot < 0) return;
    Slot& state = client.slots[slot];
    state.busy = false;
    state.phase = LockPhase::idle;
    state.granted.clear();
    state.failed.clear();
    schedule(
        now_us + rng_.between(0, options_.think_max_us),
        Timer{client.index, TimerKind::invoke, client.generation, static_cast<uint64_t>(slot)});
}

void Clients::finish(Client& client, int slot, int operation, Outcome outcome, OpOutput output,
                     uint64_t now_us) {
    if (operation < 0) return;
    history_.complete(operation, outcome, std::move(output), now_us);
    note(client, describe(history_.operation(operation)));
    switch (outcome) {
        case Outcome::ok: ++stats_.ok; break;
        case Outcome::fail: ++stats_.fail; break;
        case Outcome::info: ++stats_.info; break;
    }
    if (outcome != Outcome::info) return;
    const Operation& done = history_.operation(operation);
    if (!keys_.empty() && done.op.key == keys_.back() &&
        ++infos_on_key_ >= options_.max_info_per_key) {
        ops_left_on_key_ = 0;
    }
    // The process retires; its slot goes on as a new one.
    if (slot >= 0) client.slots[slot].process = next_process_id_++;
}

Op Clients::next_op() {
    const std::string key = current_key();
    const double choice = rng_.unit();
    if (choice < 0.35) return Op::read(key);
    if (choice < 0.9) {
        std::string value = "v" + str(next_value_++);
        if (choice < 0.65) {
            last_written_ = value;
            return Op::write(key, std::move(value));
        }
        std::optional<std::string> expected = last_written_;
        last_written_ = value;
        return Op::cas(key, std::move(expected), std::move(value));
    }
    return Op::remove(key);
}

const std::string& Clients::current_key() {
    if (ops_left_on_key_ == 0 || keys_.empty()) {
        keys_.push_back("k" + str(keys_.size()));
        ops_left_on_key_ = rng_.between(options_.ops_per_key_min, options_.ops_per_key_max);
        last_written_.reset();
        infos_on_key_ = 0;
        ++stats_.keys;
    }
    --ops_left_on_key_;
    return keys_.back();
}

// --- locks -----------------------------------------------------------------------------------

void Clients::invoke_lock(Client& client, int slot, uint64_t now_us) {
    Slot& state = client.slots[slot];
    state.busy = true;
    state.phase = LockPhase::acquiring;
    state.lock = "l" + str(rng_.uniform(static_cast<uint64_t>(options_.locks)));
    state.token = 0;
    uint64_t timeout_ms = resources::LockAcquire::kWaitForever;
    const double mode = rng_.unit();
    if (mode < 0.3) {
        timeout_ms = 0;  // try
    } else if (mode < 0.6) {
        timeout_ms = rng_.between(10, 4 * client.timeout_ms);
    }
    Command command;
    command.purpose = Purpose::lock_acquire;
    command.slot = slot;
    command.lock = state.lock;
    command.operation_bytes =
        statemachine::make_operation(resources::LockAcquire{state.lock, timeout_ms});
    submit(client, std::move(command), now_us);
}

void Clients::lock_answered(Client& client, const Command& command, const Response& response,
                            uint64_t now_us) {
    Slot& state = client.slots[command.slot];
    if (response.error != ErrorCode::ok) {
        violation("client protocol",
                  "session " + str(client.session) + "'s " +
                      (command.purpose == Purpose::lock_acquire ? "acquire" : "release") +
                      " of lock " + command.lock + " failed: " + response.message);
        return slot_done(client, command.slot, now_us);
    }
    if (command.purpose == Purpose::lock_release) {
        const auto output = decode<resources::LockRelease>(response);
        if (!output || output->outcome != resources::LockReleaseOutcome::released) {
            violation("lock safety",
                      "session " + str(client.session) + " held lock " + command.lock + " (token " +
                          str(state.token) + ") and is live, yet its release was " +
                          (output ? resources::lock_release_outcome_name(output->outcome)
                                  : "undecodable"));
        }
        return slot_done(client, command.slot, now_us);
    }
    const auto output = decode<resources::LockAcquire>(response);
    if (!output) return slot_done(client, command.slot, now_us);
    state.token = output->token;
    const bool queued = output->outcome == resources::LockAcquireOutcome::queued;
    if (output->outcome == resources::LockAcquireOutcome::acquired ||
        (queued && state.granted.contains(output->token)) ||
        (queued && sim_plants.client_takes_queued_as_acquired)) {
        return lock_granted(client, command.slot, now_us);
    }
    if (output->outcome == resources::LockAcquireOutcome::failed ||
        state.failed.contains(output->token)) {
        return slot_done(client, command.slot, now_us);
    }
    state.phase = LockPhase::waiting;
}

void Clients::lock_event(Client& client, const session::Event& event, uint64_t now_us) {
    const bool acquired = event.name == resources::LockAcquired::name;
    if (!acquired && event.name != resources::LockFailed::name) return;
    std::string lock;
    raft::Index token = 0;
    if (acquired) {
        const auto grant = statemachine::decode_event<resources::LockAcquired>(event.message);
        if (!grant.is_ok()) return violation("events", "a lock.acquired event does not decode");
        lock = grant->lock;
        token = grant->token;
    } else {
        const auto failed = statemachine::decode_event<resources::LockFailed>(event.message);
        if (!failed.is_ok()) return violation("events", "a lock.failed event does not decode");
        lock = failed->lock;
        token = failed->token;
    }
    for (size_t slot = 0; slot < client.slots.size(); ++slot) {
        Slot& state = client.slots[slot];
        if (!state.locks || state.lock != lock) continue;
        if (state.phase == LockPhase::acquiring) {
            (acquired ? state.granted : state.failed).insert(token);
            return;
        }
        if (state.phase != LockPhase::waiting || state.token != token) continue;
        if (acquired) return lock_granted(client, static_cast<int>(slot), now_us);
        return slot_done(client, static_cast<int>(slot), now_us);
    }
    violation("lock safety", "session " + str(client.session) + " was told of lock " + lock +
                                 " (token " + str(token) + ", " + event.name +
                                 ") it is not waiting for");
}

void Clients::lock_granted(Client& client, int slot, uint64_t now_us) {
    Slot& state = client.slots[slot];
    state.phase = LockPhase::holding;
    ++stats_.lock_grants;
    note(client, "holds lock " + state.lock + " with token " + str(state.token));
    checks_.observe_lock_held(client.session, state.lock, state.token);
    schedule(now_us + rng_.between(0, options_.lock_hold_max_us),
             Timer{client.index, TimerKind::lock_release, client.generation,
                   static_cast<uint64_t>(slot)});
}

void Clients::release_lock(Client& client, int slot, uint64_t now_us) {
    Slot& state = client.slots[slot];
    if (state.phase != LockPhase::holding) return;
    state.phase = LockPhase::releasing;
    Command command;
    command.purpose = Purpose::lock_release;
    command.slot = slot;
    command.lock = state.lock;
    command.operation_bytes = statemachine::make_operation(resources::LockRelease{state.lock});
    submit(client, std::move(command), now_us);
}

// --- notes -----------------------------------------------------------------------------------

void Clients::note(const Client& client, const std::string& what) {
    notes_.push_back("client c" + str(static_cast<uint64_t>(client.index)) +
                     (client.session != 0 ? " s" + str(client.session) : std::string()) + " " +
                     what);
}

void Clients::violation(std::string invariant, std::string detail) {
    violations_.push_back({std::move(invariant), std::move(detail)});
}

}  // namespace copycat::sim
