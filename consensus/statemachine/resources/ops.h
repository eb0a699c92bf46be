// The operations and events of the built-in resources (CoordinationStateMachine): the
// contract between the state machine and every client (C++ client library, copycat-ctl,
// copycat-bench, tests). Each operation names the resource instance it works on; instances are
// created on first use, so there is no "create".
//
// Versions, fencing tokens and terms are log indexes of the commands that made them: they are
// strictly increasing per instance, and the same on every server even after the log has been
// compacted and replayed (a counter of events would not be: compaction removes events).
//
// Shared by clients: header-only; needs operation.h and copycat_common (the codec), nothing of
// the state machine implementation (the copycat_operations target).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/status.h"
#include "consensus/statemachine/operation.h"

namespace copycat::resources {

using statemachine::Bytes;
using statemachine::CompactionMode;
using statemachine::Index;
using statemachine::SessionId;

// Log time spans above this (about ten years) are refused: they would overflow log time.
inline constexpr uint64_t kMaxDurationMs = 10ULL * 365 * 24 * 3600 * 1000;

// Refuses an empty name of a resource instance or member.
inline Status require_name(std::string_view op_type, std::string_view what, std::string_view name) {
    if (!name.empty()) return Status::ok();
    return invalid_argument(std::string(op_type) + ": the " + std::string(what) + " name is empty");
}

// Refuses a TTL or timeout that would overflow log time.
inline Status require_duration(std::string_view op_type, std::string_view what,
                               uint64_t duration_ms) {
    if (duration_ms <= kMaxDurationMs) return Status::ok();
    return invalid_argument(std::string(op_type) + ": " + std::string(what) + " " +
                            std::to_string(duration_ms) + " is above the maximum " +
                            std::to_string(kMaxDurationMs));
}

// ---------------------------------------------------------------------------------------------
// map: keys to byte values, with versions, TTLs and watches.

// Puts a value. Without TTL (ttl_ms = 0) the key lives until overwritten or removed; with a TTL
// it is removed (and watchers told) once log time reaches the put's time + ttl_ms.
struct MapPut {
    static constexpr std::string_view type = "map.put";
    std::string map;
    std::string key;
    Bytes value;
    uint64_t ttl_ms = 0;  // 0: no expiry
    static auto fields(auto& s) { return std::tie(s.map, s.key, s.value, s.ttl_ms); }
    CompactionMode compaction() const {
        return ttl_ms > 0 ? CompactionMode::expiring : CompactionMode::release;
    }
    Status validate() const {
        COPYCAT_RETURN_IF_ERROR(require_name(type, "map", map));
        return require_duration(type, "ttl_ms", ttl_ms);
    }
    struct Output {
        std::optional<Bytes> previous;  // the value it replaced
        Index version = 0;              // the index of this put
        static auto fields(auto& s) { return std::tie(s.previous, s.version); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const MapPut&) const = default;
};

struct MapGet {
    static constexpr std::string_view type = "map.get";
    std::string map;
    std::string key;
    static auto fields(auto& s) { return std::tie(s.map, s.key); }
    Status validate() const { return require_name(type, "map", map); }
    struct Output {
        std::optional<Bytes> value;  // absent: no such key
        Index version = 0;           // index of the write that set it; 0 when absent
        static auto fields(auto& s) { return std::tie(s.value, s.version); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const MapGet&) const = default;
};

struct MapRemove {
    static constexpr std::string_view type = "map.remove";
    std::string map;
    std::string key;
    static auto fields(auto& s) { return std::tie(s.map, s.key); }
    CompactionMode compaction() const { return CompactionMode::tombstone; }
    Status validate() const { return require_name(type, "map", map); }
    struct Output {
        std::optional<Bytes> previous;  // absent: there was no such key
        static auto fields(auto& s) { return std::tie(s.previous); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const MapRemove&) const = default;
};

// Compare-and-set: sets `value` (with an optional TTL, as map.put) only if the key's current
// value equals `expected`; expected absent means "only if the key does not exist".
struct MapCas {
    static constexpr std::string_view type = "map.cas";
    std::string map;
    std::string key;
    std::optional<Bytes> expected;
    Bytes value;
    uint64_t ttl_ms = 0;
    static auto fields(auto& s) { return std::tie(s.map, s.key, s.expected, s.value, s.ttl_ms); }
    CompactionMode compaction() const {
        return ttl_ms > 0 ? CompactionMode::expiring : CompactionMode::release;
    }
    Status validate() const {
        COPYCAT_RETURN_IF_ERROR(require_name(type, "map", map));
        return require_duration(type, "ttl_ms", ttl_ms);
    }
    struct Output {
        bool succeeded = false;
        std::optional<Bytes> current;  // the value after the operation
        Index version = 0;             // of `current`; 0 when absent
        static auto fields(auto& s) { return std::tie(s.succeeded, s.current, s.version); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const MapCas&) const = default;
};

struct MapEntry {
    std::string key;
    Bytes value;
    Index version = 0;
    static auto fields(auto& s) { return std::tie(s.key, s.value, s.version); }
    bool operator==(const MapEntry&) const = default;
};

// Keys starting with `prefix` (all keys for ""), in byte order, at most `limit` (0: all).
struct MapList {
    static constexpr std::string_view type = "map.list";
    std::string map;
    std::string prefix;
    uint64_t limit = 0;
    static auto fields(auto& s) { return std::tie(s.map, s.prefix, s.limit); }
    Status validate() const { return require_name(type, "map", map); }
    struct Output {
        std::vector<MapEntry> entries;
        bool truncated = false;  // more keys matched than `limit`
        static auto fields(auto& s) { return std::tie(s.entries, s.truncated); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const MapList&) const = default;
};

struct MapSize {
    static constexpr std::string_view type = "map.size";
    std::string map;
    static auto fields(auto& s) { return std::tie(s.map); }
    Status validate() const { return require_name(type, "map", map); }
    struct Output {
        uint64_t size = 0;
        static auto fields(auto& s) { return std::tie(s.size); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const MapSize&) const = default;
};

// Watches one key (prefix = false) or every key starting with `key` (prefix = true): each
// later change publishes a MapChanged event to this session, once per change however many of
// its watches match. The watch lasts until map.unwatch or the end of the session.
struct MapWatch {
    static constexpr std::string_view type = "map.watch";
    std::string map;
    std::string key;
    bool prefix = false;
    static auto fields(auto& s) { return std::tie(s.map, s.key, s.prefix); }
    CompactionMode compaction() const { return CompactionMode::release; }
    Status validate() const { return require_name(type, "map", map); }
    struct Output {
        bool added = false;  // false: this session already had this watch
        static auto fields(auto& s) { return std::tie(s.added); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const MapWatch&) const = default;
};

struct MapUnwatch {
    static constexpr std::string_view type = "map.unwatch";
    std::string map;
    std::string key;
    bool prefix = false;
    static auto fields(auto& s) { return std::tie(s.map, s.key, s.prefix); }
    CompactionMode compaction() const { return CompactionMode::tombstone; }
    Status validate() const { return require_name(type, "map", map); }
    struct Output {
        bool removed = false;  // false: this session had no such watch
        static auto fields(auto& s) { return std::tie(s.removed); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const MapUnwatch&) const = default;
};

enum class MapChange : uint8_t { written = 0, removed = 1, expired = 2 };
constexpr uint8_t codec_enum_count(MapChange) { return 3; }
constexpr const char* map_change_name(MapChange change) {
    switch (change) {
        case MapChange::written: return "written";
        case MapChange::removed: return "removed";
        case MapChange::expired: return "expired";
    }
    return "invalid";
}

// Event to watching sessions: a key was written (put, successful cas), removed or expired.
struct MapChanged {
    static constexpr std::string_view name = "map.changed";
    std::string map;
    std::string key;
    MapChange change = MapChange::written;
    std::optional<Bytes> value;  // the new value; absent when removed or expired
    Index index = 0;             // the log index at which the change happened
    static auto fields(auto& s) { return std::tie(s.map, s.key, s.change, s.value, s.index); }
    bool operator==(const MapChanged&) const = default;
};

// ---------------------------------------------------------------------------------------------
// counter: a signed 64-bit value, 0 until first written.

struct CounterGet {
    static constexpr std::string_view type = "counter.get";
    std::string counter;
    static auto fields(auto& s) { return std::tie(s.counter); }
    Status validate() const { return require_name(type, "counter", counter); }
    struct Output {
        int64_t value = 0;
        static auto fields(auto& s) { return std::tie(s.value); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const CounterGet&) const = default;
};

// Sets the value unconditionally. Also what keeps a counter's log short: adds and
// compare-and-sets depend on the value before them, so their entries stay in the log until a
// counter.set replaces them (see counter.h).
struct CounterSet {
    static constexpr std::string_view type = "counter.set";
    std::string counter;
    int64_t value = 0;
    static auto fields(auto& s) { return std::tie(s.counter, s.value); }
    CompactionMode compaction() const { return CompactionMode::release; }
    Status validate() const { return require_name(type, "counter", counter); }
    struct Output {
        int64_t previous = 0;
        static auto fields(auto& s) { return std::tie(s.previous); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const CounterSet&) const = default;
};

// Adds delta (negative subtracts). Overflow is refused with out_of_range; nothing changes.
struct CounterAdd {
    static constexpr std::string_view type = "counter.add";
    std::string counter;
    int64_t delta = 0;
    static auto fields(auto& s) { return std::tie(s.counter, s.delta); }
    CompactionMode compaction() const { return CompactionMode::release; }
    Status validate() const { return require_name(type, "counter", counter); }
    struct Output {
        int64_t value = 0;  // after the addition
        static auto fields(auto& s) { return std::tie(s.value); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const CounterAdd&) const = default;
};

struct CounterCas {
    static constexpr std::string_view type = "counter.cas";
    std::string counter;
    int64_t expected = 0;
    int64_t value = 0;
    static auto fields(auto& s) { return std::tie(s.counter, s.expected, s.value); }
    CompactionMode compaction() const { return CompactionMode::release; }
    Status validate() const { return require_name(type, "counter", counter); }
    struct Output {
        bool succeeded = false;
        int64_t value = 0;  // the value after the operation
        static auto fields(auto& s) { return std::tie(s.succeeded, s.value); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const CounterCas&) const = default;
};

// ---------------------------------------------------------------------------------------------
// lock: a fair (FIFO) lock held by a session, with fencing tokens.

enum class LockAcquireOutcome : uint8_t {
    acquired = 0,  // held now; token is the fencing token
    queued = 1,    // a LockAcquired or LockFailed event with this token follows
    failed = 2,    // try (timeout_ms = 0) found the lock held
};
constexpr uint8_t codec_enum_count(LockAcquireOutcome) { return 3; }
constexpr const char* lock_acquire_outcome_name(LockAcquireOutcome outcome) {
    switch (outcome) {
        case LockAcquireOutcome::acquired: return "acquired";
        case LockAcquireOutcome::queued: return "queued";
        case LockAcquireOutcome::failed: return "failed";
    }
    return "invalid";
}

// Acquires the lock for the calling session. timeout_ms: 0 tries once; kWaitForever waits
// until granted or the session ends; otherwise the request fails (LockFailed) after timeout_ms
// of log time. A session that already holds or waits for this lock is refused (conflict).
struct LockAcquire {
    static constexpr std::string_view type = "lock.acquire";
    static constexpr uint64_t kWaitForever = std::numeric_limits<uint64_t>::max();
    std::string lock;
    uint64_t timeout_ms = kWaitForever;
    static auto fields(auto& s) { return std::tie(s.lock, s.timeout_ms); }
    CompactionMode compaction() const { return CompactionMode::release; }
    Status validate() const {
        COPYCAT_RETURN_IF_ERROR(require_name(type, "lock", lock));
        if (timeout_ms == kWaitForever) return Status::ok();
        return require_duration(type, "timeout_ms", timeout_ms);
    }
    struct Output {
        LockAcquireOutcome outcome = LockAcquireOutcome::failed;
        // The fencing token: the index of this request. Tokens of successive holders of a lock
        // strictly increase. Set for acquired and queued.
        Index token = 0;
        static auto fields(auto& s) { return std::tie(s.outcome, s.token); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const LockAcquire&) const = default;
};

enum class LockReleaseOutcome : uint8_t {
    released = 0,   // the session held it; the next waiter (if any) now holds it
    cancelled = 1,  // the session was waiting; it no longer is
    not_held = 2,   // the session neither held nor waited for it
};
constexpr uint8_t codec_enum_count(LockReleaseOutcome) { return 3; }
constexpr const char* lock_release_outcome_name(LockReleaseOutcome outcome) {
    switch (outcome) {
        case LockReleaseOutcome::released: return "released";
        case LockReleaseOutcome::cancelled: return "cancelled";
        case LockReleaseOutcome::not_held: return "not_held";
    }
    return "invalid";
}

struct LockRelease {
    static constexpr std::string_view type = "lock.release";
    std::string lock;
    static auto fields(auto& s) { return std::tie(s.lock); }
    CompactionMode compaction() const { return CompactionMode::tombstone; }
    Status validate() const { return require_name(type, "lock", lock); }
    struct Output {
        LockReleaseOutcome outcome = LockReleaseOutcome::not_held;
        static auto fields(auto& s) { return std::tie(s.outcome); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const LockRelease&) const = default;
};

// Event to a waiting session: it now holds the lock.
struct LockAcquired {
    static constexpr std::string_view name = "lock.acquired";
    std::string lock;
    Index token = 0;  // the fencing token (the index of the acquire)
    static auto fields(auto& s) { return std::tie(s.lock, s.token); }
    bool operator==(const LockAcquired&) const = default;
};

// Event to a waiting session: its timeout passed before the lock was granted.
struct LockFailed {
    static constexpr std::string_view name = "lock.failed";
    std::string lock;
    Index token = 0;  // the token the acquire was queued with
    static auto fields(auto& s) { return std::tie(s.lock, s.token); }
    bool operator==(const LockFailed&) const = default;
};

// ---------------------------------------------------------------------------------------------
// election: candidates queue; the earliest live candidate leads.

// Enters the calling session as a candidate (once: entering again changes nothing).
struct ElectionEnter {
    static constexpr std::string_view type = "election.enter";
    std::string election;
    static auto fields(auto& s) { return std::tie(s.election); }
    CompactionMode compaction() const { return CompactionMode::release; }
    Status validate() const { return require_name(type, "election", election); }
    struct Output {
        bool entered = false;  // false: the session already was a candidate
        bool elected = false;  // this session leads now
        uint64_t term = 0;     // the current leader's term
        SessionId leader = 0;  // the current leader
        static auto fields(auto& s) { return std::tie(s.entered, s.elected, s.term, s.leader); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const ElectionEnter&) const = default;
};

struct ElectionLeave {
    static constexpr std::string_view type = "election.leave";
    std::string election;
    static auto fields(auto& s) { return std::tie(s.election); }
    CompactionMode compaction() const { return CompactionMode::tombstone; }
    Status validate() const { return require_name(type, "election", election); }
    struct Output {
        bool left = false;        // false: the session was not a candidate
        bool was_leader = false;  // the next candidate (if any) has been elected
        static auto fields(auto& s) { return std::tie(s.left, s.was_leader); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const ElectionLeave&) const = default;
};

struct ElectionLeader {
    static constexpr std::string_view type = "election.leader";
    std::string election;
    static auto fields(auto& s) { return std::tie(s.election); }
    Status validate() const { return require_name(type, "election", election); }
    struct Output {
        std::optional<SessionId> leader;    // absent: no candidates
        uint64_t term = 0;                  // 0 when there is no leader
        std::vector<SessionId> candidates;  // in order of succession, leader first
        static auto fields(auto& s) { return std::tie(s.leader, s.term, s.candidates); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const ElectionLeader&) const = default;
};

// Event to every candidate whenever a leader is elected, also the first candidate elected as
// it enters (leader == the receiver: you lead).
// The term is the index of the winner's election.enter: strictly increasing per election.
struct ElectionElected {
    static constexpr std::string_view name = "election.elected";
    std::string election;
    uint64_t term = 0;
    SessionId leader = 0;
    static auto fields(auto& s) { return std::tie(s.election, s.term, s.leader); }
    bool operator==(const ElectionElected&) const = default;
};

// ---------------------------------------------------------------------------------------------
// group: named members, each tied to the session that joined it. A member is the pair
// (session, name): two sessions may each have a member of the same name (a restarted process
// whose old session has not yet expired), and no join ever fails because of another session,
// which keeps a replay of a compacted log equal to the original (see group.h).

struct GroupMember {
    std::string name;
    SessionId session = 0;
    Index index = 0;  // of its group.join
    static auto fields(auto& s) { return std::tie(s.name, s.session, s.index); }
    bool operator==(const GroupMember&) const = default;
};

// Joins a member for the calling session (again: changes nothing).
struct GroupJoin {
    static constexpr std::string_view type = "group.join";
    std::string group;
    std::string member;
    static auto fields(auto& s) { return std::tie(s.group, s.member); }
    CompactionMode compaction() const { return CompactionMode::release; }
    Status validate() const {
        COPYCAT_RETURN_IF_ERROR(require_name(type, "group", group));
        return require_name(type, "member", member);
    }
    struct Output {
        bool joined = false;               // false: the session already had this member
        Index index = 0;                   // of the member's join
        std::vector<GroupMember> members;  // after the join, by (name, session)
        static auto fields(auto& s) { return std::tie(s.joined, s.index, s.members); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const GroupJoin&) const = default;
};

// Removes a member of the calling session.
struct GroupLeave {
    static constexpr std::string_view type = "group.leave";
    std::string group;
    std::string member;
    static auto fields(auto& s) { return std::tie(s.group, s.member); }
    CompactionMode compaction() const { return CompactionMode::tombstone; }
    Status validate() const {
        COPYCAT_RETURN_IF_ERROR(require_name(type, "group", group));
        return require_name(type, "member", member);
    }
    struct Output {
        bool left = false;  // false: no such member
        static auto fields(auto& s) { return std::tie(s.left); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const GroupLeave&) const = default;
};

struct GroupMembers {
    static constexpr std::string_view type = "group.members";
    std::string group;
    static auto fields(auto& s) { return std::tie(s.group); }
    Status validate() const { return require_name(type, "group", group); }
    struct Output {
        std::vector<GroupMember> members;  // by (name, session)
        static auto fields(auto& s) { return std::tie(s.members); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const GroupMembers&) const = default;
};

// Event to the sessions of the group's other members (not the joining session).
struct GroupJoined {
    static constexpr std::string_view name = "group.joined";
    std::string group;
    GroupMember member;
    static auto fields(auto& s) { return std::tie(s.group, s.member); }
    bool operator==(const GroupJoined&) const = default;
};

// Event to the sessions of the group's remaining members (not the leaving session).
struct GroupLeft {
    static constexpr std::string_view name = "group.left";
    std::string group;
    GroupMember member;
    bool session_ended = false;  // left because its session expired or closed
    Index index = 0;             // at which it left
    static auto fields(auto& s) { return std::tie(s.group, s.member, s.session_ended, s.index); }
    bool operator==(const GroupLeft&) const = default;
};

}  // namespace copycat::resources
