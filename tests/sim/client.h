// Simulated clients and their links to the nodes. Each client process runs one operation at a
// time on the current key (reads, unique-valued writes, cas, deletes; about 100-500 operations
// per key, then a new key) and records it in a History:
//   - it sends the operation to the node it believes leads;
//   - a refusal (not the leader) is definite: it retries at the hinted node, or another one;
//     after too many refusals it gives up with `fail`, unless an earlier attempt may have been
//     proposed (it timed out), which makes the outcome unknown: `info`;
//   - a timeout re-sends the SAME command (same process and sequence: the state machine
//     deduplicates it) to another node, a bounded number of times, then gives up with `info`;
//     a process that got `info` retires and a new process id takes its place. A read that
//     times out is a `fail`: it changed nothing, so not knowing its output says no more.
// Requests and replies travel on client links with their own latency and loss, which the Raft
// network's partitions do not cut: a client may well keep talking to an isolated leader.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tests/sim/client_messages.h"
#include "tests/sim/history.h"
#include "tests/sim/random.h"

namespace copycat::sim {

struct ClientOptions {
    int processes = 5;  // concurrent clients, all on the current key
    uint64_t attempt_timeout_us = 500'000;
    int max_timeouts = 3;   // attempts that may time out before the outcome is info
    int max_refusals = 10;  // refusals before giving up
    uint64_t think_max_us = 30'000;
    uint64_t retry_delay_max_us = 30'000;  // after a refusal
    uint64_t latency_min_us = 100;
    uint64_t latency_max_us = 2'000;
    double loss = 0.0;  // on client links, each way
    uint64_t ops_per_key_min = 100;
    uint64_t ops_per_key_max = 500;
    double lease_read_chance = 0.5;  // reads: lease_read, else read_index
    // Stale routing (a client behind another gateway): an attempt goes to a random node
    // instead of the believed leader, which finds the deposed leaders that still answer.
    double random_node_chance = 0.1;
    // A key whose history has this many info operations is left for a new one: each info
    // may take effect at any later time, which is what makes checking expensive.
    uint64_t max_info_per_key = 8;
};

struct ClientStats {
    uint64_t operations = 0;  // invoked
    uint64_t ok = 0;
    uint64_t fail = 0;
    uint64_t info = 0;
    uint64_t attempts = 0;
    uint64_t timeouts = 0;
    uint64_t refusals = 0;
    uint64_t keys = 0;
};

class Clients {
public:
    Clients(ClientOptions options, std::vector<raft::NodeId> nodes, Rng rng, History& history);

    // Starts the processes; their first operations begin within the think time.
    void start(uint64_t now_us);
    // When the next client event happens (a timer, or a request or reply arriving).
    std::optional<uint64_t> next_event_us() const;
    // Runs the earliest client event, due now. A request reaching its node is returned for
    // the caller to hand over (dropped by the caller when the node is down).
    std::optional<ClientRequest> step(uint64_t now_us);
    // A node's reply, put on the wire back to its client.
    void send_reply(const ClientReply& reply, uint64_t now_us);

    // From now on no new operation starts; pending ones run to their end.
    void stop_invoking() { invoking_ = false; }
    bool idle() const;  // no operation pending
    const ClientStats& stats() const { return stats_; }
    // The keys used so far, in order.
    const std::vector<std::string>& keys() const { return keys_; }
    // Trace lines of client events since the last call.
    std::vector<std::string> take_notes() { return std::exchange(notes_, {}); }

private:
    struct Process {
        int id = 0;
        bool busy = false;
        int operation = -1;  // History id of the pending operation
        Op op;
        uint64_t sequence = 0;
        uint64_t attempt = 0;
        ReadMode read_mode = ReadMode::read_index;
        raft::NodeId target = 0;
        int timeouts = 0;
        int refusals = 0;
        bool maybe_proposed = false;  // an attempt timed out: it may have been proposed
        std::optional<std::string> last_seen;
    };
    struct Invoke {
        int slot = 0;
    };
    struct Timeout {
        int slot = 0;
        uint64_t attempt = 0;
    };
    struct Resend {
        int slot = 0;
        uint64_t attempt = 0;
    };
    using Event = std::variant<Invoke, Timeout, Resend, ClientRequest, ClientReply>;

    void schedule(uint64_t at_us, Event event);
    void handle(const Invoke& invoke, uint64_t now_us);
    void handle(const Timeout& timeout, uint64_t now_us);
    void handle(const Resend& resend, uint64_t now_us);
    void handle(const ClientReply& reply, uint64_t now_us);
    Op next_op(Process& process);
    const std::string& current_key();
    void send_attempt(int slot, uint64_t now_us);
    void finish(int slot, Outcome outcome, OpOutput output, uint64_t now_us);
    raft::NodeId other_node(raft::NodeId besides);
    void note(const Process& process, const std::string& what);

    ClientOptions options_;
    std::vector<raft::NodeId> nodes_;
    Rng rng_;
    History& history_;
    std::vector<Process> processes_;  // by slot; a retired process is replaced in its slot
    int next_process_id_ = 1;
    uint64_t next_attempt_ = 1;
    uint64_t next_value_ = 1;
    std::vector<std::string> keys_;
    uint64_t ops_left_on_key_ = 0;
    uint64_t infos_on_key_ = 0;
    std::optional<std::string> last_written_;  // on the current key, by anyone
    bool invoking_ = true;
    std::map<std::pair<uint64_t, uint64_t>, Event> events_;  // (time, sequence)
    uint64_t next_event_sequence_ = 0;
    ClientStats stats_;
    std::vector<std::string> notes_;
};

}  // namespace copycat::sim
