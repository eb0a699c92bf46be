// The session layer (copycat.md §2.6–2.7, §4.5–4.9): sessions, command sequencing and the
// result cache, session events, log time and the scheduler, around one user StateMachine.
// Pure: it is fed committed Raft entries in order and answers with values. The same object
// runs on every server (leader, followers, passive members), so everything it decides comes
// from the log; the few leader-only duties (admitting a command before it is logged, choosing
// which suspected sessions to expire) are separate calls that change nothing replicated.
//
// Log entries: committed raft entries of type command carry an encoded SessionEntry
// (entries.h); initialize entries (each leader's first) reset every session's keep-alive time
// to the log time they bring, so a long election expires nobody (atomix #35); configuration
// entries only advance the index and log time.
//
// Time: log time = max(entry timestamps seen), never going back. Before each register,
// keep-alive, unregister and command entry, scheduled tasks due at or before the entry's time
// (the log time it leaves: an entry stamped earlier does not hold back what is already due)
// run, in due-time order, each in command context at that index, seeing log time = max(log
// time so far, its due time). A task scheduled by a task waits for the next entry. A periodic
// task that fell behind runs once, then is due one interval after the entry's time.
//
// Sessions: id = index of the register entry; the timeout is logged with it. At each register,
// keep-alive and unregister entry, every other session whose last keep-alive is older than its
// timeout becomes UNSTABLE (suspected), on every server; a keep-alive makes it OPEN again. Only
// the leader expires sessions: take_sessions_to_expire() says which, the leader logs an
// UnregisterEntry{expired=true} for each, and expiry happens when that entry applies.
//
// Commands: a command whose sequence the session already applied is answered from the result
// cache and takes no effect again; if a keep-alive already dropped that result (the client
// acknowledged it, so it no longer waits for it) the answer is command_error, never an invented
// value. Keep-alives drop cached results up to their command_sequence, and raise the session's
// applied sequence to it: the client has those responses, so those commands applied, even if a
// replay after compaction did not see their entries (copycat #282). A no-op (empty type)
// advances the sequence and reaches nobody. An unknown type answers unknown_operation (cached)
// and also advances the sequence, so the session does not hang. A sequence beyond the next
// one is applied and becomes the session's sequence: the leader admits only the next one, so a
// gap means the commands in between applied before and their entries were compacted away (a
// replay); one that showed up later would be at or below the sequence and never run, so
// program order is never reversed.
//
// Sessions end (closed by their client, or expired by the leader) when their unregister entry
// applies: listeners run (on_unregister or on_expire, then on_close), pending events are
// dropped. A logged expiry ends the session even if a keep-alive applied after the leader decided
// (the client registers again): servers replaying a compacted log must decide the same. A client
// registering again with the same non-empty client_id expires its older session first.
//
// Released entries (take_released): a command's entry when its Commit is released or destroyed
// (or at once for duplicates, no-ops, unknown types and unknown sessions); a keep-alive entry
// once it is neither the last keep-alive of a live session nor the one that acknowledged the
// most events and command results for it (a later keep-alive may carry lower figures); a session's
// register and unregister entries once it ended and the state machine holds none of its commits (a
// replay must find the session for every command still contributing to state), its end never
// before its register (a register entry that expired its client's older session ends that one
// too, and goes once both sessions let it go).
//
// Each release counts from the entry whose apply made it (the overwrite, the superseding
// keep-alive), and is handed out only when everything up to that entry is complete and stored
// here (take_released): a server that replays the log without a removed entry runs the entries
// after it differently (a remove finds nothing and publishes no event, a put returns no
// previous value), which is harmless only once their results and events are acknowledged. A
// duplicate holds back the release of the entry that raised its session's sequence past it, and
// releases made while this server applies across holes count from the end of the holes
// (defer_releases_until). What stays in the log is decided in Raft's log (log.h: released
// entries go from the highest down) and by lowest_pending_release() for deletes.
//
// Events: published while applying index i go into one batch {event_index = i, previous_index =
// the session's previous event index, or what its client acknowledged if that is later}; the
// first previous_index is the session id, where a client starts. Every server keeps a session's
// batches until a keep-alive's event_index (on every server) or a reset (on the server the
// client talks to) acknowledges them; they are dropped when the session ends. A keep-alive also
// raises the session's event index to what it acknowledges (up to the keep-alive's own index),
// so that a replay that skipped compacted entries (whose events were acknowledged through the
// log before they could be removed) chains the next batch from the same index.
//
// Scheduled tasks are not in snapshots: install() drops them. A snapshottable state machine
// re-creates its schedules in its own install() (scheduling is allowed there), from absolute
// log times kept in its snapshot, so that a server that installed runs them at the same log
// times as one that applied the entries.
//
// Not thread-safe: one thread calls everything, and the state machine runs inside these calls.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "consensus/raft/types.h"
#include "consensus/session/entries.h"
#include "consensus/session/protocol.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::session {

struct ServerStateMachineOptions {
    uint64_t default_session_timeout_ms = 5000;
    uint64_t min_session_timeout_ms = 100;  // a register asking for less gets this (logged)
    uint64_t max_session_timeout_ms = 3'600'000;
};

// What applying one entry produced, for the server that wants to answer its client.
struct RegisterApplied {
    SessionId session = 0;
    uint64_t timeout_ms = 0;
};
struct KeepAliveApplied {
    std::vector<ErrorCode> sessions;  // per item of the entry: ok or unknown_session
};
struct UnregisterApplied {
    SessionId session = 0;
    bool expired = false;
    ErrorCode error = ErrorCode::ok;  // unknown_session if it was not live
};
struct CommandApplied {
    SessionId session = 0;
    uint64_t sequence = 0;
    ErrorCode error = ErrorCode::ok;  // ok, application_error, unknown_session, unknown_operation
    std::string message;
    Bytes value;
    Index event_index = 0;  // the session's last event index after this command
};

struct Applied {
    Index index = 0;
    std::variant<std::monostate, RegisterApplied, KeepAliveApplied, UnregisterApplied,
                 CommandApplied>
        result;
    // Batches published at this index, one per session (every server keeps them; the server
    // the session's client talks to sends them).
    std::vector<PublishRequest> events;
    // Sessions that ended at this index (closed or expired): forget their connections.
    std::vector<SessionId> ended;
};

// The leader's check of a command before it logs it.
// An entry the state machine no longer needs, and the entry whose apply released it (or later:
// ServerStateMachine::defer_releases_until). Handed out in the order of `at`.
struct Release {
    Index index = 0;
    Index at = 0;
    bool operator==(const Release&) const = default;
};

struct Admission {
    ErrorCode error = ErrorCode::ok;  // ok, unknown_session, command_error, unknown_operation,
                                      // bad_request
    std::string message;
    uint64_t last_sequence = 0;  // command_error: resubmit after this
    statemachine::CompactionMode compaction = statemachine::CompactionMode::default_mode;
    // The command was the next one and advanced the leader's request sequence (not a
    // resubmission of one at or below it).
    bool advanced = false;
};

struct SessionInfo {
    SessionId id = 0;
    std::string client_id;
    statemachine::SessionState state = statemachine::SessionState::open;
    uint64_t timeout_ms = 0;
    uint64_t last_keep_alive_ms = 0;  // log time
    uint64_t command_sequence = 0;    // highest applied
    Index event_index = 0;            // last published
    size_t events_pending = 0;        // unacknowledged batches
};

class ServerStateMachine {
public:
    ServerStateMachine(std::unique_ptr<statemachine::StateMachine> state_machine,
                       ServerStateMachineOptions options = {});
    ~ServerStateMachine();

    // Every committed entry, in index order, exactly once per incarnation (after a snapshot
    // install, the entries after it). Indexes must grow; compacted holes are fine. A command
    // entry whose payload does not decode is skipped the same way on every server, released
    // and counted (malformed_entries()).
    Applied apply(const raft::Entry& entry);
    // Log indexes released since the last call: by the state machine (commits released or
    // destroyed) and by the session layer (superseded keep-alives, ended sessions' entries).
    // An entry released while applying index j is handed out only once completed_index() >= j:
    // a server that replays the log without it runs entry j (and what follows) differently
    // (a remove finds nothing and publishes no event, a put returns no previous value), which
    // is harmless only once j's result and events are acknowledged through the log. And only
    // once this server's own log holds every entry it applied durably (durable >=
    // last_applied() >= j): after a crash it replays its stored log, whose holes it can only
    // get past (Raft::hole_horizon()) if the entries that released them are still there, and
    // whose sessions that completed_index() left out (ended by then) must end there too.
    std::vector<Release> take_released(Index durable = std::numeric_limits<Index>::max());
    // Releases from now on count as made at `index` at the earliest: while a server applies a
    // log with holes below index (Raft::hole_horizon()), its state differs from the log's, and
    // so may what it releases; by `index` its state is the log's again, so whatever it
    // released by then, a server that applied every entry released by then too.
    void defer_releases_until(Index index);
    // The lowest entry released and not handed out yet (take_released), or waiting for its
    // client to acknowledge its result; max if none. A delete (the sequential modes) must not
    // leave the log before the writes it undid, which may be among these: compaction removes
    // those modes only below it (it caps the global index).
    Index lowest_pending_release() const;

    // --- the leader's duties (change nothing replicated) ---
    // The timeout the leader logs in a RegisterEntry: requested (0: the default), clamped to
    // [min, max] of the options. Every server then uses the logged value.
    uint64_t choose_session_timeout(uint64_t requested_ms) const;
    // Checks a command before it is logged: the session is live here, the sequence is the next
    // one or an old one (old ones are logged and answered from the cache at apply), the type is
    // registered and its argument passes the type's check. Accepting sequence+1 advances the
    // leader's request sequence.
    Admission admit_command(SessionId session, uint64_t sequence,
                            const statemachine::Operation& operation);
    // A keep-alive raises the leader's request sequence to its command_sequence (#282).
    void note_keep_alive(const KeepAliveItem& item);
    // Forget the leader-only bookkeeping: on every change of leader. Request sequences restart
    // from the applied command sequences; no session is marked as being expired.
    void reset_leader_state();
    // Suspected sessions not already being expired; marks them as being expired (a keep-alive
    // that makes one OPEN again clears its mark). The leader logs an UnregisterEntry{expired=
    // true} for each. Empty until an initialize entry has applied since reset_leader_state():
    // a new leader may still be replaying entries whose superseded keep-alives were compacted,
    // where sessions look suspected that are not; its own initialize entry comes after them
    // all and resets every session's keep-alive time.
    std::vector<SessionId> take_sessions_to_expire();

    // --- queries (never logged) ---
    // Checks a query's type and argument; ok or unknown_operation / bad_request.
    Admission admit_query(const statemachine::Operation& operation) const;
    // Whether the session has applied command `sequence` and this server `index`; false also
    // for unknown sessions (query() then answers unknown_session).
    bool query_ready(SessionId session, uint64_t sequence, Index index) const;
    // Runs a query now against the applied state; index = last_applied(). In a query,
    // Session::publish returns an error and Executor::schedule asserts (a query runs on one
    // server only: scheduling there would make servers differ). Application errors are
    // returned, never cached. CommandApplied::sequence is the session's applied sequence.
    CommandApplied query(SessionId session, const statemachine::Operation& operation);

    // --- events ---
    // The session's unacknowledged batches, in order, previous_index chained from what the
    // client acknowledged.
    std::vector<PublishRequest> pending_events(SessionId session) const;
    // The client has everything up to index (a ResetRequest): drop those batches here.
    void acknowledge_events(SessionId session, Index index);

    // --- snapshots (copycat.md §2.5) ---
    bool snapshottable() const;
    // The session table (with cached results and pending events), log time and the state
    // machine's snapshot, at last_applied(). Only for a snapshottable state machine (asserts).
    Bytes snapshot() const;
    // Replaces everything with a snapshot taken at `index`. One at or before last_applied() is
    // already covered by the applied state: ok, and nothing changes. Errors (not snapshottable,
    // malformed bytes, the state machine's own refusal) leave the state as it was. Scheduled
    // tasks are dropped (see above); commits the state machine still held from before are no
    // longer tracked (the snapshot covers their entries). During the state machine's install(),
    // context().sessions() still shows the sessions from before.
    Status install(std::span<const uint8_t> snapshot, Index index);

    // --- introspection ---
    Index last_applied() const;
    uint64_t time_ms() const;
    bool session_live(SessionId session) const;
    std::vector<SessionInfo> sessions() const;
    size_t sessions_live() const;
    size_t events_pending() const;  // batches over all sessions
    // lastCompleted (copycat.md §4.9), from what the log says: per session, its last
    // log-acknowledged event index if later events are published, and (the entry index of its
    // first unacknowledged result - 1) if results are cached, else last_applied; the minimum over
    // sessions. Compaction removes nothing above it.
    Index completed_index() const;
    // The same without results: a snapshot (which holds cached results) is stored only once
    // every event up to its index is acknowledged.
    Index events_completed_index() const;
    // A hash of the session table (ids, client ids, states, timeouts, keep-alive times,
    // command sequences, event indexes published and acknowledged through the log) and log
    // time: equal on servers that applied the same entries, for the simulator to compare.
    // Local resets (acknowledge_events) do not change it.
    uint64_t digest() const;
    // Committed command entries that did not decode, or of an unknown raft entry type.
    size_t malformed_entries() const;
    // Sessions expired by a logged expiry, in this incarnation (replay included).
    uint64_t sessions_expired() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace copycat::session
