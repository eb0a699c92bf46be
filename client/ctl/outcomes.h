// What each copycat-ctl command prints, built from the operation's output: pure functions from
// results to Outcomes (output.h), so that every format can be tested without a cluster.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "client/ctl/output.h"
#include "consensus/session/protocol.h"
#include "consensus/statemachine/resources/ops.h"

namespace copycat::ctl {

using session::Index;
using session::SessionId;

// --- map --------------------------------------------------------------------------------------
Outcome put_outcome(const resources::MapPut::Output& output, Index index);
Outcome get_outcome(const std::string& key, const resources::MapGet::Output& output, Index index);
Outcome del_outcome(const resources::MapRemove::Output& output, Index index);
Outcome cas_outcome(const resources::MapCas::Output& output, Index index);
Outcome list_outcome(const std::string& prefix, const resources::MapList::Output& output,
                     Index index);
Outcome size_outcome(const resources::MapSize::Output& output, Index index);
// One change seen by a watch: "written KEY VALUE", "removed KEY", "expired KEY".
Outcome map_changed_outcome(const resources::MapChanged& change);
// A watch added (false: the session had it already) or removed (false: it had none).
Outcome watch_outcome(bool added);
Outcome unwatch_outcome(bool removed);

// --- counter ----------------------------------------------------------------------------------
Outcome counter_get_outcome(const resources::CounterGet::Output& output, Index index);
Outcome counter_set_outcome(int64_t value, const resources::CounterSet::Output& output,
                            Index index);
Outcome counter_add_outcome(const resources::CounterAdd::Output& output, Index index);
Outcome counter_cas_outcome(const resources::CounterCas::Output& output, Index index);

// --- lock, election, group ---------------------------------------------------------------------
Outcome lock_outcome(const std::string& lock, bool acquired, Index token);
Outcome unlock_outcome(const resources::LockRelease::Output& output);
Outcome elect_enter_outcome(const std::string& election,
                            const resources::ElectionEnter::Output& output);
Outcome elect_leave_outcome(const resources::ElectionLeave::Output& output);
// A leader elected; `me` is this session ("elected" when it leads).
Outcome elected_outcome(const resources::ElectionElected& elected, SessionId me);
Outcome elect_leader_outcome(const resources::ElectionLeader::Output& output, Index index);
Outcome group_join_outcome(const resources::GroupJoin::Output& output);
Outcome group_leave_outcome(const resources::GroupLeave::Output& output);
Outcome group_members_outcome(const resources::GroupMembers::Output& output, Index index);
Outcome group_joined_outcome(const resources::GroupJoined& joined);
Outcome group_left_outcome(const resources::GroupLeft& left);

// --- administration ---------------------------------------------------------------------------
const char* member_type_text(uint8_t type);
const char* session_state_text(uint8_t state);
Outcome member_list_outcome(const session::StatusResponse& status);
// "Member 4 added to the cluster as passive (configuration index 57)", with the new members.
Outcome member_change_outcome(const std::string& done, const session::MemberChangeResponse& change);
// already: the target led before the command.
Outcome move_leader_outcome(session::NodeId target, uint64_t term, bool already);

// One node as `endpoint status` and `endpoint health` see it: its status, or why there is none.
struct NodeReport {
    session::NodeId node_id = 0;
    std::optional<session::StatusResponse> status;
    std::string error;
    std::chrono::microseconds took{0};
};
Outcome endpoint_status_outcome(const std::vector<NodeReport>& nodes);

struct CompactReport {
    session::NodeId node_id = 0;
    std::optional<session::CompactLogResponse> done;
    std::string error;
};
// Exit code 1 when a node's run did not happen or failed.
Outcome compact_outcome(const std::vector<CompactReport>& nodes);
// Exit code 1 when a node is unhealthy: it did not answer, or knows no leader.
Outcome endpoint_health_outcome(const std::vector<NodeReport>& nodes);
Outcome session_list_outcome(const session::SessionsResponse& sessions);

}  // namespace copycat::ctl
