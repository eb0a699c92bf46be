// The safety properties of Raft (paper, Figure 3), checked after every step of a simulation,
// plus the durability promises of DESIGN.md ("Durability"). Incremental: each observation costs
// about the entries that changed, so a check after every step stays cheap.
//
//   election safety       at most one leader per term, over the whole run (crashed
//                         incarnations included)
//   log matching          two logs with an entry of the same index and term hold identical
//                         entries up to it; checked by a chain hash per (index, term) that is
//                         kept for the whole run, so it also compares with logs since gone
//   leader completeness   an entry committed in a term is in the log of every leader of a later
//                         term
//   state machine safety  no two different entries committed, or applied, at one index; every
//                         node applies indexes in order; what the state machine did at an
//                         index (observer.h) is the same on every node, and so is the hash of
//                         the whole state (session layer and state machine) at equal indexes
//   commit monotonic      a node's commit index never goes back within an incarnation, and
//                         never passes its log
//   durable term          a node's durable term never goes back, across restarts too
//   durable promises      a vote is granted only once it is durable; a leader commits an entry
//                         only once a majority holds it durably
//   commit safety         when a leader commits an entry, no node without it could win an
//                         election: not enough voters' durable logs are behind its log (this
//                         is what Figure 8 of the paper breaks, caught before the loss happens);
//                         voters and quorum are those of the configuration the node would
//                         campaign with (its own, in memory or durable), which membership
//                         changes can make differ from the leader's
//   membership            only a voter of its own configuration (or of the one before, while
//                         that is uncommitted) becomes leader
//   read safety           a read is answered at an index no lower than what was committed
//                         anywhere when it arrived (a deposed leader's stale read)
//
// Violations are kept in the order found, each with the invariant's name and what broke it.
// The observations take plain values (RaftLog, Entry, HardState) so that tests can hand-make a
// violation without running Raft.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "consensus/raft/log.h"
#include "consensus/raft/raft.h"

namespace copycat::sim {

struct Violation {
    std::string invariant;  // "election safety", "log matching", ...
    std::string detail;
};

// The hash of an entry's content (term, index, type, timestamp, payload).
uint64_t entry_hash(const raft::Entry& entry);

class Invariants {
public:
    // --- per step, for each node that is up --------------------------------------------------
    void observe_role(raft::NodeId node, raft::Term term, raft::Role role);
    // The node's log may have changed from index `changed_from` on (0: no change).
    void observe_log(raft::NodeId node, const raft::RaftLog& log, raft::Index changed_from);
    void observe_commit(raft::NodeId node, raft::Index commit_index, raft::Term term,
                        const raft::RaftLog& log);
    // A leader's log must hold every entry committed in an earlier term.
    void observe_leader(raft::NodeId node, raft::Term term, const raft::RaftLog& log);
    // A node became leader of term; voter: it is a voter of its own configuration (or of the one
    // before, while that is uncommitted: a leader that removed itself finishing the change), as
    // it must be to win (a removed, passive or reserve member never campaigns, nor wins).
    void observe_took_office(raft::NodeId node, raft::Term term, bool voter);
    // effects_hash: of what the state machine did at the entry's index; state_hash: of the
    // whole state after it, when known (not after every entry of a batch).
    void observe_apply(raft::NodeId node, const raft::Entry& entry, uint64_t effects_hash,
                       std::optional<uint64_t> state_hash);
    // The state machine was replaced by a snapshot at index: the next apply is index + 1.
    void observe_install(raft::NodeId node, raft::Index index);

    // --- lifecycle and durability ------------------------------------------------------------
    // A node (re)started from durable state: forgets what its previous incarnation showed.
    void observe_start(raft::NodeId node, const raft::HardState& durable);
    // Log compaction removed the entry at index on some node whose applied index was then
    // applied_at: the state at indexes from applied_at on does not depend on it, so a node that
    // skips it (a hole) is compared with the others only from there.
    void observe_removed(raft::Index index, raft::Index applied_at);
    // A follower dropped its log and state (Raft's reset): it applies from index 1 again.
    void observe_reset(raft::NodeId node);
    void observe_crash(raft::NodeId node);
    void observe_durable_term(raft::NodeId node, raft::Term term);
    // A node sent a granted vote; vote_durable: its disk ever held (term, candidate) durably.
    void observe_vote_granted(raft::NodeId node, raft::NodeId candidate, raft::Term term,
                              bool vote_durable);
    // A leader moved its commit index to `index`; holders: how many disks durably hold the
    // leader's entry at index; quorum: how many must.
    void observe_leader_commit(raft::NodeId leader, raft::Index index, size_t holders,
                               size_t quorum);

    // A leader committed `index`; `node` lacks it and `voters` voters (of node's own
    // configuration) have durable logs not ahead of node's log: it could be elected without
    // the entry when voters >= quorum (of that configuration).
    void observe_commit_safety(raft::NodeId leader, raft::Index index, raft::NodeId node,
                               size_t voters, size_t quorum);
    // A node declared a read ready at read_index; committed_at_start: the highest index known
    // committed anywhere when the read arrived.
    void observe_read(raft::NodeId node, raft::Index read_index, raft::Index committed_at_start);
    // The highest index any node has been seen to commit.
    raft::Index committed_max() const { return committed_.empty() ? 0 : committed_.size() - 1; }

    void add(std::string invariant, std::string detail);

    bool ok() const { return violations_.empty(); }
    const std::vector<Violation>& violations() const { return violations_; }
    // Distinct (term, leader) pairs seen: the elections won.
    uint64_t leaders_seen() const { return leaders_.size(); }
    // The state hash recorded at index by the first node that knew it.
    std::optional<uint64_t> state_hash_at(raft::Index index) const;

private:
    struct Chain {
        raft::Term term = 0;
        uint64_t hash = 0;  // of the whole log up to and including this entry
    };
    struct Committed {
        raft::Term term = 0;
        uint64_t hash = 0;
        raft::Term observed_term = 0;  // the term of the first node seen committing it
        raft::NodeId node = 0;
    };
    struct Applied {
        uint64_t entry = 0;
        std::optional<uint64_t> effects;  // unknown while only nodes that skipped holes applied it
        raft::Term term = 0;
        raft::NodeId node = 0;
        std::optional<uint64_t> state;
        raft::NodeId state_node = 0;
    };
    struct NodeTrack {
        std::vector<Chain> chain;  // chain[i] is index i + 1; may lag below log.first_index()
        raft::Index commit_index = 0;
        raft::Index applied_index = 0;
        raft::Term durable_term = 0;
        raft::Term leader_term = 0;         // the term observe_leader last checked
        raft::Index leader_checked_to = 0;  // committed indexes checked for that term
        // It skipped holes whose removal its state and effects depend on up to here: they are
        // not compared at or below it.
        raft::Index incomparable_below = 0;
    };

    const Chain* chain_at(const NodeTrack& track, raft::Index index) const;
    void record_chain(raft::NodeId node, raft::Index index, const Chain& chain);
    void record_commit(raft::NodeId node, raft::Index index, const Chain& chain,
                       raft::Term observed_term);

    std::map<raft::NodeId, NodeTrack> nodes_;
    std::map<raft::Term, raft::NodeId> leaders_;
    // (index, term) -> chain hash, for every entry ever seen in a log.
    std::map<std::pair<raft::Index, raft::Term>, uint64_t> chains_;
    std::vector<std::optional<Committed>> committed_;  // [index]
    std::vector<std::optional<Applied>> applied_;      // [index]
    std::map<raft::Index, raft::Index> removed_at_;    // index -> lowest applied_at
    std::vector<Violation> violations_;
};

}  // namespace copycat::sim
