// The table of copycat-ctl's commands and of their own flags, and the help texts built from
// it (command_line.h parses with it).
#pragma once

#include <cstddef>
#include <iosfwd>
#include <limits>
#include <string>
#include <vector>

namespace copycat::ctl {

struct FlagSpec {
    std::string name;  // long name: --name
    bool takes_value = false;
    std::string value_name;  // for help: "D", "N"
    std::string help;
};

inline constexpr size_t kAnyCount = std::numeric_limits<size_t>::max();

struct CommandSpec {
    std::string name;       // "put", "counter add"
    std::string arguments;  // "KEY VALUE"
    std::string summary;    // one line, for the list of commands
    size_t min_args = 0;
    size_t max_args = 0;  // kAnyCount: no limit
    std::vector<std::string> flags;
    std::string details;          // the help text's body
    bool runnable = true;         // false: a group of subcommands (counter, member, ...)
    bool holds = false;           // on the command line, runs until interrupted
    bool in_session = true;       // allowed as a line of `copycat-ctl session`
    bool on_command_line = true;  // false: session lines only (unwatch, group leave)
};

const std::vector<CommandSpec>& command_specs();
const std::vector<FlagSpec>& command_flags();
// nullptr when there is no such command (or group).
const CommandSpec* find_command(const std::string& name);
const FlagSpec* find_flag(const std::string& name);
// Whether a command has subcommands ("counter" has "counter get", ...).
bool has_subcommands(const std::string& name);

// "put KEY VALUE [--ttl D] [--escaped]"
std::string synopsis(const CommandSpec& spec);
// The help of the whole tool (with the global options' description) or of one command.
void print_tool_help(std::ostream& out, const std::string& global_options_help);
void print_command_help(std::ostream& out, const CommandSpec& spec,
                        const std::string& global_options_help);

}  // namespace copycat::ctl
