#include "tests/sim/sim_plants.h"

namespace copycat::sim {

SimPlants sim_plants;

std::vector<std::string> sim_plant_names() {
    return {"client_accepts_any_batch", "shell_hides_event_gap", "query_without_floors",
            "client_takes_queued_as_acquired"};
}

bool set_sim_plant(const std::string& name) {
    if (name == "client_accepts_any_batch") {
        sim_plants.client_accepts_any_batch = true;
    } else if (name == "shell_hides_event_gap") {
        sim_plants.shell_hides_event_gap = true;
    } else if (name == "query_without_floors") {
        sim_plants.query_without_floors = true;
    } else if (name == "client_takes_queued_as_acquired") {
        sim_plants.client_takes_queued_as_acquired = true;
    } else {
        return false;
    }
    return true;
}

}  // namespace copycat::sim
