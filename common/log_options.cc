#include "common/log_options.h"

#include "common/config.h"
#include "common/log.h"

namespace po = boost::program_options;

namespace copycat {
namespace {

// Kept as strings so that the effective configuration prints them; checked when parsed.
void check_level(const std::string& text) {
    Result<log::Level> level = log::parse_level(text);
    if (!level.is_ok()) throw po::error("--log-level: " + level.status().message());
}

void check_format(const std::string& text) {
    Result<log::Format> format = log::parse_format(text);
    if (!format.is_ok()) throw po::error("--log-format: " + format.status().message());
}

}  // namespace

po::options_description logging_options() {
    po::options_description options("Logging options");
    options.add_options()("log-level",
                          po::value<std::string>()->default_value("info")->notifier(check_level),
                          "lowest level logged: debug, info, warn, error or fatal")(
        "log-format", po::value<std::string>()->default_value("json")->notifier(check_format),
        "json (one object per line) or text (for people)");
    return options;
}

void apply_logging_options(const po::variables_map& variables, std::string_view node) {
    log::set_node(node);
    if (variables.count("log-level")) {
        Result<log::Level> level = log::parse_level(variables["log-level"].as<std::string>());
        if (level.is_ok()) log::set_level(*level);
    }
    if (variables.count("log-format")) {
        Result<log::Format> format = log::parse_format(variables["log-format"].as<std::string>());
        if (format.is_ok()) log::set_format(*format);
    }
}

void log_effective_configuration(const po::variables_map& variables,
                                 const std::vector<std::pair<std::string, std::string>>& derived) {
    log::Fields fields;
    for (const auto& [name, value] : effective_config_fields(variables)) {
        fields.emplace_back(name, value);
    }
    for (const auto& [name, value] : derived) {
        if (variables.count(name) == 0) fields.emplace_back(name, value);
    }
    log::info("effective configuration", fields);
}

}  // namespace copycat
