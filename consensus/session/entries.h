// What the session layer writes into the Raft log (copycat.md §4.5–4.6): the payload of raft
// entries of type command. Encoded with common/codec.h: a kind byte, then the fields. Decoding
// untrusted bytes never crashes; it says what was wrong.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "consensus/session/protocol.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::session {

struct RegisterEntry {
    std::string client_id;
    uint64_t timeout_ms = 0;  // chosen by the leader: every server uses the same
    bool operator==(const RegisterEntry&) const = default;
};

struct KeepAliveEntry {
    std::vector<KeepAliveItem> sessions;
    bool operator==(const KeepAliveEntry&) const = default;
};

struct UnregisterEntry {
    SessionId session = 0;
    bool expired = false;  // by the leader (true) or by the client (false)
    bool operator==(const UnregisterEntry&) const = default;
};

struct CommandEntry {
    SessionId session = 0;
    uint64_t sequence = 0;
    statemachine::Operation operation;  // empty type: a no-op filling a sequence
    bool operator==(const CommandEntry&) const = default;
};

using SessionEntry = std::variant<RegisterEntry, KeepAliveEntry, UnregisterEntry, CommandEntry>;

Bytes encode_entry(const SessionEntry& entry);
Result<SessionEntry> decode_entry(std::span<const uint8_t> bytes);

// The compaction mode the session layer gives its own entries (copycat.md §2.4): register and
// keep-alive QUORUM, unregister TOMBSTONE; a command's comes from its type (Admission).
statemachine::CompactionMode entry_compaction(const SessionEntry& entry);

}  // namespace copycat::session
