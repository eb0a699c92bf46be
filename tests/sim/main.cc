// copycat-sim: the deterministic simulator (TESTING.md, layer 2). Runs whole clusters of the
// server core (Raft, sessions, the built-in resources) in one process, one seed per run, and
// checks the invariants and the session checks (events, locks, reads) after every step and
// every client history for linearizability.
//
//   copycat-sim --seeds 500               500 seeds from --first-seed (1)
//   copycat-sim --seed 1234               replays seed 1234 exactly; its trace on failure
//   copycat-sim --list-plants             the planted bugs
//   copycat-sim --plant NAME --seeds 200  runs with a planted bug (of the Raft core, or of the
//                                         simulator's shell and clients: sim_plants.h):
//                                         success is catching it
//   copycat-sim --unsafe-clock-skew --seeds 200
//                                         the negative control of the clock faults: leaders'
//                                         clocks run 50% slow, beyond the lease's bound;
//                                         success is catching a stale read (never in ctest)
//
// The last line of the output is one JSON object: seeds, operations, violations, faults,
// elections, first_failing_seed, plant, and more. Exit 0 when no seed found a violation (with
// --plant: when some seed caught the plant), 1 otherwise, 2 for bad usage.
#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/json.h"
#include "consensus/raft/plants.h"
#include "tests/sim/cluster.h"
#include "tests/sim/sim_plants.h"

namespace copycat::sim {
namespace {

struct Settings {
    uint64_t seeds = 100;
    uint64_t first_seed = 1;
    std::optional<uint64_t> replay_seed;
    int nodes = 0;
    uint64_t steps = 0;
    std::string plant;
    bool keep_going = false;
    bool verbose = false;
    bool end_to_end_only = false;
    bool unsafe_clock_skew = false;
    std::string compaction = "off";
    // Success is a violation: a plant or the unsafe clock skew.
    bool negative_control() const { return !plant.empty() || unsafe_clock_skew; }
};

struct Totals {
    uint64_t seeds = 0;
    uint64_t operations = 0;
    uint64_t ok = 0;
    uint64_t info = 0;
    uint64_t fail = 0;
    uint64_t steps = 0;
    uint64_t virtual_us = 0;
    uint64_t elections = 0;
    uint64_t violations = 0;  // seeds with a violation
    uint64_t unknown = 0;     // seeds whose history the checker could not decide
    std::map<std::string, uint64_t> faults;
    std::map<std::string, uint64_t> effects;
    std::map<std::string, uint64_t> caught_by;  // invariant -> seeds
    std::optional<uint64_t> first_failing_seed;
    uint64_t plant_catches = 0;  // seeds with a safety violation
    std::optional<uint64_t> first_catching_seed;
};

Totals totals;
Settings settings;
uint64_t current_seed = 0;

std::string summary_json(const Totals& t, const Settings& s, bool aborted) {
    uint64_t faults = 0;
    for (const auto& [kind, amount] : t.faults) faults += amount;
    JsonWriter json;
    json.begin_object().field("seeds", t.seeds).field("operations", t.operations);
    json.field("violations", t.violations).field("faults", faults);
    json.field("elections", t.elections).key("first_failing_seed");
    t.first_failing_seed ? json.value(*t.first_failing_seed) : json.null_value();
    json.key("plant");
    s.plant.empty() ? json.null_value() : json.value(s.plant);
    json.field("ok", t.ok).field("info", t.info).field("fail", t.fail);
    json.field("steps", t.steps).field("virtual_seconds", t.virtual_us / 1'000'000);
    json.field("undecided_histories", t.unknown).field("aborted", aborted);
    json.field("unsafe_clock_skew", s.unsafe_clock_skew);
    json.field("compaction", s.compaction);
    if (s.negative_control()) {
        json.field("plant_catches", t.plant_catches).key("first_catching_seed");
        t.first_catching_seed ? json.value(*t.first_catching_seed) : json.null_value();
    }
    json.key("caught_by").begin_object();
    for (const auto& [invariant, seeds] : t.caught_by) json.field(invariant, seeds);
    json.end_object().key("fault_kinds").begin_object();
    for (const auto& [kind, amount] : t.faults) json.field(kind, amount);
    json.end_object().key("fault_effects").begin_object();
    for (const auto& [kind, amount] : t.effects) json.field(kind, amount);
    json.end_object().end_object();
    return json.str();
}

// An assertion (in the Raft core or here) aborts mid-run: say which seed, show the trace, and
// end with the JSON line like any run. With a plant, an assertion counts as catching it.
extern "C" void on_abort(int) {
    std::fprintf(stdout,
                 "seed %llu: ABORTED on an assertion (see stderr); replay with --seed "
                 "%llu\n--- trace (last events) ---\n%s--- end of trace ---\n",
                 static_cast<unsigned long long>(current_seed),
                 static_cast<unsigned long long>(current_seed), current_run_trace().c_str());
    totals.seeds++;
    totals.violations++;
    totals.caught_by["assertion"]++;
    totals.plant_catches++;
    if (!totals.first_failing_seed) totals.first_failing_seed = current_seed;
    if (!totals.first_catching_seed) totals.first_catching_seed = current_seed;
    std::fprintf(stdout, "%s\n", summary_json(totals, settings, true).c_str());
    std::fflush(stdout);
    _exit(settings.negative_control() ? 0 : 1);
}

// With a plant, a seed catches it by a safety violation: the core's liveness finding
// (FINDINGS.md) can stall any run, and must not pass for teeth.
bool catches_plant(const RunReport& report) {
    for (const Violation& violation : report.violations) {
        if (violation.invariant != "liveness") return true;
    }
    return false;
}

void add(const RunReport& report) {
    totals.seeds++;
    totals.operations += report.operations;
    totals.ok += report.ok;
    totals.info += report.info;
    totals.fail += report.fail;
    totals.steps += report.steps;
    totals.virtual_us += report.virtual_us;
    totals.elections += report.elections;
    totals.unknown += report.linearizability_unknown ? 1 : 0;
    for (const auto& [kind, amount] : report.faults) totals.faults[kind] += amount;
    for (const auto& [kind, amount] : report.effects) totals.effects[kind] += amount;
    if (report.ok_run()) return;
    totals.violations++;
    totals.caught_by[report.violations.front().invariant]++;
    if (!totals.first_failing_seed) totals.first_failing_seed = report.seed;
    if (catches_plant(report)) totals.plant_catches++;
    if (catches_plant(report) && !totals.first_catching_seed) {
        totals.first_catching_seed = report.seed;
    }
}

void print_run(const RunReport& report, bool with_trace) {
    if (settings.verbose || !report.ok_run()) {
        std::printf(
            "seed %llu: %d nodes, %llu steps, %llu operations (%llu ok, %llu info, "
            "%llu fail), %llu elections, %llu faults: %s\n",
            static_cast<unsigned long long>(report.seed), report.nodes,
            static_cast<unsigned long long>(report.steps),
            static_cast<unsigned long long>(report.operations),
            static_cast<unsigned long long>(report.ok),
            static_cast<unsigned long long>(report.info),
            static_cast<unsigned long long>(report.fail),
            static_cast<unsigned long long>(report.elections),
            static_cast<unsigned long long>(report.fault_total()),
            report.ok_run() ? "ok" : "VIOLATION");
    }
    if (report.linearizability_unknown && settings.verbose) {
        std::printf("seed %llu: history undecided: %s\n",
                    static_cast<unsigned long long>(report.seed), report.undecided.c_str());
    }
    if (report.ok_run()) return;
    const Violation& first = report.violations.front();
    std::printf(
        "seed %llu: VIOLATION of %s: %s\n  replay: copycat-sim --seed %llu%s%s%s%s\n",
        static_cast<unsigned long long>(report.seed), first.invariant.c_str(), first.detail.c_str(),
        static_cast<unsigned long long>(report.seed), settings.plant.empty() ? "" : " --plant ",
        settings.plant.c_str(), settings.unsafe_clock_skew ? " --unsafe-clock-skew" : "",
        settings.compaction == "off" ? "" : (" --compaction " + settings.compaction).c_str());
    if (with_trace) {
        std::printf("--- %s\n--- trace (last events) ---\n%s--- end of trace ---\n",
                    report.plan.c_str(), report.trace.c_str());
    }
}

int list_plants() {
    for (const std::string& name : raft::plant_names()) std::printf("%s\n", name.c_str());
    for (const std::string& name : sim_plant_names()) std::printf("%s\n", name.c_str());
    return 0;
}

bool read_settings(const po::variables_map& variables) {
    settings.seeds = variables["seeds"].as<uint64_t>();
    settings.first_seed = variables["first-seed"].as<uint64_t>();
    if (variables.count("seed") > 0) settings.replay_seed = variables["seed"].as<uint64_t>();
    settings.nodes = variables["nodes"].as<int>();
    settings.steps = variables["steps"].as<uint64_t>();
    settings.plant = variables["plant"].as<std::string>();
    settings.keep_going = variables["keep-going"].as<bool>();
    settings.verbose = variables["verbose"].as<bool>();
    settings.end_to_end_only = variables["checks"].as<std::string>() == "end-to-end";
    settings.unsafe_clock_skew = variables["unsafe-clock-skew"].as<bool>();
    settings.compaction = variables["compaction"].as<std::string>();
    if (!compaction_draw(settings.compaction)) {
        std::fprintf(stderr, "copycat-sim: --compaction must be off, memory, disk or both\n");
        return false;
    }
    if (settings.nodes != 0 && settings.nodes != 3 && settings.nodes != 5) {
        std::fprintf(stderr, "copycat-sim: --nodes must be 3 or 5\n");
        return false;
    }
    const std::string checks = variables["checks"].as<std::string>();
    if (checks != "all" && checks != "end-to-end") {
        std::fprintf(stderr, "copycat-sim: --checks must be all or end-to-end\n");
        return false;
    }
    if (!settings.plant.empty() && !raft::set_plant(settings.plant) &&
        !set_sim_plant(settings.plant)) {
        std::fprintf(stderr, "copycat-sim: unknown plant \"%s\" (see --list-plants)\n",
                     settings.plant.c_str());
        return false;
    }
    return true;
}

int run_seeds() {
    const uint64_t first = settings.replay_seed.value_or(settings.first_seed);
    const uint64_t count = settings.replay_seed ? 1 : settings.seeds;
    for (uint64_t seed = first; seed < first + count; ++seed) {
        RunOptions options;
        options.seed = seed;
        options.nodes = settings.nodes;
        if (settings.steps != 0) options.steps = settings.steps;
        options.verbose = settings.verbose && settings.replay_seed.has_value();
        options.promise_checks = !settings.end_to_end_only;
        options.unsafe_clock_skew = settings.unsafe_clock_skew;
        options.compaction = *compaction_draw(settings.compaction);
        current_seed = seed;
        const RunReport report = run_seed(options);
        const bool first_failure = !report.ok_run() && !totals.first_failing_seed;
        add(report);
        print_run(report, first_failure || settings.replay_seed.has_value());
        if (catches_plant(report) && settings.negative_control() && !settings.keep_going) break;
    }
    std::printf("%s\n", summary_json(totals, settings, false).c_str());
    if (settings.negative_control()) return totals.plant_catches > 0 ? 0 : 1;
    return totals.violations > 0 ? 1 : 0;
}

}  // namespace
}  // namespace copycat::sim

int main(int argc, char** argv) {
    using namespace copycat;
    namespace po = boost::program_options;
    po::options_description options("copycat-sim options");
    options.add_options()("seeds", po::value<uint64_t>()->default_value(100),
                          "how many seeds to run")(
        "first-seed", po::value<uint64_t>()->default_value(1), "the first seed of --seeds")(
        "seed", po::value<uint64_t>(), "replay exactly this seed (prints its trace on failure)")(
        "nodes", po::value<int>()->default_value(0), "cluster size, 3 or 5 (0: from the seed)")(
        "steps", po::value<uint64_t>()->default_value(0),
        "steps with faults before healing (0: the default, 40000)")(
        "plant", po::value<std::string>()->default_value(""),
        "run with this planted bug; success is catching it")("list-plants", po::bool_switch(),
                                                             "list the planted bugs and exit")(
        "keep-going", po::bool_switch(),
        "with --plant, run every seed instead of stopping "
        "at the first that catches it")(
        "checks", po::value<std::string>()->default_value("all"),
        "all, or end-to-end: end results only, without the promise checks (durable votes and "
        "commits, commit safety, read safety)")(
        "verbose", po::bool_switch(), "a line per seed; with --seed every event as it happens")(
        "unsafe-clock-skew", po::bool_switch(),
        "negative control: clock jumps beyond the lease's bound (a leader 50% slow, then "
        "isolated); success is catching a stale read")(
        "compaction", po::value<std::string>()->default_value("off"),
        "log compaction of released entries: off, memory (Raft's in-memory log), disk (as "
        "copycat-compactor), or both; each seed draws how often");
    const ParseOutcome outcome = parse_config(
        argc, argv, options, "copycat-sim",
        "copycat-sim [--seeds N | --seed S] [--plant NAME]: deterministic simulation of whole "
        "clusters with faults; invariants after every step, histories checked for "
        "linearizability; the last line is a JSON summary");
    if (!outcome.run) return outcome.exit_code;
    if (outcome.variables["list-plants"].as<bool>()) return sim::list_plants();
    if (!sim::read_settings(outcome.variables)) return 2;
    std::signal(SIGABRT, sim::on_abort);
    return sim::run_seeds();
}
