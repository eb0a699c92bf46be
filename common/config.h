// Flags, environment variables and config file for every copycat binary (CONVENTIONS.md,
// Processes). A main declares its options and hands them over:
//
//   po::options_description options("copycat-logstore options");
//   options.add_options()
//       ("data-dir", po::value<std::string>()->default_value("data/node-1"), "data directory")
//       ("fsync-warn", po::value<Duration>()->default_value(50ms), "warn above this fsync time");
//   ParseOutcome outcome = parse_config(argc, argv, options, "copycat-logstore",
//                                       "the durable segmented log of one node");
//   if (!outcome.run) return outcome.exit_code;
//
// Precedence: flag > environment > config file > default. Every long option --data-dir is also
// read from COPYCAT_DATA_DIR; other COPYCAT_* variables are ignored, since containers set stray
// ones. --config FILE reads INI-style "key = value" lines (the long option names, "[section]"
// headers prefix "section."); an unknown key there is an error. --help and --config are added
// here: a binary must not declare options named help or config itself.
//
// Nothing here exits or logs: the outcome says what main should do, which keeps it testable.
#pragma once

#include <boost/program_options.hpp>
#include <iosfwd>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace copycat {

namespace po = boost::program_options;

struct ParseOutcome {
    // True: start, with `variables`. False: return exit_code from main right away: 0 after
    // --help (printed on the output stream), 2 for bad usage (explained on the error stream).
    bool run = false;
    int exit_code = 0;
    po::variables_map variables;
};

// What a process was started with: the arguments after the program name, and its environment
// (only COPYCAT_* names are looked at).
struct ConfigSources {
    std::vector<std::string> arguments;
    std::map<std::string, std::string> environment;
};

// argv[1..argc-1] and the current process environment.
ConfigSources process_config_sources(int argc, const char* const argv[]);

// The whole parse, with its sources and output streams given (tests use this one).
ParseOutcome parse_config(const ConfigSources& sources, const po::options_description& options,
                          std::string_view program_name, std::string_view usage_text,
                          std::ostream& out, std::ostream& err);

// For main: the process's arguments and environment; prints on stdout and stderr.
ParseOutcome parse_config(int argc, const char* const argv[],
                          const po::options_description& options, std::string_view program_name,
                          std::string_view usage_text);

// The items of a comma-separated flag value ("a, b,,c" -> a, b, c): spaces around an item are
// trimmed and empty items dropped.
std::vector<std::string> split_list(std::string_view text);

// An item of a list of node endpoints: "ENDPOINT", or "ID=ENDPOINT" naming the node (id 0 when
// not named). With CURVE, a connection to a node needs its public key, found by its id.
struct NamedEndpoint {
    uint64_t id = 0;
    std::string endpoint;
};
// The items of `text` (comma separated); `flag` names the flag in errors.
Result<std::vector<NamedEndpoint>> parse_named_endpoints(std::string_view text,
                                                         std::string_view flag);

// The text of a string flag, or "" when it was not given.
std::string text_or_empty(const po::variables_map& variables, const char* name);

// "data-dir" -> "COPYCAT_DATA_DIR".
std::string environment_variable_for(std::string_view option_name);

// Every option that has a value (set or defaulted) as (name, text) sorted by name, for main to
// log the effective configuration once at start-up. Values of options whose name contains
// "secret" or "password" are shown as "<redacted>". Durations print as "750ms", lists
// comma-separated, switches as true/false.
std::vector<std::pair<std::string, std::string>> effective_config_fields(
    const po::variables_map& variables);

}  // namespace copycat
