// CoordinationStateMachine as a whole: registration, compaction modes of every command, the
// state digest, and refusal of garbage.
#include "consensus/statemachine/resources/coordination.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "consensus/statemachine/resources/ops.h"
#include "tests/statemachine/harness.h"

namespace copycat::resources {
namespace {

using statemachine::make_operation;
using statemachine::testing::Harness;

Bytes bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

CoordinationStateMachine& machine(Harness& harness) {
    return static_cast<CoordinationStateMachine&>(harness.state_machine());
}

TEST(Coordination, RegistersEveryBuiltInOperation) {
    Harness harness(make_coordination_state_machine());
    const std::vector<std::string> commands{
        "counter.add", "counter.cas", "counter.set",  "election.enter", "election.leave",
        "group.join",  "group.leave", "lock.acquire", "lock.release",   "map.cas",
        "map.put",     "map.remove",  "map.unwatch",  "map.watch"};
    const std::vector<std::string> queries{"counter.get", "election.leader", "group.members",
                                           "map.get",     "map.list",        "map.size"};
    EXPECT_EQ(harness.registered_commands(), commands);
    EXPECT_EQ(harness.registered_queries(), queries);
}

TEST(Coordination, EveryCommandCarriesItsCompactionMode) {
    Harness harness(make_coordination_state_machine());
    const auto mode = [&](const statemachine::Operation& operation) {
        Result<CompactionMode> checked = harness.check_command(operation);
        EXPECT_TRUE(checked.is_ok()) << operation.type << ": " << checked.status().to_string();
        return checked.is_ok() ? *checked : CompactionMode::unknown;
    };
    const CompactionMode release = CompactionMode::release;
    const CompactionMode tombstone = CompactionMode::tombstone;
    const CompactionMode expiring = CompactionMode::expiring;
    EXPECT_EQ(mode(make_operation(MapPut{"m", "k", bytes("v"), 0})), release);
    EXPECT_EQ(mode(make_operation(MapPut{"m", "k", bytes("v"), 10})), expiring);
    EXPECT_EQ(mode(make_operation(MapCas{"m", "k", std::nullopt, bytes("v"), 0})), release);
    EXPECT_EQ(mode(make_operation(MapCas{"m", "k", std::nullopt, bytes("v"), 10})), expiring);
    EXPECT_EQ(mode(make_operation(MapRemove{"m", "k"})), tombstone);
    EXPECT_EQ(mode(make_operation(MapWatch{"m", "k", true})), release);
    EXPECT_EQ(mode(make_operation(MapUnwatch{"m", "k", true})), tombstone);
    EXPECT_EQ(mode(make_operation(CounterAdd{"c", 1})), release);
    EXPECT_EQ(mode(make_operation(CounterCas{"c", 1, 2})), release);
    EXPECT_EQ(mode(make_operation(CounterSet{"c", 1})), release);
    EXPECT_EQ(mode(make_operation(LockAcquire{"l", 0})), release);
    EXPECT_EQ(mode(make_operation(LockRelease{"l"})), tombstone);
    EXPECT_EQ(mode(make_operation(ElectionEnter{"e"})), release);
    EXPECT_EQ(mode(make_operation(ElectionLeave{"e"})), tombstone);
    EXPECT_EQ(mode(make_operation(GroupJoin{"g", "x"})), release);
    EXPECT_EQ(mode(make_operation(GroupLeave{"g", "x"})), tombstone);
}

// The same history on two servers hashes the same; any difference shows.
void history(Harness& harness, std::string_view value) {
    SessionId a = harness.open_session("a");
    SessionId b = harness.open_session("b");
    EXPECT_TRUE(harness.run(a, MapPut{"m", "k", bytes(value), 0}).is_ok());
    EXPECT_TRUE(harness.run(a, MapPut{"m", "t", bytes("x"), 100}).is_ok());
    EXPECT_TRUE(harness.run(b, MapWatch{"m", "k", false}).is_ok());
    EXPECT_TRUE(harness.run(a, CounterAdd{"c", 3}).is_ok());
    EXPECT_TRUE(harness.run(a, LockAcquire{"l", LockAcquire::kWaitForever}).is_ok());
    EXPECT_TRUE(harness.run(b, LockAcquire{"l", 50}).is_ok());
    EXPECT_TRUE(harness.run(b, ElectionEnter{"e"}).is_ok());
    EXPECT_TRUE(harness.run(a, GroupJoin{"g", "a"}).is_ok());
    harness.advance(20);
    harness.keep_alive();
}

TEST(Coordination, DigestIsEqualForEqualHistories) {
    Harness one(make_coordination_state_machine());
    Harness two(make_coordination_state_machine());
    history(one, "v");
    history(two, "v");
    EXPECT_EQ(machine(one).digest(), machine(two).digest());
}

TEST(Coordination, DigestDiffersWhenAnyResourceDiffers) {
    Harness base(make_coordination_state_machine());
    history(base, "v");
    const uint64_t digest = machine(base).digest();

    Harness value(make_coordination_state_machine());
    history(value, "w");
    EXPECT_NE(machine(value).digest(), digest);

    // One more operation of each kind, each on a copy of the history. Session 1 is a, 2 is b.
    const std::vector<std::pair<SessionId, statemachine::Operation>> changes{
        {1, make_operation(MapRemove{"m", "t"})}, {2, make_operation(MapUnwatch{"m", "k", false})},
        {1, make_operation(CounterAdd{"c", 0})},  {1, make_operation(LockRelease{"l"})},
        {1, make_operation(ElectionEnter{"e"})},  {1, make_operation(GroupLeave{"g", "a"})},
        {2, make_operation(CounterAdd{"d", 1})},  {2, make_operation(GroupJoin{"g", "b"})}};
    for (const auto& [session, change] : changes) {
        Harness changed(make_coordination_state_machine());
        history(changed, "v");
        ASSERT_TRUE(changed.command(session, change).is_ok()) << change.type;
        EXPECT_NE(machine(changed).digest(), digest) << change.type;
    }

    Harness later(make_coordination_state_machine());
    history(later, "v");
    later.advance(200);
    later.keep_alive();  // the TTL key and the timed lock request expire
    EXPECT_NE(machine(later).digest(), digest);
}

TEST(Coordination, StateThatComesAndGoesLeavesNothingBehind) {
    Harness harness(make_coordination_state_machine());
    SessionId a = harness.open_session("a");
    const uint64_t empty = machine(harness).digest();
    ASSERT_TRUE(harness.run(a, MapPut{"m", "k", bytes("v"), 0}).is_ok());
    ASSERT_TRUE(harness.run(a, MapRemove{"m", "k"}).is_ok());
    ASSERT_TRUE(harness.run(a, LockAcquire{"l", 0}).is_ok());
    ASSERT_TRUE(harness.run(a, LockRelease{"l"}).is_ok());
    ASSERT_TRUE(harness.run(a, ElectionEnter{"e"}).is_ok());
    ASSERT_TRUE(harness.run(a, GroupJoin{"g", "x"}).is_ok());
    ASSERT_TRUE(harness.run(a, MapWatch{"w", "k", true}).is_ok());
    harness.close_session(a);
    EXPECT_EQ(machine(harness).instance_count(), 0u);
    EXPECT_EQ(machine(harness).digest(), empty);
    for (Index index = 2; index <= harness.last_index() - 1; ++index) {
        EXPECT_TRUE(harness.released(index)) << "index " << index << " still held";
    }
}

// Random bytes for every operation type: the check refuses what does not decode, and nothing
// crashes, at the check or (for bytes someone else logged) at apply.
TEST(Coordination, GarbageArgumentsAreRefusedAndNeverCrash) {
    Harness harness(make_coordination_state_machine());
    SessionId session = harness.open_session("fuzz");
    std::mt19937_64 generator(20240601);  // fixed seed: reproducible
    std::vector<std::string> types = harness.registered_commands();
    const std::vector<std::string> queries = harness.registered_queries();
    size_t refused = 0;
    for (int round = 0; round < 2000; ++round) {
        Bytes garbage(generator() % 24);
        for (uint8_t& byte : garbage) byte = static_cast<uint8_t>(generator());
        const std::string& type = round % 2 == 0 ? types[generator() % types.size()]
                                                 : queries[generator() % queries.size()];
        const statemachine::Operation operation{type, garbage};
        const bool is_query = round % 2 == 1;
        Result<CompactionMode> checked =
            is_query ? harness.check_query(operation) : harness.check_command(operation);
        if (!checked.is_ok()) {
            ++refused;
            EXPECT_EQ(checked.status().code(), StatusCode::invalid_argument);
            EXPECT_NE(checked.status().message().find(type), std::string::npos);
        }
        // What the leader would have refused may still arrive from an older log.
        if (is_query) {
            (void)harness.query(session, operation);
        } else {
            (void)harness.apply_unchecked(session, operation);
        }
    }
    EXPECT_GT(refused, 1000u);
}

}  // namespace
}  // namespace copycat::resources
