// GroupResource: the "group.*" operations (ops.h) over many named membership groups. Part of
// CoordinationStateMachine, which forwards session ends to it.
//
// Promises: a member is a (name, session) pair and lives until its session leaves it or ends.
// Each join and leave is told to the sessions of the group's other members (GroupJoined,
// GroupLeft), once per session, never to the session that joined or left.
//
// Compaction: a member's group.join is held while it is a member; group.leave is TOMBSTONE,
// released at once, and releases the member's join; a repeated join changes nothing and is
// released at once. A join never fails because of another session (names are not exclusive),
// so a replay of a compacted log cannot let a join succeed that originally failed.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "consensus/statemachine/resources/ops.h"
#include "consensus/statemachine/resources/state_hash.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::resources {

class GroupResource {
public:
    // Registers group.*; the executor must outlive this object.
    void configure(statemachine::Executor& executor);
    // Removes the session's members from every group, telling the other members.
    void on_close(statemachine::Session& session);

    void hash(StateHash& hash) const;
    size_t instance_count() const { return groups_.size(); }

private:
    using MemberKey = std::pair<std::string, SessionId>;  // (name, session)
    struct Instance {
        std::map<MemberKey, statemachine::Commit> members;  // their joins
    };

    Result<GroupJoin::Output> join(const GroupJoin& op, statemachine::Commit commit);
    Result<GroupLeave::Output> leave(const GroupLeave& op, SessionId session, Index index);
    static std::vector<GroupMember> list(const Instance& group);
    // The sessions of the group's members, but `except`.
    static std::set<SessionId> audience(const Instance& group, SessionId except);

    statemachine::Executor* executor_ = nullptr;
    std::map<std::string, Instance> groups_;
};

}  // namespace copycat::resources
