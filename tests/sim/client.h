// Simulated session clients, behaving as the client library will (copycat.md §3.5-3.7), and
// their links to the nodes. Each client holds one session at a time and one connection per
// node (as a gateway holds a DEALER per node); a client that loses its session registers a new
// one (with the same client id) and carries on.
//
// Session protocol:
//  - register: RegisterRequest{client id, timeout drawn from the seed}, retried at the leader
//    (hint, or another node) until answered; the session id seeds the event index and the
//    index the client has seen;
//  - keep-alive every third of the session timeout, carrying the highest command sequence
//    answered without a gap and the event index received in order; unknown_session means the
//    session has ended (expired). In some seeds a gateway batches the keep-alives of all the
//    clients that are not paused into one request (DESIGN.md): the node then sends their
//    sessions' events to the gateway's connection, and the gateway hands each batch to the
//    client of its session;
//  - close: now and then, with nothing pending, a client unregisters its session (retried until
//    answered ok or unknown_session) and registers a new one;
//  - commands: sequence numbers per session, several in flight when the client has several
//    slots; a no_leader answer or a timeout resubmits the SAME sequence (the result cache keeps
//    it applied once); command_error resubmits every unanswered command after last_sequence,
//    first sending a keep-alive when the client has answers the leader forgot; a sequence the
//    leader refused as bad input is filled with a no-op, as is one whose operation the client
//    gave up on (its slot waits for the no-op: a session has at most one command per slot in
//    flight); attempts that time out back off (doubling, up to 8 times the attempt timeout);
//  - queries: LINEARIZABLE or LINEARIZABLE_LEASE at the leader, SEQUENTIAL at any node, with
//    the session's last command sequence issued and the highest index it has seen;
//  - events: a batch is accepted when its previous_index is the client's event index (then
//    delivered: SessionChecks::observe_delivery), ignored when already received, and answered
//    with a ResetRequest on a gap.
//
// Operations and the history (history.h; TESTING.md "Histories and checking"):
//  - map slots run put (unique values), cas and remove as commands and get as a query on the
//    current key of one map (about 100-500 operations per key, then a new key). Commands and
//    LINEARIZABLE / LINEARIZABLE_LEASE gets go into the History; SEQUENTIAL gets are checked
//    by SessionChecks only. Outcomes: an answer is `ok`; a command given up after too many
//    timeouts, or pending when its session ended, is `info` and retires its process (the slot
//    goes on as a new process), unless every attempt of it was definitely not applied
//    (answered command_error, bad_request or unknown_session: `fail`); no_leader is no such
//    answer (a leader that steps down answers it for entries it did log); a query that gets
//    no answer is `fail` (it changed nothing).
//  - lock slots acquire a lock (try, with a timeout, or waiting forever), hold it a while and
//    release it; what they learn (grants by response or by lock.acquired event, release
//    outcomes) is checked: SessionChecks::observe_lock_held, and a lock the client believes it
//    holds must be `released` by its release while its session lives.
//  - watchers watch the whole map (map.watch with an empty prefix) when their session opens.
//  - a client may pause (a stopped process): its timers and incoming messages wait; if the
//    pause outlasts its session timeout the leader expires the session, its locks pass on, and
//    the client finds out when it resumes.
// Requests and answers travel on client links with their own latency and loss, in order on each
// connection (TCP), which the Raft network's partitions do not cut: a client may well keep
// talking to an isolated leader.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "consensus/session/protocol.h"
#include "tests/sim/client_messages.h"
#include "tests/sim/history.h"
#include "tests/sim/random.h"
#include "tests/sim/session_checks.h"

namespace copycat::sim {

struct ClientOptions {
    int clients = 3;    // each with one session at a time
    int max_slots = 3;  // operations in flight per session: 1 to this, drawn per client
    uint64_t session_timeout_ms = 2'000;
    uint64_t attempt_timeout_us = 500'000;
    int max_timeouts = 3;   // map commands: timed-out attempts before giving up (info)
    int max_refusals = 10;  // queries: refused attempts before giving up (fail)
    uint64_t think_max_us = 30'000;
    uint64_t retry_delay_max_us = 30'000;  // after a refusal
    uint64_t latency_min_us = 100;
    uint64_t latency_max_us = 2'000;
    double loss = 0.0;  // on client links, each way
    uint64_t ops_per_key_min = 100;
    uint64_t ops_per_key_max = 500;
    double lease_read_chance = 0.5;  // linearizable gets: LINEARIZABLE_LEASE, else LINEARIZABLE
    double sequential_read_chance = 0.2;  // gets at any node, checked apart from the history
    // Stale routing (a client behind another gateway): an attempt goes to a random node
    // instead of the believed leader, which finds the deposed leaders that still answer.
    double random_node_chance = 0.1;
    // A key whose history has this many info operations is left for a new one: each info
    // may take effect at any later time, which is what makes checking expensive.
    uint64_t max_info_per_key = 8;
    double watch_chance = 0.3;  // a client watches the map
    double lock_chance = 0.3;   // a client's first slot uses locks
    int locks = 1;              // lock names l0, l1, ...
    uint64_t lock_hold_max_us = 50'000;
    double bad_command_chance = 0.01;  // a command the leader must refuse (bad_request)
    double close_chance = 0.002;       // at an operation, with nothing pending: close the session
    // The clients' periodic keep-alives go through a gateway, which batches them into one
    // request (those of paused clients left out); clients still send their own after a
    // command_error.
    bool batch_keep_alives = false;
};

struct ClientStats {
    uint64_t operations = 0;  // invoked, in the history
    uint64_t ok = 0;
    uint64_t fail = 0;
    uint64_t info = 0;
    uint64_t attempts = 0;
    uint64_t timeouts = 0;
    uint64_t refusals = 0;
    uint64_t keys = 0;
    uint64_t sequential_reads = 0;
    uint64_t sessions_registered = 0;
    uint64_t sessions_expired = 0;  // sessions their client found ended (not closed by it)
    uint64_t sessions_closed = 0;   // by their client (unregister)
    uint64_t keep_alives = 0;
    uint64_t command_errors = 0;  // command_error answers (resubmissions)
    uint64_t no_ops = 0;          // sequences filled with a no-op
    uint64_t resets = 0;          // ResetRequests sent on a gap
    uint64_t events_delivered = 0;
    uint64_t lock_grants = 0;  // grants clients learned
    uint64_t pauses = 0;
};

// A session a client is using now.
struct ClientSession {
    int client = 0;
    SessionId session = 0;
    raft::Index event_index = 0;  // received in order
};

class Clients {
public:
    Clients(ClientOptions options, std::vector<raft::NodeId> nodes, Rng rng, History& history,
            SessionChecks& checks);

    // Starts the clients: each registers a session, then its slots start.
    void start(uint64_t now_us);
    // When the next client event happens (a timer, or a message arriving).
    std::optional<uint64_t> next_event_us() const;
    // Runs the earliest client event, due now. A message reaching its node is returned for
    // the caller to hand over (dropped by the caller when the node is down).
    std::optional<ToNode> step(uint64_t now_us);
    // What a node sends, put on the wire to its client.
    void send_to_client(ToClient message, uint64_t now_us);

    // A stopped client process (SIGSTOP) until until_us: its timers and arriving messages wait.
    void pause(int client, uint64_t until_us, uint64_t now_us);
    int count() const { return static_cast<int>(clients_.size()); }
    // Ends every pause now.
    void resume_all(uint64_t now_us);

    // From now on no new operation starts (keep-alives go on); pending ones run to their end,
    // and a held lock is released.
    void stop_invoking() { invoking_ = false; }
    // Reads every key once more (LINEARIZABLE, into the history): what settled.
    void read_back(const std::vector<std::string>& keys, uint64_t now_us);
    // No operation pending and every client holds an open session.
    bool idle() const;
    std::vector<ClientSession> sessions() const;
    // The clients that believe they hold a lock.
    std::vector<int> lock_holders() const;
    // What keeps the clients busy, for a liveness report.
    std::string describe_pending() const;
    // Heals the client links (no more loss), as settling heals every fault.
    void calm() { options_.loss = 0; }
    const ClientStats& stats() const { return stats_; }
    // The keys used so far, in order.
    const std::vector<std::string>& keys() const { return keys_; }
    // Trace lines of client events since the last call.
    std::vector<std::string> take_notes() { return std::exchange(notes_, {}); }
    // Broken promises clients saw (unexpected answers, a lock lost while the session lives).
    std::vector<Violation> take_violations() { return std::exchange(violations_, {}); }

private:
    enum class Purpose { map, lock_acquire, lock_release, watch, bad, no_op };
    struct Command {
        Purpose purpose = Purpose::map;
        int slot = -1;       // the slot waiting for it, or -1
        int operation = -1;  // History id, or -1
        session::Operation operation_bytes;
        std::string lock;
        int timeouts = 0;
        uint64_t request_id = 0;          // the latest attempt
        std::set<uint64_t> maybe_logged;  // attempts whose fate is unknown
        bool sent = false;
    };
    struct Query {
        int slot = -1;
        int operation = -1;  // History id, or -1 for a SEQUENTIAL read
        std::string key;
        session::Consistency consistency = session::Consistency::linearizable;
        uint64_t sequence = 0;
        raft::Index floor = 0;
        int timeouts = 0;
        int refusals = 0;
        uint64_t request_id = 0;
        raft::NodeId target = 0;
    };
    enum class RequestKind { register_session, keep_alive, unregister, command, query };
    struct RequestRef {
        int client = 0;
        uint64_t generation = 0;  // of the client's session
        RequestKind kind = RequestKind::command;
        uint64_t key = 0;  // command: sequence; query: query id
        raft::NodeId node = 0;
    };
    enum class TimerKind {
        invoke,
        attempt_timeout,
        resend,
        keep_alive,
        lock_release,
        resume,
        gateway_keep_alive,  // the gateway's: one keep-alive for every client's session
        gateway_timeout,
    };
    struct Timer {
        int client = 0;
        TimerKind kind = TimerKind::invoke;
        uint64_t generation = 0;  // of the client's session: a timer of an earlier one is void
        uint64_t key = 0;         // slot, request id, sequence or query id
        RequestKind request = RequestKind::command;  // resend: what
    };
    struct Arrival {  // a node's message reaching its client
        ToClient message;
    };
    using Event = std::variant<Timer, ToNode, Arrival>;
    enum class LockPhase { idle, acquiring, waiting, holding, releasing };
    struct Slot {
        bool busy = false;
        bool locks = false;  // a lock slot, else a map slot
        int process = 0;     // its History process (map slots)
        LockPhase phase = LockPhase::idle;
        std::string lock;
        raft::Index token = 0;          // of the acquire, once answered
        std::set<raft::Index> granted;  // lock.acquired events that came before the answer
        std::set<raft::Index> failed;   // lock.failed events, likewise
    };
    struct Client {
        int index = 0;
        std::string client_id;
        std::vector<Slot> slots;
        bool watcher = false;
        // the session
        SessionId session = 0;  // 0 while registering
        uint64_t generation = 0;
        uint64_t timeout_ms = 0;
        raft::NodeId leader = 0;  // believed
        std::map<raft::NodeId, ConnectionId> connections;
        uint64_t connection_serial = 0;
        uint64_t register_request = 0;
        uint64_t keep_alive_request = 0;  // in flight, or 0
        uint64_t unregister_request = 0;  // closing the session, or 0
        int register_timeouts = 0;        // in a row, for the backoff
        int keep_alive_timeouts = 0;
        uint64_t next_sequence = 0;      // the last command sequence issued
        uint64_t answered_sequence = 0;  // answered, without a gap below
        std::set<uint64_t> answered_above;
        raft::Index event_index = 0;
        raft::Index index_seen = 0;
        std::map<uint64_t, Command> commands;  // unanswered, by sequence
        std::map<uint64_t, Query> queries;     // by query id
        uint64_t next_query_id = 1;
        // a pause
        bool paused = false;
        std::vector<Event> held;
    };

    // the event loop
    void schedule(uint64_t at_us, Event event);
    uint64_t arrival_us(std::map<ConnectionId, uint64_t>& last, ConnectionId connection,
                        uint64_t now_us);
    void handle(const Timer& timer, uint64_t now_us);
    void handle(const Arrival& arrival, uint64_t now_us);
    void attempt_timed_out(Client& client, const RequestRef& ref, uint64_t request_id,
                           uint64_t now_us);
    void resend(Client& client, RequestKind kind, uint64_t key, uint64_t now_us);
    void send(Client& client, raft::NodeId node, uint64_t request_id, session::Request request,
              uint64_t now_us);
    uint64_t track(Client& client, RequestKind kind, uint64_t key, raft::NodeId node, int timeouts,
                   uint64_t now_us);
    raft::NodeId leader_target(Client& client);
    raft::NodeId other_node(raft::NodeId besides);

    // sessions
    void register_session(Client& client, uint64_t now_us);
    void on_registered(Client& client, const session::Response& response, uint64_t now_us);
    void keep_alive(Client& client, uint64_t now_us);
    void on_keep_alive(Client& client, const RequestRef& ref, const session::Response& response,
                       uint64_t now_us);
    void session_ended(Client& client, uint64_t now_us);
    void unregister(Client& client, uint64_t now_us);
    void on_unregistered(Client& client, const RequestRef& ref, const session::Response& response,
                         uint64_t now_us);
    static bool busy(const Client& client);
    void on_events(Client& client, const ToClient& message, uint64_t now_us);

    // commands
    uint64_t submit(Client& client, Command command, uint64_t now_us);
    void send_command(Client& client, uint64_t sequence, uint64_t now_us);
    void on_command(Client& client, const RequestRef& ref, uint64_t request_id,
                    const session::Response& response, uint64_t now_us);
    void command_refused(Client& client, uint64_t sequence, raft::NodeId node,
                         const session::Response& response, uint64_t now_us);
    void resubmit_after(Client& client, uint64_t last_sequence, uint64_t now_us);
    void command_answered(Client& client, uint64_t sequence, const session::Response& response,
                          uint64_t now_us);
    void command_timed_out(Client& client, uint64_t sequence, uint64_t now_us);
    void fill_with_no_op(Client& client, uint64_t sequence, uint64_t now_us);

    // queries
    void send_query(Client& client, uint64_t query_id, uint64_t now_us);
    void on_query(Client& client, const RequestRef& ref, uint64_t request_id,
                  const session::Response& response, uint64_t now_us);
    void query_answered(Client& client, uint64_t query_id, const session::Response& response,
                        uint64_t now_us);
    void query_refused(Client& client, uint64_t query_id, raft::NodeId node, raft::NodeId hint,
                       uint64_t now_us);
    void query_timed_out(Client& client, uint64_t query_id, uint64_t now_us);

    // slots: map operations, locks
    void invoke(Client& client, int slot, uint64_t now_us);
    void invoke_map(Client& client, int slot, uint64_t now_us);
    void invoke_lock(Client& client, int slot, uint64_t now_us);
    void lock_answered(Client& client, const Command& command, const session::Response& response,
                       uint64_t now_us);
    void lock_event(Client& client, const session::Event& event, uint64_t now_us);
    void lock_granted(Client& client, int slot, uint64_t now_us);
    void release_lock(Client& client, int slot, uint64_t now_us);
    void slot_done(Client& client, int slot, uint64_t now_us);
    void finish(Client& client, int slot, int operation, Outcome outcome, OpOutput output,
                uint64_t now_us);
    Op next_op();
    const std::string& current_key();

    void close_connection(Client& client, raft::NodeId node, uint64_t now_us);
    void resume(Client& client, uint64_t now_us);
    int client_of(const Event& event) const;
    void note(const Client& client, const std::string& what);
    void violation(std::string invariant, std::string detail);

    // A gateway in front of the clients (DESIGN.md): one keep-alive for all their sessions, on
    // connections of its own, and the event batches that then come to it handed to the client
    // of their session.
    struct Gateway {
        std::map<raft::NodeId, ConnectionId> connections;
        uint64_t connection_serial = 0;
        raft::NodeId leader = 0;
        uint64_t request = 0;  // the keep-alive in flight, or 0
        raft::NodeId request_node = 0;
        std::vector<std::pair<int, SessionId>> items;  // its sessions, by client
    };
    int gateway_index() const { return static_cast<int>(clients_.size()); }
    void handle_gateway(const Timer& timer, uint64_t now_us);
    void gateway_keep_alive(uint64_t now_us);
    void gateway_arrival(const ToClient& message, uint64_t now_us);
    void gateway_answered(const session::Response& response, uint64_t now_us);

    ClientOptions options_;
    std::vector<raft::NodeId> nodes_;
    Rng rng_;
    History& history_;
    SessionChecks& checks_;
    std::vector<Client> clients_;
    Gateway gateway_;
    int next_process_id_ = 1;
    uint64_t next_request_id_ = 1;
    uint64_t next_value_ = 1;
    std::vector<std::string> keys_;
    uint64_t ops_left_on_key_ = 0;
    uint64_t infos_on_key_ = 0;
    std::optional<std::string> last_written_;  // on the current key, by anyone
    bool invoking_ = true;
    std::vector<std::string> read_back_keys_;
    std::map<uint64_t, RequestRef> requests_;  // by request id
    // The last arrival on each connection, each way: connections deliver in order.
    std::map<ConnectionId, uint64_t> to_node_;
    std::map<ConnectionId, uint64_t> to_client_;
    std::map<std::pair<uint64_t, uint64_t>, Event> events_;  // (time, sequence)
    uint64_t next_event_sequence_ = 0;
    ClientStats stats_;
    std::vector<std::string> notes_;
    std::vector<Violation> violations_;
};

}  // namespace copycat::sim
