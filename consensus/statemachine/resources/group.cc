#include "consensus/statemachine/resources/group.h"

#include <iterator>
#include <utility>
#include <vector>

#include "consensus/statemachine/resources/session_events.h"

namespace copycat::resources {

using statemachine::Commit;

void GroupResource::configure(statemachine::Executor& executor) {
    executor_ = &executor;
    statemachine::register_command<GroupJoin>(
        executor, [this](GroupJoin op, Commit commit) { return join(op, std::move(commit)); });
    statemachine::register_command<GroupLeave>(executor, [this](GroupLeave op, Commit commit) {
        Result<GroupLeave::Output> output = leave(op, commit.session(), commit.index());
        commit.release();  // a tombstone holds no state
        return output;
    });
    statemachine::register_query<GroupMembers>(
        executor, [this](const GroupMembers& op, const Commit&) -> Result<GroupMembers::Output> {
            auto group = groups_.find(op.group);
            if (group == groups_.end()) return GroupMembers::Output{};
            return GroupMembers::Output{list(group->second)};
        });
}

Result<GroupJoin::Output> GroupResource::join(const GroupJoin& op, Commit commit) {
    Instance& group = groups_[op.group];
    const SessionId session = commit.session();
    const Index index = commit.index();
    // try_emplace leaves `commit` alone when the member exists: it is then released on return.
    auto [member, joined] =
        group.members.try_emplace(MemberKey{op.member, session}, std::move(commit));
    if (joined) {
        const GroupJoined event{op.group, GroupMember{op.member, session, index}};
        for (SessionId other : audience(group, session)) {
            notify(executor_->context(), other, event);
        }
    }
    return GroupJoin::Output{joined, member->second.index(), list(group)};
}

Result<GroupLeave::Output> GroupResource::leave(const GroupLeave& op, SessionId session,
                                                Index index) {
    auto group = groups_.find(op.group);
    if (group == groups_.end()) return GroupLeave::Output{false};
    auto& members = group->second.members;
    auto member = members.find(MemberKey{op.member, session});
    if (member == members.end()) return GroupLeave::Output{false};
    const GroupLeft event{op.group, GroupMember{op.member, session, member->second.index()}, false,
                          index};
    members.erase(member);  // destroys its join: released
    for (SessionId other : audience(group->second, session)) {
        notify(executor_->context(), other, event);
    }
    if (members.empty()) groups_.erase(group);
    return GroupLeave::Output{true};
}

void GroupResource::on_close(statemachine::Session& session) {
    const Index index = executor_->context().index();
    for (auto group = groups_.begin(); group != groups_.end();) {
        std::vector<GroupLeft> left;
        auto& members = group->second.members;
        for (auto member = members.begin(); member != members.end();) {
            if (member->first.second != session.id()) {
                ++member;
                continue;
            }
            left.push_back(
                GroupLeft{group->first,
                          GroupMember{member->first.first, session.id(), member->second.index()},
                          true, index});
            member = members.erase(member);  // destroys its join: released
        }
        for (const GroupLeft& event : left) {
            for (SessionId other : audience(group->second, session.id())) {
                notify(executor_->context(), other, event);
            }
        }
        group = members.empty() ? groups_.erase(group) : std::next(group);
    }
}

std::vector<GroupMember> GroupResource::list(const Instance& group) {
    std::vector<GroupMember> members;
    for (const auto& [key, join] : group.members) {
        members.push_back(GroupMember{key.first, key.second, join.index()});
    }
    return members;
}

std::set<SessionId> GroupResource::audience(const Instance& group, SessionId except) {
    std::set<SessionId> sessions;
    for (const auto& [key, join] : group.members) {
        if (key.second != except) sessions.insert(key.second);
    }
    return sessions;
}

void GroupResource::hash(StateHash& hash) const {
    hash.add(std::string_view("group"));
    hash.add(static_cast<uint64_t>(groups_.size()));
    for (const auto& [name, group] : groups_) {
        hash.add(std::string_view(name));
        hash.add(static_cast<uint64_t>(group.members.size()));
        for (const auto& [key, join] : group.members) {
            hash.add(std::string_view(key.first));
            hash.add(key.second);
            hash.add(join.index());
        }
    }
}

}  // namespace copycat::resources
