#include "common/metrics.h"

#include <gtest/gtest.h>

namespace copycat {
namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(Metrics, ExportsBuildInfoWithTheVersion) {
    Metrics metrics;
    const std::string text = metrics.render();
    EXPECT_TRUE(contains(text, "# TYPE copycat_build_info gauge")) << text;
    EXPECT_TRUE(contains(text, "copycat_build_info{version=\"" COPYCAT_VERSION "\"} 1")) << text;
}

TEST(Metrics, RendersCountersGaugesAndLabels) {
    Metrics metrics;
    metrics.counter("copycat_logstore_write_bytes_total", "Bytes appended.").Increment(4096);
    metrics.gauge("copycat_logstore_last_index", "Last index.").Set(42);
    auto& dropped = metrics.counter_family("copycat_network_messages_dropped_total", "Drops.");
    dropped.Add({{"reason", "hwm"}}).Increment();
    const std::string text = metrics.render();
    EXPECT_TRUE(contains(text, "# HELP copycat_logstore_write_bytes_total Bytes appended."))
        << text;
    EXPECT_TRUE(contains(text, "copycat_logstore_write_bytes_total 4096")) << text;
    EXPECT_TRUE(contains(text, "copycat_logstore_last_index 42")) << text;
    EXPECT_TRUE(contains(text, "copycat_network_messages_dropped_total{reason=\"hwm\"} 1")) << text;
}

TEST(Metrics, AskingTwiceGivesTheSameMetric) {
    Metrics metrics;
    metrics.counter("copycat_test_total", "Test.").Increment();
    metrics.counter("copycat_test_total", "Test.").Increment();
    EXPECT_TRUE(contains(metrics.render(), "copycat_test_total 2"));
}

TEST(Metrics, HistogramsUseTheGivenBuckets) {
    Metrics metrics;
    auto& fsync = metrics.histogram("copycat_logstore_fsync_duration_seconds", "Fsync time.",
                                    duration_buckets_seconds());
    fsync.Observe(0.0003);
    fsync.Observe(0.003);
    const std::string text = metrics.render();
    EXPECT_TRUE(contains(text, "copycat_logstore_fsync_duration_seconds_bucket{le=\"0.0005\"} 1"))
        << text;
    EXPECT_TRUE(contains(text, "copycat_logstore_fsync_duration_seconds_bucket{le=\"0.004\"} 2"))
        << text;
    EXPECT_TRUE(contains(text, "copycat_logstore_fsync_duration_seconds_count 2")) << text;
}

TEST(DurationBuckets, SubMillisecondThenDoublingFromOneMillisecond) {
    const std::vector<double> bounds = duration_buckets_seconds();
    ASSERT_EQ(bounds.size(), 17u);
    EXPECT_DOUBLE_EQ(bounds[0], 0.0001);
    EXPECT_DOUBLE_EQ(bounds[1], 0.00025);
    EXPECT_DOUBLE_EQ(bounds[2], 0.0005);
    EXPECT_DOUBLE_EQ(bounds[3], 0.001);
    for (size_t i = 4; i < bounds.size(); ++i) EXPECT_DOUBLE_EQ(bounds[i], 2 * bounds[i - 1]);
    EXPECT_DOUBLE_EQ(bounds.back(), 8.192);
}

TEST(MetricsDeathTest, CounterNamesFollowTheConventions) {
    Metrics metrics;
    EXPECT_DEATH(metrics.counter("copycat_writes", "No _total."), "_total");
    EXPECT_DEATH(metrics.gauge("logstore_size_bytes", "No prefix."), "copycat_");
}

}  // namespace
}  // namespace copycat
