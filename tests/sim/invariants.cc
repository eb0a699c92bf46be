#include "tests/sim/invariants.h"

#include <algorithm>
#include <string>
#include <utility>

namespace copycat::sim {
namespace {

constexpr uint64_t fnv_prime = 0x100000001B3ULL;

uint64_t mix(uint64_t hash, uint64_t value) {
    for (int shift = 0; shift < 64; shift += 8) {
        hash ^= (value >> shift) & 0xFF;
        hash *= fnv_prime;
    }
    return hash;
}

std::string str(uint64_t value) { return std::to_string(value); }

}  // namespace

uint64_t entry_hash(const raft::Entry& entry) {
    uint64_t hash = 0xCBF29CE484222325ULL;
    hash = mix(hash, entry.term);
    hash = mix(hash, entry.index);
    hash = mix(hash, static_cast<uint64_t>(entry.type));
    hash = mix(hash, entry.timestamp_ms);
    hash = mix(hash, entry.compaction_mode);
    for (const uint8_t byte : entry.payload) hash = (hash ^ byte) * fnv_prime;
    return mix(hash, entry.payload.size());
}

void Invariants::add(std::string invariant, std::string detail) {
    violations_.push_back({std::move(invariant), std::move(detail)});
}

std::optional<uint64_t> Invariants::state_hash_at(raft::Index index) const {
    if (index >= applied_.size() || !applied_[index]) return std::nullopt;
    return applied_[index]->state;
}

void Invariants::observe_role(raft::NodeId node, raft::Term term, raft::Role role) {
    if (role != raft::Role::leader) return;
    const auto [found, inserted] = leaders_.emplace(term, node);
    if (!inserted && found->second != node) {
        add("election safety", "term " + str(term) + " has two leaders: node " +
                                   str(found->second) + " and node " + str(node));
    }
}

const Invariants::Chain* Invariants::chain_at(const NodeTrack& track, raft::Index index) const {
    if (index == 0 || index > track.chain.size()) return nullptr;
    const Chain& chain = track.chain[index - 1];
    return chain.hash == 0 ? nullptr : &chain;  // 0: unknown (below a snapshot, not committed)
}

void Invariants::observe_log(raft::NodeId node, const raft::RaftLog& log,
                             raft::Index changed_from) {
    NodeTrack& track = nodes_[node];
    const raft::Index last = log.last_index();
    if (changed_from == 0 && track.chain.size() == last) {
        if (last >= log.first_index() && track.chain.back().hash != 0 &&
            track.chain.back().term != log.at(last).term) {
            add("log matching", "node " + str(node) + "'s log changed at index " + str(last) +
                                    " without a persist op saying so");
        }
        return;
    }
    raft::Index keep = changed_from == 0 ? track.chain.size() : changed_from - 1;
    keep = std::min({keep, static_cast<raft::Index>(track.chain.size()), last});
    track.chain.resize(keep);
    for (raft::Index index = keep + 1; index <= last; ++index) {
        const uint64_t previous = index == 1 ? 0xCBF29CE484222325ULL : track.chain.back().hash;
        Chain chain;
        const raft::Entry* entry = log.find(index);
        if (entry == nullptr) {  // compacted (below the log, or a hole): only what committed
            if (index < committed_.size() && committed_[index]) {
                chain = {committed_[index]->term, committed_[index]->hash};
            }
        } else if (previous != 0) {
            chain = {entry->term, mix(previous, entry_hash(*entry))};
            record_chain(node, index, chain);
        }
        track.chain.push_back(chain);
    }
}

void Invariants::record_chain(raft::NodeId node, raft::Index index, const Chain& chain) {
    const auto [found, inserted] = chains_.emplace(std::make_pair(index, chain.term), chain.hash);
    if (!inserted && found->second != chain.hash) {
        add("log matching", "node " + str(node) + " holds an entry at index " + str(index) +
                                " of term " + str(chain.term) +
                                " whose log up to it differs from another log's entry with the "
                                "same index and term");
    }
}

void Invariants::observe_commit(raft::NodeId node, raft::Index commit_index, raft::Term term,
                                const raft::RaftLog& log) {
    NodeTrack& track = nodes_[node];
    if (commit_index < track.commit_index) {
        add("commit monotonic", "node " + str(node) + "'s commit index went back from " +
                                    str(track.commit_index) + " to " + str(commit_index));
    }
    if (commit_index > log.last_index()) {
        add("commit monotonic", "node " + str(node) + "'s commit index " + str(commit_index) +
                                    " is past its last index " + str(log.last_index()));
    }
    const raft::Index end = std::min(commit_index, log.last_index());
    for (raft::Index index = track.commit_index + 1; index <= end; ++index) {
        if (const Chain* chain = chain_at(track, index)) record_commit(node, index, *chain, term);
    }
    track.commit_index = std::max(track.commit_index, commit_index);
}

void Invariants::record_commit(raft::NodeId node, raft::Index index, const Chain& chain,
                               raft::Term observed_term) {
    if (committed_.size() <= index) committed_.resize(index + 1);
    std::optional<Committed>& committed = committed_[index];
    if (!committed) {
        committed = Committed{chain.term, chain.hash, observed_term, node};
    } else if (committed->hash != chain.hash) {
        add("state machine safety", "index " + str(index) +
                                        " committed twice with different logs: term " +
                                        str(committed->term) + " on node " + str(committed->node) +
                                        ", term " + str(chain.term) + " on node " + str(node));
    }
}

void Invariants::observe_leader(raft::NodeId node, raft::Term term, const raft::RaftLog& log) {
    NodeTrack& track = nodes_[node];
    if (track.leader_term != term) {
        track.leader_term = term;
        track.leader_checked_to = 0;
    }
    for (raft::Index index = track.leader_checked_to + 1; index < committed_.size(); ++index) {
        track.leader_checked_to = index;
        const std::optional<Committed>& committed = committed_[index];
        if (!committed || committed->observed_term >= term) continue;
        const Chain* chain = chain_at(track, index);
        if (index >= log.first_index() && chain == nullptr) {
            add("leader completeness",
                "node " + str(node) + ", leader of term " + str(term) + ", lacks index " +
                    str(index) + " (term " + str(committed->term) + ") committed in term " +
                    str(committed->observed_term) + " or before; its last index is " +
                    str(log.last_index()));
        } else if (chain != nullptr && chain->hash != committed->hash) {
            add("leader completeness", "node " + str(node) + ", leader of term " + str(term) +
                                           ", holds term " + str(chain->term) + " at index " +
                                           str(index) + " where term " + str(committed->term) +
                                           " was committed (term " + str(committed->observed_term) +
                                           " or before)");
        }
    }
}

void Invariants::observe_took_office(raft::NodeId node, raft::Term term, bool voter) {
    if (voter) return;
    add("membership", "node " + str(node) + " became leader of term " + str(term) +
                          " though it is not a voter of its own configuration");
}

void Invariants::observe_apply(raft::NodeId node, const raft::Entry& entry, uint64_t effects_hash,
                               std::optional<uint64_t> state_hash) {
    NodeTrack& track = nodes_[node];
    if (entry.index <= track.applied_index) {
        add("state machine safety", "node " + str(node) + " applied index " + str(entry.index) +
                                        " after index " + str(track.applied_index));
    }
    for (raft::Index hole = track.applied_index + 1; hole < entry.index; ++hole) {
        const auto removed = removed_at_.find(hole);
        if (removed == removed_at_.end()) {
            add("state machine safety", "node " + str(node) + " applied index " + str(entry.index) +
                                            " after index " + str(track.applied_index) +
                                            ", skipping index " + str(hole) +
                                            ", which no compaction removed");
            break;
        }
        track.incomparable_below = std::max(track.incomparable_below, removed->second);
    }
    track.applied_index = std::max(track.applied_index, entry.index);
    // What it did and its state still depend on the entries it skipped (up to and including
    // the index where the last of them was removed: a write's output is the value it
    // replaced): only the entry itself is compared.
    const bool comparable = entry.index > track.incomparable_below;
    if (applied_.size() <= entry.index) applied_.resize(entry.index + 1);
    std::optional<Applied>& applied = applied_[entry.index];
    const uint64_t hash = entry_hash(entry);
    if (applied && applied->entry != hash) {
        add("state machine safety", "index " + str(entry.index) + " applied as term " +
                                        str(applied->term) + " on node " + str(applied->node) +
                                        " and as a different entry of term " + str(entry.term) +
                                        " on node " + str(node));
        return;
    }
    if (!applied) applied = Applied{hash, std::nullopt, entry.term, node, std::nullopt, 0};
    if (!comparable) return;
    if (!applied->effects) {
        applied->effects = effects_hash;
    } else if (*applied->effects != effects_hash) {
        add("state machine safety", "the state machine did different things at index " +
                                        str(entry.index) + " on node " + str(applied->node) +
                                        " and on node " + str(node));
        return;
    }
    if (!state_hash) return;
    if (!applied->state) {
        applied->state = state_hash;
        applied->state_node = node;
    } else if (*applied->state != *state_hash) {
        add("state machine safety", "state hashes differ at index " + str(entry.index) +
                                        " between node " + str(applied->state_node) + " and node " +
                                        str(node));
    }
}

void Invariants::observe_removed(raft::Index index, raft::Index applied_at) {
    auto [found, inserted] = removed_at_.emplace(index, applied_at);
    if (!inserted) found->second = std::min(found->second, applied_at);
}

void Invariants::observe_reset(raft::NodeId node) {
    NodeTrack& track = nodes_[node];
    track.chain.clear();
    track.commit_index = 0;
    track.applied_index = 0;
    track.incomparable_below = 0;
}

void Invariants::observe_install(raft::NodeId node, raft::Index index) {
    nodes_[node].applied_index = index;
}

void Invariants::observe_start(raft::NodeId node, const raft::HardState& durable) {
    observe_crash(node);
    observe_durable_term(node, durable.term);
}

void Invariants::observe_crash(raft::NodeId node) {
    NodeTrack& track = nodes_[node];
    track.chain.clear();
    track.commit_index = 0;
    track.applied_index = 0;
    track.leader_term = 0;
    track.leader_checked_to = 0;
    track.incomparable_below = 0;
}

void Invariants::observe_durable_term(raft::NodeId node, raft::Term term) {
    NodeTrack& track = nodes_[node];
    if (term < track.durable_term) {
        add("durable term", "node " + str(node) + "'s durable term went back from " +
                                str(track.durable_term) + " to " + str(term));
    }
    track.durable_term = std::max(track.durable_term, term);
}

void Invariants::observe_vote_granted(raft::NodeId node, raft::NodeId candidate, raft::Term term,
                                      bool vote_durable) {
    if (vote_durable) return;
    add("durable promises", "node " + str(node) + " granted its vote in term " + str(term) +
                                " to node " + str(candidate) + " before the vote was durable");
}

void Invariants::observe_leader_commit(raft::NodeId leader, raft::Index index, size_t holders,
                                       size_t quorum) {
    if (holders >= quorum) return;
    add("durable promises", "leader " + str(leader) + " committed index " + str(index) +
                                " while only " + str(holders) + " disks held it durably (" +
                                str(quorum) + " needed)");
}

void Invariants::observe_commit_safety(raft::NodeId leader, raft::Index index, raft::NodeId node,
                                       size_t voters, size_t quorum) {
    if (voters < quorum) return;
    add("commit safety", "leader " + str(leader) + " committed index " + str(index) +
                             ", yet node " + str(node) +
                             ", whose log lacks it, is at least as "
                             "up to date as the durable logs of " +
                             str(voters) + " voters (a quorum is " + str(quorum) +
                             "): it could be elected and overwrite the entry");
}

void Invariants::observe_read(raft::NodeId node, raft::Index read_index,
                              raft::Index committed_at_start) {
    if (read_index >= committed_at_start) return;
    add("read safety", "node " + str(node) + " answers a read at index " + str(read_index) +
                           " though index " + str(committed_at_start) +
                           " was committed when the read arrived: a stale read");
}

}  // namespace copycat::sim
