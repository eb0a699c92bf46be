// ElectionResource: the "election.*" operations (ops.h) over many named leader elections. Part
// of CoordinationStateMachine, which forwards session ends to it.
//
// Promises: candidates are sessions, queued in the order they entered; the first leads. When
// the leader leaves or its session ends, the next candidate leads; every election (the first
// candidate's too, as it enters) publishes ElectionElected to every candidate. The term of a
// leadership is the index of the winner's election.enter: terms of an election strictly increase
// (candidates win in entry order) and are the same on every server, also after a replay of a
// compacted log (a count of elections would not be: compaction removes the entries of earlier
// leaders).
//
// Compaction: a candidate's election.enter is held while it is a candidate; election.leave is
// TOMBSTONE, released at once, and releases the candidate's enter; a repeated enter changes
// nothing and is released at once. Everything is keyed by session, so a replay that lost an
// enter is corrected by the leave or session end after it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "consensus/statemachine/resources/ops.h"
#include "consensus/statemachine/resources/state_hash.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::resources {

class ElectionResource {
public:
    // Registers election.*; the executor must outlive this object.
    void configure(statemachine::Executor& executor);
    // Withdraws the session from every election (electing successors).
    void on_close(statemachine::Session& session);

    void hash(StateHash& hash) const;
    size_t instance_count() const { return elections_.size(); }

private:
    struct Instance {
        std::vector<statemachine::Commit> candidates;  // their enters, in order; front leads
    };

    Result<ElectionEnter::Output> enter(const ElectionEnter& op, statemachine::Commit commit);
    Result<ElectionLeader::Output> leader(const ElectionLeader& op) const;
    // Removes the session's candidacy; whether it was the leader (a successor is elected).
    ElectionLeave::Output withdraw(const std::string& name, Instance& election, SessionId session);
    void announce(const std::string& name, const Instance& election);

    statemachine::Executor* executor_ = nullptr;
    std::map<std::string, Instance> elections_;
};

}  // namespace copycat::resources
