// The typed resources of the client library (client/resources.h) against a real 3-node
// cluster behind a copycat-gateway: what a user of Map, Counter, Lock, Election and Group
// notices (values, versions, watches seen once each and stopped by unwatch, a queued lock
// granted on release with a larger fencing token, a waiter failed when its session ends,
// leaders handed on, group joins and leaves told to the other members).
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/resources.h"
#include "tests/support/built_cluster.h"
#include "tests/support/consensus_cluster.h"
#include "tests/support/operations.h"

namespace copycat::testing {
namespace {

using namespace std::chrono_literals;
using client::Client;
using session::Consistency;

template <typename T>
class Collected {
public:
    void add(T value) {
        std::lock_guard lock(mutex_);
        values_.push_back(std::move(value));
    }
    std::vector<T> values() const {
        std::lock_guard lock(mutex_);
        return values_;
    }
    size_t size() const { return values().size(); }

private:
    mutable std::mutex mutex_;
    std::vector<T> values_;
};

class ResourcesProcess : public ::testing::Test {
protected:
    void SetUp() override {
        ClusterOptions options = built_cluster_options();
        options.session_timeout = "2s";
        cluster_ = std::make_unique<ProcessCluster>(options);
        cluster_->start_all();
        cluster_->start_gateway(1);
    }

    std::unique_ptr<Client> connect() {
        client::ClientOptions options;
        options.endpoints = {cluster_->gateway_endpoint(1)};
        options.dial_timeout = 20s;
        options.command_timeout = 10s;
        auto client = Client::connect(options);
        EXPECT_TRUE(client.is_ok()) << client.status().to_string();
        return client.is_ok() ? std::move(client).value() : nullptr;
    }

    std::unique_ptr<ProcessCluster> cluster_;
};

TEST_F(ResourcesProcess, MapValuesVersionsAndWatches) {
    auto client = connect();
    ASSERT_NE(client, nullptr);
    client::Map map(*client, "things");
    Collected<resources::MapChanged> changes;
    auto watch = map.watch_prefix("a/", [&](const resources::MapChanged& c) { changes.add(c); });
    auto watched = watch.get();
    ASSERT_TRUE(watched.is_ok()) << watched.status().to_string();

    auto put = map.put("a/1", bytes_of("one")).get();
    ASSERT_TRUE(put.is_ok()) << put.status().to_string();
    EXPECT_FALSE(put->previous.has_value());
    for (Consistency level :
         {Consistency::linearizable, Consistency::linearizable_lease, Consistency::sequential}) {
        auto got = map.get("a/1", level).get();
        ASSERT_TRUE(got.is_ok());
        EXPECT_EQ(text_of(*got->value), "one");
        EXPECT_EQ(got->version, put->version);
    }
    EXPECT_FALSE(map.cas("a/1", bytes_of("two"), bytes_of("three")).get()->succeeded);
    EXPECT_TRUE(map.cas("a/1", bytes_of("one"), bytes_of("two")).get()->succeeded);
    EXPECT_TRUE(map.cas("b/1", std::nullopt, bytes_of("new")).get()->succeeded);
    EXPECT_EQ(map.size().get()->size, 2u);
    auto listed = map.list("a/").get();
    ASSERT_EQ(listed->entries.size(), 1u);
    EXPECT_EQ(text_of(listed->entries[0].value), "two");
    EXPECT_TRUE(map.remove("a/1").get()->previous.has_value());

    // put, cas, remove under a/ (not b/1): seen once each, in order.
    ASSERT_TRUE(eventually([&] { return changes.size() >= 3; }, 10s));
    auto seen = changes.values();
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].change, resources::MapChange::written);
    EXPECT_EQ(text_of(*seen[1].value), "two");
    EXPECT_EQ(seen[2].change, resources::MapChange::removed);

    auto unwatched = map.unwatch(*watched).get();
    ASSERT_TRUE(unwatched.is_ok());
    EXPECT_TRUE(unwatched->removed);
    ASSERT_TRUE(map.put("a/2", bytes_of("quiet")).get().is_ok());
    ASSERT_TRUE(map.get("a/2").get().is_ok());  // after any event the put would have sent
    EXPECT_EQ(changes.size(), 3u);
    EXPECT_FALSE(map.put("x", bytes_of("v"), -1ms).get().is_ok());
}

TEST_F(ResourcesProcess, Counter) {
    auto client = connect();
    ASSERT_NE(client, nullptr);
    client::Counter counter(*client, "hits");
    EXPECT_EQ(counter.add(5).get()->value, 5);
    EXPECT_EQ(counter.add(-7).get()->value, -2);
    EXPECT_EQ(counter.set(10).get()->previous, -2);
    EXPECT_FALSE(counter.cas(3, 4).get()->succeeded);
    EXPECT_TRUE(counter.cas(10, 11).get()->succeeded);
    EXPECT_EQ(counter.get(Consistency::sequential).get()->value, 11);
}

TEST_F(ResourcesProcess, QueuedLockIsGrantedOnReleaseWithALargerToken) {
    auto first = connect();
    auto second = connect();
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    client::Lock held(*first, "L");
    client::Lock wanted(*second, "L");
    auto grant = held.acquire().get();
    ASSERT_TRUE(grant.is_ok()) << grant.status().to_string();
    ASSERT_TRUE(grant->acquired);
    EXPECT_EQ(held.token(), grant->token);

    auto tried = wanted.acquire(0ms).get();
    ASSERT_TRUE(tried.is_ok());
    EXPECT_FALSE(tried->acquired);  // try: held by the other session

    auto waiting = wanted.acquire();
    EXPECT_EQ(waiting.wait_for(500ms), std::future_status::timeout);
    auto released = held.release().get();
    ASSERT_TRUE(released.is_ok());
    EXPECT_EQ(released->outcome, resources::LockReleaseOutcome::released);
    EXPECT_FALSE(held.token().has_value());
    ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
    auto granted = waiting.get();
    ASSERT_TRUE(granted.is_ok()) << granted.status().to_string();
    EXPECT_TRUE(granted->acquired);
    EXPECT_GT(granted->token, grant->token);
    EXPECT_EQ(wanted.token(), granted->token);

    // A waiter with a timeout gives up (lock.failed).
    auto timed = held.acquire(300ms).get();
    ASSERT_TRUE(timed.is_ok()) << timed.status().to_string();
    EXPECT_FALSE(timed->acquired);
}

TEST_F(ResourcesProcess, AWaitingAcquireFailsWhenItsSessionCloses) {
    auto holder = connect();
    auto waiter = connect();
    ASSERT_NE(holder, nullptr);
    ASSERT_NE(waiter, nullptr);
    client::Lock held(*holder, "L");
    ASSERT_TRUE(held.acquire().get()->acquired);
    client::Lock lock(*waiter, "L");
    auto waiting = lock.acquire();
    std::this_thread::sleep_for(300ms);  // queued
    ASSERT_TRUE(waiter->close().is_ok());
    ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
    auto outcome = waiting.get();
    EXPECT_FALSE(outcome.is_ok() && outcome->acquired);
}

TEST_F(ResourcesProcess, ElectionHandsLeadershipOnAndGroupTellsMembers) {
    auto first = connect();
    auto second = connect();
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    client::Election one(*first, "E");
    client::Election two(*second, "E");
    Collected<resources::ElectionElected> told;
    two.on_elected([&](const resources::ElectionElected& e) { told.add(e); });
    EXPECT_TRUE(one.enter().get()->elected);
    auto entered = two.enter().get();
    ASSERT_TRUE(entered.is_ok());
    EXPECT_FALSE(entered->elected);
    EXPECT_EQ(entered->leader, first->session_id());
    EXPECT_TRUE(one.leave().get()->was_leader);
    ASSERT_TRUE(eventually([&] { return told.size() >= 1; }, 10s));
    EXPECT_EQ(told.values().back().leader, second->session_id());
    EXPECT_EQ(*two.leader().get()->leader, second->session_id());

    client::Group watcher(*first, "G");
    client::Group joiner(*second, "G");
    Collected<std::string> events;
    watcher.on_joined([&](const resources::GroupJoined& j) { events.add("+" + j.member.name); });
    watcher.on_left([&](const resources::GroupLeft& l) { events.add("-" + l.member.name); });
    ASSERT_TRUE(watcher.join("w").get()->joined);
    ASSERT_EQ(joiner.join("j").get()->members.size(), 2u);
    EXPECT_EQ(watcher.members().get()->members.size(), 2u);
    EXPECT_TRUE(joiner.leave("j").get()->left);
    ASSERT_TRUE(eventually([&] { return events.size() >= 2; }, 10s));
    EXPECT_EQ(events.values(), (std::vector<std::string>{"+j", "-j"}));
}

}  // namespace
}  // namespace copycat::testing
