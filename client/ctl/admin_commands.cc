#include "client/ctl/admin_commands.h"

#include <charconv>
#include <functional>
#include <thread>

#include "client/ctl/outcomes.h"
#include "common/duration.h"

namespace copycat::ctl {

namespace {

using Clock = std::chrono::steady_clock;
using session::AdminResponse;
using session::MemberChangeRequest;
using session::NodeId;

constexpr auto kRetryPause = std::chrono::milliseconds(100);

NodeId node_argument(const std::string& text) {
    NodeId id = 0;
    std::from_chars(text.data(), text.data() + text.size(), id);  // checked by the parse
    return id;
}

Status response_status(const AdminResponse& response) {
    using session::ErrorCode;
    const std::string& message = response.message;
    switch (response.error) {
        case ErrorCode::ok: return Status::ok();
        case ErrorCode::configuration_error:
            return conflict("the configuration changed meanwhile or another change is under way (" +
                            message + "); look again (member list) and retry");
        case ErrorCode::no_leader:
            return Status(StatusCode::unavailable,
                          "no leader" + (message.empty() ? "" : ": " + message));
        default: break;
    }
    return Status(StatusCode::unavailable, std::string(session::error_code_name(response.error)) +
                                               (message.empty() ? "" : ": " + message));
}

// Asks a node (0: the leader), again after no_leader answers until the command timeout.
class Admin {
public:
    explicit Admin(Connection& connection)
        : connection_(connection), deadline_(Clock::now() + connection.globals().command_timeout) {}

    // waiting: how long one answer may take (0: the dial timeout).
    Result<AdminResponse> ask(const session::AdminRequest& request, NodeId node,
                              std::chrono::milliseconds waiting = {}) {
        Result<client::Runtime*> runtime = connection_.runtime();
        if (!runtime.is_ok()) return runtime.status();
        while (true) {
            Result<AdminResponse> response = (*runtime)->admin(request, node, waiting);
            if (!response.is_ok()) return unanswered(response.status(), node, waiting);
            const bool retry = response->error == session::ErrorCode::no_leader && node == 0;
            if (!retry || Clock::now() + kRetryPause > deadline_) {
                COPYCAT_RETURN_IF_ERROR(response_status(*response));
                return response;
            }
            std::this_thread::sleep_for(kRetryPause);
        }
    }

    template <typename Body>
    Result<Body> ask_for(const session::AdminRequest& request, NodeId node,
                         std::chrono::milliseconds waiting = {}) {
        Result<AdminResponse> response = ask(request, node, waiting);
        if (!response.is_ok()) return response.status();
        if (const Body* body = std::get_if<Body>(&response->body)) return *body;
        return Status(StatusCode::unavailable,
                      "the answer of node " + std::to_string(node) +
                          " has no result (a gateway of another version?)");
    }

    Result<session::StatusResponse> status(NodeId node) {
        return ask_for<session::StatusResponse>(session::StatusRequest{}, node);
    }

    bool expired() const { return Clock::now() >= deadline_; }
    std::chrono::milliseconds command_timeout() const {
        return connection_.globals().command_timeout;
    }

private:
    // Node 0 is whoever the gateway picks: silence means the gateway. A node named by id that
    // stays silent is that node (the gateway answered the first question).
    Status unanswered(const Status& status, NodeId node, std::chrono::milliseconds waiting) const {
        if (node == 0) return Status(status.code(), connection_.explain(status));
        const std::string& why = status.message();
        const bool silent = status.code() == StatusCode::unavailable;
        const auto waited = waiting.count() > 0 ? waiting : connection_.globals().dial_timeout;
        return Status(status.code(), "node " + std::to_string(node) + " did not answer within " +
                                         format_duration(waited) +
                                         (silent ? "" : " (" + why + ")"));
    }

    Connection& connection_;
    Clock::time_point deadline_;
};

std::string member_ids(const session::StatusResponse& status) {
    std::string ids;
    for (const auto& member : status.members) {
        ids += (ids.empty() ? "" : ", ") + std::to_string(member.id);
    }
    return ids;
}

const session::MemberInfo* find_member(const session::StatusResponse& status, NodeId id) {
    for (const auto& member : status.members) {
        if (member.id == id) return &member;
    }
    return nullptr;
}

std::string change_text(const Command& command, NodeId node) {
    const std::string member = "Member " + std::to_string(node);
    const char* type = member_type_text(command.flags.member_type);
    if (command.name == "member add") return member + " added to the cluster as " + type;
    if (command.name == "member remove") return member + " removed from the cluster";
    return member + " is now " + type;
}

Result<Outcome> change_member(Admin& admin, const Command& command) {
    const NodeId node = node_argument(command.args[0]);
    Result<session::StatusResponse> status = admin.status(0);
    if (!status.is_ok()) return status.status();
    MemberChangeRequest change;
    change.node = node;
    change.type = command.flags.member_type;
    change.expected_index = status->configuration_index;
    if (command.name == "member add") {
        change.action = MemberChangeRequest::Action::join;
        change.address = command.args[1];
    } else {
        if (find_member(*status, node) == nullptr) {
            return not_found("no member " + std::to_string(node) +
                             " in the cluster (members: " + member_ids(*status) + ")");
        }
        change.action = command.name == "member remove" ? MemberChangeRequest::Action::leave
                                                        : MemberChangeRequest::Action::set_type;
    }
    Result<session::MemberChangeResponse> done =
        admin.ask_for<session::MemberChangeResponse>(change, 0);
    if (!done.is_ok()) return done.status();
    return member_change_outcome(change_text(command, node), *done);
}

Result<Outcome> move_leader(Admin& admin, const Command& command) {
    const NodeId target = node_argument(command.args[0]);
    Result<session::StatusResponse> status = admin.status(0);
    if (!status.is_ok()) return status.status();
    if (find_member(*status, target) == nullptr) {
        return not_found("no member " + std::to_string(target) +
                         " in the cluster (members: " + member_ids(*status) + ")");
    }
    const bool already = status->leader == target;
    if (!already) {
        Result<AdminResponse> started = admin.ask(session::TransferLeadershipRequest{target}, 0);
        if (!started.is_ok()) return started.status();
    }
    while (true) {
        Result<session::StatusResponse> now = admin.status(target);
        if (now.is_ok() && now->role == "leader") {
            return move_leader_outcome(target, now->term, already);
        }
        if (admin.expired()) {
            return Status(StatusCode::timeout, "node " + std::to_string(target) +
                                                   " is not the leader yet (the transfer may "
                                                   "still happen, or have failed)");
        }
        std::this_thread::sleep_for(kRetryPause);
    }
}

// Calls ask(id) for each member, as the leader lists them, in turn.
Status for_each_member(Admin& admin, const std::function<void(NodeId)>& ask) {
    Result<session::StatusResponse> leader = admin.status(0);
    if (!leader.is_ok()) return leader.status();
    for (const session::MemberInfo& member : leader->members) ask(member.id);
    return Status::ok();
}

Result<std::vector<NodeReport>> node_reports(Admin& admin) {
    std::vector<NodeReport> reports;
    Status asked = for_each_member(admin, [&](NodeId id) {
        NodeReport report;
        report.node_id = id;
        const auto start = Clock::now();
        Result<session::StatusResponse> status = admin.status(id);
        report.took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
        if (status.is_ok()) {
            report.status = *status;
        } else {
            report.error = status.status().message();
        }
        reports.push_back(std::move(report));
    });
    if (!asked.is_ok()) return asked;
    return reports;
}

// Each member in turn, one run at a time (a run reads and writes the node's whole log).
Result<Outcome> compact(Admin& admin, const Command& command) {
    std::vector<CompactReport> reports;
    Status asked = for_each_member(admin, [&](NodeId id) {
        CompactReport report;
        report.node_id = id;
        Result<session::CompactLogResponse> done = admin.ask_for<session::CompactLogResponse>(
            session::CompactLogRequest{command.flags.major}, id, admin.command_timeout());
        if (done.is_ok()) {
            report.done = *done;
        } else {
            report.error = done.status().message();
        }
        reports.push_back(std::move(report));
    });
    if (!asked.is_ok()) return asked;
    return compact_outcome(reports);
}

}  // namespace

bool is_admin_command(const std::string& name) {
    return name.starts_with("member ") || name == "move-leader" || name.starts_with("endpoint ") ||
           name == "session list" || name == "compact";
}

Result<Outcome> run_admin_command(Connection& connection, const Command& command) {
    Admin admin(connection);
    if (command.name == "member list") {
        Result<session::StatusResponse> status = admin.status(0);
        if (!status.is_ok()) return status.status();
        return member_list_outcome(*status);
    }
    if (command.name.starts_with("member ")) return change_member(admin, command);
    if (command.name == "move-leader") return move_leader(admin, command);
    if (command.name == "compact") return compact(admin, command);
    if (command.name == "session list") {
        Result<session::SessionsResponse> sessions =
            admin.ask_for<session::SessionsResponse>(session::SessionsRequest{}, 0);
        if (!sessions.is_ok()) return sessions.status();
        return session_list_outcome(*sessions);
    }
    Result<std::vector<NodeReport>> reports = node_reports(admin);
    if (!reports.is_ok()) return reports.status();
    return command.name == "endpoint status" ? endpoint_status_outcome(*reports)
                                             : endpoint_health_outcome(*reports);
}

}  // namespace copycat::ctl
