// Planted bugs of the simulator's own shell and clients, for the session checks (issue: "Show
// it has teeth"): each breaks a promise of the client protocol the way a client library, a
// gateway or a server shell could, and session_checks.h must catch it. Like the Raft core's
// plants (consensus/raft/plants.h) they are all off unless copycat-sim --plant turns one on.
#pragma once

#include <string>
#include <vector>

namespace copycat::sim {

struct SimPlants {
    // The client takes every batch of its session's events: no previous_index check, no
    // duplicate check.
    bool client_accepts_any_batch = false;
    // The node shell drops one event batch in a few and rewrites the previous_index of the
    // session's next batch to hide the gap from the client.
    bool shell_hides_event_gap = false;
    // Queries carry sequence 0 and index 0: the server cannot wait for what the session has
    // seen (read your writes, monotonic reads).
    bool query_without_floors = false;
    // A lock request answered `queued` is taken as held at once.
    bool client_takes_queued_as_acquired = false;
};

extern SimPlants sim_plants;

std::vector<std::string> sim_plant_names();
// False for an unknown name.
bool set_sim_plant(const std::string& name);

}  // namespace copycat::sim
