// The configuration of one copycat-consensus process, from its flags (main.cc) or a test.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/curve.h"
#include "common/duration.h"
#include "common/status.h"
#include "consensus/raft/types.h"

namespace copycat::server {

struct PeerAddress {
    raft::NodeId id = 0;
    std::string address;  // a ZeroMQ endpoint, e.g. tcp://127.0.0.1:7101
};

struct ServerOptions {
    raft::NodeId node_id = 1;
    std::string cluster_name = "copycat";  // peers of another cluster are refused
    std::string data_dir;            // the logstore's default socket, and snapshots/ (SNAPSHOTS.md)
    std::string peer_listen;         // bound for messages from peers
    std::string peer_advertise;      // what the configuration tells peers (default: peer_listen)
    std::string client_listen;       // bound for gateways and clients
    std::string client_advertise;    // what status answers tell (default: client_listen)
    std::string http_address;        // host:port for /metrics, /livez, /readyz
    std::string logstore_endpoint;   // this node's copycat-logstore
    std::string compactor_endpoint;  // this node's copycat-compactor (copycat-ctl compact)
    // A new cluster: every member, the same list on each (etcd's --initial-cluster). Ignored
    // once a configuration is stored: the stored one wins (copycat.md §1.5).
    std::vector<PeerAddress> initial_cluster;
    // Joining an existing cluster: client endpoints of some of its members, and their node
    // ids where given (ID=ENDPOINT; 0 where not), which CURVE needs to find their keys.
    std::vector<std::string> join_endpoints;
    std::vector<raft::NodeId> join_ids;
    raft::MemberType join_type = raft::MemberType::active;

    Duration tick = std::chrono::milliseconds(10);
    Duration election_timeout = std::chrono::milliseconds(750);
    Duration heartbeat_interval = std::chrono::milliseconds(250);
    Duration session_timeout = std::chrono::seconds(5);   // for clients that ask for none
    Duration startup_timeout = std::chrono::seconds(30);  // for the logstore to answer
    size_t max_operation_bytes = 1024 * 1024;
    // A state machine that takes snapshots takes one each time it applied this many entries
    // (0: never); others ignore it. etcd's default (--snapshot-count): replaying at most this
    // many entries at a restart takes well under a second, and at the 64-client write rate
    // (about 18,000/s) a busy cluster snapshots every 5 s or so, not continuously.
    uint64_t snapshot_every_entries = 100'000;
    // Released entries leave the in-memory log (consensus/raft/log.h) each time this many
    // entries applied (0: never): without it, a state machine that takes no snapshots keeps
    // every entry in memory. A pass costs one walk over the entries held.
    uint64_t compact_log_every_entries = 10'000;

    // CURVE (common/curve.h), off unless curve_key is set. With curve_peer_keys the peer links
    // are encrypted and admit only the members listed there (node-<id>, this node's own entry
    // being its key); with curve_gateway_keys the client port admits only those gateways (and
    // the listed members, which join through it).
    std::optional<CurveKeyPair> curve_key;
    std::optional<CurvePublicKeys> curve_peer_keys;
    std::optional<CurvePublicKeys> curve_gateway_keys;
};

// The option values make sense together: durations in whole ticks, heartbeat below the election
// timeout, session timeout above it, addresses present, node ids unique and non-zero.
Status validate(const ServerOptions& options);

// "1=tcp://127.0.0.1:7101,2=tcp://127.0.0.1:7102"
Result<std::vector<PeerAddress>> parse_initial_cluster(const std::string& text);

}  // namespace copycat::server
