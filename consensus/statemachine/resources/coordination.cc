#include "consensus/statemachine/resources/coordination.h"

#include "consensus/statemachine/resources/state_hash.h"

namespace copycat::resources {

void CoordinationStateMachine::configure(statemachine::Executor& executor) {
    maps_.configure(executor);
    counters_.configure(executor);
    locks_.configure(executor);
    elections_.configure(executor);
    groups_.configure(executor);
}

void CoordinationStateMachine::on_close(statemachine::Session& session) {
    maps_.on_close(session);
    locks_.on_close(session);
    elections_.on_close(session);
    groups_.on_close(session);
}

uint64_t CoordinationStateMachine::digest() const {
    StateHash hash;
    maps_.hash(hash);
    counters_.hash(hash);
    locks_.hash(hash);
    elections_.hash(hash);
    groups_.hash(hash);
    return hash.value();
}

size_t CoordinationStateMachine::instance_count() const {
    return maps_.instance_count() + counters_.instance_count() + locks_.instance_count() +
           elections_.instance_count() + groups_.instance_count();
}

std::unique_ptr<statemachine::StateMachine> make_coordination_state_machine() {
    return std::make_unique<CoordinationStateMachine>();
}

}  // namespace copycat::resources
