// The commands that hold something until interrupted: watch, lock, elect, group join. Each
// opens a session, does its part, prints what happens, and on SIGINT/SIGTERM lets go, closes
// the session cleanly and exits 0. Losing the session (it expired: the client was paused or
// cut off past its timeout) ends them with exit code 1, since what they held is gone.
#pragma once

#include "client/ctl/command_line.h"
#include "client/ctl/connection.h"
#include "client/ctl/printer.h"
#include "client/ctl/signals.h"

namespace copycat::ctl {

// The exit code.
int run_holding_command(Connection& connection, const Command& command, Printer& printer,
                        SignalWatch& signals);

}  // namespace copycat::ctl
