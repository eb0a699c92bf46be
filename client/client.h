// The C++ client library: sessions on a copycat cluster through its gateways.
//
//   copycat::client::ClientOptions options;          // endpoints default to tcp://127.0.0.1:7000
//   auto client = copycat::client::Client::connect(options);   // registers a session
//   if (!client.is_ok()) { ... client.status() says why ... }
//   auto put = (*client)->command(resources::MapPut{"default", "k", to_bytes("v")}).get();
//   auto got = (*client)->query(resources::MapGet{"default", "k"},
//                               Consistency::linearizable).get();
//
// A Client is one session (client/session_core.h has its protocol). Its I/O runs on a
// Runtime: one thread and one ZeroMQ DEALER to one gateway at a time. Client::connect makes a
// runtime of its own; many clients may share one (copycat-bench runs 64 sessions on one).
//
// Threads: every method may be called from any thread. Callbacks (operation callbacks, event
// handlers, state listeners) run on the runtime's thread, in the order the session protocol
// delivers them: results in submission order, each event before the result of the operation
// that follows it. A callback must not wait for anything of its own runtime: connect(),
// close() and Runtime::admin() called on the runtime's thread return an error instead of
// deadlocking, but a future's get() there would wait forever. Submitting from a callback is
// fine (copycat-bench keeps its sessions busy that way).
//
// Gateways: the runtime talks to one gateway; when it is unreachable (a send finds no
// connection) or an attempt goes unanswered, it moves to the next (selection any: a shuffled
// order; ordered: as given) and every session carries on there with its state: same session,
// same sequences, events resent.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/session_core.h"
#include "common/curve.h"
#include "common/status.h"
#include "consensus/session/protocol.h"
#include "consensus/statemachine/operation.h"

namespace copycat::client {

// Which gateway to try first, and next (copycat.md §3.3's server selection, for gateways).
enum class GatewaySelection : uint8_t { any, ordered };  // any: a shuffled order
// Registering a session (copycat.md §3.3's connection strategy): once gives up after the dial
// timeout; retry keeps trying, backing off.
enum class ConnectionStrategy : uint8_t { once, retry };
// A session that expired (copycat.md §3.3's recovery strategy): close leaves it closed (every
// later operation fails); recover registers a new session and carries on. Linearizability does
// not carry across sessions: the state listener is told of both changes.
enum class RecoveryStrategy : uint8_t { close, recover };

struct ClientOptions {
    std::vector<std::string> endpoints{"tcp://127.0.0.1:7000"};  // gateways
    std::string client_id;                                       // empty: a random one
    std::chrono::milliseconds session_timeout{0};                // 0: the cluster's default
    // Registering a session (and an admin call) gives up after this: "cannot reach ...".
    std::chrono::milliseconds dial_timeout{5'000};
    std::chrono::milliseconds command_timeout{5'000};  // an operation's default timeout
    std::chrono::milliseconds attempt_timeout{3'000};  // resend an unanswered request
    GatewaySelection selection = GatewaySelection::any;
    ConnectionStrategy connection = ConnectionStrategy::once;
    RecoveryStrategy recovery = RecoveryStrategy::close;
    // CURVE (common/curve.h): this client's key pair and the gateways' public key (every
    // gateway of a cluster shares one). Off when unset.
    std::optional<CurveClient> curve;
};

// The outcome of an operation: the state machine's output, or an error (for commands,
// ErrorCode::timeout means the outcome is unknown).
struct Reply {
    ErrorCode error = ErrorCode::ok;
    std::string message;
    Index index = 0;
    Bytes value;
    bool ok() const { return error == ErrorCode::ok; }
    Status status() const;  // ok, or the error as a Status
};

class Runtime;

class Client {
public:
    using Callback = std::function<void(Reply)>;
    using EventHandler = std::function<void(const session::Event& event, Index event_index)>;
    using StateListener = std::function<void(SessionState state, const std::string& reason)>;

    // Registers a session through a runtime of its own; blocks until it is open, or fails:
    // StatusCode::unavailable when no gateway answered anything within the dial timeout,
    // StatusCode::timeout when a gateway answered but no session opened (no leader, say).
    static Result<std::unique_ptr<Client>> connect(ClientOptions options);
    // The same on a shared runtime (its endpoints and timeouts are the runtime's).
    static Result<std::unique_ptr<Client>> connect(std::shared_ptr<Runtime> runtime);
    // Closes the session (close()) if still open.
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Asynchronous: the callback runs once on the runtime's thread. timeout 0: the default.
    void submit_command(Operation operation, Callback callback,
                        std::chrono::milliseconds timeout = {});
    void submit_query(Operation operation, Consistency consistency, Callback callback,
                      std::chrono::milliseconds timeout = {});
    std::future<Reply> command(Operation operation, std::chrono::milliseconds timeout = {});
    std::future<Reply> query(Operation operation, Consistency consistency,
                             std::chrono::milliseconds timeout = {});

    // Typed operations (consensus/statemachine/resources/ops.h, or your own).
    template <statemachine::CommandType Op>
    std::future<Result<typename Op::Output>> command(const Op& op,
                                                     std::chrono::milliseconds timeout = {});
    template <statemachine::QueryType Op>
    std::future<Result<typename Op::Output>> query(const Op& op, Consistency consistency,
                                                   std::chrono::milliseconds timeout = {});

    // Events published to this session under `name` (state machines choose names:
    // "map.changed", "lock.acquired", ...). A session only gets events because of its own
    // operations (a watch, a lock request): add the handler before those. Events with no
    // handler are dropped. Returns an id for remove_event_handler.
    uint64_t on_event(std::string name, EventHandler handler);
    // Called from the runtime's thread (a callback), the handler never runs again once this
    // returns; from another thread it may still run once, if a delivery is under way.
    void remove_event_handler(uint64_t id);
    // State changes (unstable, open again, expired, closed). Returns an id for
    // remove_state_listener, which behaves as remove_event_handler.
    uint64_t on_state_change(StateListener listener);
    void remove_state_listener(uint64_t id);

    SessionState state() const;
    SessionId session_id() const;
    // Unregisters the session: pending operations fail; waits at most the dial timeout.
    // Ok also when the session had already expired (the result is the same: it is gone).
    Status close();

    Runtime& runtime() { return *runtime_; }

    struct View;  // what other threads may read of the session (its state and id)

private:
    Client(std::shared_ptr<Runtime> runtime, uint64_t slot, std::shared_ptr<View> view);
    std::shared_ptr<Runtime> runtime_;
    uint64_t slot_ = 0;  // this session's place in the runtime
    std::shared_ptr<View> view_;
};

// The I/O thread and gateway connection that clients share, and administration calls (no
// session needed: copycat-ctl's member, endpoint and session commands).
class Runtime : public std::enable_shared_from_this<Runtime> {
public:
    static Result<std::shared_ptr<Runtime>> start(ClientOptions options);
    ~Runtime();  // stops the thread; sessions still open are abandoned (they expire)

    // Asks a node, through the gateway (node 0: the gateway chooses, the leader when one is
    // known). Blocks at most `timeout` (0: the dial timeout); no answer in that time is
    // StatusCode::unavailable. The node's own refusals are in the AdminResponse's error.
    Result<session::AdminResponse> admin(session::AdminRequest request, session::NodeId node = 0,
                                         std::chrono::milliseconds timeout = {});
    const ClientOptions& options() const;
    // The gateway endpoint in use now.
    std::string gateway() const;

    struct Impl;

private:
    friend class Client;
    explicit Runtime(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// --- typed operations ------------------------------------------------------------------------

template <typename Op>
Result<typename Op::Output> typed_reply(const Reply& reply) {
    if (!reply.ok()) return reply.status();
    return statemachine::decode_output<Op>(reply.value);
}

template <statemachine::CommandType Op>
std::future<Result<typename Op::Output>> Client::command(const Op& op,
                                                         std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<Result<typename Op::Output>>>();
    auto future = promise->get_future();
    submit_command(
        statemachine::make_operation(op),
        [promise](Reply reply) { promise->set_value(typed_reply<Op>(reply)); }, timeout);
    return future;
}

template <statemachine::QueryType Op>
std::future<Result<typename Op::Output>> Client::query(const Op& op, Consistency consistency,
                                                       std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<Result<typename Op::Output>>>();
    auto future = promise->get_future();
    submit_query(
        statemachine::make_operation(op), consistency,
        [promise](Reply reply) { promise->set_value(typed_reply<Op>(reply)); }, timeout);
    return future;
}

}  // namespace copycat::client
