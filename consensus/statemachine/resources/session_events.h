// Publishing a resource's events to sessions known by id. A resource remembers session ids
// (holders, watchers, members), not Session objects, which are only valid during one call.
#pragma once

#include "common/assert.h"
#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::resources {

// Publishes `event` to `session` if it is still live. A session that has ended is skipped:
// its on_close, at the index where it ended, removes it from every resource. Call only where
// publishing is allowed (a command, a scheduled task, a session callback).
template <statemachine::EventType E>
void notify(statemachine::Context& context, statemachine::SessionId session, const E& event) {
    statemachine::Session* target = context.sessions().find(session);
    if (target == nullptr) return;
    Status published = statemachine::publish(*target, event);
    COPYCAT_ASSERT(published.is_ok(),
                   "publishing to a live session failed: the session layer called a resource "
                   "outside command context, or find() returned a session that has ended");
}

}  // namespace copycat::resources
