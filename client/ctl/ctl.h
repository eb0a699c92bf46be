// copycat-ctl as a function: parse the command line, run the command, print, return the exit
// code (0 ok, 1 failure, 2 bad usage). main() calls it with the process's streams.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "client/ctl/command_line.h"

namespace copycat::ctl {

// arguments: argv[1..]; input_fd: where `session` reads its lines.
int run_ctl(const std::vector<std::string>& arguments, const Environment& environment, int input_fd,
            std::ostream& out, std::ostream& err);

}  // namespace copycat::ctl
