#include "consensus/server/peer_transport.h"

#include "common/log.h"
#include "common/zmq_socket.h"
#include "consensus/wire/peer_codec.h"

namespace copycat::server {

namespace {

// Peers exchange few large messages (AppendRequests up to the batch bound) and many small ones.
SocketOptions peer_socket_options() {
    SocketOptions options;
    options.send_high_water_mark = 10000;
    options.receive_high_water_mark = 10000;
    options.max_message_bytes = 64 << 20;
    return options;
}

// Whether the connection `message` came on was admitted with the key of node `from` (the ZAP
// handler names a connection by its key's name, the message's User-Id).
bool from_its_own_key(const ReceivedMessage& message, raft::NodeId from) {
    const char* user = zmq_msg_gets(message.payload.handle(), "User-Id");
    if (user != nullptr && user == node_key_name(from)) return true;
    log::warn_once("peer-wrong-key-" + std::to_string(from) + "-" + (user ? user : ""),
                   "dropped a peer message: it names a member whose key it was not sent with",
                   {{"from", from}, {"key_name", user ? user : "none"}});
    return false;
}

}  // namespace

PeerTransport::PeerTransport(zmq::context_t& context, raft::NodeId self, std::string cluster,
                             Metrics& metrics)
    : context_(context),
      self_(self),
      cluster_(std::move(cluster)),
      router_(make_router(context, peer_socket_options())),
      builder_(64 * 1024),
      dropped_(metrics.counter_family("copycat_network_messages_dropped_total",
                                      "Peer messages not sent or refused, by reason")),
      round_trip_(metrics.histogram_family("copycat_network_peer_round_trip_time_seconds",
                                           "Round trips of AppendRequests to each peer")),
      handshake_failures_(handshake_failures_family(metrics)) {}

Status PeerTransport::bind(const std::string& endpoint, const CurveServer* curve) {
    if (curve != nullptr) {
        make_curve_server(router_, *curve);
        authenticated_ = true;
    }
    try {
        router_.bind(endpoint);
    } catch (const zmq::error_t& e) {
        return Status(StatusCode::unavailable,
                      "cannot listen for peers on " + endpoint + ": " + e.what());
    }
    return Status::ok();
}

void PeerTransport::secure(const CurveKeyPair& own, const CurvePublicKeys& peers) {
    curve_own_ = own;
    curve_peers_ = peers;
}

void PeerTransport::update_peers(const raft::Configuration& configuration) {
    for (auto it = dealers_.begin(); it != dealers_.end();) {
        const raft::Member* member = configuration.find(it->first);
        if (member == nullptr || member->address != it->second.address) {
            it = dealers_.erase(it);
        } else {
            ++it;
        }
    }
    add_peers(configuration.members);
}

void PeerTransport::add_peers(const std::vector<raft::Member>& members) {
    for (const raft::Member& member : members) {
        if (member.id == self_ || member.address.empty() || dealers_.count(member.id) > 0) {
            continue;
        }
        zmq::socket_t socket = make_dealer(context_, std::to_string(self_), peer_socket_options());
        std::unique_ptr<HandshakeMonitor> monitor;
        if (curve_own_) {
            const std::string* key = curve_peers_.find(node_key_name(member.id));
            if (key == nullptr) {
                log::warn_once("peer-key-" + std::to_string(member.id),
                               "no CURVE key for a member in --curve-peer-keys: not connecting",
                               {{"peer", member.id}, {"name", node_key_name(member.id)}});
                continue;
            }
            make_curve_client(socket, CurveClient{*curve_own_, *key});
            monitor = std::make_unique<HandshakeMonitor>(context_, socket);
        }
        try {
            socket.connect(member.address);
        } catch (const zmq::error_t& e) {
            log::warn_once("peer-address-" + std::to_string(member.id),
                           "cannot connect to a peer's address",
                           {{"peer", member.id}, {"address", member.address}, {"error", e.what()}});
            continue;
        }
        dealers_.emplace(member.id, Peer{member.address, std::move(socket), std::move(monitor)});
    }
}

void PeerTransport::check_handshakes() {
    for (auto& [id, peer] : dealers_) {
        if (peer.monitor) {
            report_handshake_failures(*peer.monitor, handshake_failures_, "peers",
                                      node_key_name(id));
        }
    }
}

void PeerTransport::send(const raft::Envelope& envelope) {
    auto peer = dealers_.find(envelope.to);
    if (peer == dealers_.end()) {
        dropped_.Add({{"reason", "no_address"}}).Increment();
        return;
    }
    std::span<const uint8_t> bytes = wire::encode_peer(builder_, cluster_, envelope);
    if (!try_send(peer->second.socket, bytes)) {
        dropped_.Add({{"reason", "unreachable"}}).Increment();
        return;
    }
    if (const auto* append = std::get_if<raft::AppendRequest>(&envelope.message)) {
        rounds_[envelope.to] = {append->round, std::chrono::steady_clock::now()};
    }
}

void PeerTransport::receive(const Handler& handler, size_t max_messages) {
    for (size_t i = 0; i < max_messages; ++i) {
        std::optional<ReceivedMessage> message = try_receive(router_);
        if (!message) return;
        Result<wire::PeerMessage> decoded =
            wire::decode_peer(message->payload.data(), message->payload.size());
        if (!decoded.is_ok()) {
            dropped_.Add({{"reason", "malformed"}}).Increment();
            log::warn_once("peer-malformed", "dropped a peer message that does not decode",
                           {{"error", decoded.status().message()}});
            continue;
        }
        if (decoded->cluster != cluster_) {
            dropped_.Add({{"reason", "other_cluster"}}).Increment();
            log::warn_once("peer-cluster-" + decoded->cluster,
                           "dropped a message from another cluster",
                           {{"cluster", decoded->cluster}, {"from", decoded->envelope.from}});
            continue;
        }
        if (authenticated_ && !from_its_own_key(*message, decoded->envelope.from)) {
            dropped_.Add({{"reason", "wrong_key"}}).Increment();
            continue;
        }
        if (decoded->envelope.to != self_) {
            dropped_.Add({{"reason", "not_for_us"}}).Increment();
            continue;
        }
        if (!accept_snapshots_ && is_snapshot_message(decoded->envelope.message)) {
            refuse_snapshot_message(decoded->envelope);
            continue;
        }
        note_round_trip(decoded->envelope);
        handler(std::move(decoded->envelope));
    }
}

// A server whose state machine takes no snapshots never has one to send, and neither has any
// peer of its cluster (they run the same state machine). Such a message comes from a buggy or
// hostile peer; given to the core, an InstallSnapshotRequest would make it install that
// snapshot, and the session layer stop the process at an assertion (the state machine cannot
// load it). ConsensusProcessTest.SnapshotMessagesFromAPeerAreDroppedNotInstalled shows it.
bool PeerTransport::is_snapshot_message(const raft::Message& message) {
    return std::holds_alternative<raft::InstallSnapshotRequest>(message) ||
           std::holds_alternative<raft::InstallSnapshotResponse>(message);
}

void PeerTransport::refuse_snapshot_message(const raft::Envelope& envelope) {
    dropped_.Add({{"reason", "snapshot_unsupported"}}).Increment();
    log::warn_once("peer-snapshot", "dropped a snapshot message: this server takes no snapshots",
                   {{"from", envelope.from}, {"message", raft::message_name(envelope.message)}});
}

void PeerTransport::note_round_trip(const raft::Envelope& envelope) {
    const auto* response = std::get_if<raft::AppendResponse>(&envelope.message);
    if (response == nullptr) return;
    auto sent = rounds_.find(envelope.from);
    if (sent == rounds_.end() || sent->second.first != response->round) return;
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - sent->second.second;
    round_trip_.Add({{"to", std::to_string(envelope.from)}}, duration_buckets_seconds())
        .Observe(elapsed.count());
    rounds_.erase(sent);
}

}  // namespace copycat::server
