#include "client/ctl/outcomes.h"

#include <charconv>

#include "client/ctl/value_text.h"
#include "common/duration.h"

namespace copycat::ctl {

namespace {

Value bytes_value(const Bytes& bytes) { return Value::byte_string(as_text(bytes)); }

Value optional_bytes(const std::optional<Bytes>& bytes) {
    return bytes ? bytes_value(*bytes) : Value::null();
}

Field index_field(Index index) { return field("index", uint64_t{index}); }

// Simple output of a row: its values joined by ", " (etcdctl's member list).
std::string row_line(const Object& row) {
    std::string line;
    for (const Field& f : row) line += (line.empty() ? "" : ", ") + value_text(f.value);
    return line;
}

std::vector<Value> as_values(const std::vector<Object>& rows) {
    std::vector<Value> values;
    for (const Object& row : rows) values.push_back(Value::object(row));
    return values;
}

// Rows: -w json prints one object per row, -w table a line per row, simple a line per row;
// a session line gets them as "value".
Outcome rows_outcome(std::vector<std::string> columns, std::vector<Object> rows,
                     Object extra = {}) {
    Outcome outcome;
    outcome.columns = std::move(columns);
    outcome.fields = {field("value", Value::array(as_values(rows)))};
    outcome.fields.insert(outcome.fields.end(), extra.begin(), extra.end());
    for (const Object& row : rows) outcome.simple.push_back(row_line(row));
    outcome.rows = std::move(rows);
    return outcome;
}

std::string milliseconds_text(std::chrono::microseconds took) {
    char buffer[32];
    const double ms = static_cast<double>(took.count()) / 1000.0;
    auto [end, error] =
        std::to_chars(buffer, buffer + sizeof buffer, ms, std::chars_format::fixed, 3);
    return error == std::errc() ? std::string(buffer, end) + "ms" : "?";
}

Object member_object(const session::MemberInfo& member, session::NodeId leader) {
    return {field("id", uint64_t{member.id}), field("type", member_type_text(member.type)),
            field("available", member.available), field("address", member.address),
            field("is_leader", member.id == leader)};
}

const std::vector<std::string> kGroupMemberColumns = {"name", "session", "index"};

Object group_member_object(const resources::GroupMember& member) {
    return {bytes_field("name", member.name), field("session", uint64_t{member.session}),
            field("index", uint64_t{member.index})};
}

}  // namespace

// --- map --------------------------------------------------------------------------------------

Outcome put_outcome(const resources::MapPut::Output& output, Index index) {
    Outcome outcome;
    outcome.fields = {field("value", optional_bytes(output.previous)), index_field(index)};
    outcome.simple = {"OK"};
    return outcome;
}

Outcome get_outcome(const std::string& key, const resources::MapGet::Output& output, Index index) {
    Outcome outcome;
    outcome.fields = {bytes_field("key", key), field("value", optional_bytes(output.value)),
                      field("version", uint64_t{output.version}), index_field(index)};
    if (output.value) outcome.simple = {display_text(as_text(*output.value))};
    return outcome;
}

Outcome del_outcome(const resources::MapRemove::Output& output, Index index) {
    Outcome outcome;
    const bool deleted = output.previous.has_value();
    outcome.fields = {field("deleted", deleted), field("value", optional_bytes(output.previous)),
                      index_field(index)};
    outcome.simple = {deleted ? "1" : "0"};
    return outcome;
}

Outcome cas_outcome(const resources::MapCas::Output& output, Index index) {
    Outcome outcome;
    outcome.fields = {field("succeeded", output.succeeded),
                      field("value", optional_bytes(output.current)),
                      field("version", uint64_t{output.version}), index_field(index)};
    outcome.simple = {output.succeeded ? "OK" : "FAILED"};
    if (!output.succeeded && output.current) {
        outcome.simple.push_back(display_text(as_text(*output.current)));
    }
    return outcome;
}

Outcome list_outcome(const std::string& prefix, const resources::MapList::Output& output,
                     Index index) {
    std::vector<Object> rows;
    for (const resources::MapEntry& entry : output.entries) {
        rows.push_back({bytes_field("key", entry.key), field("value", bytes_value(entry.value)),
                        field("version", uint64_t{entry.version})});
    }
    Outcome outcome = rows_outcome({"key", "value", "version"}, std::move(rows),
                                   {field("truncated", output.truncated), index_field(index)});
    outcome.simple.clear();  // etcdctl's get --prefix: the key, then its value
    for (const resources::MapEntry& entry : output.entries) {
        outcome.simple.push_back(display_text(entry.key));
        outcome.simple.push_back(display_text(as_text(entry.value)));
    }
    if (output.truncated) {
        outcome.notes.push_back("(more keys start with '" + display_text(prefix) +
                                "': raise --limit to see them)");
    }
    return outcome;
}

Outcome size_outcome(const resources::MapSize::Output& output, Index index) {
    Outcome outcome;
    outcome.fields = {field("value", uint64_t{output.size}), index_field(index)};
    outcome.simple = {std::to_string(output.size)};
    return outcome;
}

Outcome map_changed_outcome(const resources::MapChanged& change) {
    Outcome outcome;
    const char* kind = resources::map_change_name(change.change);
    outcome.fields = {field("event", "map.changed"),
                      bytes_field("map", change.map),
                      bytes_field("key", change.key),
                      field("change", kind),
                      field("value", optional_bytes(change.value)),
                      index_field(change.index)};
    std::string line = std::string(kind) + " " + display_text(change.key);
    if (change.value) line += " " + display_text(as_text(*change.value));
    outcome.simple = {line};
    return outcome;
}

Outcome watch_outcome(bool added) {
    Outcome outcome;
    outcome.fields = {field("value", added)};
    outcome.simple = {"OK"};
    return outcome;
}

Outcome unwatch_outcome(bool removed) {
    Outcome outcome;
    outcome.fields = {field("value", removed)};
    outcome.simple = {"OK"};
    return outcome;
}

// --- counter ----------------------------------------------------------------------------------

Outcome counter_get_outcome(const resources::CounterGet::Output& output, Index index) {
    Outcome outcome;
    outcome.fields = {field("value", output.value), index_field(index)};
    outcome.simple = {std::to_string(output.value)};
    return outcome;
}

Outcome counter_set_outcome(int64_t value, const resources::CounterSet::Output& output,
                            Index index) {
    Outcome outcome;
    outcome.fields = {field("value", value), field("previous", output.previous),
                      index_field(index)};
    outcome.simple = {"OK"};
    return outcome;
}

Outcome counter_add_outcome(const resources::CounterAdd::Output& output, Index index) {
    Outcome outcome;
    outcome.fields = {field("value", output.value), index_field(index)};
    outcome.simple = {std::to_string(output.value)};
    return outcome;
}

Outcome counter_cas_outcome(const resources::CounterCas::Output& output, Index index) {
    Outcome outcome;
    outcome.fields = {field("succeeded", output.succeeded), field("value", output.value),
                      index_field(index)};
    outcome.simple = {output.succeeded ? "OK" : "FAILED"};
    if (!output.succeeded) outcome.simple.push_back(std::to_string(output.value));
    return outcome;
}

// --- lock, election, group ---------------------------------------------------------------------

Outcome lock_outcome(const std::string& lock, bool acquired, Index token) {
    Outcome outcome;
    outcome.fields = {
        field("value", acquired ? Value::unsigned_number_value(token) : Value::null()),
        field("acquired", acquired), bytes_field("lock", lock), index_field(acquired ? token : 0)};
    outcome.simple = {acquired ? std::to_string(token) : "FAILED"};
    return outcome;
}

Outcome unlock_outcome(const resources::LockRelease::Output& output) {
    Outcome outcome;
    const char* released = resources::lock_release_outcome_name(output.outcome);
    outcome.fields = {field("value", released)};
    outcome.simple = {released};
    return outcome;
}

Outcome elect_enter_outcome(const std::string& election,
                            const resources::ElectionEnter::Output& output) {
    Outcome outcome;
    outcome.fields = {field("value", uint64_t{output.leader}), field("elected", output.elected),
                      field("entered", output.entered), field("term", uint64_t{output.term}),
                      bytes_field("election", election)};
    if (output.elected) {
        outcome.simple = {"elected term " + std::to_string(output.term)};
    } else {
        outcome.simple = {"candidate: leader session " + std::to_string(output.leader) + " term " +
                          std::to_string(output.term)};
    }
    return outcome;
}

Outcome elect_leave_outcome(const resources::ElectionLeave::Output& output) {
    Outcome outcome;
    outcome.fields = {field("value", output.left), field("was_leader", output.was_leader)};
    outcome.simple = {"OK"};
    return outcome;
}

Outcome elected_outcome(const resources::ElectionElected& elected, SessionId me) {
    Outcome outcome;
    const bool mine = elected.leader == me;
    outcome.fields = {field("event", "election.elected"), bytes_field("election", elected.election),
                      field("leader", uint64_t{elected.leader}),
                      field("term", uint64_t{elected.term}), field("elected", mine)};
    outcome.simple = {mine ? "elected term " + std::to_string(elected.term)
                           : "leader session " + std::to_string(elected.leader) + " term " +
                                 std::to_string(elected.term)};
    return outcome;
}

Outcome elect_leader_outcome(const resources::ElectionLeader::Output& output, Index index) {
    Outcome outcome;
    std::vector<Value> candidates;
    for (SessionId candidate : output.candidates) {
        candidates.push_back(Value::unsigned_number_value(candidate));
    }
    outcome.fields = {field("value", output.leader ? Value::unsigned_number_value(*output.leader)
                                                   : Value::null()),
                      field("term", uint64_t{output.term}),
                      field("candidates", Value::array(candidates)), index_field(index)};
    if (output.leader) {
        outcome.simple = {"session " + std::to_string(*output.leader) + " term " +
                          std::to_string(output.term)};
    }
    return outcome;
}

Outcome group_join_outcome(const resources::GroupJoin::Output& output) {
    std::vector<Object> rows;
    for (const resources::GroupMember& member : output.members) {
        rows.push_back(group_member_object(member));
    }
    Outcome outcome = rows_outcome(kGroupMemberColumns, std::move(rows),
                                   {field("joined", output.joined), index_field(output.index)});
    outcome.simple.clear();
    for (const resources::GroupMember& member : output.members) {
        outcome.simple.push_back("member " + display_text(member.name) + " session " +
                                 std::to_string(member.session));
    }
    return outcome;
}

Outcome group_leave_outcome(const resources::GroupLeave::Output& output) {
    Outcome outcome;
    outcome.fields = {field("value", output.left)};
    outcome.simple = {output.left ? "OK" : "not a member"};
    return outcome;
}

Outcome group_members_outcome(const resources::GroupMembers::Output& output, Index index) {
    std::vector<Object> rows;
    for (const resources::GroupMember& member : output.members) {
        rows.push_back(group_member_object(member));
    }
    return rows_outcome(kGroupMemberColumns, std::move(rows), {index_field(index)});
}

Outcome group_joined_outcome(const resources::GroupJoined& joined) {
    Outcome outcome;
    outcome.fields = {field("event", "group.joined"), bytes_field("group", joined.group)};
    for (Field& f : group_member_object(joined.member)) outcome.fields.push_back(std::move(f));
    outcome.simple = {"joined " + display_text(joined.member.name) + " session " +
                      std::to_string(joined.member.session)};
    return outcome;
}

Outcome group_left_outcome(const resources::GroupLeft& left) {
    Outcome outcome;
    outcome.fields = {field("event", "group.left"),
                      bytes_field("group", left.group),
                      bytes_field("name", left.member.name),
                      field("session", uint64_t{left.member.session}),
                      field("session_ended", left.session_ended),
                      index_field(left.index)};
    outcome.simple = {"left " + display_text(left.member.name) + " session " +
                      std::to_string(left.member.session) +
                      (left.session_ended ? " (session ended)" : "")};
    return outcome;
}

// --- administration ---------------------------------------------------------------------------

const char* member_type_text(uint8_t type) {
    switch (type) {
        case 0: return "inactive";
        case 1: return "reserve";
        case 2: return "passive";
        case 3: return "active";
    }
    return "unknown";
}

const char* session_state_text(uint8_t state) {
    switch (state) {
        case 0: return "open";
        case 1: return "unstable";
        case 2: return "expired";
        case 3: return "closed";
    }
    return "unknown";
}

Outcome member_list_outcome(const session::StatusResponse& status) {
    std::vector<Object> rows;
    for (const session::MemberInfo& member : status.members) {
        rows.push_back(member_object(member, status.leader));
    }
    return rows_outcome({"id", "type", "available", "address", "is_leader"}, std::move(rows),
                        {field("configuration_index", uint64_t{status.configuration_index})});
}

Outcome member_change_outcome(const std::string& done,
                              const session::MemberChangeResponse& change) {
    std::vector<Value> members;
    for (const session::MemberInfo& member : change.members) {
        members.push_back(Value::object(member_object(member, 0)));
    }
    Outcome outcome;
    outcome.fields = {field("value", Value::array(members)), index_field(change.index)};
    outcome.simple = {done + " (configuration index " + std::to_string(change.index) + ")"};
    return outcome;
}

Outcome move_leader_outcome(session::NodeId target, uint64_t term, bool already) {
    Outcome outcome;
    outcome.fields = {field("value", uint64_t{target}), field("term", uint64_t{term}),
                      field("moved", !already)};
    const std::string node = std::to_string(target);
    const std::string at = " (term " + std::to_string(term) + ")";
    outcome.simple = {already ? "Node " + node + " is already the leader" + at
                              : "Leadership transferred to node " + node + at};
    return outcome;
}

Outcome endpoint_status_outcome(const std::vector<NodeReport>& nodes) {
    std::vector<Object> rows;
    Outcome failed;
    for (const NodeReport& node : nodes) {
        const session::StatusResponse none;
        const session::StatusResponse& s = node.status ? *node.status : none;
        rows.push_back(
            {field("endpoint", s.client_address), field("node_id", uint64_t{node.node_id}),
             field("member_type", node.status ? member_type_text(s.member_type) : ""),
             field("is_leader", node.status && s.role == "leader"), field("term", uint64_t{s.term}),
             field("commit_index", uint64_t{s.commit_index}),
             field("applied_index", uint64_t{s.applied_index}),
             field("first_index", uint64_t{s.first_index}),
             field("last_index", uint64_t{s.last_index}), field("role", s.role),
             field("leader", uint64_t{s.leader}), field("errors", node.error)});
        if (!node.status) failed.exit_code = 1;  // a node did not answer
    }
    Outcome outcome = rows_outcome({"endpoint", "node_id"}, std::move(rows));
    outcome.exit_code = failed.exit_code;
    return outcome;
}

Outcome endpoint_health_outcome(const std::vector<NodeReport>& nodes) {
    std::vector<Object> rows;
    std::vector<std::string> lines;
    int exit_code = 0;
    for (const NodeReport& node : nodes) {
        std::string error = node.error;
        if (error.empty() && node.status && node.status->leader == 0) error = "no leader known";
        const bool healthy = node.status && error.empty();
        const std::string endpoint = node.status ? node.status->client_address : "";
        const std::string who =
            endpoint.empty() ? "node " + std::to_string(node.node_id) : endpoint;
        rows.push_back({field("endpoint", endpoint), field("node_id", uint64_t{node.node_id}),
                        field("health", healthy), field("took", milliseconds_text(node.took)),
                        field("errors", error)});
        lines.push_back(healthy ? who + " is healthy: took " + milliseconds_text(node.took)
                                : who + " is unhealthy: " + error);
        if (!healthy) exit_code = 1;
    }
    Outcome outcome = rows_outcome({"endpoint", "node_id", "health"}, std::move(rows));
    outcome.simple = lines;
    outcome.exit_code = exit_code;
    return outcome;
}

Outcome compact_outcome(const std::vector<CompactReport>& nodes) {
    std::vector<Object> rows;
    int exit_code = 0;
    for (const CompactReport& node : nodes) {
        const session::CompactLogResponse none;
        const session::CompactLogResponse& d = node.done ? *node.done : none;
        rows.push_back({field("node_id", uint64_t{node.node_id}),
                        field("kind", node.done ? (d.major ? "major" : "minor") : ""),
                        field("segments_rewritten", d.segments_rewritten),
                        field("entries_removed", d.entries_removed),
                        field("reclaimed_bytes", d.reclaimed_bytes),
                        field("took_ms", static_cast<uint64_t>(d.duration_seconds * 1000)),
                        field("errors", node.error)});
        if (!node.done) exit_code = 1;
    }
    Outcome outcome = rows_outcome({"node_id", "kind", "segments_rewritten", "entries_removed",
                                    "reclaimed_bytes", "took_ms", "errors"},
                                   std::move(rows));
    outcome.exit_code = exit_code;
    return outcome;
}

Outcome session_list_outcome(const session::SessionsResponse& sessions) {
    std::vector<Object> rows;
    for (const auto& item : sessions.sessions) {
        rows.push_back(
            {field("id", uint64_t{item.id}), bytes_field("client_id", item.client_id),
             field("state", session_state_text(item.state)),
             field("timeout", format_duration(std::chrono::milliseconds(item.timeout_ms))),
             field("command_sequence", uint64_t{item.command_sequence}),
             field("event_index", uint64_t{item.event_index}),
             field("events_pending", uint64_t{item.events_pending})});
    }
    return rows_outcome({"id", "client_id", "state", "timeout", "command_sequence", "event_index",
                         "events_pending"},
                        std::move(rows));
}

}  // namespace copycat::ctl
