// The codec of the peer protocol (schemas/peer.fbs): raft::Envelope to bytes and back, for
// the consensus shell's peer sockets. Pure functions: any thread may call them, each with its
// own builder.
//
// Encoding trusts its input (values the Raft core made) and asserts the invariants a receiver
// checks, so that a core bug stops the sender instead of being dropped silently everywhere.
// Decoding trusts nothing: every buffer is verified first, and anything out of range (an
// unknown message type, a bad enum value, a node id 0, members out of order, vectors sharing
// their contents) is refused with a Status saying what was wrong. It never crashes and never
// allocates much more than the buffer's own size.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "consensus/raft/types.h"

namespace copycat::wire {

// The cluster name travels in every peer message; a node drops those of another cluster.
inline constexpr size_t kMaxClusterNameBytes = 256;

// A received peer message.
struct PeerMessage {
    std::string cluster;  // the sender's cluster name: compare with our own before use
    raft::Envelope envelope;
};

// Encodes into `builder` (cleared first) and returns its bytes, valid until the builder is
// used again. Reusing one builder keeps its buffer: AppendRequests then cost one copy of each
// payload and no allocation. `cluster` is at most kMaxClusterNameBytes.
std::span<const uint8_t> encode_peer(flatbuffers::FlatBufferBuilder& builder,
                                     std::string_view cluster, const raft::Envelope& envelope);

// The same into a vector of its own (tests, rare messages).
std::vector<uint8_t> encode_peer(std::string_view cluster, const raft::Envelope& envelope);

// The message in `data`, or why it is refused. `data` need only be valid during the call.
Result<PeerMessage> decode_peer(const void* data, size_t size);

}  // namespace copycat::wire
