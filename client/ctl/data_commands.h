// The commands that are one operation of a session and then done: put, get, del, cas, list,
// size, counter *, elect leader, group members. The same code runs a command line and a line
// of `copycat-ctl session`.
#pragma once

#include <chrono>
#include <string>

#include "client/client.h"
#include "client/ctl/command_line.h"
#include "client/ctl/value_text.h"

namespace copycat::ctl {

bool is_data_command(const std::string& name);

// The command's outcome, or why it failed (reply_status: a timeout says so).
Result<Outcome> run_data_command(client::Client& client, const Command& command,
                                 std::chrono::milliseconds command_timeout);

// A VALUE argument as bytes (--escaped: in value_text.h's escaped form, checked by the parse).
Bytes value_argument(const Command& command, size_t position);

}  // namespace copycat::ctl
