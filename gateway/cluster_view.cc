#include "gateway/cluster_view.h"

namespace copycat::gateway {

NodeRole node_role_named(std::string_view role) {
    if (role == "leader") return NodeRole::leader;
    if (role == "follower") return NodeRole::follower;
    if (role == "candidate") return NodeRole::candidate;
    if (role == "passive") return NodeRole::passive;
    if (role == "reserve") return NodeRole::reserve;
    if (role == "inactive") return NodeRole::inactive;
    return NodeRole::unknown;
}

ClusterView::ClusterView(std::vector<std::string> endpoints, uint64_t max_follower_lag)
    : max_follower_lag_(max_follower_lag) {
    for (std::string& endpoint : endpoints) {
        NodeState node;
        node.endpoint = std::move(endpoint);
        nodes_.push_back(std::move(node));
    }
}

std::optional<size_t> ClusterView::leader() const {
    if (leader_ && nodes_[*leader_].reachable) return leader_;
    return std::nullopt;
}

session::NodeId ClusterView::leader_id() const {
    std::optional<size_t> index = leader();
    return index ? nodes_[*index].status.id : 0;
}

std::optional<size_t> ClusterView::index_of(session::NodeId id) const {
    if (id == 0) return std::nullopt;
    for (size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i].has_status && nodes_[i].status.id == id) return i;
    }
    return std::nullopt;
}

std::string ClusterView::known_ids() const {
    std::string text;
    for (const NodeState& node : nodes_) {
        if (!node.has_status) continue;
        text += (text.empty() ? "" : ", ") + std::to_string(node.status.id);
    }
    return text.empty() ? "none" : text;
}

void ClusterView::start(Time now) {
    for (NodeState& node : nodes_) node.last_heard = now;
}

void ClusterView::heard(size_t node, Time now) {
    nodes_.at(node).reachable = true;
    nodes_[node].last_heard = now;
}

void ClusterView::set_leader(std::optional<size_t> leader) { leader_ = leader; }

void ClusterView::on_status(size_t index, const NodeStatus& status, Time now) {
    NodeState& node = nodes_.at(index);
    node.status = status;
    node.has_status = true;
    heard(index, now);
    if (status.term < leader_term_) return;  // an older term's view: a deposed leader's
    if (status.role == NodeRole::leader) {
        leader_term_ = status.term;
        return set_leader(index);
    }
    std::optional<size_t> named = index_of(status.leader);
    if (named && *named != index) {
        leader_term_ = status.term;
        return set_leader(named);
    }
    // A newer term without a leader: an election is under way and the old leader's term is
    // over. The same term: the known leader stands, unless this node was it.
    if (status.term > leader_term_ || leader_ == index) set_leader(std::nullopt);
}

void ClusterView::confirm_leader(size_t node) { set_leader(node); }

std::optional<size_t> ClusterView::follow_hint(size_t from, session::NodeId hint) {
    if (leader_ == from) set_leader(std::nullopt);
    std::optional<size_t> named = index_of(hint);
    if (!named || *named == from || !nodes_[*named].reachable) return std::nullopt;
    set_leader(named);
    return named;
}

void ClusterView::mark_unreachable(size_t node) { nodes_.at(node).reachable = false; }

std::vector<size_t> ClusterView::mark_silent(Time now, Micros silence) {
    std::vector<size_t> silent;
    for (size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i].reachable && now - nodes_[i].last_heard > silence) {
            nodes_[i].reachable = false;
            silent.push_back(i);
        }
    }
    return silent;
}

std::optional<size_t> ClusterView::next_node() {
    if (nodes_.empty()) return std::nullopt;
    const size_t count = nodes_.size();
    for (size_t k = 0; k < count; ++k) {
        const size_t i = (next_node_ + k) % count;
        if (nodes_[i].reachable) {
            next_node_ = i + 1;
            return i;
        }
    }
    return next_node_++ % count;
}

bool ClusterView::serves_sequential(size_t index, session::Index floor) const {
    const NodeState& node = nodes_[index];
    const NodeRole role = node.status.role;
    return node.reachable && node.has_status &&
           (role == NodeRole::follower || role == NodeRole::passive) &&
           node.status.applied_index >= floor;
}

std::optional<size_t> ClusterView::sequential_target() {
    const std::optional<size_t> lead = leader();
    if (!lead) return std::nullopt;
    const NodeState& leader_node = nodes_[*lead];
    if (!leader_node.has_status) return lead;
    const session::Index commit = leader_node.status.commit_index;
    const session::Index floor = commit > max_follower_lag_ ? commit - max_follower_lag_ : 0;
    const size_t count = nodes_.size();
    for (size_t k = 0; k < count; ++k) {
        const size_t i = (next_sequential_ + k) % count;
        if (i != *lead && serves_sequential(i, floor)) {
            next_sequential_ = i + 1;
            return i;
        }
    }
    return lead;
}

}  // namespace copycat::gateway
