// Planted bugs (issue: "Show it has teeth"). Each is a classic Raft mistake the simulator
// must catch. They exist only in the simulator's build of the core (COPYCAT_PLANTS); in
// every server build COPYCAT_PLANT(name) is the constant false and the code is gone.
#pragma once

#include <string>
#include <vector>

namespace copycat::raft {

struct Plants {
    bool follower_commits_past_verified = false;  // commit = leader commit, unverified
    bool vote_without_log_check = false;          // grant votes to stale logs
    bool commit_old_term_by_counting = false;     // Figure 8: count replicas of old terms
    bool read_without_confirmation = false;       // ReadIndex answered without a round
    bool vote_before_term_durable = false;        // votes sent before term/vote persist
    bool leader_counts_own_unpersisted = false;   // leader's match before its fsync
};

#ifdef COPYCAT_PLANTS
extern Plants plants;
// Names for --list-plants / --plant; set_plant returns false for an unknown name.
std::vector<std::string> plant_names();
bool set_plant(const std::string& name);
#define COPYCAT_PLANT(name) (::copycat::raft::plants.name)
#else
#define COPYCAT_PLANT(name) false
#endif

}  // namespace copycat::raft
