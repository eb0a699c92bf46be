#include "common/log.h"

#include <gtest/gtest.h>

#include <mutex>
#include <regex>
#include <thread>

namespace copycat {
namespace {

using namespace std::chrono_literals;

// 2024-05-01T12:34:56.789Z
const std::chrono::system_clock::time_point kTime =
    std::chrono::system_clock::time_point(1714566896s + 789ms);

// Captures the lines the log writes, and puts the log back as it was afterwards.
class LogTest : public ::testing::Test {
protected:
    void SetUp() override {
        log::set_sink([this](std::string_view line) { lines_.emplace_back(line); });
        log::set_node("logstore-1");
        log::set_level(log::Level::info);
        log::set_format(log::Format::json);
        log::forget_once_keys();
    }
    void TearDown() override {
        log::set_sink(nullptr);
        log::set_node("");
        log::set_level(log::Level::info);
        log::set_format(log::Format::json);
        log::forget_once_keys();
    }
    std::vector<std::string> lines_;
};

TEST_F(LogTest, JsonLineHasTheStandardFieldsThenTheGivenOnes) {
    const std::string line = log::format_line(
        log::Format::json, kTime, log::Level::info, "logstore-1", "segment rolled",
        {{"segment", "00000001.log"}, {"index", 42}, {"ratio", 0.5}, {"sealed", true}});
    EXPECT_EQ(line, R"({"ts":"2024-05-01T12:34:56.789Z","level":"info","msg":"segment rolled",)"
                    R"("node":"logstore-1","segment":"00000001.log","index":42,"ratio":0.5,)"
                    R"("sealed":true})"
                    "\n");
}

TEST_F(LogTest, JsonLineEscapesMessageAndValues) {
    const std::string line = log::format_line(log::Format::json, kTime, log::Level::warn, "n",
                                              "bad \"input\"\n", {{"peer", "a\tb"}});
    EXPECT_NE(line.find(R"("msg":"bad \"input\"\n")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("peer":"a\tb")"), std::string::npos) << line;
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per event";
}

TEST_F(LogTest, TextLineIsForPeople) {
    const std::string line =
        log::format_line(log::Format::text, kTime, log::Level::warn, "logstore-1", "fsync slow",
                         {{"took", 212ms}, {"file", "a b.log"}, {"n", 3}});
    EXPECT_EQ(line,
              "2024-05-01T12:34:56.789Z WARN  [logstore-1] fsync slow took=212ms "
              "file=\"a b.log\" n=3\n");
}

TEST_F(LogTest, DurationAndStatusFieldsReadWell) {
    log::error("append failed", {{"after", 1500ms}, {"error", io_error("disk full")}});
    ASSERT_EQ(lines_.size(), 1u);
    EXPECT_NE(lines_[0].find(R"("after":"1500ms")"), std::string::npos) << lines_[0];
    EXPECT_NE(lines_[0].find(R"("error":"io error: disk full")"), std::string::npos) << lines_[0];
}

TEST_F(LogTest, FieldsCannotHideTheStandardOnes) {
    log::info("hello", {{"msg", "other"}, {"node", "x"}});
    ASSERT_EQ(lines_.size(), 1u);
    EXPECT_NE(lines_[0].find(R"("msg":"hello")"), std::string::npos);
    EXPECT_NE(lines_[0].find(R"("_msg":"other","_node":"x")"), std::string::npos) << lines_[0];
}

TEST_F(LogTest, WritesTheNodeSetAtStartUp) {
    log::set_node("consensus-2");
    log::info("started");
    ASSERT_EQ(lines_.size(), 1u);
    EXPECT_NE(lines_[0].find(R"("node":"consensus-2")"), std::string::npos) << lines_[0];
}

TEST_F(LogTest, TimestampIsUtcRfc3339WithMilliseconds) {
    log::info("now");
    ASSERT_EQ(lines_.size(), 1u);
    const std::regex ts(R"(^\{"ts":"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z","level":"info")");
    EXPECT_TRUE(std::regex_search(lines_[0], ts)) << lines_[0];
}

TEST_F(LogTest, LinesBelowTheThresholdAreDropped) {
    log::debug("hidden");
    log::set_level(log::Level::warn);
    log::info("hidden too");
    log::warn("shown");
    log::fatal("shown too");
    ASSERT_EQ(lines_.size(), 2u);
    EXPECT_NE(lines_[0].find("\"level\":\"warn\""), std::string::npos);
    EXPECT_NE(lines_[1].find("\"level\":\"fatal\""), std::string::npos);
}

TEST_F(LogTest, WarnOnceLogsEachKeyOnce) {
    for (int i = 0; i < 100; ++i) {
        log::warn_once("storage: bad flatbuffer", "dropped a malformed message", {{"bytes", i}});
    }
    EXPECT_TRUE(log::warn_once("storage: unknown body", "dropped an unknown message"));
    ASSERT_EQ(lines_.size(), 2u);
    EXPECT_NE(lines_[0].find(R"("bytes":0,"once_key":"storage: bad flatbuffer")"),
              std::string::npos)
        << lines_[0];
    EXPECT_FALSE(log::warn_once("storage: bad flatbuffer", "again"));
}

TEST_F(LogTest, LinesFromManyThreadsStayWhole) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t] {
            for (int i = 0; i < 200; ++i) log::info("tick", {{"thread", t}, {"i", i}});
        });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_EQ(lines_.size(), 800u);
    for (const std::string& line : lines_) {
        ASSERT_EQ(line.find('\n'), line.size() - 1);
        ASSERT_EQ(line.front(), '{');
        ASSERT_EQ(line[line.size() - 2], '}');
    }
}

TEST(LogLevel, ParsesNamesAndRefusesOthers) {
    EXPECT_EQ(*log::parse_level("debug"), log::Level::debug);
    EXPECT_EQ(*log::parse_level("warning"), log::Level::warn);
    EXPECT_FALSE(log::parse_level("loud").is_ok());
    EXPECT_EQ(*log::parse_format("text"), log::Format::text);
    EXPECT_FALSE(log::parse_format("xml").is_ok());
}

}  // namespace
}  // namespace copycat
