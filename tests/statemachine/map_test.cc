// The built-in map (resources/map.h) through CoordinationStateMachine.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "consensus/statemachine/resources/coordination.h"
#include "consensus/statemachine/resources/ops.h"
#include "tests/statemachine/harness.h"

namespace copycat::resources {
namespace {

using statemachine::testing::Harness;

Bytes bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

class MapTest : public ::testing::Test {
protected:
    MapTest() : harness_(make_coordination_state_machine()) { session_ = harness_.open_session(); }

    CoordinationStateMachine& machine() {
        return static_cast<CoordinationStateMachine&>(harness_.state_machine());
    }
    MapPut::Output put(std::string key, std::string value, uint64_t ttl_ms = 0) {
        auto output = harness_.run(session_, MapPut{"m", std::move(key), bytes(value), ttl_ms});
        EXPECT_TRUE(output.is_ok()) << output.status().to_string();
        return output.is_ok() ? *output : MapPut::Output{};
    }
    MapGet::Output get(std::string key) { return *harness_.ask(session_, MapGet{"m", key}); }

    Harness harness_;
    SessionId session_ = 0;
};

TEST_F(MapTest, PutThenGetReturnsTheValueWithItsIndexAsVersion) {
    MapPut::Output first = put("a", "1");
    EXPECT_FALSE(first.previous.has_value());
    EXPECT_EQ(first.version, harness_.last_index());

    MapGet::Output got = get("a");
    EXPECT_EQ(got.value, bytes("1"));
    EXPECT_EQ(got.version, first.version);
    EXPECT_FALSE(get("b").value.has_value());
    EXPECT_EQ(get("b").version, 0u);
}

TEST_F(MapTest, OverwriteReturnsThePreviousValueAndReleasesThePreviousPut) {
    const Index first = put("a", "1").version;
    MapPut::Output second = put("a", "2");
    EXPECT_EQ(second.previous, bytes("1"));
    EXPECT_TRUE(harness_.released(first));
    EXPECT_FALSE(harness_.released(second.version));
    EXPECT_EQ(harness_.compaction_of(first), CompactionMode::release);
}

TEST_F(MapTest, MapsWithTheSameKeysAreIndependent) {
    put("a", "in m");
    ASSERT_TRUE(harness_.run(session_, MapPut{"other", "a", bytes("in other"), 0}).is_ok());
    EXPECT_EQ(get("a").value, bytes("in m"));
    EXPECT_EQ(harness_.ask(session_, MapGet{"other", "a"})->value, bytes("in other"));
    EXPECT_EQ(harness_.ask(session_, MapSize{"m"})->size, 1u);
}

TEST_F(MapTest, RemoveIsATombstoneReleasedAtOnceAndReleasesThePut) {
    const Index put_index = put("a", "1").version;
    auto removed = harness_.run(session_, MapRemove{"m", "a"});
    ASSERT_TRUE(removed.is_ok());
    EXPECT_EQ(removed->previous, bytes("1"));
    EXPECT_EQ(harness_.compaction_of(harness_.last_index()), CompactionMode::tombstone);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
    EXPECT_TRUE(harness_.released(put_index));
    EXPECT_FALSE(get("a").value.has_value());

    auto again = harness_.run(session_, MapRemove{"m", "a"});
    ASSERT_TRUE(again.is_ok());
    EXPECT_FALSE(again->previous.has_value());
}

TEST_F(MapTest, CasSetsOnlyWhenTheCurrentValueMatches) {
    put("a", "1");
    auto wrong = harness_.run(session_, MapCas{"m", "a", bytes("9"), bytes("2"), 0});
    ASSERT_TRUE(wrong.is_ok());
    EXPECT_FALSE(wrong->succeeded);
    EXPECT_EQ(wrong->current, bytes("1"));
    EXPECT_TRUE(harness_.released(harness_.last_index()));  // changed nothing

    auto right = harness_.run(session_, MapCas{"m", "a", bytes("1"), bytes("2"), 0});
    ASSERT_TRUE(right.is_ok());
    EXPECT_TRUE(right->succeeded);
    EXPECT_EQ(right->current, bytes("2"));
    EXPECT_EQ(right->version, harness_.last_index());
    EXPECT_EQ(get("a").value, bytes("2"));
}

TEST_F(MapTest, CasWithoutExpectedValueCreatesOnlyAbsentKeys) {
    auto created = harness_.run(session_, MapCas{"m", "a", std::nullopt, bytes("1"), 0});
    ASSERT_TRUE(created.is_ok());
    EXPECT_TRUE(created->succeeded);
    auto exists = harness_.run(session_, MapCas{"m", "a", std::nullopt, bytes("2"), 0});
    ASSERT_TRUE(exists.is_ok());
    EXPECT_FALSE(exists->succeeded);
    EXPECT_EQ(exists->current, bytes("1"));
}

TEST_F(MapTest, SuccessfulCasKeepsTheWriteItComparedAgainstUntilAPut) {
    const Index base = put("a", "1").version;
    ASSERT_TRUE(harness_.run(session_, MapCas{"m", "a", bytes("1"), bytes("2"), 0})->succeeded);
    const Index cas = harness_.last_index();
    EXPECT_FALSE(harness_.released(base));  // a replay needs it for the cas to succeed
    put("a", "3");
    EXPECT_TRUE(harness_.released(base));
    EXPECT_TRUE(harness_.released(cas));
}

TEST_F(MapTest, ReplayOfTheCompactedLogEndsInTheSameState) {
    put("a", "1");
    ASSERT_TRUE(harness_.run(session_, MapCas{"m", "a", bytes("1"), bytes("2"), 0})->succeeded);
    ASSERT_TRUE(harness_.run(session_, MapCas{"m", "a", bytes("2"), bytes("3"), 0})->succeeded);
    put("b", "1");
    put("b", "2");
    ASSERT_TRUE(harness_.run(session_, MapRemove{"m", "b"}).is_ok());
    put("c", "1");
    ASSERT_TRUE(harness_.run(session_, MapWatch{"m", "c", false}).is_ok());
    ASSERT_TRUE(harness_.run(session_, MapUnwatch{"m", "c", false}).is_ok());

    Harness replayed(make_coordination_state_machine());
    replayed.replay(harness_.compacted_log());
    ASSERT_LT(harness_.compacted_log().size(), harness_.log().size());
    EXPECT_EQ(static_cast<CoordinationStateMachine&>(replayed.state_machine()).digest(),
              machine().digest());
    EXPECT_EQ(replayed.ask(session_, MapGet{"m", "a"})->value, bytes("3"));
}

TEST_F(MapTest, TtlPutIsExpiringAndExpiresOnLogTime) {
    MapPut::Output written = put("a", "1", 500);
    EXPECT_EQ(harness_.compaction_of(written.version), CompactionMode::expiring);

    harness_.advance(499);
    harness_.keep_alive();
    EXPECT_EQ(get("a").value, bytes("1"));
    EXPECT_FALSE(harness_.released(written.version));

    harness_.advance(1);
    harness_.keep_alive();
    EXPECT_FALSE(get("a").value.has_value());
    EXPECT_TRUE(harness_.released(written.version));
    EXPECT_EQ(machine().instance_count(), 0u);
}

TEST_F(MapTest, OverwriteCancelsTheTtl) {
    put("a", "1", 100);
    put("a", "2");
    harness_.advance(1000);
    harness_.keep_alive();
    EXPECT_EQ(get("a").value, bytes("2"));
    EXPECT_EQ(harness_.pending_tasks(), 0u);
}

TEST_F(MapTest, ListReturnsKeysWithThePrefixInOrderUpToTheLimit) {
    put("user/2", "b");
    put("user/1", "a");
    put("users", "x");
    put("admin", "y");
    auto all = harness_.ask(session_, MapList{"m", "user/", 0});
    ASSERT_TRUE(all.is_ok());
    ASSERT_EQ(all->entries.size(), 2u);
    EXPECT_EQ(all->entries[0].key, "user/1");
    EXPECT_EQ(all->entries[0].value, bytes("a"));
    EXPECT_EQ(all->entries[1].key, "user/2");
    EXPECT_FALSE(all->truncated);

    auto limited = harness_.ask(session_, MapList{"m", "user", 2});
    ASSERT_EQ(limited->entries.size(), 2u);
    EXPECT_TRUE(limited->truncated);
    EXPECT_EQ(harness_.ask(session_, MapList{"m", "", 0})->entries.size(), 4u);
    EXPECT_EQ(harness_.ask(session_, MapSize{"m"})->size, 4u);
    EXPECT_EQ(harness_.ask(session_, MapSize{"none"})->size, 0u);
}

TEST_F(MapTest, WatchOnAKeyPublishesEveryChangeOfThatKeyOnly) {
    SessionId watcher = harness_.open_session("watcher");
    auto added = harness_.run(watcher, MapWatch{"m", "a", false});
    ASSERT_TRUE(added.is_ok());
    EXPECT_TRUE(added->added);
    EXPECT_FALSE(harness_.run(watcher, MapWatch{"m", "a", false})->added);

    const Index written = put("a", "1").version;
    put("ab", "other key");
    ASSERT_TRUE(harness_.run(session_, MapRemove{"m", "a"}).is_ok());
    const Index removed = harness_.last_index();

    std::vector<MapChanged> events = harness_.take_events<MapChanged>(watcher);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0], (MapChanged{"m", "a", MapChange::written, bytes("1"), written}));
    EXPECT_EQ(events[1], (MapChanged{"m", "a", MapChange::removed, std::nullopt, removed}));
    EXPECT_TRUE(harness_.take_events<MapChanged>(session_).empty());
}

TEST_F(MapTest, PrefixWatchSeesEveryKeyUnderItOncePerChange) {
    SessionId watcher = harness_.open_session("watcher");
    ASSERT_TRUE(harness_.run(watcher, MapWatch{"m", "user/", true}).is_ok());
    ASSERT_TRUE(harness_.run(watcher, MapWatch{"m", "user/1", false}).is_ok());
    put("user/1", "a");
    put("user/2", "b");
    put("admin", "c");
    std::vector<MapChanged> events = harness_.take_events<MapChanged>(watcher);
    ASSERT_EQ(events.size(), 2u);  // one per change, though two watches match user/1
    EXPECT_EQ(events[0].key, "user/1");
    EXPECT_EQ(events[1].key, "user/2");
}

TEST_F(MapTest, ExpiryIsPublishedToWatchers) {
    SessionId watcher = harness_.open_session("watcher");
    ASSERT_TRUE(harness_.run(watcher, MapWatch{"m", "a", false}).is_ok());
    put("a", "1", 100);
    harness_.advance(200);
    harness_.keep_alive();
    std::vector<MapChanged> events = harness_.take_events<MapChanged>(watcher);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].change, MapChange::expired);
    EXPECT_FALSE(events[1].value.has_value());
    EXPECT_EQ(events[1].index, harness_.last_index());
}

TEST_F(MapTest, UnwatchStopsEventsAndReleasesTheWatch) {
    SessionId watcher = harness_.open_session("watcher");
    ASSERT_TRUE(harness_.run(watcher, MapWatch{"m", "a", false}).is_ok());
    const Index watch = harness_.last_index();
    EXPECT_EQ(harness_.compaction_of(watch), CompactionMode::release);
    EXPECT_FALSE(harness_.released(watch));

    auto removed = harness_.run(watcher, MapUnwatch{"m", "a", false});
    ASSERT_TRUE(removed.is_ok());
    EXPECT_TRUE(removed->removed);
    EXPECT_EQ(harness_.compaction_of(harness_.last_index()), CompactionMode::tombstone);
    EXPECT_TRUE(harness_.released(watch));
    EXPECT_FALSE(harness_.run(watcher, MapUnwatch{"m", "a", false})->removed);

    put("a", "1");
    EXPECT_TRUE(harness_.take_events<MapChanged>(watcher).empty());
    EXPECT_EQ(machine().instance_count(), 1u);
}

TEST_F(MapTest, WatchesEndWithTheSession) {
    SessionId watcher = harness_.open_session("watcher");
    ASSERT_TRUE(harness_.run(watcher, MapWatch{"w", "a", false}).is_ok());
    const Index watch = harness_.last_index();
    harness_.expire_session(watcher);
    EXPECT_TRUE(harness_.released(watch));
    EXPECT_EQ(machine().instance_count(), 0u);
    ASSERT_TRUE(harness_.run(session_, MapPut{"w", "a", bytes("1"), 0}).is_ok());
    EXPECT_TRUE(harness_.take_raw_events(watcher).empty());
}

TEST_F(MapTest, EmptyMapNameIsRefusedBeforeTheLog) {
    const Index before = harness_.last_index();
    auto refused = harness_.run(session_, MapPut{"", "a", bytes("1"), 0});
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument);
    EXPECT_EQ(harness_.last_index(), before);
    EXPECT_FALSE(harness_.run(session_, MapPut{"m", "a", bytes("1"), kMaxDurationMs + 1}).is_ok());
}

TEST_F(MapTest, QueriesHaveNoCompactionModeAndChangeNothing) {
    put("a", "1");
    const uint64_t digest = machine().digest();
    EXPECT_EQ(*harness_.check_query(statemachine::make_operation(MapGet{"m", "a"})),
              CompactionMode::default_mode);
    (void)get("a");
    (void)harness_.ask(session_, MapList{"m", "", 0});
    EXPECT_EQ(machine().digest(), digest);
}

}  // namespace
}  // namespace copycat::resources
