// copycat-ctl's command line: the global flags (with COPYCAT_CTL_<FLAG> environment
// fallbacks), the commands and their flags, help texts, and the same parse for the lines of
// `copycat-ctl session`. Pure: parsing prints nothing itself except through the streams given.
//
// Flags may come anywhere on the line (etcdctl's habit): global ones before or after the
// command, a command's own after its name. "--" ends the flags: what follows is positional
// (`lock L -- ls -l`, `put -- k -v`). A negative number ("-5") is positional, not a flag.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/ctl/output.h"
#include "common/curve.h"
#include "common/status.h"
#include "consensus/session/protocol.h"

namespace copycat::ctl {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct GlobalOptions {
    std::vector<std::string> endpoints{"tcp://127.0.0.1:7000"};
    std::chrono::milliseconds dial_timeout{5'000};
    std::chrono::milliseconds command_timeout{5'000};
    std::chrono::milliseconds session_timeout{0};  // 0: the cluster's default
    Format format = Format::simple;
    session::Consistency consistency = session::Consistency::linearizable;
    std::string map = "default";
    std::optional<CurveClient> curve;  // CURVE to the gateways
};

// A command's own flags (each command accepts only its own; the others keep their defaults).
struct CommandFlags {
    std::chrono::milliseconds ttl{0};                  // put, cas
    bool absent = false;                               // cas: expect KEY absent
    bool escaped = false;                              // put, cas: values use value_text.h escapes
    uint64_t limit = 0;                                // list
    std::optional<std::string> prefix;                 // watch, unwatch
    std::optional<std::chrono::milliseconds> timeout;  // lock: give up waiting after
    bool release = false;                              // lock (session lines)
    bool leave = false;                                // elect (session lines)
    uint8_t member_type = 3;                           // member add --type, promote/demote --to
    bool major = false;                                // compact
    std::string out_dir = ".";                         // keygen
};

struct Command {
    std::string name;               // "put", "counter add", "member list", "session", ...
    std::vector<std::string> args;  // positional, after the command's words
    CommandFlags flags;
    // The map and read consistency for this command: the global ones, or a session line's.
    std::string map = "default";
    session::Consistency consistency = session::Consistency::linearizable;
};

struct Invocation {
    GlobalOptions globals;
    Command command;
};

struct ParseOutcome {
    bool run = false;  // false: exit with exit_code (help printed: 0; bad usage: 2)
    int exit_code = kExitOk;
    Invocation invocation;
};

using Environment = std::map<std::string, std::string>;

// The process's COPYCAT_CTL_* variables.
Environment process_environment();

// argv[1..]: the whole command line.
ParseOutcome parse_command_line(const std::vector<std::string>& arguments,
                                const Environment& environment, std::ostream& out,
                                std::ostream& err);

// One line of `copycat-ctl session`, split into words (split_session_line): its command with
// the session's globals as defaults (a line may say --consistency and --map). An error's
// message starts with "usage: ".
Result<Command> parse_session_line(const std::vector<std::string>& words,
                                   const GlobalOptions& globals);

// Splits a session line into words like a shell: blanks separate words; '...' is literal;
// "..." allows \" and \\; a backslash outside quotes escapes the next character. An empty
// result: a blank line or a comment (# ...). Unbalanced quotes are an error.
Result<std::vector<std::string>> split_session_line(std::string_view line);

// The environment variable of a global flag: "dial-timeout" -> "COPYCAT_CTL_DIAL_TIMEOUT".
std::string environment_variable(std::string_view flag);

// Whether a parsed command runs until interrupted when given on the command line (watch, lock,
// elect, group join).
bool holds_until_interrupted(const Command& command);

// For tests: the names of every command, and the usage line of one ("put KEY VALUE [...]").
std::vector<std::string> command_names();
std::string usage_line(const std::string& command);

}  // namespace copycat::ctl
