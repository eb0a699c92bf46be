#include "consensus/server/options.h"

#include <set>
#include <sstream>

namespace copycat::server {

namespace {

// The CURVE settings make sense together: a key with a list and a list with a key; this
// node's own key is the one its peers list for it; every member named has a key.
Status validate_curve(const ServerOptions& options) {
    const bool lists = options.curve_peer_keys || options.curve_gateway_keys;
    if (!options.curve_key) {
        if (!lists) return Status::ok();
        return invalid_argument(
            "--curve-peer-keys and --curve-gateway-keys need this node's key pair: "
            "--curve-key (copycat-ctl keygen node-" +
            std::to_string(options.node_id) + " makes one)");
    }
    if (!lists) {
        return invalid_argument(
            "--curve-key switches nothing on alone: add --curve-peer-keys (peer links) and/or "
            "--curve-gateway-keys (the client port)");
    }
    const std::string self = node_key_name(options.node_id);
    if (options.curve_gateway_keys && !options.join_endpoints.empty()) {
        if (!options.curve_peer_keys) {
            return invalid_argument(
                "--join with --curve-gateway-keys needs --curve-peer-keys: the members' keys");
        }
        for (size_t i = 0; i < options.join_endpoints.size(); ++i) {
            if (i >= options.join_ids.size() || options.join_ids[i] == 0) {
                return invalid_argument(
                    "with CURVE, each --join endpoint names its member, ID=ENDPOINT (e.g. "
                    "1=tcp://10.0.0.1:7201), to find its key: '" +
                    options.join_endpoints[i] + "' does not");
            }
        }
    }
    if (!options.curve_peer_keys) return Status::ok();
    const std::string* listed = options.curve_peer_keys->find(self);
    if (listed == nullptr) {
        return invalid_argument("--curve-peer-keys lists no key for this node (" + self +
                                "): its peers would refuse it");
    }
    if (*listed != options.curve_key->public_key) {
        return invalid_argument("this node's key (--curve-key, public " +
                                options.curve_key->public_key + ") is not the key " + self +
                                " has in --curve-peer-keys (" + *listed +
                                "): its peers would refuse it; give the node its own key pair, "
                                "or list its public key for " +
                                self);
    }
    std::vector<raft::NodeId> named = options.join_ids;
    for (const PeerAddress& peer : options.initial_cluster) named.push_back(peer.id);
    for (raft::NodeId id : named) {
        if (id != 0 && options.curve_peer_keys->find(node_key_name(id)) == nullptr) {
            return invalid_argument("--curve-peer-keys lists no key for " + node_key_name(id) +
                                    ", a member this node would connect to");
        }
    }
    return Status::ok();
}

}  // namespace

Status validate(const ServerOptions& options) {
    if (options.node_id == 0) return invalid_argument("--node-id must be 1 or more");
    int64_t tick_us = options.tick.microseconds();
    if (tick_us < 1000) return invalid_argument("--tick must be at least 1ms");
    for (const auto& [name, value] :
         {std::pair{"--election-timeout", options.election_timeout},
          std::pair{"--heartbeat-interval", options.heartbeat_interval}}) {
        if (value.microseconds() % tick_us != 0 || value.microseconds() < 2 * tick_us) {
            return invalid_argument(std::string(name) + " must be a multiple of --tick (" +
                                    std::to_string(tick_us / 1000) + "ms) and at least two ticks");
        }
    }
    if (options.heartbeat_interval >= options.election_timeout) {
        return invalid_argument("--heartbeat-interval must be below --election-timeout");
    }
    if (options.session_timeout <= options.election_timeout) {
        return invalid_argument("--session-timeout must be above --election-timeout");
    }
    if (options.peer_listen.empty()) {
        return invalid_argument("--peer-listen (COPYCAT_PEER_LISTEN) is required and empty");
    }
    if (options.client_listen.empty()) {
        return invalid_argument("--client-listen (COPYCAT_CLIENT_LISTEN) is required and empty");
    }
    std::set<raft::NodeId> ids;
    for (const PeerAddress& peer : options.initial_cluster) {
        if (peer.id == 0 || !ids.insert(peer.id).second) {
            return invalid_argument("--initial-cluster names node " + std::to_string(peer.id) +
                                    " twice, or node 0");
        }
    }
    if (!options.initial_cluster.empty() && ids.count(options.node_id) == 0) {
        return invalid_argument("--initial-cluster does not name this node (--node-id " +
                                std::to_string(options.node_id) + ")");
    }
    if (!options.initial_cluster.empty() && !options.join_endpoints.empty()) {
        return invalid_argument("give --initial-cluster (a new cluster) or --join, not both");
    }
    return validate_curve(options);
}

Result<std::vector<PeerAddress>> parse_initial_cluster(const std::string& text) {
    std::vector<PeerAddress> peers;
    std::stringstream items(text);
    std::string item;
    while (std::getline(items, item, ',')) {
        if (item.empty()) continue;
        size_t equals = item.find('=');
        if (equals == std::string::npos || equals == 0 || equals + 1 == item.size()) {
            return invalid_argument("--initial-cluster item '" + item +
                                    "' is not ID=ENDPOINT (e.g. 1=tcp://127.0.0.1:7101)");
        }
        std::string id_text = item.substr(0, equals);
        if (id_text.find_first_not_of("0123456789") != std::string::npos || id_text.size() > 18) {
            return invalid_argument("--initial-cluster: '" + id_text + "' is not a node id");
        }
        peers.push_back({std::stoull(id_text), item.substr(equals + 1)});
    }
    return peers;
}

}  // namespace copycat::server
