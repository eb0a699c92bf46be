// ClusterView: what the gateway knows of the nodes it forwards to, and where a request should
// go next. The gateway is configured with the nodes' client endpoints only; each node's id,
// role, term and progress come from its answers to status polls, and which node leads from
// those answers and from the leader hints in every response.
//
// A node is reachable while sends to it succeed and it answers: a failed send or two status
// intervals of silence make it unreachable, any message from it reachable again. The leader
// is only ever a reachable node; a hint naming an id the gateway does not know, or an
// unreachable node, or the node that gave it, is no hint (copycat #284: a follower named
// itself).
//
// Statuses carry terms, hints do not: a status naming a leader of an older term than the
// leader already known (a deposed leader cut off from the others) changes nothing.
//
// Pure; single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/session/protocol.h"
#include "gateway/clock.h"

namespace copycat::gateway {

enum class NodeRole : uint8_t { unknown, leader, follower, candidate, passive, reserve, inactive };

// A node's status answer, as far as the gateway uses it.
struct NodeStatus {
    session::NodeId id = 0;
    NodeRole role = NodeRole::unknown;
    uint64_t term = 0;
    session::NodeId leader = 0;
    session::Index commit_index = 0;
    session::Index applied_index = 0;
};

// "leader", "follower", ... as StatusResponse.role says; unknown for anything else.
NodeRole node_role_named(std::string_view role);

struct NodeState {
    std::string endpoint;
    bool has_status = false;
    NodeStatus status;  // the last one it answered
    bool reachable = true;
    Time last_heard{};  // its last message of any kind
};

class ClusterView {
public:
    explicit ClusterView(std::vector<std::string> endpoints, uint64_t max_follower_lag);

    size_t size() const { return nodes_.size(); }
    const NodeState& node(size_t index) const { return nodes_.at(index); }
    // The leader, if one is known and reachable.
    std::optional<size_t> leader() const;
    session::NodeId leader_id() const;
    std::optional<size_t> index_of(session::NodeId id) const;
    // The node ids learned so far, for error messages: "1, 2, 3" (or "none").
    std::string known_ids() const;

    // --- what the gateway saw ---
    // Counts as heard from every node now (the first tick: silence is measured from here).
    void start(Time now);
    // Any message from `node`: it is reachable.
    void heard(size_t node, Time now);
    void on_status(size_t node, const NodeStatus& status, Time now);
    // `node` accepted a request only a leader accepts.
    void confirm_leader(size_t node);
    // `from` answered no_leader naming `hint`: the node to try next, if the hint is usable
    // (it then becomes the leader). A leader that answers no_leader leads no more.
    std::optional<size_t> follow_hint(size_t from, session::NodeId hint);
    // A send to `node` failed.
    void mark_unreachable(size_t node);
    // Marks the reachable nodes not heard from since `now - silence` unreachable; returns them.
    std::vector<size_t> mark_silent(Time now, Micros silence);

    // --- where to send ---
    // The reachable nodes in turn; when none is, every node in turn (a send is the probe: to
    // a node that is down it fails at once). nullopt only for an empty cluster.
    std::optional<size_t> next_node();
    // A SEQUENTIAL query: the reachable followers whose applied index is within
    // max_follower_lag of the leader's commit index, in turn; the leader when none is;
    // nullopt when no leader is known (then route it as a leader's request).
    std::optional<size_t> sequential_target();

private:
    void set_leader(std::optional<size_t> leader);
    bool serves_sequential(size_t index, session::Index floor) const;

    std::vector<NodeState> nodes_;
    uint64_t max_follower_lag_;
    std::optional<size_t> leader_;
    uint64_t leader_term_ = 0;  // the highest term a status showed a leader in
    size_t next_node_ = 0;
    size_t next_sequential_ = 0;
};

}  // namespace copycat::gateway
