#include "common/config.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/duration.h"

extern char** environ;

namespace copycat {
namespace {

constexpr int kExitUsage = 2;
constexpr std::string_view kEnvironmentPrefix = "COPYCAT_";

// Thrown inside the parse to give a po::error the place it came from.
struct UsageError {
    std::string message;
};

po::options_description with_builtin_options(const po::options_description& options) {
    po::options_description builtin("General options");
    builtin.add_options()("help,h", "print this help and exit")(
        "config", po::value<std::string>()->value_name("FILE"),
        "read options from FILE, one \"name = value\" per line");
    po::options_description all;
    all.add(builtin).add(options);
    return all;
}

void print_help(std::ostream& out, const po::options_description& all,
                std::string_view program_name, std::string_view usage_text) {
    out << program_name << " - " << usage_text << "\n\n"
        << "Usage: " << program_name << " [options]\n\n"
        << "Every option --some-name can also be set with the environment variable\n"
        << kEnvironmentPrefix << "SOME_NAME or in the --config file as \"some-name = value\".\n"
        << "Precedence: flag > environment > config file > default.\n"
        << "Durations need a unit: us, ms, s, m, h (e.g. 750ms).\n\n"
        << all << "\n";
}

void store_command_line(const ConfigSources& sources, const po::options_description& all,
                        po::variables_map& variables) {
    po::store(po::command_line_parser(sources.arguments).options(all).run(), variables);
}

// Stores each option that has a COPYCAT_* variable and no value yet from the command line.
void store_environment(const ConfigSources& sources, const po::options_description& all,
                       po::variables_map& variables) {
    for (const auto& description : all.options()) {
        const std::string& name = description->long_name();
        if (name.empty() || name == "help") continue;
        const std::string variable = environment_variable_for(name);
        auto found = sources.environment.find(variable);
        if (found == sources.environment.end()) continue;
        po::parsed_options parsed(&all);
        parsed.options.emplace_back(name, std::vector<std::string>{found->second});
        parsed.options.back().original_tokens = {variable};
        try {
            po::store(parsed, variables);
        } catch (const po::error& e) {
            throw UsageError{"in environment variable " + variable + ": " + e.what()};
        }
    }
}

void store_config_file(const po::options_description& all, po::variables_map& variables) {
    if (!variables.count("config")) return;
    const std::string path = variables["config"].as<std::string>();
    std::ifstream file(path);
    if (!file) throw UsageError{"cannot read config file '" + path + "'"};
    try {
        po::store(po::parse_config_file(file, all, false), variables);
    } catch (const po::error& e) {
        throw UsageError{"in config file '" + path + "': " + e.what()};
    }
}

ParseOutcome usage_error(std::ostream& err, std::string_view program_name,
                         std::string_view message) {
    err << program_name << ": " << message << "\n"
        << "Try '" << program_name << " --help' for more information.\n";
    return ParseOutcome{false, kExitUsage, {}};
}

template <typename T>
bool append_if(const boost::any& value, std::string& text) {
    const T* typed = boost::any_cast<T>(&value);
    if (typed == nullptr) return false;
    std::ostringstream out;
    out << std::boolalpha << *typed;
    text = out.str();
    return true;
}

template <typename T>
bool append_list_if(const boost::any& value, std::string& text) {
    const auto* list = boost::any_cast<std::vector<T>>(&value);
    if (list == nullptr) return false;
    std::ostringstream out;
    for (size_t i = 0; i < list->size(); ++i) out << (i ? "," : "") << (*list)[i];
    text = out.str();
    return true;
}

std::string value_text(const boost::any& value) {
    if (value.empty()) return "true";  // an option declared without a value type
    std::string text;
    if (append_if<std::string>(value, text) || append_if<bool>(value, text) ||
        append_if<int>(value, text) || append_if<unsigned>(value, text) ||
        append_if<long>(value, text) || append_if<unsigned long>(value, text) ||
        append_if<long long>(value, text) || append_if<unsigned long long>(value, text) ||
        append_if<double>(value, text) || append_if<Duration>(value, text) ||
        append_list_if<std::string>(value, text) || append_list_if<int>(value, text)) {
        return text;
    }
    return "<set>";
}

bool is_secret(const std::string& name) {
    return name.find("secret") != std::string::npos || name.find("password") != std::string::npos;
}

}  // namespace

std::string environment_variable_for(std::string_view option_name) {
    std::string variable(kEnvironmentPrefix);
    for (char c : option_name) {
        if (c == '-' || c == '.') {
            variable += '_';
        } else {
            variable += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
    }
    return variable;
}

ConfigSources process_config_sources(int argc, const char* const argv[]) {
    ConfigSources sources;
    for (int i = 1; i < argc; ++i) sources.arguments.emplace_back(argv[i]);
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const size_t equals = text.find('=');
        if (!text.starts_with(kEnvironmentPrefix) || equals == std::string_view::npos) continue;
        sources.environment.emplace(text.substr(0, equals), text.substr(equals + 1));
    }
    return sources;
}

ParseOutcome parse_config(const ConfigSources& sources, const po::options_description& options,
                          std::string_view program_name, std::string_view usage_text,
                          std::ostream& out, std::ostream& err) {
    const po::options_description all = with_builtin_options(options);
    ParseOutcome outcome{true, 0, {}};
    try {
        store_command_line(sources, all, outcome.variables);
        if (outcome.variables.count("help")) {
            print_help(out, all, program_name, usage_text);
            return ParseOutcome{false, 0, {}};
        }
        store_environment(sources, all, outcome.variables);
        store_config_file(all, outcome.variables);
        po::notify(outcome.variables);
    } catch (const UsageError& e) {
        return usage_error(err, program_name, e.message);
    } catch (const po::error& e) {
        return usage_error(err, program_name, e.what());
    }
    return outcome;
}

ParseOutcome parse_config(int argc, const char* const argv[],
                          const po::options_description& options, std::string_view program_name,
                          std::string_view usage_text) {
    // Usage text is the one thing this library prints, on behalf of main; it goes through
    // stdio so that common/ stays free of <iostream> (tests/tidy).
    std::ostringstream out, err;
    ParseOutcome outcome = parse_config(process_config_sources(argc, argv), options, program_name,
                                        usage_text, out, err);
    std::fputs(out.str().c_str(), stdout);
    std::fputs(err.str().c_str(), stderr);
    std::fflush(stdout);
    return outcome;
}

std::vector<std::pair<std::string, std::string>> effective_config_fields(
    const po::variables_map& variables) {
    std::vector<std::pair<std::string, std::string>> fields;
    for (const auto& [name, variable] : variables) {
        if (name == "help") continue;
        fields.emplace_back(name, is_secret(name) ? "<redacted>" : value_text(variable.value()));
    }
    return fields;
}

Result<std::vector<NamedEndpoint>> parse_named_endpoints(std::string_view text,
                                                         std::string_view flag) {
    std::vector<NamedEndpoint> endpoints;
    for (const std::string& item : split_list(text)) {
        const size_t equals = item.find('=');
        const size_t scheme = item.find("://");
        if (equals == std::string::npos || (scheme != std::string::npos && equals > scheme)) {
            endpoints.push_back({0, item});
            continue;
        }
        const std::string id = item.substr(0, equals);
        if (id.empty() || id.size() > 18 ||
            id.find_first_not_of("0123456789") != std::string::npos || std::stoull(id) == 0 ||
            equals + 1 == item.size()) {
            return invalid_argument(std::string(flag) + ": '" + item +
                                    "' is neither ENDPOINT nor ID=ENDPOINT (e.g. "
                                    "2=tcp://127.0.0.1:7202)");
        }
        endpoints.push_back({std::stoull(id), item.substr(equals + 1)});
    }
    return endpoints;
}

std::string text_or_empty(const po::variables_map& variables, const char* name) {
    return variables.count(name) ? variables[name].as<std::string>() : std::string();
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> items;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = std::min(text.find(',', start), text.size());
        std::string_view item = text.substr(start, comma - start);
        const size_t first = item.find_first_not_of(' ');
        if (first != std::string_view::npos) {
            item = item.substr(first, item.find_last_not_of(' ') - first + 1);
            items.emplace_back(item);
        }
        start = comma + 1;
    }
    return items;
}

}  // namespace copycat
