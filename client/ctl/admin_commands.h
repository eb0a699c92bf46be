// The administration commands: member list/add/remove/promote/demote, move-leader, endpoint
// status/health, session list. They need no session: each is one or more admin requests that
// the gateway routes to a node by id, or to the leader (node 0).
#pragma once

#include <string>

#include "client/ctl/command_line.h"
#include "client/ctl/connection.h"

namespace copycat::ctl {

bool is_admin_command(const std::string& name);

Result<Outcome> run_admin_command(Connection& connection, const Command& command);

}  // namespace copycat::ctl
