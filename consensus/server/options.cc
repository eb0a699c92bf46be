#include "consensus/server/options.h"

#include <set>
#include <sstream>

namespace copycat::server {

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
    if (options.peer_listen.empty() || options.client_listen.empty()) {
        return invalid_argument("--peer-listen and --client-listen are required");
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
    return Status::ok();
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
