// The simulator's pieces on their own: the network's partitions and faults, the disk's crash
// semantics (unsynced data lost, acknowledged data never), the invariant checker on hand-made
// violations, and whole runs (deterministic, clean without a plant, catching one, and exercising
// sessions, events, locks and snapshots). The session checks have session_checks_test.cc.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "consensus/raft/log.h"
#include "consensus/raft/plants.h"
#include "tests/sim/cluster.h"
#include "tests/sim/disk.h"
#include "tests/sim/faults.h"
#include "tests/sim/invariants.h"
#include "tests/sim/network.h"
#include "tests/sim/node.h"
#include "tests/sim/random.h"
#include "tests/sim/sim_plants.h"

namespace copycat::sim {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Envelope;

Envelope message(NodeId from, NodeId to, raft::Term term = 1) {
    return Envelope{from, to, raft::AppendRequest{term, from, 0, 0, 0, 0, 0, {}}};
}

Entry entry(raft::Index index, raft::Term term, std::string payload = "x") {
    return Entry{term, index, EntryType::command, 0, 0, {payload.begin(), payload.end()}};
}

// Delivers everything in flight; the (from, to) pairs that arrived, cut ones left out.
std::vector<std::pair<NodeId, NodeId>> drain(Network& network) {
    std::vector<std::pair<NodeId, NodeId>> arrived;
    while (network.next_delivery_us()) {
        const Network::Arrival arrival = network.pop();
        if (!arrival.cut) arrived.push_back({arrival.envelope.from, arrival.envelope.to});
    }
    return arrived;
}

// --- random ---------------------------------------------------------------------------------

TEST(SimRandom, ASeedReplaysAndPurposesAreIndependentStreams) {
    Rng a(42, "network");
    Rng b(42, "network");
    Rng other(42, "disk");
    bool differs = false;
    for (int i = 0; i < 100; ++i) {
        const uint64_t value = a.next();
        EXPECT_EQ(value, b.next());
        differs = differs || value != other.next();
    }
    EXPECT_TRUE(differs);
}

// --- network --------------------------------------------------------------------------------

TEST(SimNetwork, DeliversEveryMessageWithoutFaults) {
    Network network(Rng(1));
    for (int i = 0; i < 10; ++i) network.send(message(1, 2), 0);
    EXPECT_EQ(drain(network).size(), 10u);
}

TEST(SimNetwork, OneWayPartitionCutsOnlyOneDirection) {
    Network network(Rng(1));
    network.split_one_way({1}, {1, 2, 3});
    network.send(message(1, 2), 0);
    network.send(message(1, 3), 0);
    network.send(message(2, 1), 0);
    network.send(message(3, 1), 0);
    network.send(message(2, 3), 0);
    const auto arrived = drain(network);
    EXPECT_EQ(arrived.size(), 3u);
    for (const auto& [from, to] : arrived) EXPECT_NE(from, 1u);
}

TEST(SimNetwork, SplitCutsBetweenSidesButNotWithin) {
    Network network(Rng(1));
    network.split({1, 2}, {1, 2, 3, 4, 5});
    EXPECT_FALSE(network.is_cut(1, 2));
    EXPECT_FALSE(network.is_cut(3, 5));
    EXPECT_TRUE(network.is_cut(1, 3));
    EXPECT_TRUE(network.is_cut(4, 2));
    network.heal();
    EXPECT_FALSE(network.is_cut(1, 3));
    EXPECT_FALSE(network.partitioned());
}

TEST(SimNetwork, IsolatedNodeNeitherSendsNorReceives) {
    Network network(Rng(1));
    network.isolate(2, {1, 2, 3});
    for (NodeId other : {1, 3}) {
        network.send(message(2, other), 0);
        network.send(message(other, 2), 0);
    }
    network.send(message(1, 3), 0);
    EXPECT_EQ(drain(network), (std::vector<std::pair<NodeId, NodeId>>{{1, 3}}));
}

TEST(SimNetwork, MessageInFlightIsDroppedWhenItsLinkIsCutBeforeArrival) {
    Network network(Rng(1));
    network.send(message(1, 2), 0);
    network.cut(1, 2);
    EXPECT_TRUE(network.pop().cut);
}

TEST(SimNetwork, ClogHoldsMessagesUntilItEndsAndLosesNone) {
    Network network(Rng(1));
    network.clog(1, 2, 500'000);
    for (int i = 0; i < 5; ++i) network.send(message(1, 2), 0);
    network.send(message(2, 1), 0);
    EXPECT_LT(*network.next_delivery_us(), 500'000u);  // the other direction flows
    EXPECT_EQ(network.pop().envelope.from, 2u);
    EXPECT_GE(*network.next_delivery_us(), 500'000u);
    EXPECT_EQ(drain(network).size(), 5u);
}

TEST(SimNetwork, LossAndDuplicationKnobs) {
    Network lossy(Rng(1));
    lossy.set_faults({100, 200, 1.0, 0.0, 0.0, 1});
    for (int i = 0; i < 20; ++i) lossy.send(message(1, 2), 0);
    EXPECT_EQ(lossy.in_flight(), 0u);
    Network doubling(Rng(1));
    doubling.set_faults({100, 200, 0.0, 1.0, 0.0, 1});
    for (int i = 0; i < 20; ++i) doubling.send(message(1, 2), 0);
    EXPECT_EQ(drain(doubling).size(), 40u);
}

// --- disk -----------------------------------------------------------------------------------

raft::PersistOp op(uint64_t seq, std::vector<Entry> entries,
                   std::optional<raft::HardState> hard_state = std::nullopt,
                   std::optional<raft::Index> truncate_after = std::nullopt) {
    raft::PersistOp persist;
    persist.seq = seq;
    persist.hard_state = hard_state;
    persist.truncate_after = truncate_after;
    persist.entries = std::move(entries);
    return persist;
}

Disk make_disk(uint64_t seed = 1) {
    return Disk(raft::Configuration{}, Rng(seed), DiskTiming{100, 100, 0.0, 0});
}

TEST(SimDisk, SyncedWritesSurviveACrashAndUnsyncedOnesAreLost) {
    Disk disk = make_disk();
    ASSERT_TRUE(disk.write(op(1, {entry(1, 1), entry(2, 1)}, raft::HardState{1, 1}), 0).is_ok());
    EXPECT_EQ(disk.sync_due(100), 1u);
    ASSERT_TRUE(disk.write(op(2, {entry(3, 1)}, raft::HardState{2, 3}), 200).is_ok());
    const Disk::CrashLoss loss = disk.crash(false);
    EXPECT_EQ(loss.lost_writes, 1u);
    const raft::RestoredState restored = disk.restore();
    EXPECT_EQ(restored.hard_state, (raft::HardState{1, 1}));
    ASSERT_EQ(restored.entries.size(), 2u);
    EXPECT_EQ(restored.entries.back().index, 2u);
}

TEST(SimDisk, TornTailsNeverLoseAcknowledgedWritesAndKeepOnlyAPrefix) {
    for (uint64_t seed = 1; seed <= 200; ++seed) {
        Disk disk = make_disk(seed);
        ASSERT_TRUE(disk.write(op(1, {entry(1, 1), entry(2, 1)}), 0).is_ok());
        disk.sync_due(1'000);
        std::vector<Entry> pending = {entry(3, 2, "a"), entry(4, 2, "b"), entry(5, 2, "c")};
        ASSERT_TRUE(disk.write(op(2, pending, raft::HardState{2, 0}, 2), 1'000).is_ok());
        disk.crash(true);
        ASSERT_GE(disk.last_index(), 2u) << "seed " << seed << " lost a synced entry";
        for (raft::Index index = 3; index <= disk.last_index(); ++index) {
            EXPECT_EQ(*disk.entry(index), pending[index - 3]) << "seed " << seed;
        }
        if (disk.last_index() > 2) {
            EXPECT_EQ(disk.hard_state().term, 2u);  // written before the entries
        }
    }
}

TEST(SimDisk, SyncsInOrderAndAcknowledgesTheHighestSeq) {
    Disk disk(raft::Configuration{}, Rng(7), DiskTiming{10, 5'000, 0.0, 0});
    for (uint64_t seq = 1; seq <= 5; ++seq) {
        ASSERT_TRUE(disk.write(op(seq, {entry(seq, 1)}), 0).is_ok());
    }
    uint64_t last_seq = 0;
    raft::Index last_index = 0;
    while (disk.next_sync_us()) {
        const uint64_t seq = disk.sync_due(*disk.next_sync_us());
        EXPECT_GT(seq, last_seq);
        EXPECT_EQ(disk.last_index(), seq);  // a write is durable only with all before it
        EXPECT_GE(disk.last_index(), last_index);
        last_seq = seq;
        last_index = disk.last_index();
    }
    EXPECT_EQ(last_seq, 5u);
}

TEST(SimDisk, RefusesAnAppendThatGoesBackWithoutTruncation) {
    Disk disk = make_disk();
    ASSERT_TRUE(disk.write(op(1, {entry(1, 1), entry(2, 1)}), 0).is_ok());
    EXPECT_FALSE(disk.write(op(2, {entry(2, 1)}), 0).is_ok());
    EXPECT_EQ(disk.pending_writes(), 1u);
}

session::DiskReleases::Batch batch(std::vector<raft::Index> indexes, bool reset = false) {
    session::DiskReleases::Batch made;
    made.reset = reset;
    made.indexes = std::move(indexes);
    return made;
}

TEST(SimDisk, TakesHolesAndCompactsReleasedEntries) {
    Disk disk = make_disk();
    std::vector<raft::Entry> entries = {entry(1, 1), entry(4, 1), entry(5, 1)};
    for (raft::Entry& e : entries) e.compaction_mode = 3;  // RELEASE
    ASSERT_TRUE(disk.write(op(1, entries), 0).is_ok());
    disk.sync_due(UINT64_MAX);
    EXPECT_TRUE(disk.covers(2));
    EXPECT_FALSE(disk.holds(2));
    using Removed = std::vector<std::pair<raft::Index, raft::Index>>;
    const std::map<raft::Index, raft::Index> at = {{4, 5}, {5, 5}};
    disk.release(batch({5}, true), at);
    EXPECT_TRUE(disk.compact(compaction::Indexes{5, 5, 0, 0}).empty()) << "the last entry stays";
    disk.release(batch({4}), at);
    EXPECT_TRUE(disk.compact(compaction::Indexes{5, 5, 0, 0}).empty())
        << "and so does what was released below it";
    ASSERT_TRUE(disk.write(op(2, {entry(6, 1)}), 0).is_ok());
    disk.sync_due(UINT64_MAX);
    EXPECT_EQ(disk.compact(compaction::Indexes{6, 6, 0, 0}), (Removed{{4, 5}, {5, 5}}));
    EXPECT_EQ(disk.restore().entries.size(), 2u);
}

TEST(SimDisk, TheActiveSegmentStaysAndACrashLosesTheBits) {
    Disk disk(make_disk().configuration(), Rng(1, "disk"), DiskTiming{}, /*segment_entries=*/3);
    std::vector<raft::Entry> entries = {entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1),
                                        entry(5, 1)};
    for (raft::Entry& e : entries) e.compaction_mode = 3;  // RELEASE
    ASSERT_TRUE(disk.write(op(1, entries), 0).is_ok());
    disk.sync_due(UINT64_MAX);
    EXPECT_EQ(disk.sealed_through(), 3u);
    disk.release(batch({2, 3}, true), {});
    disk.crash(false);
    EXPECT_TRUE(disk.compact(compaction::Indexes{5, 5, 0, 0}).empty()) << "bits gone, none yet";
    disk.release(batch({2, 4}, true), {});
    EXPECT_TRUE(disk.compact(compaction::Indexes{5, 5, 0, 0}).empty())
        << "4 is in the active segment: it stays, and so does 2 below it";
    disk.release(batch({2}, true), {});
    EXPECT_EQ(disk.compact(compaction::Indexes{5, 5, 0, 0}).size(), 1u);
    EXPECT_FALSE(disk.holds(2));
}

TEST(SimDisk, AVoteIsDurableOnlyOnceSynced) {
    Disk disk = make_disk();
    ASSERT_TRUE(disk.write(op(1, {}, raft::HardState{3, 2}), 0).is_ok());
    EXPECT_FALSE(disk.vote_was_durable(3, 2));
    disk.sync_due(100);
    EXPECT_TRUE(disk.vote_was_durable(3, 2));
}

// --- invariants -----------------------------------------------------------------------------

raft::RaftLog log_of(const std::vector<Entry>& entries) {
    raft::RaftLog log;
    for (const Entry& e : entries) log.append(e);
    return log;
}

std::string first_violation(const Invariants& invariants) {
    return invariants.ok() ? "none" : invariants.violations().front().invariant;
}

TEST(SimInvariants, TwoLeadersInOneTermBreakElectionSafety) {
    Invariants invariants;
    invariants.observe_role(1, 3, raft::Role::leader);
    invariants.observe_role(2, 4, raft::Role::leader);
    invariants.observe_role(1, 3, raft::Role::leader);
    EXPECT_TRUE(invariants.ok());
    invariants.observe_crash(1);  // a crashed incarnation's leadership still counts
    invariants.observe_role(3, 3, raft::Role::leader);
    EXPECT_EQ(first_violation(invariants), "election safety");
}

TEST(SimInvariants, SameIndexAndTermWithDifferentPrefixesBreakLogMatching) {
    Invariants invariants;
    invariants.observe_log(1, log_of({entry(1, 1, "a"), entry(2, 2, "b")}), 1);
    invariants.observe_log(2, log_of({entry(1, 1, "a"), entry(2, 2, "b")}), 1);
    EXPECT_TRUE(invariants.ok());
    invariants.observe_log(3, log_of({entry(1, 1, "z"), entry(2, 2, "b")}), 1);
    EXPECT_EQ(first_violation(invariants), "log matching");
}

TEST(SimInvariants, DifferentEntriesCommittedAtAnIndexBreakStateMachineSafety) {
    Invariants invariants;
    const raft::RaftLog one = log_of({entry(1, 1, "a")});
    const raft::RaftLog two = log_of({entry(1, 2, "b")});
    invariants.observe_log(1, one, 1);
    invariants.observe_log(2, two, 1);
    invariants.observe_commit(1, 1, 1, one);
    invariants.observe_commit(2, 1, 2, two);
    EXPECT_EQ(first_violation(invariants), "state machine safety");
}

TEST(SimInvariants, DifferentEntriesAppliedAtAnIndexBreakStateMachineSafety) {
    Invariants invariants;
    invariants.observe_apply(1, entry(1, 1, "a"), 5, 10);
    invariants.observe_apply(2, entry(1, 1, "a"), 5, std::nullopt);
    EXPECT_TRUE(invariants.ok());
    invariants.observe_apply(3, entry(1, 1, "b"), 5, 10);
    EXPECT_EQ(first_violation(invariants), "state machine safety");
}

TEST(SimInvariants, DifferentEffectsOrStatesAtAnIndexBreakStateMachineSafety) {
    Invariants effects;
    effects.observe_apply(1, entry(1, 1, "a"), 5, std::nullopt);
    effects.observe_apply(2, entry(1, 1, "a"), 6, std::nullopt);
    EXPECT_EQ(first_violation(effects), "state machine safety");
    Invariants states;
    states.observe_apply(1, entry(1, 1, "a"), 5, std::nullopt);  // the state is not known here
    states.observe_apply(2, entry(1, 1, "a"), 5, 10);
    states.observe_apply(3, entry(1, 1, "a"), 5, 10);
    EXPECT_TRUE(states.ok());
    states.observe_apply(4, entry(1, 1, "a"), 5, 11);
    EXPECT_EQ(first_violation(states), "state machine safety");
}

TEST(SimInvariants, CommitIndexGoingBackIsFlaggedWithinAnIncarnationOnly) {
    Invariants invariants;
    const raft::RaftLog log = log_of({entry(1, 1), entry(2, 1)});
    invariants.observe_log(1, log, 1);
    invariants.observe_commit(1, 2, 1, log);
    invariants.observe_start(1, raft::HardState{1, 0});  // a restart starts again from 0
    invariants.observe_log(1, log, 1);
    invariants.observe_commit(1, 1, 1, log);
    EXPECT_TRUE(invariants.ok());
    invariants.observe_commit(1, 0, 1, log);
    EXPECT_EQ(first_violation(invariants), "commit monotonic");
}

TEST(SimInvariants, LeaderOfALaterTermWithoutACommittedEntryBreaksLeaderCompleteness) {
    Invariants invariants;
    const raft::RaftLog full = log_of({entry(1, 1), entry(2, 1)});
    invariants.observe_log(1, full, 1);
    invariants.observe_commit(1, 2, 1, full);
    const raft::RaftLog short_log = log_of({entry(1, 1)});
    invariants.observe_log(2, short_log, 1);
    invariants.observe_leader(2, 1, short_log);  // same term: not yet a claim
    EXPECT_TRUE(invariants.ok());
    invariants.observe_leader(2, 2, short_log);
    EXPECT_EQ(first_violation(invariants), "leader completeness");
}

TEST(SimInvariants, DurableTermGoingBackIsFlagged) {
    Invariants invariants;
    invariants.observe_durable_term(1, 5);
    invariants.observe_start(1, raft::HardState{4, 0});
    EXPECT_EQ(first_violation(invariants), "durable term");
}

TEST(SimInvariants, PromisesBrokenAreFlagged) {
    Invariants votes;
    votes.observe_vote_granted(1, 2, 3, false);
    EXPECT_EQ(first_violation(votes), "durable promises");
    Invariants commits;
    commits.observe_leader_commit(1, 7, 1, 2);
    EXPECT_EQ(first_violation(commits), "durable promises");
    Invariants figure8;
    figure8.observe_commit_safety(1, 2, 5, 3, 3);
    EXPECT_EQ(first_violation(figure8), "commit safety");
    Invariants reads;
    reads.observe_read(1, 4, 4);
    EXPECT_TRUE(reads.ok());
    reads.observe_read(1, 4, 5);
    EXPECT_EQ(first_violation(reads), "read safety");
}

TEST(SimInvariants, ALeaderThatIsNoVoterOfItsConfigurationBreaksMembership) {
    Invariants invariants;
    invariants.observe_took_office(1, 3, true);
    EXPECT_TRUE(invariants.ok());
    invariants.observe_took_office(2, 4, false);
    EXPECT_EQ(first_violation(invariants), "membership");
}

TEST(SimDisk, DurableConfigurationIsTheLatestInTheLogElseTheBootstrap) {
    raft::Configuration bootstrap;
    bootstrap.members = {{1, raft::MemberType::active, true, {}},
                         {2, raft::MemberType::passive, true, {}}};
    Disk disk(bootstrap, Rng(1), DiskTiming{});
    EXPECT_EQ(disk.configuration(), bootstrap);
    raft::Configuration promoted{2, 1, bootstrap.members};
    promoted.members[1].type = raft::MemberType::active;
    raft::PersistOp op;
    op.seq = 1;
    op.entries = {
        Entry{1, 1, EntryType::command, 0, 0, {}},
        Entry{1, 2, EntryType::configuration, 0, 0, raft::encode_configuration(promoted)}};
    ASSERT_TRUE(disk.write(op, 0).is_ok());
    EXPECT_EQ(disk.configuration(), bootstrap) << "not durable yet";
    disk.sync_due(1'000'000'000);
    EXPECT_EQ(disk.configuration(), promoted);
}

// --- whole runs -----------------------------------------------------------------------------

RunOptions short_run(uint64_t seed) {
    RunOptions options;
    options.seed = seed;
    options.steps = 5'000;
    return options;
}

// Ticks follow the clock's elapsed time: a clock jump keeps local time continuous and changes
// only the pace of ticks; after a pause, catch_up_ticks() delivers one tick per period missed.
TEST(SimNode, TicksFollowTheClockThroughAJumpAndAPause) {
    Disk disk = make_disk();
    NodeOptions options;
    options.raft.tick_ms = 10;
    Node node(1, options, NodeClock{}, disk, 7);
    node.start(0);
    EXPECT_EQ(node.next_tick_us(), 10'000u);
    node.tick(10'000);
    node.set_clock_rate(500'000, 15'000);  // half speed from 15 ms (local 15 ms)
    EXPECT_EQ(node.local_time_us(15'000), 15'000u);
    EXPECT_EQ(node.local_time_us(25'000), 20'000u);
    EXPECT_EQ(node.next_tick_us(), 25'000u);  // local 20 ms
    node.set_clock_rate(1'000'000, 25'000);
    EXPECT_EQ(node.catch_up_ticks(24'999), 0u);
    EXPECT_EQ(node.catch_up_ticks(75'000), 6u);  // local 20, 30, ..., 70 ms
    EXPECT_EQ(node.next_tick_us(), 85'000u);     // local 80 ms
}

TEST(SimRun, ASeedReplaysExactly) {
    const RunReport first = run_seed(short_run(11));
    const RunReport again = run_seed(short_run(11));
    EXPECT_EQ(first.steps, again.steps);
    EXPECT_EQ(first.virtual_us, again.virtual_us);
    EXPECT_EQ(first.operations, again.operations);
    EXPECT_EQ(first.faults, again.faults);
    EXPECT_GT(first.operations, 0u);
}

TEST(SimRun, SeedsWithoutAPlantFindNoViolation) {
    for (uint64_t seed = 1; seed <= 10; ++seed) {
        const RunReport report = run_seed(short_run(seed));
        EXPECT_TRUE(report.ok_run())
            << "seed " << seed << ": " << report.violations.front().detail << "\n"
            << report.trace;
    }
}

// Some seeds change membership: they run clean too, and the operator's requests are counted.
TEST(SimRun, SeedsWithMembershipChangesFindNoViolation) {
    uint64_t requests = 0;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        if (!draw_fault_plan(seed, 0).membership.enabled) continue;
        const RunReport report = run_seed(short_run(seed));
        EXPECT_TRUE(report.ok_run())
            << "seed " << seed << ": " << report.violations.front().detail << "\n"
            << report.trace;
        for (const auto& [kind, amount] : report.faults) {
            if (kind.starts_with("membership_") || kind == "transfer_leadership") {
                requests += amount;
            }
        }
    }
    EXPECT_GT(requests, 0u);
}

// Pauses and clock jumps within the bound are drawn and run clean.
TEST(SimRun, SeedsWithPausesAndClockJumpsFindNoViolation) {
    uint64_t pauses = 0;
    uint64_t jumps = 0;
    for (uint64_t seed = 1; seed <= 10; ++seed) {
        const RunReport report = run_seed(short_run(seed));
        EXPECT_TRUE(report.ok_run())
            << "seed " << seed << ": " << report.violations.front().detail << "\n"
            << report.trace;
        pauses += report.faults.count("pause") > 0 ? report.faults.at("pause") : 0;
        jumps += report.faults.count("clock_jump") > 0 ? report.faults.at("clock_jump") : 0;
        EXPECT_EQ(report.faults.count("clock_jump_unsafe"), 0u);
    }
    EXPECT_GT(pauses, 0u);
    EXPECT_GT(jumps, 0u);
}

// The session clients exercise what the session checks look at: events published and
// delivered, locks granted and learned, SEQUENTIAL reads, command_error resubmissions; seeds
// with snapshots take them (with the simulator's snapshot resources).
TEST(SimRun, SessionsEventsLocksAndSnapshotsAreExercised) {
    std::map<std::string, uint64_t> effects;
    for (uint64_t seed = 1; seed <= 10; ++seed) {
        const RunReport report = run_seed(short_run(seed));
        EXPECT_TRUE(report.ok_run()) << "seed " << seed << ": " << report.violations.front().detail;
        for (const auto& [kind, amount] : report.effects) effects[kind] += amount;
    }
    EXPECT_GT(effects["event_batches_published"], 0u);
    EXPECT_EQ(effects["event_batches_delivered"], effects["event_batches_published"])
        << "short clean runs: every session lives to the end and gets every batch";
    EXPECT_GT(effects["lock_grants_logged"], 0u);
    EXPECT_EQ(effects["lock_grants_learned"], effects["lock_grants_logged"]);
    EXPECT_GT(effects["sequential_reads"], 0u);
    EXPECT_GT(effects["reads_checked"], effects["sequential_reads"]);
    EXPECT_GT(effects["command_errors"], 0u);
    EXPECT_GT(effects["snapshots_taken"], 0u);
}

// Client pauses outlast session timeouts: the leader expires sessions, and in some of them a
// held lock passes to its next waiter.
TEST(SimRun, PausedClientsSessionsExpireAndPassTheirLocksOn) {
    uint64_t closed = 0;
    uint64_t passed = 0;
    for (uint64_t seed = 1; seed <= 30 && passed == 0; ++seed) {
        RunOptions options = short_run(seed);
        options.steps = 20'000;
        const RunReport report = run_seed(options);
        EXPECT_TRUE(report.ok_run()) << "seed " << seed << ": " << report.violations.front().detail;
        closed += report.effects.at("sessions_closed_in_log");
        passed += report.effects.at("lock_grants_on_session_end");
    }
    EXPECT_GT(closed, 0u);
    EXPECT_GT(passed, 0u);
}

// Each planted bug of the simulator's shell and clients is caught by the session checks.
TEST(SimRun, PlantedSessionBugsAreCaught) {
    for (const std::string& plant : sim_plant_names()) {
        sim_plants = SimPlants{};
        ASSERT_TRUE(set_sim_plant(plant));
        bool caught = false;
        for (uint64_t seed = 1; seed <= 20 && !caught; ++seed) {
            caught = !run_seed(short_run(seed)).ok_run();
        }
        EXPECT_TRUE(caught) << plant;
    }
    sim_plants = SimPlants{};
}

TEST(SimRun, APlantedBugIsCaught) {
    ASSERT_TRUE(raft::set_plant("vote_without_log_check"));
    bool caught = false;
    for (uint64_t seed = 1; seed <= 20 && !caught; ++seed) {
        caught = !run_seed(short_run(seed)).ok_run();
    }
    raft::plants = raft::Plants{};
    EXPECT_TRUE(caught);
}

}  // namespace
}  // namespace copycat::sim
