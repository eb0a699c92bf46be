// PeerTransport: Raft messages between copycat-consensus processes (CONVENTIONS.md, ZeroMQ):
// one ROUTER bound for what this node receives, and one DEALER per peer (routing id = this
// node's id) for what it sends. Messages are one-way; a response is a message sent back.
// Peers are found by the addresses in the configuration; a peer whose address changes gets a
// new DEALER. Sends never block: a message a peer cannot take now (down, or its queue full)
// is dropped and counted, and Raft's retries recover it.
//
// Single-threaded: the event loop's thread only.
#pragma once

#include <zmq.hpp>

#include <flatbuffers/flatbuffers.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/curve.h"
#include "common/metrics.h"
#include "consensus/raft/types.h"

namespace copycat::server {

class PeerTransport {
public:
    using Handler = std::function<void(raft::Envelope envelope)>;

    // cluster: this cluster's name; messages naming another are dropped (a node started with
    // the wrong peer list cannot disturb a cluster that is not its own).
    PeerTransport(zmq::context_t& context, raft::NodeId self, std::string cluster,
                  Metrics& metrics);

    // With `curve`, peers connect with CURVE and only the keys it lists get in (its ZAP
    // handler must be bound); a message then counts only if it comes from the node its key is
    // listed for (node-<id>): a listed key cannot speak for another member.
    Status bind(const std::string& endpoint, const CurveServer* curve);
    // Connects to each peer with CURVE, as `own`, expecting the key `peers` lists for it
    // (node-<id>); a peer not listed is not connected to (logged once). Before any peer is added.
    void secure(const CurveKeyPair& own, const CurvePublicKeys& peers);
    // The addresses of the members of `configuration` (others are disconnected).
    void update_peers(const raft::Configuration& configuration);
    // Connects to these peers too (a joining node learns its future peers from a member's
    // status before its log holds a configuration); the next update_peers() settles the list.
    void add_peers(const std::vector<raft::Member>& members);
    // Sends, or drops and counts (reason: no_address, unreachable).
    void send(const raft::Envelope& envelope);
    // Whether snapshot messages reach the core: only when the state machine takes snapshots
    // (the default is no). Without, none of its peers takes one either, so only a buggy or
    // hostile peer sends one, and the core would install it into a state machine that cannot
    // load it (an assertion): they are dropped (reason snapshot_unsupported, logged once).
    void accept_snapshots(bool accept) { accept_snapshots_ = accept; }
    // Receives what is waiting (up to a bound), verified and decoded, into handler. Bad
    // buffers are counted and logged once; messages not addressed to this node are dropped,
    // and so are snapshot messages unless accept_snapshots(true).
    void receive(const Handler& handler, size_t max_messages);

    // Logs and counts the CURVE handshakes with peers that failed (a peer that does not list
    // this node's key, or has another key than the one listed for it). Call now and then.
    void check_handshakes();

    zmq::socket_t& router() { return router_; }
    size_t peers() const { return dealers_.size(); }

private:
    struct Peer {
        std::string address;
        zmq::socket_t socket;
        std::unique_ptr<HandshakeMonitor> monitor;  // with CURVE
    };

    static bool is_snapshot_message(const raft::Message& message);
    void refuse_snapshot_message(const raft::Envelope& envelope);
    void note_round_trip(const raft::Envelope& envelope);

    zmq::context_t& context_;
    raft::NodeId self_;
    bool accept_snapshots_ = false;
    std::string cluster_;
    std::optional<CurveKeyPair> curve_own_;
    CurvePublicKeys curve_peers_;
    bool authenticated_ = false;  // the router admits CURVE clients only
    zmq::socket_t router_;
    std::map<raft::NodeId, Peer> dealers_;
    flatbuffers::FlatBufferBuilder builder_;
    prometheus::Family<prometheus::Counter>& dropped_;
    prometheus::Family<prometheus::Histogram>& round_trip_;
    prometheus::Family<prometheus::Counter>& handshake_failures_;
    // The last AppendRequest round sent to each peer, and when.
    std::map<raft::NodeId, std::pair<uint64_t, std::chrono::steady_clock::time_point>> rounds_;
};

}  // namespace copycat::server
