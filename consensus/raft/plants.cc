#include "consensus/raft/plants.h"

#include <utility>

namespace copycat::raft {

Plants plants;

namespace {

const std::pair<const char*, bool Plants::*> kPlants[] = {
    {"follower_commits_past_verified", &Plants::follower_commits_past_verified},
    {"vote_without_log_check", &Plants::vote_without_log_check},
    {"commit_old_term_by_counting", &Plants::commit_old_term_by_counting},
    {"read_without_confirmation", &Plants::read_without_confirmation},
    {"vote_before_term_durable", &Plants::vote_before_term_durable},
    {"leader_counts_own_unpersisted", &Plants::leader_counts_own_unpersisted},
};

}  // namespace

std::vector<std::string> plant_names() {
    std::vector<std::string> names;
    for (const auto& [name, field] : kPlants) names.push_back(name);
    return names;
}

bool set_plant(const std::string& name) {
    for (const auto& [plant_name, field] : kPlants) {
        if (name == plant_name) {
            plants.*field = true;
            return true;
        }
    }
    return false;
}

}  // namespace copycat::raft
