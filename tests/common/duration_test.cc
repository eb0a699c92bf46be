#include "common/duration.h"

#include <gtest/gtest.h>

#include <boost/program_options.hpp>

namespace copycat {
namespace {

using namespace std::chrono_literals;

int64_t parsed_us(std::string_view text) {
    Result<Duration> duration = parse_duration(text);
    EXPECT_TRUE(duration.is_ok()) << text << ": " << duration.status().to_string();
    return duration.is_ok() ? duration->microseconds() : -1;
}

std::string parse_error(std::string_view text) {
    Result<Duration> duration = parse_duration(text);
    EXPECT_FALSE(duration.is_ok()) << text;
    return duration.status().message();
}

TEST(ParseDuration, ReadsEveryUnit) {
    EXPECT_EQ(parsed_us("100us"), 100);
    EXPECT_EQ(parsed_us("750ms"), 750'000);
    EXPECT_EQ(parsed_us("5s"), 5'000'000);
    EXPECT_EQ(parsed_us("2m"), 120'000'000);
    EXPECT_EQ(parsed_us("1h"), 3'600'000'000);
    EXPECT_EQ(parsed_us("0s"), 0);
}

TEST(ParseDuration, ReadsFractions) {
    EXPECT_EQ(parsed_us("1.5s"), 1'500'000);
    EXPECT_EQ(parsed_us("0.25ms"), 250);
    EXPECT_EQ(parsed_us(".5h"), 1'800'000'000);
}

TEST(ParseDuration, RequiresAUnitAndSaysSo) {
    const std::string message = parse_error("750");
    EXPECT_NE(message.find("no unit"), std::string::npos) << message;
    EXPECT_NE(message.find("750ms"), std::string::npos) << message;
}

TEST(ParseDuration, RefusesMalformedText) {
    EXPECT_NE(parse_error("5 s").find("unknown unit"), std::string::npos);
    EXPECT_NE(parse_error("5sec").find("unknown unit 'sec'"), std::string::npos);
    EXPECT_NE(parse_error("-5s").find("non-negative"), std::string::npos);
    EXPECT_NE(parse_error("ms").find("non-negative"), std::string::npos);
    EXPECT_NE(parse_error("").find("empty"), std::string::npos);
    EXPECT_NE(parse_error("5.s").find("decimal point"), std::string::npos);
    EXPECT_NE(parse_error("1.5us").find("finer than a microsecond"), std::string::npos);
    EXPECT_NE(parse_error("99999999999999999h").find("too large"), std::string::npos);
    EXPECT_NE(parse_error("1h30m").find("unknown unit"), std::string::npos);
}

TEST(FormatDuration, UsesTheLargestExactUnit) {
    EXPECT_EQ(format_duration(750ms), "750ms");
    EXPECT_EQ(format_duration(5s), "5s");
    EXPECT_EQ(format_duration(2min), "2m");
    EXPECT_EQ(format_duration(1h), "1h");
    EXPECT_EQ(format_duration(100us), "100us");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(Duration()), "0s");
}

TEST(FormatDuration, RoundTripsThroughParse) {
    for (int64_t us : {1L, 999L, 1000L, 1'500'000L, 90'000'000L, 7'200'000'000L, 123'456'789L}) {
        const Duration duration{std::chrono::microseconds(us)};
        Result<Duration> back = parse_duration(format_duration(duration));
        ASSERT_TRUE(back.is_ok());
        EXPECT_EQ(*back, duration);
    }
}

TEST(DurationOption, ProgramOptionsParsesUnits) {
    namespace po = boost::program_options;
    po::options_description options;
    options.add_options()("timeout", po::value<Duration>()->default_value(1s), "");
    const char* argv[] = {"test", "--timeout=750ms"};
    po::variables_map variables;
    po::store(po::parse_command_line(2, argv, options), variables);
    EXPECT_EQ(variables["timeout"].as<Duration>(), Duration(750ms));
}

TEST(DurationOption, ABareNumberIsAnErrorNamingTheOption) {
    namespace po = boost::program_options;
    po::options_description options;
    options.add_options()("election-timeout", po::value<Duration>(), "");
    const char* argv[] = {"test", "--election-timeout=750"};
    po::variables_map variables;
    try {
        po::store(po::parse_command_line(2, argv, options), variables);
        FAIL() << "750 without a unit was accepted";
    } catch (const po::error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("--election-timeout"), std::string::npos) << message;
        EXPECT_NE(message.find("no unit"), std::string::npos) << message;
    }
}

}  // namespace
}  // namespace copycat
