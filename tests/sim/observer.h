// What a node's state machine did at each log index, seen from the outside: the simulator wraps
// the state machine it hands to session::SessionServer (CoordinationStateMachine, or in seeds
// with snapshots SnapshotResources) in an ObservedStateMachine, which forwards every call
// unchanged (through decorators of the Executor, Context, Sessions and Session it is given) and
// records, per index,
//   - the sessions the session layer registered and closed (on_register, on_close);
//   - the commands the state machine executed: session, type, argument and result (a command
//     answered from the result cache never reaches the state machine, so it is not here);
//   - the events published, per session, as the session layer batches them (events published to
//     a session that ends at the same index are dropped there, and here too).
// The committed log is the same on every node, so these records must be the same on every node
// at every index (IndexEffects::hash() is compared by the invariants), and they are what the
// simulator checks the clients against: the batches each session must receive exactly once and
// in order, the lock grants, and the map's value at each index.
//
// Each observer also keeps two models of its own node's history and reports what breaks them:
//   session safety   a command executes only for a session registered and not yet ended;
//   lock safety      at most one holder per lock: a grant (an acquire answered `acquired`, or a
//                    lock.acquired event) while another session holds the lock, a release the
//                    model does not expect, or a fencing token not above the lock's previous
//                    one is a violation; a try or timed acquire that fails or queues on a free
//                    lock too.
// A snapshot install hands over sessions and locks the models never saw: from then on, in that
// incarnation, the checks that need them are skipped (the records go on).
// Only the simulator uses it; one per node incarnation (a restart replays the log, after the
// disk's snapshot if any, into a fresh one). Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/raft/types.h"
#include "consensus/session/protocol.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::sim {

using statemachine::Bytes;
using statemachine::SessionId;

// One command the state machine executed.
struct Execution {
    SessionId session = 0;
    uint64_t sequence = 0;  // the command's, from its log entry (set by the node)
    std::string type;
    Bytes argument;
    bool ok = true;  // false: an application error
    Bytes output;    // the output, or the error message's bytes
};

struct Publication {
    SessionId session = 0;
    session::Event event;
};

// A session became the holder of a lock, with this fencing token.
struct LockGrant {
    std::string lock;
    SessionId session = 0;
    raft::Index token = 0;
};

// Everything observed at one index (empty for most entries but commands and session entries).
struct IndexEffects {
    raft::Index index = 0;
    std::vector<SessionId> registered;
    std::vector<SessionId> closed;
    std::vector<Execution> executions;
    std::vector<Publication> publications;  // in publishing order
    std::vector<LockGrant> grants;          // derived from the above, in order
    std::vector<std::string> released_locks;

    // Over everything but the derived grants and releases.
    uint64_t hash() const;
};

// A broken promise seen by a node's observer: which invariant, and what happened.
struct ObservedProblem {
    std::string invariant;
    std::string detail;
};

class ObservedStateMachine final : public statemachine::StateMachine {
public:
    // digest: the inner state machine's state hash (its own digest(), which is not part of the
    // StateMachine interface).
    ObservedStateMachine(std::unique_ptr<statemachine::StateMachine> inner,
                         std::function<uint64_t()> digest);
    ~ObservedStateMachine() override;

    void configure(statemachine::Executor& executor) override;
    bool snapshottable() const override { return inner_->snapshottable(); }
    Bytes snapshot() const override { return inner_->snapshot(); }
    // Also forgets the models: after an install they start from what the snapshot holds.
    Status install(std::span<const uint8_t> snapshot) override;
    void on_register(statemachine::Session& session) override;
    void on_unregister(statemachine::Session& session) override;
    void on_expire(statemachine::Session& session) override;
    void on_close(statemachine::Session& session) override;

    uint64_t digest() const { return digest_(); }
    // The effects of the indexes applied since the last call, by index. Indexes where nothing
    // happened are absent.
    std::map<raft::Index, IndexEffects> take_effects();
    std::vector<ObservedProblem> take_problems() { return std::exchange(problems_, {}); }

    // --- called by the wrappers (observer.cc) -------------------------------------------------
    void note_publication(SessionId session, std::string_view name, const Bytes& message);
    void before_execution(raft::Index index, SessionId session, const std::string& type,
                          std::span<const uint8_t> argument);
    void after_execution(raft::Index index, SessionId session, const std::string& type,
                         const Bytes& argument, const statemachine::Output& output);
    raft::Index current_index() const;

    struct Wrappers;  // the Executor, Context, Sessions and Session decorators

private:
    struct Holder {
        SessionId session = 0;
        raft::Index token = 0;
    };

    IndexEffects& at(raft::Index index);
    void grant(raft::Index index, const std::string& lock, SessionId session, raft::Index token);
    void release_locks_of(raft::Index index, SessionId session);
    void after_lock_acquire(raft::Index index, SessionId session, const Bytes& argument,
                            const Bytes& output);
    void after_lock_release(raft::Index index, SessionId session, const Bytes& output);
    void problem(std::string invariant, std::string detail);

    std::unique_ptr<statemachine::StateMachine> inner_;
    std::function<uint64_t()> digest_;
    std::unique_ptr<Wrappers> wrappers_;
    std::map<raft::Index, IndexEffects> effects_;
    std::vector<ObservedProblem> problems_;

    // The models. A snapshot install hands over sessions and locks the models never saw:
    // from then on (in this incarnation) the checks that need to know them are skipped.
    bool known_ = true;
    std::set<SessionId> live_sessions_;
    std::set<SessionId> ended_sessions_;
    std::map<std::string, Holder> holders_;          // by lock
    std::map<std::string, raft::Index> last_token_;  // by lock, over the whole history
    std::optional<bool> releasing_was_holder_;       // during a lock.release
};

}  // namespace copycat::sim
