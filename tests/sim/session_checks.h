// The checks of what session clients saw against what the committed log says happened
// (TESTING.md failures 5, 6 and 11; issue: "events checked exactly-once and in order per
// session across leader changes and crashes; lock safety checked"). The reference is built from
// the ObservedStateMachine records (observer.h) of the first node to apply each index: the
// invariants check that every other node recorded the same at that index.
//
//   events       every batch published to a session is delivered to its client exactly once,
//                in publishing order, with the events published: each delivery must be the
//                session's next published batch, and at the end (after settling) every live
//                session has received all of its batches;
//   locks        a client believes it holds a lock only with a grant the log made to its
//                session with that token (the grants themselves are checked for a single holder
//                by each node's observer); a client's successive grants of a lock have
//                increasing tokens;
//   reads        a map read answered at index X returns the key's value and version at X in
//                the log (no dirty, future or invented values); X is at least the index the
//                session had seen when it asked (monotonic reads); and no command of the
//                session with a sequence up to the read's executes after X (read your writes).
//                These hold for every consistency level; SEQUENTIAL reads are checked by them
//                alone, LINEARIZABLE ones also by the linearizability checker.
//
// Map values are tracked from map.put, map.cas and map.remove executions; a key written with a
// TTL is no longer checked (its expiry is not an execution). Pure: values in, violations out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "consensus/session/protocol.h"
#include "tests/sim/invariants.h"
#include "tests/sim/observer.h"

namespace copycat::sim {

// A map read a client completed.
struct ReadSeen {
    SessionId session = 0;
    std::string map;
    std::string key;
    std::optional<Bytes> value;
    raft::Index version = 0;
    raft::Index index = 0;  // the index the node answered at (the response's)
    raft::Index floor = 0;  // the query's index: the highest index the session had seen
    uint64_t sequence = 0;  // the query's sequence: the session's last command issued
    session::Consistency consistency = session::Consistency::linearizable;
};

class SessionChecks {
public:
    // What the first node to apply index `effects.index` observed; indexes in order, each once.
    void observe_applied(const IndexEffects& effects);
    // A client accepted a batch of its session's events (its previous_index matched).
    void observe_delivery(const session::PublishRequest& batch);
    // A client learned that its session holds `lock` with `token` (an acquire's response or a
    // lock.acquired event).
    void observe_lock_held(SessionId session, const std::string& lock, raft::Index token);
    void observe_read(const ReadSeen& read);
    // At the end: each of these live sessions has received every batch published to it.
    void check_complete(const std::vector<SessionId>& live_sessions);

    // The index of the last batch published to the session (its id if none), and of the last
    // one its client accepted.
    raft::Index last_published(SessionId session) const;
    raft::Index last_delivered(SessionId session) const;
    raft::Index applied() const { return applied_; }
    uint64_t batches_published() const { return batches_published_; }
    uint64_t batches_delivered() const { return batches_delivered_; }
    uint64_t grants() const { return grants_; }
    // Grants made when a session ended (its lock passed to the next waiter).
    uint64_t grants_on_close() const { return grants_on_close_; }
    uint64_t sessions_closed() const { return sessions_closed_; }
    uint64_t reads_checked() const { return reads_checked_; }

    std::vector<Violation> take_violations() { return std::exchange(violations_, {}); }

private:
    struct Batch {
        raft::Index index = 0;
        std::vector<session::Event> events;
    };
    struct SessionTrack {
        std::vector<Batch> published;
        size_t delivered = 0;
        // Executed commands, (sequence, index), in order; and reads not to be overtaken: a
        // command of sequence <= first executing after index second breaks read-your-writes.
        std::vector<std::pair<uint64_t, raft::Index>> executed;
        std::vector<std::pair<uint64_t, raft::Index>> reads;
        std::map<std::string, raft::Index> lock_tokens;  // the last grant its client learned
    };
    struct Change {
        raft::Index index = 0;
        std::optional<Bytes> value;
    };
    using MapKey = std::pair<std::string, std::string>;  // (map, key)

    void track_map(raft::Index index, const Execution& execution);
    void track_execution(raft::Index index, const Execution& execution);
    void check_read_value(const ReadSeen& read);
    void add(std::string invariant, std::string detail);

    raft::Index applied_ = 0;
    std::map<SessionId, SessionTrack> sessions_;
    std::map<MapKey, std::vector<Change>> changes_;
    std::map<MapKey, bool> untracked_;                                  // written with a TTL
    std::map<std::pair<std::string, raft::Index>, SessionId> granted_;  // (lock, token)
    uint64_t batches_published_ = 0;
    uint64_t batches_delivered_ = 0;
    uint64_t grants_ = 0;
    uint64_t grants_on_close_ = 0;
    uint64_t sessions_closed_ = 0;
    uint64_t reads_checked_ = 0;
    std::vector<Violation> violations_;
};

}  // namespace copycat::sim
