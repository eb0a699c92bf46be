#include "consensus/session/entries.h"

#include <string>
#include <type_traits>
#include <utility>

#include "common/codec.h"

namespace copycat::session {
namespace {

// The kind byte in front of every session entry. Stored in the log: never renumber.
enum class EntryKind : uint8_t {
    register_session = 1,
    keep_alive = 2,
    unregister = 3,
    command = 4
};

// Bounds on names, so a corrupt length never makes a huge string. Client ids are UUID-like and
// operation types are short dotted names ("map.put"); these leave plenty of room.
constexpr size_t kMaxClientIdBytes = 4096;
constexpr size_t kMaxOperationTypeBytes = 4096;
// A keep-alive item is three varints: at least three bytes each.
constexpr size_t kMinKeepAliveItemBytes = 3;

void encode_fields(codec::Writer& out, const RegisterEntry& entry) {
    out.u8(static_cast<uint8_t>(EntryKind::register_session));
    out.string(entry.client_id);
    out.varint(entry.timeout_ms);
}

void encode_fields(codec::Writer& out, const KeepAliveEntry& entry) {
    out.u8(static_cast<uint8_t>(EntryKind::keep_alive));
    out.varint(entry.sessions.size());
    for (const KeepAliveItem& item : entry.sessions) {
        out.varint(item.session);
        out.varint(item.command_sequence);
        out.varint(item.event_index);
    }
}

void encode_fields(codec::Writer& out, const UnregisterEntry& entry) {
    out.u8(static_cast<uint8_t>(EntryKind::unregister));
    out.varint(entry.session);
    out.boolean(entry.expired);
}

void encode_fields(codec::Writer& out, const CommandEntry& entry) {
    out.u8(static_cast<uint8_t>(EntryKind::command));
    out.varint(entry.session);
    out.varint(entry.sequence);
    out.string(entry.operation.type);
    out.bytes(entry.operation.argument);
}

Result<SessionEntry> finish(codec::Reader& in, SessionEntry entry, const char* kind) {
    if (!in.ok()) {
        return corruption(std::string("session entry: truncated or malformed ") + kind);
    }
    if (!in.done()) {
        return corruption(std::string("session entry: ") + std::to_string(in.remaining()) +
                          " trailing bytes after a " + kind);
    }
    return entry;
}

Result<SessionEntry> decode_register(codec::Reader& in) {
    RegisterEntry entry;
    in.string(entry.client_id, kMaxClientIdBytes);
    in.varint(entry.timeout_ms);
    return finish(in, std::move(entry), "register entry");
}

Result<SessionEntry> decode_keep_alive(codec::Reader& in) {
    KeepAliveEntry entry;
    uint64_t count = 0;
    if (in.count(count, kMinKeepAliveItemBytes)) {
        entry.sessions.resize(count);
        for (KeepAliveItem& item : entry.sessions) {
            in.varint(item.session);
            in.varint(item.command_sequence);
            in.varint(item.event_index);
        }
    }
    return finish(in, std::move(entry), "keep-alive entry");
}

Result<SessionEntry> decode_unregister(codec::Reader& in) {
    UnregisterEntry entry;
    in.varint(entry.session);
    in.boolean(entry.expired);
    return finish(in, std::move(entry), "unregister entry");
}

Result<SessionEntry> decode_command(codec::Reader& in) {
    CommandEntry entry;
    in.varint(entry.session);
    in.varint(entry.sequence);
    in.string(entry.operation.type, kMaxOperationTypeBytes);
    in.bytes(entry.operation.argument);
    return finish(in, std::move(entry), "command entry");
}

}  // namespace

Bytes encode_entry(const SessionEntry& entry) {
    codec::Writer out;
    std::visit([&out](const auto& value) { encode_fields(out, value); }, entry);
    return out.take();
}

Result<SessionEntry> decode_entry(std::span<const uint8_t> bytes) {
    codec::Reader in(bytes);
    uint8_t kind = 0;
    if (!in.u8(kind)) return corruption("session entry: empty payload");
    switch (static_cast<EntryKind>(kind)) {
        case EntryKind::register_session: return decode_register(in);
        case EntryKind::keep_alive: return decode_keep_alive(in);
        case EntryKind::unregister: return decode_unregister(in);
        case EntryKind::command: return decode_command(in);
    }
    return corruption("session entry: unknown kind " + std::to_string(kind));
}

statemachine::CompactionMode entry_compaction(const SessionEntry& entry) {
    using statemachine::CompactionMode;
    return std::visit(
        [](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<T, RegisterEntry> || std::is_same_v<T, KeepAliveEntry>) {
                return CompactionMode::quorum;
            } else if constexpr (std::is_same_v<T, UnregisterEntry>) {
                return CompactionMode::tombstone;
            } else if (value.operation.type.empty()) {
                return CompactionMode::release;  // a no-op: released as soon as it applies
            } else {
                // The leader takes a command's mode from its Admission; a caller that did not
                // ask gets the safest mode rather than a guess.
                return CompactionMode::unknown;
            }
        },
        entry);
}

}  // namespace copycat::session
