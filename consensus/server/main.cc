// copycat-consensus: the Raft server of one node, with the built-in resources (map, counter,
// lock, leader election, group membership) as its state machine.
#include <memory>

#include "consensus/server/consensus_main.h"
#include "consensus/statemachine/resources/coordination.h"

int main(int argc, char* argv[]) {
    return copycat::server::consensus_main(argc, argv, "copycat-consensus", [] {
        return std::make_unique<copycat::resources::CoordinationStateMachine>();
    });
}
