#include "client/session_core.h"

#include <algorithm>
#include <limits>

#include "common/assert.h"

namespace copycat::client {
namespace {

using session::OperationResponse;
using session::Response;

constexpr uint64_t max_ms = std::numeric_limits<uint64_t>::max();
constexpr size_t remembered_attempts = 16;  // per request

// now + duration, saturating: a huge timeout from an option or a server is "never".
uint64_t later(uint64_t now_ms, uint64_t duration_ms) {
    return duration_ms > max_ms - now_ms ? max_ms : now_ms + duration_ms;
}

// "5s" or "1500ms", for reasons a user reads.
std::string duration_text(uint64_t duration_ms) {
    if (duration_ms % 1000 == 0) return std::to_string(duration_ms / 1000) + "s";
    return std::to_string(duration_ms) + "ms";
}

// "no leader", or "no leader (leader unknown)": an error answer as a user reads it.
std::string error_text(ErrorCode error, const std::string& message) {
    std::string text = session::error_code_name(error);
    std::replace(text.begin(), text.end(), '_', ' ');
    return message.empty() ? text : text + " (" + message + ")";
}

// Errors after which the same request is simply sent again: the node did not take it
// (no_leader, query_error, illegal_member_state, configuration_error) or cannot say what
// became of it (timeout, internal_error, codes this client does not know). A command sent
// again keeps its sequence, so the server's result cache applies it once.
bool retriable(ErrorCode error) {
    switch (error) {
        case ErrorCode::ok:
        case ErrorCode::command_error:
        case ErrorCode::application_error:
        case ErrorCode::unknown_session:
        case ErrorCode::bad_request:
        case ErrorCode::unknown_operation: return false;
        default: return true;
    }
}

// The answer's error, with a successful answer whose body is not the one its request calls
// for taken as an internal error of that attempt (it is retried).
template <typename Body>
ErrorCode checked_error(const Response& response) {
    if (response.error == ErrorCode::ok && !std::holds_alternative<Body>(response.body)) {
        return ErrorCode::internal_error;
    }
    return response.error;
}

std::string checked_message(const Response& response, ErrorCode error) {
    if (error != response.error) return "the answer has the wrong body for its request";
    return response.message;
}

uint64_t at_least_one(uint64_t value) { return std::max<uint64_t>(value, 1); }

SessionCoreOptions normalized(SessionCoreOptions options) {
    COPYCAT_ASSERT(options.request_id_range >= 2,
                   "request_id_range must leave room for at least one request id");
    COPYCAT_ASSERT(options.request_id_range <= max_ms - options.request_id_base,
                   "request_id_base + request_id_range must fit in 64 bits");
    // Every delay is at least 1 ms: a timer never falls due again in the tick that set it.
    options.register_timeout_ms = at_least_one(options.register_timeout_ms);
    options.attempt_timeout_ms = at_least_one(options.attempt_timeout_ms);
    options.operation_timeout_ms = at_least_one(options.operation_timeout_ms);
    options.retry_min_ms = at_least_one(options.retry_min_ms);
    options.retry_max_ms = std::max(options.retry_max_ms, options.retry_min_ms);
    options.event_wait_ms = at_least_one(options.event_wait_ms);
    return options;
}

}  // namespace

const char* session_state_name(SessionState state) {
    switch (state) {
        case SessionState::connecting: return "connecting";
        case SessionState::open: return "open";
        case SessionState::unstable: return "unstable";
        case SessionState::expired: return "expired";
        case SessionState::closed: return "closed";
    }
    return "invalid";
}

// --- timers ----------------------------------------------------------------------------------

void SessionCore::Timers::set(TimerKind kind, uint64_t key, uint64_t at_ms) {
    cancel(kind, key);
    by_key_.emplace(std::make_pair(kind, key), at_ms);
    by_time_.emplace(at_ms, kind, key);
}

void SessionCore::Timers::cancel(TimerKind kind, uint64_t key) {
    const auto found = by_key_.find({kind, key});
    if (found == by_key_.end()) return;
    by_time_.erase({found->second, kind, key});
    by_key_.erase(found);
}

bool SessionCore::Timers::contains(TimerKind kind, uint64_t key) const {
    return by_key_.contains({kind, key});
}

void SessionCore::Timers::clear() {
    by_time_.clear();
    by_key_.clear();
}

std::optional<uint64_t> SessionCore::Timers::next_ms() const {
    if (by_time_.empty()) return std::nullopt;
    return std::get<0>(*by_time_.begin());
}

std::optional<std::pair<SessionCore::TimerKind, uint64_t>> SessionCore::Timers::pop_due(
    uint64_t now_ms) {
    if (by_time_.empty() || std::get<0>(*by_time_.begin()) > now_ms) return std::nullopt;
    const auto [at_ms, kind, key] = *by_time_.begin();
    by_time_.erase(by_time_.begin());
    by_key_.erase({kind, key});
    return std::make_pair(kind, key);
}

// --- entry points ----------------------------------------------------------------------------

SessionCore::SessionCore(SessionCoreOptions options)
    : options_(normalized(std::move(options))), next_request_id_(options_.request_id_base + 1) {}

void SessionCore::open(uint64_t now_ms) {
    if (opened_ || state_ != SessionState::connecting) return;
    opened_ = true;
    start_registration(now_ms);
}

OperationId SessionCore::command(Operation operation, uint64_t now_ms, uint64_t timeout_ms) {
    const OperationId id = add_pending(true);
    if (refuses_operations()) return refuse(id, ErrorCode::unknown_session, "", now_ms);
    if (operation.type.empty()) {
        // An empty type is the no-op (#102): the server would answer it without running it.
        return refuse(id, ErrorCode::bad_request, "an operation needs a type", now_ms);
    }
    timers_.set(TimerKind::operation_timeout, id,
                later(now_ms, timeout_ms != 0 ? timeout_ms : options_.operation_timeout_ms));
    const uint64_t sequence = ++next_sequence_;
    pending_.at(id).sequence = sequence;
    Command& command = commands_[sequence];  // parked until sent
    command.operation = std::move(operation);
    command.owner = id;
    if (can_send_commands()) send_command(sequence, now_ms);
    return id;
}

OperationId SessionCore::query(Operation operation, Consistency consistency, uint64_t now_ms,
                               uint64_t timeout_ms) {
    const OperationId id = add_pending(false);
    if (refuses_operations()) return refuse(id, ErrorCode::unknown_session, "", now_ms);
    timers_.set(TimerKind::operation_timeout, id,
                later(now_ms, timeout_ms != 0 ? timeout_ms : options_.operation_timeout_ms));
    // Read your writes: the server answers once it has applied every command issued before.
    queries_[id] = Query{std::move(operation), consistency, next_sequence_, true, {}};
    if (session_live()) send_query(id, now_ms);
    return id;
}

OperationId SessionCore::add_pending(bool is_command) {
    const OperationId id = next_operation_id_++;
    pending_[id].is_command = is_command;
    return id;
}

// No new operation once the session is closing or over for good.
bool SessionCore::refuses_operations() const {
    return closing_ || state_ == SessionState::closed || state_ == SessionState::expired;
}

// Fails an operation at once (still delivered in submission order). An empty message: why the
// session takes no operations.
OperationId SessionCore::refuse(OperationId id, ErrorCode error, std::string message,
                                uint64_t now_ms) {
    if (message.empty()) {
        message =
            "the session is " + std::string(closing_ ? "closing" : session_state_name(state_));
    }
    complete(id, error, std::move(message));
    drain(now_ms);
    return id;
}

// Registered, not closing: requests of the session may go out.
bool SessionCore::session_live() const {
    return !closing_ && (state_ == SessionState::open || state_ == SessionState::unstable);
}

void SessionCore::receive(const Response& response, uint64_t now_ms) {
    if (!owns(response.request_id)) return;
    const auto found = attempts_.find(response.request_id);
    if (found == attempts_.end()) return;  // an attempt of something done: late or duplicated
    dispatch(found->second, response.request_id, response, now_ms);
}

void SessionCore::dispatch(const AttemptRef& attempt, uint64_t request_id, const Response& response,
                           uint64_t now_ms) {
    switch (attempt.kind) {
        case AttemptKind::register_session: return on_register(request_id, response, now_ms);
        case AttemptKind::keep_alive: return on_keep_alive(request_id, response, now_ms);
        case AttemptKind::unregister: return on_unregister(request_id, response, now_ms);
        case AttemptKind::command: return on_command(request_id, attempt, response, now_ms);
        case AttemptKind::query: return on_query(request_id, attempt.key, response, now_ms);
    }
}

// copycat.md §3.7: a batch chained to the last one received is accepted; one received before
// is dropped; a gap asks the server to resend from what this client has.
void SessionCore::receive(const session::PublishRequest& publish, uint64_t now_ms) {
    if (!session_live() || publish.session != session_) return;
    if (publish.event_index <= event_index_) return;  // a duplicate
    if (publish.previous_index != event_index_) return send_reset(now_ms);
    event_index_ = publish.event_index;
    for (const session::Event& event : publish.events) {
        events_.push_back(EventDelivery{publish.event_index, event});
    }
    drain(now_ms);
}

// The shell talks to another gateway now: what was in flight may be lost with the old one.
// Everything goes again at once, with a keep-alive (the session's liveness, and the commands'
// reset when one is pending) and a ResetRequest (the events after what this client has).
void SessionCore::reconnected(uint64_t now_ms) {
    if (registration_.active) {
        registration_.retry.backoff_ms = 0;
        send_register(now_ms);
    }
    if (unregistration_.active) {
        unregistration_.retry.backoff_ms = 0;
        send_unregister(now_ms);
    }
    if (!session_live()) return;
    keep_alive_.backoff_ms = 0;
    send_keep_alive(now_ms);
    send_reset(now_ms);
    resubmission_backoff_ms_ = 0;
    for (auto& [sequence, command] : commands_) {
        command.retry.backoff_ms = 0;
        // Those parked for a reset wait for its keep-alive's answer; the others go now.
        if (reset_pending_ && !command.parked) send_command(sequence, now_ms);
        if (!reset_pending_) command.parked = true;
    }
    if (!reset_pending_) resubmit(now_ms);
    for (auto& [id, query] : queries_) {
        query.retry.backoff_ms = 0;
        send_query(id, now_ms);
    }
}

void SessionCore::tick(uint64_t now_ms) {
    // Every timer is set at least 1 ms after the call that sets it (later() saturates at
    // max_ms): capping now below max_ms means this loop ends.
    now_ms = std::min(now_ms, max_ms - 1);
    while (const auto due = timers_.pop_due(now_ms)) handle_timer(due->first, due->second, now_ms);
}

void SessionCore::handle_timer(TimerKind kind, uint64_t key, uint64_t now_ms) {
    switch (kind) {
        case TimerKind::register_retry: return register_timer(now_ms);
        case TimerKind::register_give_up:
            return close_for_good("could not register a session within " +
                                      duration_text(options_.register_timeout_ms) + ": " +
                                      registration_.last_failure,
                                  now_ms);
        case TimerKind::keep_alive_due: return keep_alive_due(now_ms);
        case TimerKind::keep_alive_retry: return send_keep_alive(now_ms);
        case TimerKind::keep_alive_overdue: return keep_alive_overdue(now_ms);
        case TimerKind::unregister_retry: return unregister_timer(now_ms);
        case TimerKind::unregister_give_up:
            return close_for_good("could not unregister the session within " +
                                      duration_text(options_.register_timeout_ms) + " (" +
                                      unregistration_.last_failure + "): it will expire",
                                  now_ms);
        case TimerKind::command_retry: return command_timer(key, now_ms);
        case TimerKind::query_retry: return query_timer(key, now_ms);
        case TimerKind::resubmission: return resubmit(now_ms);
        case TimerKind::operation_timeout: return operation_timed_out(key, now_ms);
        case TimerKind::event_wait: return event_wait_over(key, now_ms);
    }
}

std::optional<uint64_t> SessionCore::next_deadline_ms() const { return timers_.next_ms(); }

CoreOutput SessionCore::take_output() { return std::exchange(output_, CoreOutput{}); }

bool SessionCore::owns(uint64_t request_id) const {
    return request_id > options_.request_id_base &&
           request_id - options_.request_id_base < options_.request_id_range;
}

size_t SessionCore::pending() const { return pending_.size(); }

void SessionCore::set_state(SessionState state, std::string reason) {
    if (state == state_) return;
    state_ = state;
    output_.deliveries.push_back(StateChange{state, session_, std::move(reason)});
}

// --- attempts and request ids ----------------------------------------------------------------

// The next id of this core's range not in use, wrapping around at its end.
uint64_t SessionCore::new_request_id(AttemptKind kind, uint64_t key) {
    COPYCAT_ASSERT(attempts_.size() + 1 < options_.request_id_range,
                   "request_id_range is too small for the attempts in flight: widen it");
    const uint64_t first = options_.request_id_base + 1;
    const uint64_t end = options_.request_id_base + options_.request_id_range;
    uint64_t id = next_request_id_;
    while (attempts_.contains(id)) id = id + 1 < end ? id + 1 : first;
    next_request_id_ = id + 1 < end ? id + 1 : first;
    attempts_.emplace(id, AttemptRef{kind, key});
    return id;
}

// A new attempt: a fresh request id, given attempt_timeout_ms to be answered. The answers of
// the last remembered_attempts attempts count; older ones are forgotten, so that a request
// retried through a long outage does not hold ever more ids.
uint64_t SessionCore::start_attempt(Retry& retry, AttemptKind kind, uint64_t key, TimerKind timer,
                                    uint64_t now_ms) {
    if (retry.request_ids.size() >= remembered_attempts) {
        attempts_.erase(retry.request_ids.front());
        retry.request_ids.erase(retry.request_ids.begin());
    }
    retry.request_id = new_request_id(kind, key);
    retry.request_ids.push_back(retry.request_id);
    timers_.set(timer, key, later(now_ms, options_.attempt_timeout_ms));
    return retry.request_id;
}

uint64_t SessionCore::next_backoff_ms(uint64_t backoff_ms) const {
    if (backoff_ms == 0) return options_.retry_min_ms;
    return backoff_ms > options_.retry_max_ms / 2 ? options_.retry_max_ms : backoff_ms * 2;
}

// The attempt failed: the next one after a backoff, doubling from retry_min_ms to retry_max_ms.
void SessionCore::back_off(Retry& retry, TimerKind timer, uint64_t key, uint64_t now_ms) {
    retry.request_id = 0;
    retry.backoff_ms = next_backoff_ms(retry.backoff_ms);
    timers_.set(timer, key, later(now_ms, retry.backoff_ms));
}

// A retry timer fell due. With an attempt in flight, it went unanswered: the connection may be
// gone (the shell hears of it) and the next attempt waits for the backoff; returns false. With
// none, the backoff is over: returns true, and the caller sends again.
bool SessionCore::attempt_timed_out(Retry& retry, TimerKind timer, uint64_t key, uint64_t now_ms) {
    if (retry.request_id == 0) return true;
    output_.connection_suspect = true;
    back_off(retry, timer, key, now_ms);
    return false;
}

void SessionCore::forget_attempts(Retry& retry) {
    for (const uint64_t id : retry.request_ids) attempts_.erase(id);
    retry.request_ids.clear();
    retry.request_id = 0;
}

void SessionCore::send(uint64_t request_id, session::Request request) {
    output_.requests.push_back(Outgoing{request_id, std::move(request)});
}

// --- registration ----------------------------------------------------------------------------

void SessionCore::start_registration(uint64_t now_ms) {
    session_ = 0;
    set_state(SessionState::connecting, "registering a session");
    registration_ = SessionRequest{true, {}, "no answer"};
    if (!options_.retry_registration) {
        timers_.set(TimerKind::register_give_up, 0, later(now_ms, options_.register_timeout_ms));
    }
    send_register(now_ms);
}

void SessionCore::send_register(uint64_t now_ms) {
    const uint64_t id = start_attempt(registration_.retry, AttemptKind::register_session, 0,
                                      TimerKind::register_retry, now_ms);
    send(id, session::RegisterRequest{options_.client_id, options_.session_timeout_ms});
}

void SessionCore::register_timer(uint64_t now_ms) {
    Retry& retry = registration_.retry;
    if (retry.request_id != 0) registration_.last_failure = "no answer";
    if (attempt_timed_out(retry, TimerKind::register_retry, 0, now_ms)) send_register(now_ms);
}

// The first successful answer to any attempt opens the session; the others are forgotten with
// their attempts. (Should another attempt also have been logged, it registered a later session
// of this client id, which expires this one: the client then sees it expire.)
void SessionCore::on_register(uint64_t request_id, const Response& response, uint64_t now_ms) {
    ErrorCode error = checked_error<session::RegisterResponse>(response);
    const auto* body = std::get_if<session::RegisterResponse>(&response.body);
    if (error == ErrorCode::ok && body->session == 0) error = ErrorCode::internal_error;
    if (error == ErrorCode::ok) return session_opened(*body, now_ms);
    if (error == ErrorCode::bad_request) {
        // The options themselves are refused (a client id or timeout out of range).
        return close_for_good(
            "the cluster refused to register a session: " + error_text(error, response.message),
            now_ms);
    }
    if (request_id != registration_.retry.request_id) return;
    registration_.last_failure = error_text(error, checked_message(response, error));
    back_off(registration_.retry, TimerKind::register_retry, 0, now_ms);
}

void SessionCore::session_opened(const session::RegisterResponse& body, uint64_t now_ms) {
    forget_attempts(registration_.retry);
    registration_.active = false;
    timers_.cancel(TimerKind::register_retry, 0);
    timers_.cancel(TimerKind::register_give_up, 0);
    session_ = body.session;
    timeout_ms_ = body.timeout_ms != 0 ? body.timeout_ms : options_.session_timeout_ms;
    // copycat.md §3.5: the session id seeds the event index and the index seen.
    event_index_ = body.session;
    index_seen_ = body.session;
    set_state(SessionState::open, "registered session " + std::to_string(session_));
    timers_.set(TimerKind::keep_alive_due, 0, later(now_ms, keep_alive_interval_ms()));
    resubmit(now_ms);  // the commands submitted meanwhile
    for (auto& [id, query] : queries_) send_query(id, now_ms);
}

// --- keep-alives -----------------------------------------------------------------------------

// Half of the session timeout (a server that named none: 1 s).
uint64_t SessionCore::keep_alive_interval_ms() const {
    return timeout_ms_ == 0 ? 1'000 : at_least_one(timeout_ms_ / 2);
}

// How long a keep-alive may go without a successful answer before the session is UNSTABLE.
uint64_t SessionCore::keep_alive_patience_ms() const {
    return at_least_one(keep_alive_interval_ms() / 2);
}

void SessionCore::keep_alive_due(uint64_t now_ms) {
    timers_.set(TimerKind::keep_alive_due, 0, later(now_ms, keep_alive_interval_ms()));
    // One not yet answered successfully is retried on its own timers.
    if (!keep_alive_active_) send_keep_alive(now_ms);
}

// One keep-alive at a time: a new one replaces the one in flight (whose answer no longer
// counts: a reset must be answered by a keep-alive that carried the sequence). The first of a
// round starts the quarter-timeout within which one must be answered successfully.
void SessionCore::send_keep_alive(uint64_t now_ms) {
    if (!keep_alive_active_) {
        keep_alive_active_ = true;
        timers_.set(TimerKind::keep_alive_overdue, 0, later(now_ms, keep_alive_patience_ms()));
    }
    timers_.cancel(TimerKind::keep_alive_retry, 0);
    forget_attempts(keep_alive_);
    keep_alive_.request_id = new_request_id(AttemptKind::keep_alive, 0);
    keep_alive_.request_ids.push_back(keep_alive_.request_id);
    session::KeepAliveRequest request;
    request.sessions.push_back({session_, answered_through_, event_index_});
    send(keep_alive_.request_id, std::move(request));
}

// copycat.md §3.5: no successful answer within a quarter of the timeout. The session is at
// risk (UNSTABLE), never expired here (#70): only the cluster says it expired.
void SessionCore::keep_alive_overdue(uint64_t now_ms) {
    output_.connection_suspect = true;
    set_state(SessionState::unstable,
              "no keep-alive answered for " + duration_text(keep_alive_patience_ms()));
    timers_.set(TimerKind::keep_alive_overdue, 0, later(now_ms, keep_alive_patience_ms()));
    send_keep_alive(now_ms);
}

void SessionCore::on_keep_alive(uint64_t request_id, const Response& response, uint64_t now_ms) {
    if (request_id != keep_alive_.request_id) return;
    ErrorCode error = checked_error<session::KeepAliveResponse>(response);
    const auto* body = std::get_if<session::KeepAliveResponse>(&response.body);
    if (error == ErrorCode::ok && body->sessions.size() != 1) error = ErrorCode::internal_error;
    if (error == ErrorCode::ok) error = body->sessions.front();
    if (error == ErrorCode::unknown_session) {
        return expire("the cluster no longer knows session " + std::to_string(session_), now_ms);
    }
    if (error != ErrorCode::ok) {
        return back_off(keep_alive_, TimerKind::keep_alive_retry, 0, now_ms);
    }
    forget_attempts(keep_alive_);
    keep_alive_.backoff_ms = 0;
    keep_alive_active_ = false;
    timers_.cancel(TimerKind::keep_alive_overdue, 0);
    session_confirmed();
    if (reset_pending_) {
        // The leader has applied this keep-alive's command sequence: resubmit after it.
        reset_pending_ = false;
        resubmit(now_ms);
    }
}

// A keep-alive or a command was logged and applied: the session lives.
void SessionCore::session_confirmed() {
    if (state_ == SessionState::unstable) set_state(SessionState::open, "the cluster answers");
}

// --- commands --------------------------------------------------------------------------------

// Commands go out once the session is open, unless a resubmission round is pending: a command
// sent past a gap the leader has not filled yet would only be refused with command_error.
bool SessionCore::can_send_commands() const { return session_live() && !resubmission_pending_; }

void SessionCore::send_command(uint64_t sequence, uint64_t now_ms) {
    Command& command = commands_.at(sequence);
    command.parked = false;
    command.no_op_sent = command.operation.type.empty();
    command.sent_serial = ++command_attempts_;
    command.answered_through_at_send = answered_through_;
    const uint64_t id = start_attempt(command.retry, AttemptKind::command, sequence,
                                      TimerKind::command_retry, now_ms);
    attempts_.at(id).no_op = command.no_op_sent;
    send(id, session::CommandRequest{session_, sequence, command.operation});
}

void SessionCore::command_timer(uint64_t sequence, uint64_t now_ms) {
    const auto found = commands_.find(sequence);
    if (found == commands_.end() || found->second.parked) return;
    if (attempt_timed_out(found->second.retry, TimerKind::command_retry, sequence, now_ms)) {
        send_command(sequence, now_ms);
    }
}

// An answer (ok or application_error) to any attempt of a sequence is its answer: the result
// cache gives every attempt the same one. So is a refusal of its operation (bad_request,
// unknown_operation): every attempt carrying it is refused alike. Other errors count only for
// the latest attempt: an earlier one's says nothing of the attempt that replaced it.
void SessionCore::on_command(uint64_t request_id, const AttemptRef& attempt,
                             const Response& response, uint64_t now_ms) {
    const uint64_t sequence = attempt.key;
    const auto found = commands_.find(sequence);
    if (found == commands_.end()) return;
    Command& command = found->second;
    const ErrorCode error = checked_error<OperationResponse>(response);
    const bool latest = request_id == command.retry.request_id;
    switch (error) {
        case ErrorCode::ok:
        case ErrorCode::application_error: return command_answered(found, response, now_ms);
        case ErrorCode::unknown_session:
            return expire("the cluster no longer knows session " + std::to_string(session_),
                          now_ms);
        case ErrorCode::command_error:
            if (latest) on_command_error(sequence, response.last_sequence, now_ms);
            return;
        case ErrorCode::bad_request:
        case ErrorCode::unknown_operation:
            return on_command_refused(found, attempt, response, now_ms);
        default:
            if (latest) back_off(command.retry, TimerKind::command_retry, sequence, now_ms);
            return;
    }
}

void SessionCore::on_command_refused(std::map<uint64_t, Command>::iterator command,
                                     const AttemptRef& attempt, const Response& response,
                                     uint64_t now_ms) {
    // A no-op refused cannot be filled any better: taken as done, never retried.
    if (attempt.no_op) return command_answered(command, response, now_ms);
    if (command->second.no_op_sent) return;  // the no-op that fills it is on its way
    command_refused(command->second, command->first, response, now_ms);
}

void SessionCore::command_answered(std::map<uint64_t, Command>::iterator command,
                                   const Response& response, uint64_t now_ms) {
    const uint64_t sequence = command->first;
    const OperationId owner = command->second.owner;
    forget_attempts(command->second.retry);
    timers_.cancel(TimerKind::command_retry, sequence);
    commands_.erase(command);
    note_answered(sequence);
    resubmission_backoff_ms_ = 0;  // progress
    // The leader took the sequence the refused commands waited for: they go now.
    if (resubmission_pending_ && !reset_pending_ && sequence >= awaited_sequence_) {
        resubmit(now_ms);
    }
    const auto* body = std::get_if<OperationResponse>(&response.body);
    if (body != nullptr) index_seen_ = std::max(index_seen_, body->index);
    session_confirmed();
    if (owner != 0) complete(owner, response.error, response.message, body);
    drain(now_ms);
}

// Refused before it was logged (bad_request, unknown_operation): the user hears why (unless
// it timed out already), and a no-op with the same sequence fills it (#102), or every later
// command would wait behind it.
void SessionCore::command_refused(Command& command, uint64_t sequence, const Response& response,
                                  uint64_t now_ms) {
    if (command.owner != 0) complete(command.owner, response.error, response.message);
    command.owner = 0;
    command.operation = Operation{};
    send_command(sequence, now_ms);
    drain(now_ms);
}

bool SessionCore::answered(uint64_t sequence) const {
    return sequence <= answered_through_ || answered_above_.contains(sequence);
}

// The sequence the keep-alives acknowledge: every answer up to it received, none missing.
void SessionCore::note_answered(uint64_t sequence) {
    if (sequence <= answered_through_) return;
    answered_above_.insert(sequence);
    while (!answered_above_.empty() && *answered_above_.begin() == answered_through_ + 1) {
        answered_above_.erase(answered_above_.begin());
        ++answered_through_;
    }
}

// copycat.md §3.5: the leader refused `sequence` out of order: it has every sequence up to
// last_sequence and waits for the next one (the gap).
//  - If this client already had answers after last_sequence when it sent the refused attempt,
//    the leader forgot them (a new leader): see reset_leader(). (Answers that came after it
//    was sent prove nothing: the refusal may predate them.)
//  - Otherwise the gap's command goes again at once if its latest attempt went out before the
//    refused one (it was lost or overtaken). Every command after the gap whose latest attempt
//    went out before the gap's reaches the leader before it and is refused too: all of them
//    are parked now (their refusals, when they come, no longer count) and go again, in order,
//    once the gap is answered, or after a backoff without it (retry_min_ms, doubling while no
//    command is answered). One round per gap, also under load; Copycat resends every command
//    after the gap at each refusal, which costs the whole window per refusal when the
//    network reorders (session_core_model_test found the storm).
void SessionCore::on_command_error(uint64_t sequence, uint64_t last_sequence, uint64_t now_ms) {
    const Command& refused = commands_.at(sequence);
    if (refused.answered_through_at_send > last_sequence) {
        return reset_leader(last_sequence, now_ms);
    }
    resubmission_pending_ = true;
    const uint64_t refused_serial = refused.sent_serial;
    park(sequence);
    if (reset_pending_) return;      // the reset's answer resubmits
    if (last_sequence < sequence) {  // (else nonsense: it has what it refused)
        const uint64_t gap = last_sequence + 1;
        awaited_sequence_ = std::max(awaited_sequence_, gap);
        const auto command = commands_.find(gap);
        if (command != commands_.end()) {
            if (command->second.parked || command->second.sent_serial < refused_serial) {
                send_command(gap, now_ms);
            }
            park_sent_before(gap, command->second.sent_serial);
        }
    }
    schedule_resubmission(now_ms);
}

// Parks the commands after `gap` in flight since before the attempt of serial `serial`.
void SessionCore::park_sent_before(uint64_t gap, uint64_t serial) {
    for (auto command = commands_.upper_bound(gap); command != commands_.end(); ++command) {
        if (!command->second.parked && command->second.sent_serial < serial) park(command->first);
    }
}

// The leader forgot sequences this client has answers for: a keep-alive carrying the client's
// sequence resets it, and once that is answered every unanswered command after last_sequence
// goes again, in order (until then the leader would refuse them all).
void SessionCore::reset_leader(uint64_t last_sequence, uint64_t now_ms) {
    for (auto command = commands_.upper_bound(last_sequence); command != commands_.end();
         ++command) {
        park(command->first);
    }
    resubmission_pending_ = true;
    reset_pending_ = true;
    timers_.cancel(TimerKind::resubmission, 0);
    send_keep_alive(now_ms);
}

// Held for the next resubmission round. Answers to its attempts still count; refusals no
// longer do (they refused what the round sends again).
void SessionCore::park(uint64_t sequence) {
    Command& command = commands_.at(sequence);
    command.parked = true;
    command.retry.request_id = 0;
    timers_.cancel(TimerKind::command_retry, sequence);
}

// The fallback when the gap is not answered: a round after a backoff that doubles while no
// command is answered, so that a leader that keeps refusing is not flooded.
void SessionCore::schedule_resubmission(uint64_t now_ms) {
    if (reset_pending_ || timers_.contains(TimerKind::resubmission, 0)) return;
    resubmission_backoff_ms_ = next_backoff_ms(resubmission_backoff_ms_);
    timers_.set(TimerKind::resubmission, 0, later(now_ms, resubmission_backoff_ms_));
}

// Sends every unanswered command from the first parked one on, in sequence order: one still
// in flight after it went out before the round and would reach the leader first, out of order.
void SessionCore::resubmit(uint64_t now_ms) {
    timers_.cancel(TimerKind::resubmission, 0);
    resubmission_pending_ = false;
    awaited_sequence_ = 0;
    if (!session_live()) return;
    auto command = commands_.begin();
    while (command != commands_.end() && !command->second.parked) ++command;
    for (; command != commands_.end(); ++command) send_command(command->first, now_ms);
}

// --- queries ---------------------------------------------------------------------------------

void SessionCore::send_query(OperationId id, uint64_t now_ms) {
    Query& query = queries_.at(id);
    query.parked = false;
    const uint64_t request_id =
        start_attempt(query.retry, AttemptKind::query, id, TimerKind::query_retry, now_ms);
    // Monotonic reads: never an index older than one this session has seen.
    send(request_id, session::QueryRequest{session_, query.sequence, index_seen_, query.consistency,
                                           query.operation});
}

void SessionCore::query_timer(OperationId id, uint64_t now_ms) {
    const auto found = queries_.find(id);
    if (found == queries_.end() || found->second.parked) return;
    if (attempt_timed_out(found->second.retry, TimerKind::query_retry, id, now_ms)) {
        send_query(id, now_ms);
    }
}

void SessionCore::on_query(uint64_t request_id, OperationId id, const Response& response,
                           uint64_t now_ms) {
    const auto found = queries_.find(id);
    if (found == queries_.end()) return;
    const ErrorCode error = checked_error<OperationResponse>(response);
    if (error == ErrorCode::unknown_session) {
        return expire("the cluster no longer knows session " + std::to_string(session_), now_ms);
    }
    if (retriable(error)) {
        if (request_id == found->second.retry.request_id) {
            back_off(found->second.retry, TimerKind::query_retry, id, now_ms);
        }
        return;
    }
    const auto* body = std::get_if<OperationResponse>(&response.body);
    if (body != nullptr) index_seen_ = std::max(index_seen_, body->index);
    forget_query(id);
    complete(id, error, response.message, body);
    drain(now_ms);
}

void SessionCore::forget_query(OperationId id) {
    const auto found = queries_.find(id);
    if (found == queries_.end()) return;
    forget_attempts(found->second.retry);
    timers_.cancel(TimerKind::query_retry, id);
    queries_.erase(found);
}

// --- results and events, in order ------------------------------------------------------------

void SessionCore::complete(OperationId id, ErrorCode error, std::string message,
                           const OperationResponse* body) {
    const auto found = pending_.find(id);
    if (found == pending_.end() || found->second.result) return;
    OperationResult result;
    result.id = id;
    result.error = error;
    result.message = std::move(message);
    if (body != nullptr) {
        result.index = body->index;
        result.value = body->value;
        found->second.event_index = body->event_index;
    }
    found->second.result = std::move(result);
    timers_.cancel(TimerKind::operation_timeout, id);
}

// The user stops waiting. A command's sequence is still filled, by a no-op, at its next
// attempt (#102); the outcome is unknown: the command itself may yet be applied (then the
// no-op is answered from the result cache, and applies nothing).
void SessionCore::operation_timed_out(OperationId id, uint64_t now_ms) {
    const auto found = pending_.find(id);
    if (found == pending_.end() || found->second.result) return;
    if (!found->second.is_command) {
        forget_query(id);
        complete(id, ErrorCode::timeout, "the query was not answered in time");
        return drain(now_ms);
    }
    if (const auto command = commands_.find(found->second.sequence); command != commands_.end()) {
        command->second.owner = 0;
        command->second.operation = Operation{};
    }
    complete(id, ErrorCode::timeout,
             "the command was not answered in time: it may or may not have been applied");
    drain(now_ms);
}

// copycat.md §3.6: results go out in submission order, each after the events its answer's
// event index covers. Iterative: a flood of answers never recurses (#256).
void SessionCore::drain(uint64_t now_ms, bool force) {
    while (!pending_.empty()) {
        const auto front = pending_.begin();
        Pending& pending = front->second;
        if (!pending.result) break;
        if (pending.event_index) {
            deliver_events_through(*pending.event_index);
            if (!force && waits_for_events(front->first, pending, now_ms)) break;
        }
        timers_.cancel(TimerKind::event_wait, front->first);
        output_.deliveries.push_back(std::move(*pending.result));
        pending_.erase(front);
    }
    // Nothing outstanding: events are delivered as they come.
    if (pending_.empty()) deliver_events_through(std::numeric_limits<Index>::max());
}

// A result whose answer saw events this client has not received waits for them: they were
// published before the operation and are on their way (or resent after a keep-alive). The
// wait is bounded (#293): after event_wait_ms a ResetRequest asks for them again, and after
// as long again the result goes out without them; they follow it when they come.
bool SessionCore::waits_for_events(OperationId id, Pending& pending, uint64_t now_ms) {
    if (event_index_ >= *pending.event_index || pending.event_wait == EventWait::waived) {
        return false;
    }
    if (pending.event_wait == EventWait::none) {
        pending.event_wait = EventWait::waiting;
        timers_.set(TimerKind::event_wait, id, later(now_ms, options_.event_wait_ms));
    }
    return true;
}

void SessionCore::event_wait_over(OperationId id, uint64_t now_ms) {
    const auto found = pending_.find(id);
    if (found == pending_.end()) return;
    Pending& pending = found->second;
    if (pending.event_wait == EventWait::waiting && session_live()) {
        pending.event_wait = EventWait::reset_sent;
        last_reset_ms_.reset();  // this one goes out whatever the rate limit
        send_reset(now_ms);
        timers_.set(TimerKind::event_wait, id, later(now_ms, options_.event_wait_ms));
        return;
    }
    pending.event_wait = EventWait::waived;
    drain(now_ms);
}

void SessionCore::deliver_events_through(Index index) {
    while (!events_.empty() && events_.front().event_index <= index) {
        output_.deliveries.push_back(std::move(events_.front()));
        events_.pop_front();
    }
}

// One-way: the server resends every batch after event_index_. At most one per event index per
// retry_max_ms: batches that arrive past a gap would otherwise each ask for the same resend,
// and each resend brings them all again (copycat #235).
void SessionCore::send_reset(uint64_t now_ms) {
    if (last_reset_ms_ && last_reset_index_ == event_index_ &&
        now_ms < later(*last_reset_ms_, options_.retry_max_ms)) {
        return;
    }
    last_reset_index_ = event_index_;
    last_reset_ms_ = now_ms;
    send(0, session::ResetRequest{session_, event_index_});
}

// --- the end of a session --------------------------------------------------------------------

// Every operation not answered yet fails; those answered are delivered with their results,
// and the events received with them.
void SessionCore::fail_unanswered(const std::string& message, uint64_t now_ms) {
    for (auto& [id, pending] : pending_) {
        if (!pending.result) complete(id, ErrorCode::unknown_session, message);
    }
    forget_session_requests();
    drain(now_ms, true);
}

// Forgets the session's commands, queries and keep-alives, their attempts and their timers.
void SessionCore::forget_session_requests() {
    for (auto& [sequence, command] : commands_) {
        forget_attempts(command.retry);
        timers_.cancel(TimerKind::command_retry, sequence);
    }
    commands_.clear();
    for (auto& [id, query] : queries_) {
        forget_attempts(query.retry);
        timers_.cancel(TimerKind::query_retry, id);
    }
    queries_.clear();
    forget_attempts(keep_alive_);
    keep_alive_ = Retry{};
    keep_alive_active_ = false;
    for (const TimerKind kind : {TimerKind::keep_alive_due, TimerKind::keep_alive_retry,
                                 TimerKind::keep_alive_overdue, TimerKind::resubmission}) {
        timers_.cancel(kind, 0);
    }
    next_sequence_ = 0;
    answered_through_ = 0;
    answered_above_.clear();
    resubmission_pending_ = false;
    awaited_sequence_ = 0;
    reset_pending_ = false;
    resubmission_backoff_ms_ = 0;
}

// The cluster says the session is gone (copycat.md §3.5): what was pending fails (a command
// may or may not have been applied before). With recover, a new session is registered; the
// operations of the old one are not carried over (linearizability does not span sessions).
void SessionCore::expire(std::string reason, uint64_t now_ms) {
    if (closing_) return close_for_good("closed: the session had already ended", now_ms);
    set_state(SessionState::expired, std::move(reason));
    fail_unanswered("session " + std::to_string(session_) + " expired", now_ms);
    if (options_.recover) start_registration(now_ms);
}

void SessionCore::close(uint64_t now_ms) {
    if (closing_ || state_ == SessionState::closed) return;
    if (!session_live()) return close_for_good("closed", now_ms);
    closing_ = true;
    fail_unanswered("session closed", now_ms);
    unregistration_ = SessionRequest{true, {}, "no answer"};
    timers_.set(TimerKind::unregister_give_up, 0, later(now_ms, options_.register_timeout_ms));
    send_unregister(now_ms);
}

void SessionCore::send_unregister(uint64_t now_ms) {
    const uint64_t id = start_attempt(unregistration_.retry, AttemptKind::unregister, 0,
                                      TimerKind::unregister_retry, now_ms);
    send(id, session::UnregisterRequest{session_});
}

void SessionCore::unregister_timer(uint64_t now_ms) {
    Retry& retry = unregistration_.retry;
    if (retry.request_id != 0) unregistration_.last_failure = "no answer";
    if (attempt_timed_out(retry, TimerKind::unregister_retry, 0, now_ms)) send_unregister(now_ms);
}

void SessionCore::on_unregister(uint64_t request_id, const Response& response, uint64_t now_ms) {
    const ErrorCode error = checked_error<session::UnregisterResponse>(response);
    if (error == ErrorCode::ok) return close_for_good("closed", now_ms);
    if (error == ErrorCode::unknown_session) {
        return close_for_good("closed: the session had already ended", now_ms);
    }
    if (request_id != unregistration_.retry.request_id) return;
    unregistration_.last_failure = error_text(error, checked_message(response, error));
    back_off(unregistration_.retry, TimerKind::unregister_retry, 0, now_ms);
}

// CLOSED: nothing more is sent, no timer runs (copycat #336); operations still pending fail.
void SessionCore::close_for_good(std::string reason, uint64_t now_ms) {
    fail_unanswered(reason, now_ms);  // and the events received with them
    forget_attempts(registration_.retry);
    forget_attempts(unregistration_.retry);
    registration_.active = false;
    unregistration_.active = false;
    closing_ = false;
    timers_.clear();
    attempts_.clear();
    set_state(SessionState::closed, std::move(reason));
}

}  // namespace copycat::client
