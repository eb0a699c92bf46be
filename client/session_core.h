// SessionCore: one client session's protocol (copycat.md §3.5–3.7) as a pure object: no
// sockets, no clock, no threads. The client library's shell (client/client.h) feeds it the
// user's operations, the gateway's answers and publishes, and the time; it returns the requests
// to send and what to deliver to the application, in the order the application must see it.
// After every call the shell takes the output (take_output()) and calls tick() again at
// next_deadline_ms(). Single-threaded: one caller at a time.
//
// What it does:
//  - registration: RegisterRequest{client id, timeout}; answered, the session is OPEN, the
//    session id seeds the event index and the index seen. Unanswered (no answer, no_leader or
//    timeout answers, retried with backoff) for register_timeout_ms: CLOSED with a reason
//    ("could not register a session within 5s: no leader"), unless retry_registration (then
//    it keeps trying); bad_request (options refused) closes at once. Operations submitted
//    meanwhile wait and go out once it is open (their timeouts run);
//  - keep-alives every half of the session timeout, carrying the highest command sequence
//    answered without a gap below it and the event index received in order. One not answered
//    successfully within a quarter of the timeout is sent again at once and makes the session
//    UNSTABLE; a successful keep-alive or command answer makes it OPEN again; unknown_session
//    makes it EXPIRED. no_leader never expires a session here (#70);
//  - commands: sequence numbers 1, 2, 3, ... in submission order, many in flight. An attempt
//    unanswered within attempt_timeout_ms (which also sets connection_suspect), or answered
//    no_leader / timeout / another error that says "not now", is sent again with the SAME
//    sequence (the server's result cache applies it once) after a backoff (retry_min_ms
//    doubling up to retry_max_ms). An answer to any attempt of a sequence is its answer;
//  - command_error (copycat.md §3.5): if the client had answers after last_sequence when it
//    sent the refused attempt, the leader forgot them: a keep-alive carrying the client's
//    sequence resets it, and every unanswered command after last_sequence goes again, in
//    order, once it is answered. Otherwise the gap (last_sequence + 1) went missing: it goes
//    again at once, and the commands sent before it wait and go again, in order, once it is
//    answered (or after a backoff). One round per gap: see on_command_error() in the .cc;
//  - no-op filling (#102): a command refused without being logged (bad_request,
//    unknown_operation) is delivered with that error, and one whose operation timed out is
//    delivered as ErrorCode::timeout (outcome unknown); either way its sequence is then filled
//    by a no-op CommandRequest (empty operation type) with the SAME sequence, retried until
//    answered, so that later commands are not held up. (If the original was applied after
//    all, the no-op is answered from the result cache and applies nothing: the sequence is
//    consumed once either way.) Nobody waits for a no-op's answer;
//  - queries: sequence = the last command sequence issued before it (read your writes),
//    index = the highest index seen (monotonic reads, raised by every answer); retried on
//    no_leader, query_error, timeout and unanswered attempts until the operation's timeout;
//    refusals of the state machine are delivered;
//  - ordered completion: results are delivered in submission order (commands and queries
//    share it), each exactly once (duplicated or late answers are dropped, #334); a flood of
//    answers is delivered by a loop, never by recursion (#256);
//  - events (§3.6-3.7): a batch whose previous_index is the local event index is accepted;
//    one already received is dropped; a gap sends ResetRequest{session, local event index}
//    (at most one per index per retry_max_ms, #235) and drops the batch. Each result waits
//    for the events its answer's event_index covers and goes out after them; events with
//    nothing outstanding go out at once, and events past the results in hand wait for the
//    next result that covers them (or for nothing to be outstanding). A result whose events
//    do not come waits event_wait_ms, then a ResetRequest asks for them again, and after
//    event_wait_ms more it goes out without them; they follow it when they come (#293: a
//    lost event never blocks results for good, and no event is dropped);
//  - reconnected(): the shell now talks to another gateway: everything in flight is sent again
//    (same sequences), with a keep-alive and a ResetRequest so that events are resent;
//  - expiry (unknown_session on any request): EXPIRED, every pending operation fails with
//    unknown_session (results already answered are still delivered); with recover, a new
//    session is registered (linearizability does not carry across sessions: the application
//    is told by the state changes, expired then connecting then open);
//  - close(): pending operations fail ("session closed"), UnregisterRequest is sent (retried
//    until answered ok or unknown_session, or register_timeout_ms passes); CLOSED either way,
//    and from then on nothing is sent and no timer runs (#336).
//
// Request ids are request_id_base + 1, + 2, ... below base + range, wrapping around past
// those still in use: a shell hosting many sessions on one socket gives each a disjoint range
// and routes answers by it (owns()). ResetRequests, one-way, carry request id 0. Answers that
// do not fit their request (a wrong body, an empty keep-alive answer) count as internal_error
// for that attempt and are retried.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "consensus/session/protocol.h"

namespace copycat::client {

using session::Bytes;
using session::Consistency;
using session::ErrorCode;
using session::Index;
using session::Operation;
using session::SessionId;

enum class SessionState : uint8_t { connecting, open, unstable, expired, closed };
const char* session_state_name(SessionState state);

struct SessionCoreOptions {
    std::string client_id;
    uint64_t session_timeout_ms = 0;        // asked of the server; 0: its default
    uint64_t register_timeout_ms = 5'000;   // give up registering (or unregistering) after this
    bool retry_registration = false;        // keep trying to register past register_timeout_ms
    bool recover = false;                   // on expiry, register a new session
    uint64_t attempt_timeout_ms = 3'000;    // an unanswered request is sent again after this
    uint64_t operation_timeout_ms = 5'000;  // an operation's default timeout
    uint64_t retry_min_ms = 20;             // backoff after a no_leader / timeout answer,
    uint64_t retry_max_ms = 1'000;          // doubling from min to max
    uint64_t request_id_base = 0;           // request ids are base + 1, base + 2, ...
    uint64_t request_id_range = uint64_t{1} << 40;  // ...and stay below base + range
    // A result whose events have not all arrived waits this long for them, then a ResetRequest
    // asks for them again, and after as long again it is delivered anyway (#293).
    uint64_t event_wait_ms = 1'000;
};

using OperationId = uint64_t;  // 1, 2, 3, ... per core, in submission order

struct OperationResult {
    OperationId id = 0;
    ErrorCode error = ErrorCode::ok;
    std::string message;  // for errors: what went wrong
    Index index = 0;      // command: its log index; query: the index it read at
    Bytes value;          // the state machine's output
};

struct EventDelivery {
    Index event_index = 0;  // the index of the entry that published it
    session::Event event;
};

struct StateChange {
    SessionState state = SessionState::connecting;
    SessionId session = 0;
    std::string reason;
};

// What the application sees, in the order it must see it.
using Delivery = std::variant<OperationResult, EventDelivery, StateChange>;

struct Outgoing {
    uint64_t request_id = 0;  // 0 for a ResetRequest (one-way)
    session::Request request;
};

struct CoreOutput {
    std::vector<Outgoing> requests;    // to the gateway, in this order
    std::vector<Delivery> deliveries;  // to the application, in this order
    // An attempt went unanswered for attempt_timeout_ms since the last call: the gateway may
    // be gone; a shell with other gateways may switch (then calls reconnected()).
    bool connection_suspect = false;
    bool empty() const { return requests.empty() && deliveries.empty() && !connection_suspect; }
};

class SessionCore {
public:
    explicit SessionCore(SessionCoreOptions options);

    // Starts registering. Operations submitted before the session opens wait for it.
    void open(uint64_t now_ms);
    // timeout_ms 0: options.operation_timeout_ms.
    OperationId command(Operation operation, uint64_t now_ms, uint64_t timeout_ms = 0);
    OperationId query(Operation operation, Consistency consistency, uint64_t now_ms,
                      uint64_t timeout_ms = 0);
    void close(uint64_t now_ms);

    // An answer to one of this core's requests (owns(response.request_id)); others are ignored.
    void receive(const session::Response& response, uint64_t now_ms);
    // A publish; one for another session is ignored.
    void receive(const session::PublishRequest& publish, uint64_t now_ms);
    void reconnected(uint64_t now_ms);
    // Runs timers due by now_ms (retries, keep-alives, timeouts).
    void tick(uint64_t now_ms);
    // When tick() next has something to do.
    std::optional<uint64_t> next_deadline_ms() const;
    CoreOutput take_output();

    bool owns(uint64_t request_id) const;
    SessionState state() const { return state_; }
    SessionId session() const { return session_; }
    uint64_t timeout_ms() const { return timeout_ms_; }
    size_t pending() const;  // operations not yet delivered

private:
    enum class AttemptKind : uint8_t { register_session, keep_alive, unregister, command, query };
    // What an attempt's request id stands for, until its request is done.
    struct AttemptRef {
        AttemptKind kind = AttemptKind::command;
        uint64_t key = 0;    // command: its sequence; query: its operation id; otherwise 0
        bool no_op = false;  // a command's attempt that carried the no-op
    };

    enum class TimerKind : uint8_t {
        register_retry,      // an attempt unanswered in time, or the backoff after a refusal
        register_give_up,    // register_timeout_ms since registering began
        keep_alive_due,      // every half of the session timeout
        keep_alive_retry,    // the backoff after a refused keep-alive
        keep_alive_overdue,  // a quarter of the timeout without a successful answer
        unregister_retry,
        unregister_give_up,
        command_retry,      // by sequence
        query_retry,        // by operation id
        resubmission,       // the backoff between command_error resubmissions
        operation_timeout,  // by operation id
        event_wait,         // by operation id: its result waits for events
    };

    // Deadlines, at most one per (kind, key), earliest first.
    class Timers {
    public:
        void set(TimerKind kind, uint64_t key, uint64_t at_ms);
        void cancel(TimerKind kind, uint64_t key);
        bool contains(TimerKind kind, uint64_t key) const;
        void clear();
        std::optional<uint64_t> next_ms() const;
        // Removes and returns the earliest timer due by now_ms.
        std::optional<std::pair<TimerKind, uint64_t>> pop_due(uint64_t now_ms);

    private:
        std::set<std::tuple<uint64_t, TimerKind, uint64_t>> by_time_;
        std::map<std::pair<TimerKind, uint64_t>, uint64_t> by_key_;
    };

    // A request sent until it is answered: the attempt in flight and the backoff.
    struct Retry {
        uint64_t request_id = 0;  // the attempt in flight; 0: none (backing off, or parked)
        uint64_t backoff_ms = 0;  // the last backoff: doubles with each failed attempt
        std::vector<uint64_t> request_ids;  // the last attempts: a late answer still counts
    };

    // A command sequence not yet answered.
    struct Command {
        Operation operation;    // an empty type is the no-op that fills the sequence (#102)
        OperationId owner = 0;  // the operation waiting for it; 0: nobody (a no-op)
        // Waiting for the session to open or for a resubmission round, not for a timer.
        bool parked = true;
        bool no_op_sent = false;   // the latest attempt carried the no-op
        uint64_t sent_serial = 0;  // when its latest attempt went out, among commands' attempts
        uint64_t answered_through_at_send = 0;  // the client's answers then
        Retry retry;
    };

    struct Query {
        Operation operation;
        Consistency consistency = Consistency::linearizable;
        uint64_t sequence = 0;  // the last command sequence issued before it
        bool parked = true;     // waiting for the session to open
        Retry retry;
    };

    enum class EventWait : uint8_t { none, waiting, reset_sent, waived };

    // A user operation, from submission until its result is delivered (in submission order).
    struct Pending {
        bool is_command = false;
        uint64_t sequence = 0;  // a command's
        std::optional<OperationResult> result;
        std::optional<Index> event_index;  // of its answer: events up to here go first
        EventWait event_wait = EventWait::none;
    };

    // Registering or unregistering the session.
    struct SessionRequest {
        bool active = false;
        Retry retry;
        std::string last_failure;  // for the reason given when it gives up
    };

    // entry points' helpers
    OperationId add_pending(bool is_command);
    bool refuses_operations() const;
    OperationId refuse(OperationId id, ErrorCode error, std::string message, uint64_t now_ms);
    bool session_live() const;
    void handle_timer(TimerKind kind, uint64_t key, uint64_t now_ms);
    void dispatch(const AttemptRef& attempt, uint64_t request_id, const session::Response& response,
                  uint64_t now_ms);
    void set_state(SessionState state, std::string reason);

    // attempts and request ids
    uint64_t new_request_id(AttemptKind kind, uint64_t key);
    uint64_t start_attempt(Retry& retry, AttemptKind kind, uint64_t key, TimerKind timer,
                           uint64_t now_ms);
    uint64_t next_backoff_ms(uint64_t backoff_ms) const;
    void back_off(Retry& retry, TimerKind timer, uint64_t key, uint64_t now_ms);
    bool attempt_timed_out(Retry& retry, TimerKind timer, uint64_t key, uint64_t now_ms);
    void forget_attempts(Retry& retry);
    void send(uint64_t request_id, session::Request request);

    // registration
    void start_registration(uint64_t now_ms);
    void send_register(uint64_t now_ms);
    void on_register(uint64_t request_id, const session::Response& response, uint64_t now_ms);
    void register_timer(uint64_t now_ms);
    void session_opened(const session::RegisterResponse& body, uint64_t now_ms);

    // keep-alives
    uint64_t keep_alive_interval_ms() const;
    uint64_t keep_alive_patience_ms() const;
    void keep_alive_due(uint64_t now_ms);
    void send_keep_alive(uint64_t now_ms);
    void keep_alive_overdue(uint64_t now_ms);
    void on_keep_alive(uint64_t request_id, const session::Response& response, uint64_t now_ms);
    void session_confirmed();

    // commands
    bool can_send_commands() const;
    void send_command(uint64_t sequence, uint64_t now_ms);
    void on_command(uint64_t request_id, const AttemptRef& attempt,
                    const session::Response& response, uint64_t now_ms);
    void on_command_refused(std::map<uint64_t, Command>::iterator command,
                            const AttemptRef& attempt, const session::Response& response,
                            uint64_t now_ms);
    void command_answered(std::map<uint64_t, Command>::iterator command,
                          const session::Response& response, uint64_t now_ms);
    void command_refused(Command& command, uint64_t sequence, const session::Response& response,
                         uint64_t now_ms);
    void command_timer(uint64_t sequence, uint64_t now_ms);
    void note_answered(uint64_t sequence);
    bool answered(uint64_t sequence) const;
    void on_command_error(uint64_t sequence, uint64_t last_sequence, uint64_t now_ms);
    void reset_leader(uint64_t last_sequence, uint64_t now_ms);
    void park(uint64_t sequence);
    void park_sent_before(uint64_t gap, uint64_t serial);
    void schedule_resubmission(uint64_t now_ms);
    void resubmit(uint64_t now_ms);

    // queries
    void send_query(OperationId id, uint64_t now_ms);
    void on_query(uint64_t request_id, OperationId id, const session::Response& response,
                  uint64_t now_ms);
    void query_timer(OperationId id, uint64_t now_ms);
    void forget_query(OperationId id);

    // results and events, in order
    void complete(OperationId id, ErrorCode error, std::string message,
                  const session::OperationResponse* body = nullptr);
    void operation_timed_out(OperationId id, uint64_t now_ms);
    void drain(uint64_t now_ms, bool force = false);
    bool waits_for_events(OperationId id, Pending& pending, uint64_t now_ms);
    void event_wait_over(OperationId id, uint64_t now_ms);
    void deliver_events_through(Index index);
    void send_reset(uint64_t now_ms);

    // the end of a session
    void fail_unanswered(const std::string& message, uint64_t now_ms);
    void forget_session_requests();
    void expire(std::string reason, uint64_t now_ms);
    void send_unregister(uint64_t now_ms);
    void on_unregister(uint64_t request_id, const session::Response& response, uint64_t now_ms);
    void unregister_timer(uint64_t now_ms);
    void close_for_good(std::string reason, uint64_t now_ms);

    SessionCoreOptions options_;
    SessionState state_ = SessionState::connecting;
    SessionId session_ = 0;
    uint64_t timeout_ms_ = 0;
    bool opened_ = false;   // open() was called
    bool closing_ = false;  // close() was called: unregistering
    CoreOutput output_;
    Timers timers_;

    uint64_t next_request_id_ = 0;
    std::map<uint64_t, AttemptRef> attempts_;  // by request id
    SessionRequest registration_;
    SessionRequest unregistration_;

    // keep-alives
    bool keep_alive_active_ = false;  // sent, not yet answered successfully
    Retry keep_alive_;

    // commands
    uint64_t next_sequence_ = 0;            // the last command sequence issued
    uint64_t answered_through_ = 0;         // every sequence up to here answered
    std::set<uint64_t> answered_above_;     // answered past a gap
    std::map<uint64_t, Command> commands_;  // unanswered, by sequence
    uint64_t command_attempts_ = 0;         // commands' attempts sent: their serials
    bool resubmission_pending_ = false;     // parked commands wait for a resubmission round
    uint64_t awaited_sequence_ = 0;         // ...which goes once this one is answered
    bool reset_pending_ = false;  // ...which waits for a keep-alive that resets the leader
    uint64_t resubmission_backoff_ms_ = 0;

    // queries and results
    Index index_seen_ = 0;
    OperationId next_operation_id_ = 1;
    std::map<OperationId, Query> queries_;    // unanswered
    std::map<OperationId, Pending> pending_;  // not yet delivered, in submission order

    // events
    Index event_index_ = 0;             // received in order (the chain of previous indexes)
    std::deque<EventDelivery> events_;  // received, not yet delivered
    Index last_reset_index_ = 0;        // the last ResetRequest sent, and when
    std::optional<uint64_t> last_reset_ms_;
};

}  // namespace copycat::client
