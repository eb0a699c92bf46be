#include "common/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "common/duration.h"
#include "common/log.h"
#include "common/log_options.h"

namespace copycat {
namespace {

using namespace std::chrono_literals;

po::options_description test_options() {
    po::options_description options("Test options");
    options.add_options()("data-dir", po::value<std::string>()->default_value("data/node-1"),
                          "data directory")(
        "election-timeout", po::value<Duration>()->default_value(750ms), "election timeout")(
        "peers", po::value<std::vector<std::string>>()->multitoken(), "peer endpoints")(
        "curve-secret-key", po::value<std::string>(), "secret")("verbose", po::bool_switch(),
                                                                "more output");
    options.add(logging_options());
    return options;
}

class ConfigTest : public ::testing::Test {
protected:
    ParseOutcome parse(std::vector<std::string> arguments,
                       std::map<std::string, std::string> environment = {}) {
        out_.str("");
        err_.str("");
        return parse_config(ConfigSources{std::move(arguments), std::move(environment)},
                            test_options(), "copycat-test", "a test binary", out_, err_);
    }

    std::string write_config(const std::string& text) {
        // ctest runs each test in a process of its own, two at a time: the pid keeps their
        // files apart.
        const auto path = std::filesystem::path(::testing::TempDir()) /
                          ("copycat-config-test-" + std::to_string(::getpid()) + "-" +
                           std::to_string(++files_) + ".ini");
        std::ofstream(path) << text;
        return path.string();
    }

    static std::string data_dir(const ParseOutcome& outcome) {
        return outcome.variables["data-dir"].as<std::string>();
    }

    std::ostringstream out_, err_;
    int files_ = 0;
};

TEST_F(ConfigTest, DefaultsApplyWhenNothingIsGiven) {
    ParseOutcome outcome = parse({});
    ASSERT_TRUE(outcome.run) << err_.str();
    EXPECT_EQ(data_dir(outcome), "data/node-1");
    EXPECT_EQ(outcome.variables["election-timeout"].as<Duration>(), Duration(750ms));
    EXPECT_FALSE(outcome.variables["verbose"].as<bool>());
}

TEST_F(ConfigTest, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
    const std::string file = write_config("data-dir = /from/file\nelection-timeout = 2s\n");
    const std::map<std::string, std::string> environment = {{"COPYCAT_CONFIG", file},
                                                            {"COPYCAT_DATA_DIR", "/from/env"}};
    EXPECT_EQ(data_dir(parse({"--config", file})), "/from/file");
    EXPECT_EQ(data_dir(parse({}, environment)), "/from/env");
    ParseOutcome all = parse({"--data-dir=/from/flag"}, environment);
    ASSERT_TRUE(all.run) << err_.str();
    EXPECT_EQ(data_dir(all), "/from/flag");
    EXPECT_EQ(all.variables["election-timeout"].as<Duration>(), Duration(2s)) << "from the file";
}

TEST_F(ConfigTest, EveryLongOptionReadsItsEnvironmentVariable) {
    EXPECT_EQ(environment_variable_for("election-timeout"), "COPYCAT_ELECTION_TIMEOUT");
    ParseOutcome outcome = parse({}, {{"COPYCAT_ELECTION_TIMEOUT", "1500ms"},
                                      {"COPYCAT_VERBOSE", "true"},
                                      {"COPYCAT_PEERS", "tcp://127.0.0.1:7102"}});
    ASSERT_TRUE(outcome.run) << err_.str();
    EXPECT_EQ(outcome.variables["election-timeout"].as<Duration>(), Duration(1500ms));
    EXPECT_TRUE(outcome.variables["verbose"].as<bool>());
    EXPECT_EQ(outcome.variables["peers"].as<std::vector<std::string>>(),
              std::vector<std::string>{"tcp://127.0.0.1:7102"});
}

TEST_F(ConfigTest, UnknownCopycatVariablesAreIgnored) {
    ParseOutcome outcome = parse({}, {{"COPYCAT_NOT_AN_OPTION", "x"}, {"COPYCAT_HELP", "1"}});
    EXPECT_TRUE(outcome.run) << err_.str();
    EXPECT_EQ(err_.str(), "");
    EXPECT_EQ(out_.str(), "");
}

TEST_F(ConfigTest, HelpPrintsUsageOnStdoutAndExitsZero) {
    ParseOutcome outcome = parse({"--help"});
    EXPECT_FALSE(outcome.run);
    EXPECT_EQ(outcome.exit_code, 0);
    const std::string help = out_.str();
    EXPECT_NE(help.find("copycat-test - a test binary"), std::string::npos) << help;
    EXPECT_NE(help.find("--election-timeout"), std::string::npos) << help;
    EXPECT_NE(help.find("--config"), std::string::npos) << help;
    EXPECT_NE(help.find("COPYCAT_"), std::string::npos) << help;
    EXPECT_EQ(err_.str(), "");
}

TEST_F(ConfigTest, UnknownFlagExitsTwoWithAHint) {
    ParseOutcome outcome = parse({"--data-dri=/x"});
    EXPECT_FALSE(outcome.run);
    EXPECT_EQ(outcome.exit_code, 2);
    EXPECT_NE(err_.str().find("data-dri"), std::string::npos) << err_.str();
    EXPECT_NE(err_.str().find("Try 'copycat-test --help'"), std::string::npos) << err_.str();
    EXPECT_EQ(out_.str(), "");
}

TEST_F(ConfigTest, BadValueInTheEnvironmentNamesTheVariable) {
    ParseOutcome outcome = parse({}, {{"COPYCAT_ELECTION_TIMEOUT", "750"}});
    EXPECT_EQ(outcome.exit_code, 2);
    EXPECT_NE(err_.str().find("COPYCAT_ELECTION_TIMEOUT"), std::string::npos) << err_.str();
    EXPECT_NE(err_.str().find("no unit"), std::string::npos) << err_.str();
}

TEST_F(ConfigTest, UnknownKeyInTheConfigFileIsAnError) {
    const std::string file = write_config("data-dir = /x\nelection-timout = 1s\n");
    ParseOutcome outcome = parse({"--config=" + file});
    EXPECT_EQ(outcome.exit_code, 2);
    EXPECT_NE(err_.str().find(file), std::string::npos) << err_.str();
    EXPECT_NE(err_.str().find("election-timout"), std::string::npos) << err_.str();
}

TEST_F(ConfigTest, MissingConfigFileIsAnError) {
    ParseOutcome outcome = parse({"--config=/nonexistent/copycat.ini"});
    EXPECT_EQ(outcome.exit_code, 2);
    EXPECT_NE(err_.str().find("cannot read config file"), std::string::npos) << err_.str();
}

TEST_F(ConfigTest, BadLogLevelIsBadUsage) {
    ParseOutcome outcome = parse({"--log-level=loud"});
    EXPECT_EQ(outcome.exit_code, 2);
    EXPECT_NE(err_.str().find("log level 'loud'"), std::string::npos) << err_.str();
}

TEST_F(ConfigTest, LoggingOptionsSetTheLog) {
    ParseOutcome outcome = parse({"--log-level=warn", "--log-format=text"});
    ASSERT_TRUE(outcome.run) << err_.str();
    apply_logging_options(outcome.variables, "test-1");
    EXPECT_EQ(log::level(), log::Level::warn);
    EXPECT_FALSE(log::enabled(log::Level::info));
    log::set_level(log::Level::info);
    log::set_format(log::Format::json);
    log::set_node("");
}

TEST_F(ConfigTest, EffectiveFieldsShowEveryValueAndHideSecrets) {
    ParseOutcome outcome = parse({"--curve-secret-key=abc", "--peers", "a", "b", "--verbose"});
    ASSERT_TRUE(outcome.run) << err_.str();
    const auto fields = effective_config_fields(outcome.variables);
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"curve-secret-key", "<redacted>"},
        {"data-dir", "data/node-1"},
        {"election-timeout", "750ms"},
        {"log-format", "json"},
        {"log-level", "info"},
        {"peers", "a,b"},
        {"verbose", "true"},
    };
    EXPECT_EQ(fields, expected);
}

TEST(ConfigSources, ReadsArgumentsAndOnlyCopycatVariables) {
    ::setenv("COPYCAT_SOURCES_TEST", "yes", 1);
    const char* argv[] = {"prog", "--a", "b"};
    const ConfigSources sources = process_config_sources(3, argv);
    ::unsetenv("COPYCAT_SOURCES_TEST");
    EXPECT_EQ(sources.arguments, (std::vector<std::string>{"--a", "b"}));
    EXPECT_EQ(sources.environment.at("COPYCAT_SOURCES_TEST"), "yes");
    for (const auto& [name, value] : sources.environment) EXPECT_TRUE(name.starts_with("COPYCAT_"));
}

TEST(SplitList, TrimsItemsAndDropsEmptyOnes) {
    EXPECT_EQ(split_list("a, b,,c ,"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(split_list("tcp://127.0.0.1:7000"),
              (std::vector<std::string>{"tcp://127.0.0.1:7000"}));
    EXPECT_TRUE(split_list("").empty());
    EXPECT_TRUE(split_list(" , ,").empty());
}

}  // namespace
}  // namespace copycat
