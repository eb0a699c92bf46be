#include "gateway/gateway_core.h"

#include <algorithm>
#include <utility>

#include "common/duration.h"
#include "consensus/wire/client_codec.h"

namespace copycat::gateway {

namespace {

using session::ErrorCode;

// Status polls carry ids of their own, apart from the pending table's: the top bit, and the
// node's index below it.
constexpr uint64_t kStatusPollBit = uint64_t{1} << 63;

bool is_status_poll(uint64_t request_id) { return (request_id & kStatusPollBit) != 0; }

// How long a copycat-ctl compact may wait for its node, as the node waits for its compactor.
constexpr Micros kCompactionTimeout = std::chrono::minutes(10);

Route route_of(const ClientRequestView& view) {
    switch (view.op) {
        case Op::query_sequential: return Route::sequential;
        case Op::admin:
            if (view.node != 0) return Route::node;
            if (view.admin == AdminKind::status || view.admin == AdminKind::sessions) {
                return Route::any;
            }
            return Route::leader;
        default: return Route::leader;
    }
}

// Answers that send a request on to another node: no_leader for what a leader (or a caught-up
// follower) must serve, and query_error, a linearizable read whose leader lost its leadership
// before confirming it (reads are safe to repeat). To an admin request for one node, or a
// status from any, they are the answer.
bool retried_elsewhere(const PendingRequest& request, ErrorCode error) {
    const bool routed = request.route == Route::leader || request.route == Route::sequential;
    const bool query = request.op == Op::query_linearizable || request.op == Op::query_lease;
    return routed && (error == ErrorCode::no_leader || (error == ErrorCode::query_error && query));
}

NodeStatus node_status_of(const fb::StatusResponse& status) {
    const flatbuffers::String* role = status.role();
    return {status.node_id(),
            node_role_named(role != nullptr ? role->string_view() : std::string_view()),
            status.term(),
            status.leader(),
            status.commit_index(),
            status.applied_index()};
}

std::string duration_text(Micros duration) { return format_duration(Duration(duration)); }

}  // namespace

const char* drop_name(Drop drop) {
    switch (drop) {
        case Drop::client_gone: return "client_gone";
        case Drop::client_full: return "client_full";
        case Drop::node_unavailable: return "node_unavailable";
        case Drop::unknown_session: return "unknown_session";
        case Drop::stale_answer: return "stale_answer";
        case Drop::malformed_node_message: return "malformed_node_message";
    }
    return "unknown";
}

GatewayCore::GatewayCore(GatewayOptions options, GatewayOutput& output, Time now)
    : options_(std::move(options)),
      output_(output),
      cluster_(options_.node_endpoints, options_.max_follower_lag),
      pending_(options_.max_pending),
      stats_(options_.node_endpoints.size()),
      builder_(1024),
      next_poll_(now),
      next_idle_sweep_(now + options_.idle_client_after / 8) {
    cluster_.start(now);
    for (size_t node = 0; node < cluster_.size(); ++node) {
        status_polls_.push_back(
            wire::encode_admin_request(kStatusPollBit | node, session::StatusRequest{}));
    }
}

// --- client side ------------------------------------------------------------------------------

void GatewayCore::on_client_message(std::string_view routing_id, std::span<uint8_t> bytes,
                                    Time now) {
    Result<ClientRequestView> view = read_client_request(bytes);
    if (!view.is_ok()) return refuse_malformed(routing_id, bytes, view.status());
    ClientDirectory::Ref client = clients_.touch(routing_id, now);
    if (view->request_id == 0 && view->op != Op::reset) {
        return refuse(client, *view, ErrorCode::bad_request,
                      "request_id 0: a request needs a non-zero id to be answered");
    }
    clients_.route_session(view->session, client, now);
    switch (view->op) {
        case Op::reset: return forward_reset(bytes);
        case Op::keep_alive: return queue_keep_alive(client, *view, now);
        default: return start_request(client, *view, bytes, now);
    }
}

void GatewayCore::refuse_malformed(std::string_view routing_id, std::span<const uint8_t> bytes,
                                   const Status& why) {
    output_.malformed("client", why);
    output_.answered(Op::malformed, ErrorCode::bad_request, Micros(0));
    if (std::optional<Refusal> refusal = answerable_refusal(bytes)) {
        answer_error(routing_id, refusal->request_id, refusal->admin, ErrorCode::bad_request,
                     why.message());
    }
}

void GatewayCore::refuse(ClientDirectory::Ref client, const ClientRequestView& view, ErrorCode code,
                         const std::string& message) {
    answer_error(client->first, view.request_id, view.op == Op::admin, code, message);
    output_.answered(view.op, code, Micros(0));
}

// A pending slot for the request, within the bounds; nullptr (answered busy) beyond them.
PendingRequest* GatewayCore::admit(ClientDirectory::Ref client, const ClientRequestView& view,
                                   Time now) {
    if (client->second.pending >= options_.max_pending_per_client) {
        refuse(client, view, ErrorCode::internal_error,
               "gateway busy: this connection has " + std::to_string(client->second.pending) +
                   " requests pending; wait for answers before sending more");
        return nullptr;
    }
    // A compaction run takes as long as its log needs: the node answers when it is done (or
    // after kCompactionTimeout itself).
    const bool compaction = view.op == Op::admin && view.admin == AdminKind::compact;
    PendingRequest* request = pending_.add(
        now + (compaction ? kCompactionTimeout : options_.request_timeout), compaction);
    if (request == nullptr) {
        refuse(client, view, ErrorCode::internal_error,
               "gateway busy: " + std::to_string(pending_.size()) +
                   " requests pending; retry later or through another gateway");
    }
    return request;
}

void GatewayCore::start_request(ClientDirectory::Ref client, const ClientRequestView& view,
                                std::span<const uint8_t> bytes, Time now) {
    const Route route = route_of(view);
    std::optional<size_t> target;
    if (route == Route::node) {
        target = cluster_.index_of(view.node);
        if (!target) {
            return refuse(
                client, view, ErrorCode::bad_request,
                "unknown node " + std::to_string(view.node) + "; known: " + cluster_.known_ids());
        }
    }
    PendingRequest* request = admit(client, view, now);
    if (request == nullptr) return;
    request->op = view.op;
    request->route = route;
    request->client = client;
    request->client_request_id = view.request_id;
    request->session = view.session;
    request->node = target;
    request->arrived = now;
    request->bytes.assign(bytes.begin(), bytes.end());
    // The id is stored: it is not 0 (refused above), and only 0 may be left out.
    rewrite_request_id(request->bytes, request->id);
    ++client->second.pending;
    attempt(*request, now);
}

// One-way: nothing answers it, so nothing waits in the pending table.
void GatewayCore::forward_reset(std::span<const uint8_t> bytes) {
    std::optional<size_t> target = cluster_.leader();
    if (!target) target = cluster_.next_node();
    if (target && output_.send_to_node(*target, bytes)) {
        ++stats_.forwarded[*target];
    } else {
        ++stats_.dropped[static_cast<size_t>(Drop::node_unavailable)];
        if (target) cluster_.mark_unreachable(*target);
    }
    output_.answered(Op::reset, ErrorCode::ok, Micros(0));
}

void GatewayCore::queue_keep_alive(ClientDirectory::Ref client, const ClientRequestView& view,
                                   Time now) {
    const KeepAliveItems* list = view.keep_alive_items;
    const size_t count = list != nullptr ? list->size() : 0;
    if (count > options_.max_keep_alive_items) {
        return refuse(client, view, ErrorCode::bad_request,
                      "a keep-alive names " + std::to_string(count) + " sessions; at most " +
                          std::to_string(options_.max_keep_alive_items));
    }
    if (count == 0) {  // nothing to keep alive: nothing to ask the leader
        answer_keep_alive(client->first, view.request_id, ErrorCode::ok, {}, "");
        return output_.answered(Op::keep_alive, ErrorCode::ok, Micros(0));
    }
    if (client->second.pending >= options_.max_pending_per_client ||
        keep_alive_waiting_ >= options_.max_pending) {
        return refuse(client, view, ErrorCode::internal_error,
                      "gateway busy: too many keep-alives waiting; retry later");
    }
    items_scratch_.clear();
    for (const fb::KeepAliveItem* item : *list) {
        items_scratch_.push_back({item->session(), item->command_sequence(), item->event_index()});
        clients_.route_session(item->session(), client, now);
    }
    keep_alives_.add(client, view.request_id, items_scratch_, now);
    ++client->second.pending;
    ++keep_alive_waiting_;
    maybe_send_batch(now);
}

// --- attempts ---------------------------------------------------------------------------------

std::optional<size_t> GatewayCore::choose_target(const PendingRequest& request) {
    switch (request.route) {
        case Route::node: return request.node;
        case Route::sequential:
            if (std::optional<size_t> follower = cluster_.sequential_target()) return follower;
            break;
        case Route::leader:
        case Route::any: break;
    }
    if (std::optional<size_t> leader = cluster_.leader()) return leader;
    return cluster_.next_node();
}

bool GatewayCore::send_request(PendingRequest& request, size_t node) {
    request.node = node;
    if (!output_.send_to_node(node, request.bytes)) {
        ++stats_.dropped[static_cast<size_t>(Drop::node_unavailable)];
        cluster_.mark_unreachable(node);
        return false;
    }
    ++stats_.forwarded[node];
    return true;
}

// Sends the request where it should go now; when no node takes it, it waits (park).
void GatewayCore::attempt(PendingRequest& request, Time now) {
    request.parked = false;
    for (size_t tries = 0; tries < cluster_.size(); ++tries) {
        std::optional<size_t> target = choose_target(request);
        if (!target) break;
        if (send_request(request, *target)) return;
        if (request.route == Route::node) break;
    }
    park(request, now);
}

void GatewayCore::park(PendingRequest& request, Time now) {
    request.parked = true;
    request.backoff = request.backoff == Micros(0)
                          ? options_.retry_backoff_min
                          : std::min(2 * request.backoff, options_.retry_backoff_max);
    request.retry_at = now + request.backoff;
    request.hops = 0;
    parked_.push_back(request.id);
}

// Resends the parked requests that are due, or all of them (a leader just became known).
void GatewayCore::retry_parked(Time now, bool all) {
    if (parked_.empty()) return;
    parked_scratch_.clear();
    parked_scratch_.swap(parked_);
    for (uint64_t id : parked_scratch_) {
        PendingRequest* request = pending_.find(id);
        if (request == nullptr || !request->parked) continue;
        if (all || request->retry_at <= now) {
            attempt(*request, now);
        } else {
            parked_.push_back(id);
        }
    }
}

// `node` is down or silent: what was sent to it goes elsewhere (resending a command is safe:
// the leader's result cache applies a session's sequence once).
void GatewayCore::reroute_from(size_t node, Time now) {
    pending_.for_each([&](PendingRequest& request) {
        if (!request.parked && request.node == node && request.route != Route::node) {
            attempt(request, now);
        }
    });
}

// --- node side --------------------------------------------------------------------------------

void GatewayCore::on_node_message(size_t node, std::span<uint8_t> bytes, Time now) {
    Result<NodeMessageView> view = read_node_message(bytes);
    if (!view.is_ok()) {
        ++stats_.dropped[static_cast<size_t>(Drop::malformed_node_message)];
        output_.malformed("node", view.status());
        return;
    }
    const bool leader_was_known = cluster_.leader().has_value();
    cluster_.heard(node, now);
    if (view->kind == NodeMessageView::Kind::publish) {
        forward_event(*view, bytes);
    } else if (is_status_poll(view->request_id)) {
        on_status_answer(node, *view, now);
    } else {
        on_answer(node, *view, bytes, now);
    }
    if (!leader_was_known && cluster_.leader()) retry_parked(now, true);
}

void GatewayCore::on_status_answer(size_t node, const NodeMessageView& view, Time now) {
    if (view.error != ErrorCode::ok || view.status == nullptr) return;
    cluster_.on_status(node, node_status_of(*view.status), now);
}

void GatewayCore::on_answer(size_t node, const NodeMessageView& view, std::span<uint8_t> bytes,
                            Time now) {
    PendingRequest* request = pending_.find(view.request_id);
    if (request == nullptr) {
        ++stats_.dropped[static_cast<size_t>(Drop::stale_answer)];
        return;
    }
    if (retried_elsewhere(*request, view.error)) {
        return retry_elsewhere(*request, node, view.leader, now);
    }
    if (view.error == ErrorCode::illegal_member_state && request->route == Route::sequential) {
        request->route = Route::leader;  // a member that serves no reads: ask the leader
        return attempt(*request, now);
    }
    // Only a leader accepts these (a follower may still refuse them for other reasons).
    if (request->route == Route::leader && view.error == ErrorCode::ok) {
        cluster_.confirm_leader(node);
    }
    ++stats_.answered_by[node][static_cast<size_t>(request->op)];
    if (request->internal) return on_batch_answer(*request, view, now);
    finish(*request, view, bytes, now);
}

// A no_leader answer (or a lost read): to the node its hint names at once, else to the leader known
// from status polls; without either, after a backoff. Immediate resends are bounded, so that two
// nodes naming each other cannot bounce a request back and forth without a pause.
void GatewayCore::retry_elsewhere(PendingRequest& request, size_t from, session::NodeId hint,
                                  Time now) {
    if (request.node != from) return;  // an earlier attempt's answer: the latest is under way
    request.route = Route::leader;     // a sequential read the follower cannot serve yet
    std::optional<size_t> next = cluster_.follow_hint(from, hint);
    if (!next) next = cluster_.leader();
    if (next && *next != from && request.hops < cluster_.size()) {
        ++request.hops;
        if (send_request(request, *next)) return;
    }
    park(request, now);
}

void GatewayCore::finish(PendingRequest& request, const NodeMessageView& view,
                         std::span<uint8_t> bytes, Time now) {
    if (view.error == ErrorCode::ok) {
        if (request.op == Op::register_session) {
            clients_.route_session(view.session, request.client, now);
        } else if (request.op == Op::unregister) {
            clients_.forget_session(request.session);
        }
    }
    if (rewrite_request_id(bytes, request.client_request_id)) {
        send_to_client(request.client->first, bytes);
    }
    complete(request, view.error, now);
}

void GatewayCore::forward_event(const NodeMessageView& view, std::span<const uint8_t> bytes) {
    std::optional<std::string_view> client = clients_.client_of(view.session);
    if (!client) {
        ++stats_.dropped[static_cast<size_t>(Drop::unknown_session)];
        return;
    }
    if (send_to_client(*client, bytes) == ClientSend::sent) ++stats_.events_forwarded;
}

// --- answers ----------------------------------------------------------------------------------

ClientSend GatewayCore::send_to_client(std::string_view routing_id,
                                       std::span<const uint8_t> bytes) {
    const ClientSend sent = output_.send_to_client(routing_id, bytes);
    if (sent == ClientSend::gone) ++stats_.dropped[static_cast<size_t>(Drop::client_gone)];
    if (sent == ClientSend::full) ++stats_.dropped[static_cast<size_t>(Drop::client_full)];
    return sent;
}

void GatewayCore::answer_error(std::string_view routing_id, uint64_t request_id, bool admin,
                               ErrorCode code, const std::string& message) {
    std::span<const uint8_t> bytes;
    if (admin) {
        session::AdminResponse response;
        response.request_id = request_id;
        response.error = code;
        response.message = message;
        response.leader = cluster_.leader_id();
        bytes = wire::encode_admin_response(builder_, response);
    } else {
        session::Response response;
        response.request_id = request_id;
        response.error = code;
        response.message = message;
        response.leader = cluster_.leader_id();
        bytes = wire::encode_response(builder_, response);
    }
    send_to_client(routing_id, bytes);
}

void GatewayCore::complete(PendingRequest& request, ErrorCode code, Time now) {
    if (!request.internal) {
        --request.client->second.pending;
        output_.answered(request.op, code, now - request.arrived);
    }
    pending_.release(request);
}

std::string GatewayCore::timeout_message(const PendingRequest& request) const {
    const std::string within = " within " + duration_text(options_.request_timeout);
    if (request.route == Route::node) {
        const session::NodeId id = cluster_.node(*request.node).status.id;
        return "node " + std::to_string(id) + " did not answer" + within;
    }
    if (request.op == Op::command) {
        return "no leader answered" + within +
               "; the command may or may not have been applied (resend it with the same "
               "sequence)";
    }
    return "no leader answered" + within;
}

void GatewayCore::time_out(PendingRequest& request, Time now) {
    if (request.internal) {
        if (batch_ && batch_->request_id == request.id) {
            KeepAliveBatch batch = std::move(batch_->batch);
            batch_.reset();
            fail_batch(std::move(batch), ErrorCode::timeout,
                       "no leader answered the keep-alive within " +
                           duration_text(options_.request_timeout),
                       now);
        }
        return pending_.release(request);
    }
    answer_error(request.client->first, request.client_request_id, request.op == Op::admin,
                 ErrorCode::timeout, timeout_message(request));
    complete(request, ErrorCode::timeout, now);
}

// --- keep-alive batches -----------------------------------------------------------------------

void GatewayCore::maybe_send_batch(Time now) {
    if (batch_ ||
        !keep_alives_.due(now, options_.keep_alive_window, options_.keep_alive_batch_items)) {
        return;
    }
    PendingRequest* request = pending_.add(now + options_.request_timeout);
    if (request == nullptr) return;  // the table is full: the next tick tries again
    batch_ = InFlightBatch{keep_alives_.take(options_.keep_alive_max_batch_items), request->id};
    request->op = Op::keep_alive;
    request->route = Route::leader;
    request->internal = true;
    request->arrived = now;
    const session::Request keep_alive = session::KeepAliveRequest{batch_->batch.merged};
    std::span<const uint8_t> bytes = wire::encode_request(builder_, request->id, keep_alive);
    request->bytes.assign(bytes.begin(), bytes.end());
    ++stats_.keep_alive_batches;
    stats_.keep_alive_items += batch_->batch.merged.size();
    attempt(*request, now);
}

void GatewayCore::on_batch_answer(PendingRequest& request, const NodeMessageView& view, Time now) {
    if (!batch_ || batch_->request_id != request.id) return pending_.release(request);
    KeepAliveBatch batch = std::move(batch_->batch);
    batch_.reset();
    pending_.release(request);
    if (view.error != ErrorCode::ok) {
        fail_batch(std::move(batch), view.error,
                   std::string("the leader refused the keep-alive: ") +
                       session::error_code_name(view.error),
                   now);
    } else {
        std::vector<ErrorCode> merged_codes;
        if (view.keep_alive_codes != nullptr) {
            for (fb::ErrorCode code : *view.keep_alive_codes) {
                merged_codes.push_back(static_cast<ErrorCode>(code));
            }
        }
        for (size_t i = 0; i < batch.merged.size() && i < merged_codes.size(); ++i) {
            if (merged_codes[i] == ErrorCode::unknown_session) {
                clients_.forget_session(batch.merged[i].session);
            }
        }
        for (const KeepAliveWaiter& waiter : batch.waiters) {
            settle_waiter(waiter, ErrorCode::ok, batch.codes_for(waiter, merged_codes), "", now);
        }
    }
    maybe_send_batch(now);
}

void GatewayCore::answer_keep_alive(std::string_view routing_id, uint64_t request_id,
                                    ErrorCode code, std::vector<ErrorCode> codes,
                                    const std::string& message) {
    session::Response response;
    response.request_id = request_id;
    response.error = code;
    response.message = message;
    response.leader = cluster_.leader_id();
    if (code == ErrorCode::ok) response.body = session::KeepAliveResponse{std::move(codes)};
    send_to_client(routing_id, wire::encode_response(builder_, response));
}

void GatewayCore::settle_waiter(const KeepAliveWaiter& waiter, ErrorCode code,
                                std::vector<ErrorCode> codes, const std::string& message,
                                Time now) {
    answer_keep_alive(waiter.client->first, waiter.request_id, code, std::move(codes), message);
    --waiter.client->second.pending;
    --keep_alive_waiting_;
    output_.answered(Op::keep_alive, code, now - waiter.arrived);
}

void GatewayCore::fail_batch(KeepAliveBatch batch, ErrorCode code, const std::string& message,
                             Time now) {
    for (const KeepAliveWaiter& waiter : batch.waiters)
        settle_waiter(waiter, code, {}, message, now);
}

// --- timers -----------------------------------------------------------------------------------

void GatewayCore::on_tick(Time now) {
    poll_statuses(now);
    for (size_t node : cluster_.mark_silent(now, 2 * options_.status_interval)) {
        reroute_from(node, now);
    }
    retry_parked(now, false);
    maybe_send_batch(now);
    while (PendingRequest* expired = pending_.next_expired(now)) time_out(*expired, now);
    if (now >= next_idle_sweep_) {
        next_idle_sweep_ = now + options_.idle_client_after / 8;
        clients_.forget_idle(now, options_.idle_client_after);
    }
}

void GatewayCore::poll_statuses(Time now) {
    if (now < next_poll_) return;
    next_poll_ = now + options_.status_interval;
    for (size_t node = 0; node < cluster_.size(); ++node) {
        if (output_.send_to_node(node, status_polls_[node])) continue;
        const bool was_reachable = cluster_.node(node).reachable;
        cluster_.mark_unreachable(node);
        if (was_reachable) reroute_from(node, now);
    }
}

}  // namespace copycat::gateway
