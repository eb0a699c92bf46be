// Real copycat clusters for process-level tests and benchmarks: each node is a copycat-logstore
// and a copycat-consensus process (and, when asked for, a copycat-compactor) on their own data
// directory, talking over ipc:// sockets in a temporary directory (no ports to collide with
// tests running in parallel; HTTP on port 0).
// Processes are stopped by pid (kill -9 or SIGTERM), restarted, or started on a wiped
// directory. Gateways (copycat-gateway) can be put in front of the nodes, on ipc:// too.
//
// NodeClient speaks the client protocol to one node's client endpoint (a DEALER), blocking with
// timeouts; SessionClient keeps one session on a cluster the way a client library would:
// finds the leader, resubmits a command with the same sequence after no_leader or a timeout
// (the result cache keeps it applied once), sends keep-alives, collects events in order.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "consensus/session/protocol.h"
#include "tests/support/subprocess.h"

namespace copycat::testing {

struct ClusterOptions {
    int nodes = 3;
    std::string logstore_binary;
    std::string consensus_binary;
    std::string election_timeout = "300ms";
    std::string heartbeat_interval = "50ms";
    std::string session_timeout = "2s";
    std::string directory;  // where data and sockets go; empty: a TempDir of its own
    // Node n's logstore runs under this command (e.g. strace injecting fdatasync errors).
    std::map<int, std::vector<std::string>> logstore_wrappers;
    std::string gateway_binary;  // for start_gateway()
    // Added to every consensus process's command line (e.g. --snapshot-every-entries 50).
    std::vector<std::string> consensus_flags;
    // Added to node n's consensus command line after consensus_flags (e.g. its --curve-key).
    std::map<int, std::vector<std::string>> node_flags;
    // Added to every logstore process's command line (e.g. --segment-max-bytes 65536).
    std::vector<std::string> logstore_flags;
    // When set, each node also runs a copycat-compactor (as ops/run does), on the default
    // sockets of its data directory, where its consensus process asks it for runs
    // (copycat-ctl compact); `compactor_flags` are added to its command line.
    std::string compactor_binary;
    std::vector<std::string> compactor_flags;
};

class ProcessCluster {
public:
    explicit ProcessCluster(ClusterOptions options);
    ~ProcessCluster();

    // Starts node n's logstore, compactor (with compactor_binary) and consensus (1-based); a
    // logstore or compactor still running is kept. A node with stored state restarts from it; a
    // new one bootstraps from the initial cluster, or joins through join_endpoints.
    void start_node(int n, const std::vector<std::string>& join_endpoints = {});
    void start_all();
    void kill_node(int n);       // SIGKILL every process of the node
    void kill_consensus(int n);  // SIGKILL the consensus process only
    void stop_node(int n);       // SIGTERM (consensus, compactor, then logstore), wait
    // SIGTERM node n's compactor and wait (SIGKILL if it has not exited within 10 s).
    void stop_compactor(int n);
    // SIGSTOP / SIGCONT the consensus process (a stalled server: GC pause, swapped out, a VM
    // frozen); its logstore keeps running. A paused node is still killed by the destructor.
    void pause_consensus(int n);
    void resume_consensus(int n);
    void wipe_node(int n);  // the node must be stopped
    bool consensus_running(int n);
    // Waits for node n's consensus process to exit: its exit code, or -1 if still running.
    int wait_consensus(int n, std::chrono::milliseconds timeout);

    // Gateway g (1-based) in front of every node: it listens on gateway_endpoint(g) and
    // serves HTTP on a free port (gateway_http_port). `flags` are added to its command line.
    void start_gateway(int g, const std::vector<std::string>& flags = {});
    void kill_gateway(int g);  // SIGKILL
    // SIGTERM and wait: its exit code, or -1 if it had not stopped within 10 s (then killed).
    int stop_gateway(int g);
    bool gateway_running(int g);
    std::string gateway_endpoint(int g) const;
    // The HTTP port gateway g said it serves on, or 0 if it has not said so within timeout.
    int gateway_http_port(int g, std::chrono::milliseconds timeout) const;
    std::string gateway_output(int g) const;

    std::string client_endpoint(int n) const;
    std::string peer_endpoint(int n) const;
    std::vector<std::string> client_endpoints() const;
    std::string data_dir(int n) const;
    int nodes() const { return options_.nodes; }
    // The consensus output of node n (for failure messages).
    std::string output(int n) const;

private:
    struct Node {
        std::optional<Subprocess> logstore;
        std::optional<Subprocess> compactor;
        std::optional<Subprocess> consensus;
        int starts = 0;
    };

    std::string initial_cluster() const;
    void start_compactor(int n);

    ClusterOptions options_;
    std::unique_ptr<TempDir> temp_;
    std::string directory_;
    std::map<int, Node> nodes_;
    std::map<int, Subprocess> gateways_;
    std::map<int, int> gateway_starts_;
};

// Anything a node answers on the client protocol.
using NodeReply = std::variant<session::Response, session::AdminResponse>;

class NodeClient {
public:
    NodeClient(zmq::context_t& context, const std::string& endpoint);

    // Sends and waits for the answer carrying this request's id; nullopt on timeout. Events
    // that arrive meanwhile are kept (take_events).
    std::optional<session::Response> call(const session::Request& request,
                                          std::chrono::milliseconds timeout);
    // `node`: through a gateway, the node to ask (0: the gateway chooses).
    std::optional<session::AdminResponse> admin(const session::AdminRequest& request,
                                                std::chrono::milliseconds timeout,
                                                session::NodeId node = 0);
    // One-way (ResetRequest), or a request whose answer is not awaited.
    void send(const session::Request& request);
    void send_raw(const std::vector<uint8_t>& bytes);
    // Raw bytes and any answer with that id (bad input tests).
    std::optional<session::Response> call_raw(const std::vector<uint8_t>& bytes,
                                              uint64_t request_id,
                                              std::chrono::milliseconds timeout);
    // Waits up to timeout for at least one event (returns at once if some are kept).
    std::vector<session::PublishRequest> take_events(std::chrono::milliseconds timeout);
    uint64_t next_request_id() { return ++last_request_id_; }

private:
    std::optional<NodeReply> wait_for(uint64_t request_id, std::chrono::milliseconds timeout);
    bool receive_one(std::chrono::milliseconds timeout);

    zmq::socket_t socket_;
    uint64_t last_request_id_ = 0;
    uint64_t sent_request_id_ = 0;
    std::map<uint64_t, NodeReply> replies_;
    std::deque<session::PublishRequest> events_;
};

// Asks each node for its status: the id of the first that says it leads, or 0.
session::NodeId find_leader(zmq::context_t& context, const std::vector<std::string>& endpoints,
                            std::chrono::milliseconds timeout);
std::optional<session::StatusResponse> node_status(zmq::context_t& context,
                                                   const std::string& endpoint,
                                                   std::chrono::milliseconds timeout);

// One client session on a cluster, the way the client library keeps it.
class SessionClient {
public:
    SessionClient(zmq::context_t& context, std::vector<std::string> endpoints,
                  std::string client_id, uint64_t timeout_ms);

    // Registers (trying nodes until the leader answers); false on give-up.
    bool open(std::chrono::milliseconds timeout);
    session::SessionId id() const { return session_; }

    // A command, retried with the same sequence until a definite answer or the deadline.
    // nullopt: the outcome is unknown (it may still take effect).
    std::optional<session::Response> command(const session::Operation& operation,
                                             std::chrono::milliseconds timeout);
    std::optional<session::Response> query(const session::Operation& operation,
                                           session::Consistency consistency,
                                           std::chrono::milliseconds timeout,
                                           int node = 0);  // node: 1-based, 0 = leader
    // One keep-alive for this session, acknowledging responses and events received.
    std::optional<session::Response> keep_alive(std::chrono::milliseconds timeout);
    bool close(std::chrono::milliseconds timeout);

    // Events received in order (gaps answered with a reset, duplicates dropped).
    std::vector<session::Event> take_events(std::chrono::milliseconds timeout);
    session::Index event_index() const { return event_index_; }
    uint64_t sequence() const { return sequence_; }
    // How many times the last command was sent (to any node). An unknown_session answer to
    // the only send is a definite refusal; after a resend it may answer a command that applied
    // before its session expired, so its outcome is unknown.
    uint64_t last_command_sends() const { return last_command_sends_; }

private:
    NodeClient& node(size_t index);
    std::optional<session::Response> call_leader(const session::Request& request,
                                                 std::chrono::milliseconds timeout);
    void absorb(std::vector<session::PublishRequest> publishes, NodeClient& from);

    zmq::context_t& context_;
    std::vector<std::string> endpoints_;
    std::vector<std::unique_ptr<NodeClient>> nodes_;
    std::string client_id_;
    uint64_t timeout_ms_;
    size_t leader_ = 0;  // index into endpoints_
    session::SessionId session_ = 0;
    uint64_t sequence_ = 0;      // last command sequence issued
    uint64_t acknowledged_ = 0;  // last command sequence answered
    uint64_t sends_ = 0;         // requests sent by call_leader, ever
    uint64_t last_command_sends_ = 0;
    session::Index response_index_ = 0;
    session::Index event_index_ = 0;
    std::vector<session::Event> events_;
};

}  // namespace copycat::testing
