// The logging options every binary shares, so that --log-level and --log-format mean the same
// everywhere. main adds logging_options() to its own options before parse_config, then calls
// apply_logging_options once with the parsed variables, before logging anything.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace copycat {

// --log-level debug|info|warn|error|fatal (default info),
// --log-format json|text (default json).
boost::program_options::options_description logging_options();

// Sets the log's node name, threshold and format from variables parsed with logging_options().
void apply_logging_options(const boost::program_options::variables_map& variables,
                           std::string_view node);

// Logs "effective configuration" once at start-up (CONVENTIONS.md, Processes): every option
// with a value (effective_config_fields), then `derived`: values main worked out for options
// left unset whose defaults depend on others ("listen" from --id), each shown only when its
// option was not given.
void log_effective_configuration(const boost::program_options::variables_map& variables,
                                 const std::vector<std::pair<std::string, std::string>>& derived);

}  // namespace copycat
