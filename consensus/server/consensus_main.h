// The whole copycat-consensus program around one state machine factory, so that a user's own
// state machine gets its own consensus executable with a three-line main:
//
//   int main(int argc, char* argv[]) {
//       return copycat::server::consensus_main(argc, argv, "my-consensus",
//                                              [] { return std::make_unique<MyMachine>(); });
//   }
//
// Flags, environment and config file as every copycat binary (CONVENTIONS.md); exit codes 0
// (stopped by SIGTERM/SIGINT), 1 (runtime failure), 2 (bad usage or configuration).
#pragma once

#include <string_view>

#include "consensus/statemachine/state_machine.h"

namespace copycat::server {

int consensus_main(int argc, const char* const argv[], std::string_view program_name,
                   const statemachine::StateMachineFactory& factory);

}  // namespace copycat::server
