// copycat-ledger-consensus: a consensus server whose state machine is the example ledger
// instead of the built-in resources. This file and three CMake lines are all it takes.
#include "consensus/server/consensus_main.h"
#include "consensus/statemachine/example/ledger.h"

int main(int argc, char* argv[]) {
    return copycat::server::consensus_main(argc, argv, "copycat-ledger-consensus",
                                           copycat::example::make_ledger_state_machine);
}
