// The order of compaction jobs (compactor/plan/schedule.h): one at a time, requests joining
// a waiting job of their kind, never a running one.
#include "compactor/plan/schedule.h"

#include <gtest/gtest.h>

namespace copycat::compactor::plan {
namespace {

using Waiters = std::vector<Waiter>;

TEST(ScheduleTest, OneJobRunsAtATime) {
    Schedule schedule;
    EXPECT_EQ(schedule.start_next(), std::nullopt);
    schedule.tick(false);
    schedule.tick(true);
    EXPECT_EQ(schedule.start_next(), false);
    EXPECT_TRUE(schedule.running());
    EXPECT_EQ(schedule.start_next(), std::nullopt) << "the minor job runs";
    EXPECT_EQ(schedule.finish(), Waiters{});
    EXPECT_EQ(schedule.start_next(), true);
    EXPECT_EQ(schedule.start_next(), std::nullopt);
    EXPECT_EQ(schedule.finish(), Waiters{});
    EXPECT_FALSE(schedule.running());
    EXPECT_EQ(schedule.start_next(), std::nullopt);
}

TEST(ScheduleTest, RequestsJoinAWaitingJobOfTheirKind) {
    Schedule schedule;
    schedule.tick(true);
    schedule.request(false, {"a", 1});
    schedule.request(true, {"b", 2});
    schedule.request(false, {"c", 3});
    schedule.tick(false);
    EXPECT_EQ(schedule.waiting_jobs(), 2u);
    EXPECT_EQ(schedule.start_next(), true) << "asked for first";
    EXPECT_EQ(schedule.finish(), (Waiters{{"b", 2}}));
    EXPECT_EQ(schedule.start_next(), false);
    EXPECT_EQ(schedule.finish(), (Waiters{{"a", 1}, {"c", 3}}));
}

TEST(ScheduleTest, ARequestNeverJoinsARunningJob) {
    Schedule schedule;
    schedule.request(true, {"a", 1});
    EXPECT_EQ(schedule.start_next(), true);
    schedule.request(true, {"b", 2});  // arrived after the run began: a run of its own
    EXPECT_EQ(schedule.finish(), (Waiters{{"a", 1}}));
    EXPECT_EQ(schedule.start_next(), true);
    EXPECT_EQ(schedule.finish(), (Waiters{{"b", 2}}));
}

TEST(ScheduleTest, DrainAnswersEveryoneStillWaiting) {
    Schedule schedule;
    schedule.request(false, {"a", 1});
    EXPECT_EQ(schedule.start_next(), false);
    schedule.request(false, {"b", 2});
    schedule.request(true, {"c", 3});
    EXPECT_EQ(schedule.drain(), (Waiters{{"a", 1}, {"b", 2}, {"c", 3}}));
    EXPECT_FALSE(schedule.running());
    EXPECT_EQ(schedule.start_next(), std::nullopt);
}

}  // namespace
}  // namespace copycat::compactor::plan
