// What simulated clients and simulated nodes say to each other: a request for one operation
// (one attempt of it: a retry is a new attempt with the same process and sequence) and the
// node's reply. Plain values; they travel on the clients' links (client.h), not the Raft network.
#pragma once

#include <cstdint>

#include "consensus/raft/types.h"
#include "tests/sim/history.h"

namespace copycat::sim {

enum class ReadMode : uint8_t {
    read_index,  // Raft::read_index: a heartbeat round confirms leadership
    lease,       // Raft::lease_read: served inside the leader's lease
};

struct ClientRequest {
    int process = 0;
    uint64_t sequence = 0;  // the operation's, the same on every attempt
    uint64_t attempt = 0;   // unique per attempt
    raft::NodeId node = 0;  // where it goes
    Op op;
    ReadMode read_mode = ReadMode::read_index;
};

enum class ReplyStatus : uint8_t {
    ok,          // done: output holds the result
    not_leader,  // refused before being proposed (or a read refused): it did not happen here
};

struct ClientReply {
    int process = 0;
    uint64_t sequence = 0;
    uint64_t attempt = 0;
    raft::NodeId node = 0;  // who answers
    ReplyStatus status = ReplyStatus::ok;
    raft::NodeId leader_hint = 0;  // not_leader: who the node believes leads, 0 if unknown
    OpOutput output;
};

}  // namespace copycat::sim
