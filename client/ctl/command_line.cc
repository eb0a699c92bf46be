#include "client/ctl/command_line.h"
#include "common/config.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cctype>
#include <charconv>
#include <ostream>
#include <sstream>

#include "client/ctl/command_specs.h"
#include "client/ctl/value_text.h"
#include "common/duration.h"

extern char** environ;

namespace copycat::ctl {

namespace po = boost::program_options;

namespace {

constexpr std::string_view kEnvironmentPrefix = "COPYCAT_CTL_";

po::options_description global_options() {
    po::options_description options("Global options");
    options.add_options()  //
        ("endpoints", po::value<std::string>()->value_name("URLS"),
         "gateways, comma separated (default tcp://127.0.0.1:7000)")  //
        ("dial-timeout", po::value<Duration>()->value_name("D"),
         "give up reaching a gateway after D (default 5s)")  //
        ("command-timeout", po::value<Duration>()->value_name("D"),
         "give up an operation after D (default 5s; a command's outcome is then unknown)")  //
        ("session-timeout", po::value<Duration>()->value_name("D"),
         "the session's timeout (default: the cluster's); the locks, candidacies and group "
         "members of a client that falls silent end after it")  //
        ("write-out,w", po::value<std::string>()->value_name("FORMAT"),
         "simple (default), json or table")  //
        ("consistency", po::value<std::string>()->value_name("LEVEL"),
         "reads: linearizable (default), lease or sequential")  //
        ("map", po::value<std::string>()->value_name("NAME"),
         "the map that put, get, del, cas, list, size and watch use (default \"default\")")  //
        ("curve-key", po::value<std::string>()->value_name("FILE"),
         "this client's CURVE key pair (copycat-ctl keygen NAME): talk to the gateways "
         "encrypted and authenticated")  //
        ("curve-gateway-key", po::value<std::string>()->value_name("FILE"),
         "the gateways' public key (their .pub file), with --curve-key")  //
        ("help,h", "print help (of the tool, or of a command) and exit");
    return options;
}

// The flags a session line may carry besides its command's own.
po::options_description line_options() {
    po::options_description options;
    options.add_options()("consistency", po::value<std::string>())("map", po::value<std::string>());
    return options;
}

po::options_description flags_of(const CommandSpec& spec) {
    po::options_description options("Options");
    for (const std::string& name : spec.flags) {
        const FlagSpec& flag = *find_flag(name);
        if (!flag.takes_value) {
            options.add_options()(flag.name.c_str(), po::bool_switch(), flag.help.c_str());
        } else if (flag.name == "ttl" || flag.name == "timeout") {
            options.add_options()(flag.name.c_str(), po::value<Duration>(), flag.help.c_str());
        } else if (flag.name == "limit") {
            options.add_options()(flag.name.c_str(), po::value<uint64_t>(), flag.help.c_str());
        } else {
            options.add_options()(flag.name.c_str(), po::value<std::string>(), flag.help.c_str());
        }
    }
    return options;
}

std::string describe(const po::options_description& options) {
    std::ostringstream text;
    text << options;
    return text.str();
}

// ---------------------------------------------------------------------------------------------
// Splitting the words into flags and positional arguments.

struct SplitFlag {
    std::string name;  // the long name; an unknown short flag as given ("-x")
    std::optional<std::string> value;
    std::string original;  // as written, for messages
};

struct SplitWords {
    std::vector<SplitFlag> flags;
    std::vector<std::string> positionals;
    bool help = false;
};

// Whether a flag (global or any command's) takes a value; nullopt: no such flag.
std::optional<bool> takes_value(const std::string& name) {
    static const po::options_description globals = global_options();
    if (const auto* option = globals.find_nothrow(name, false)) {
        return option->semantic()->max_tokens() > 0;
    }
    if (const FlagSpec* flag = find_flag(name)) return flag->takes_value;
    return std::nullopt;
}

std::string long_name_of(char short_name) {
    if (short_name == 'w') return "write-out";
    if (short_name == 'h') return "help";
    return "";
}

void add_flag(SplitWords& split, const std::string& name, std::optional<std::string> value,
              const std::vector<std::string>& words, size_t& i) {
    if (name == "help") {
        split.help = true;
        return;
    }
    const std::string original = words[i];
    if (!value && takes_value(name).value_or(false) && i + 1 < words.size()) value = words[++i];
    split.flags.push_back({name, std::move(value), original});
}

SplitWords split_words(const std::vector<std::string>& words) {
    SplitWords split;
    bool only_positionals = false;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        const bool number = word.size() > 1 && std::isdigit(static_cast<unsigned char>(word[1]));
        if (only_positionals || word.size() < 2 || word[0] != '-' || number) {
            split.positionals.push_back(word);
        } else if (word == "--") {
            only_positionals = true;
        } else if (word.starts_with("--")) {
            const size_t equals = word.find('=');
            std::optional<std::string> value;
            if (equals != std::string::npos) value = word.substr(equals + 1);
            add_flag(split, word.substr(2, equals - 2), value, words, i);
        } else if (std::string name = long_name_of(word[1]); !name.empty()) {
            std::optional<std::string> value;
            if (word.size() > 2) value = word.substr(word[2] == '=' ? 3 : 2);
            add_flag(split, name, value, words, i);
        } else {
            split.flags.push_back({word, std::nullopt, word});  // unknown: the parse says so
        }
    }
    return split;
}

// ---------------------------------------------------------------------------------------------
// Finding the command in the positional words.

struct Resolved {
    const CommandSpec* spec = nullptr;  // nullptr: no command words at all
    size_t words = 0;                   // how many positional words name it
};

// for_help: "elect leader --help" is the subcommand's help even without its arguments.
Result<Resolved> resolve(const std::vector<std::string>& positionals, bool for_help = false) {
    if (positionals.empty()) return Resolved{};
    const std::string& top = positionals[0];
    const CommandSpec* parent = find_command(top);
    if (parent == nullptr) return invalid_argument("unknown command '" + top + "'");
    if (positionals.size() >= 2 && has_subcommands(top)) {
        const CommandSpec* sub = find_command(top + " " + positionals[1]);
        // "elect leader" is a subcommand; "elect leader" alone stands in the election "leader".
        const bool enough = sub != nullptr && (for_help || positionals.size() - 2 >= sub->min_args);
        if (sub != nullptr && (!parent->runnable || enough)) {
            return Resolved{sub, 2};
        }
        if (!parent->runnable) {
            return invalid_argument("unknown command '" + top + " " + positionals[1] + "'");
        }
    }
    return Resolved{parent, 1};
}

// ---------------------------------------------------------------------------------------------
// Values.

Result<session::Consistency> consistency_named(const std::string& name) {
    if (name == "linearizable") return session::Consistency::linearizable;
    if (name == "lease" || name == "linearizable-lease" || name == "linearizable_lease") {
        return session::Consistency::linearizable_lease;
    }
    if (name == "sequential") return session::Consistency::sequential;
    return invalid_argument("--consistency takes linearizable, lease or sequential, not '" + name +
                            "'");
}

Result<Format> format_named(const std::string& name) {
    if (name == "simple") return Format::simple;
    if (name == "json") return Format::json;
    if (name == "table") return Format::table;
    return invalid_argument("-w/--write-out takes simple, json or table, not '" + name + "'");
}

Result<uint8_t> member_type_named(const std::string& name, const std::string& flag) {
    if (name == "active") return uint8_t{3};
    if (name == "passive") return uint8_t{2};
    if (name == "reserve") return uint8_t{1};
    return invalid_argument("--" + flag + " takes active, passive or reserve, not '" + name + "'");
}

std::chrono::milliseconds milliseconds_of(const po::variable_value& value) {
    return std::chrono::milliseconds(value.as<Duration>().milliseconds());
}

}  // namespace

namespace {

// ---------------------------------------------------------------------------------------------
// Storing flags (from the words and the environment) with Boost.Program_options' validators.

// A flag given twice takes its last value (etcdctl's habit: scripts append overrides).
void store_flags(const std::vector<SplitFlag>& flags, const po::options_description& options,
                 po::variables_map& variables) {
    po::parsed_options parsed(&options);
    for (size_t i = 0; i < flags.size(); ++i) {
        const SplitFlag& flag = flags[i];
        auto later = [&](const SplitFlag& other) { return other.name == flag.name; };
        if (std::any_of(flags.begin() + static_cast<std::ptrdiff_t>(i) + 1, flags.end(), later)) {
            continue;
        }
        std::vector<std::string> values;
        if (flag.value) values.push_back(*flag.value);
        parsed.options.emplace_back(flag.name, values);
        parsed.options.back().original_tokens = {flag.original};
    }
    po::store(parsed, variables);
}

void store_environment(const Environment& environment, const po::options_description& options,
                       po::variables_map& variables) {
    for (const auto& description : options.options()) {
        const std::string& name = description->long_name();
        if (name == "help" || variables.count(name)) continue;
        const std::string variable = environment_variable(name);
        auto found = environment.find(variable);
        if (found == environment.end()) continue;
        po::parsed_options parsed(&options);
        parsed.options.emplace_back(name, std::vector<std::string>{found->second});
        parsed.options.back().original_tokens = {variable};
        try {
            po::store(parsed, variables);
        } catch (const po::error& e) {
            throw po::error("in environment variable " + variable + ": " + e.what());
        }
    }
}

Result<std::vector<std::string>> endpoint_list(const std::string& text) {
    std::vector<std::string> endpoints = split_list(text);
    if (endpoints.empty()) return invalid_argument("--endpoints names no endpoint");
    return endpoints;
}

Result<GlobalOptions> read_globals(const po::variables_map& vm) {
    GlobalOptions globals;
    if (vm.count("endpoints")) {
        Result<std::vector<std::string>> endpoints =
            endpoint_list(vm["endpoints"].as<std::string>());
        if (!endpoints.is_ok()) return endpoints.status();
        globals.endpoints = *endpoints;
    }
    if (vm.count("dial-timeout")) globals.dial_timeout = milliseconds_of(vm["dial-timeout"]);
    if (vm.count("command-timeout")) {
        globals.command_timeout = milliseconds_of(vm["command-timeout"]);
    }
    if (vm.count("session-timeout")) {
        globals.session_timeout = milliseconds_of(vm["session-timeout"]);
    }
    if (globals.dial_timeout.count() <= 0 || globals.command_timeout.count() <= 0) {
        return invalid_argument("--dial-timeout and --command-timeout must be at least 1ms");
    }
    if (vm.count("write-out")) {
        Result<Format> format = format_named(vm["write-out"].as<std::string>());
        if (!format.is_ok()) return format.status();
        globals.format = *format;
    }
    if (vm.count("consistency")) {
        Result<session::Consistency> level = consistency_named(vm["consistency"].as<std::string>());
        if (!level.is_ok()) return level.status();
        globals.consistency = *level;
    }
    if (vm.count("map")) globals.map = vm["map"].as<std::string>();
    if (globals.map.empty()) return invalid_argument("--map names no map");
    auto curve = load_client_curve_flags(text_or_empty(vm, "curve-key"),
                                         text_or_empty(vm, "curve-gateway-key"));
    if (!curve.is_ok()) return curve.status();
    globals.curve = std::move(curve.value());
    return globals;
}

bool switch_set(const po::variables_map& vm, const char* name) {
    return vm.count(name) && vm[name].as<bool>();
}

Status read_member_type(const po::variables_map& vm, const std::string& command,
                        CommandFlags& flags) {
    const char* flag = command == "member add" ? "type" : "to";
    flags.member_type = command == "member demote" ? 2 : 3;
    if (!vm.count(flag)) return Status::ok();
    Result<uint8_t> type = member_type_named(vm[flag].as<std::string>(), flag);
    if (!type.is_ok()) return type.status();
    if (command == "member promote" && *type == 1) {
        return invalid_argument("--to: promote to passive or active, not reserve");
    }
    if (command == "member demote" && *type == 3) {
        return invalid_argument("--to: demote to passive or reserve, not active");
    }
    flags.member_type = *type;
    return Status::ok();
}

Result<CommandFlags> read_flags(const po::variables_map& vm, const std::string& command) {
    CommandFlags flags;
    if (vm.count("ttl")) flags.ttl = milliseconds_of(vm["ttl"]);
    if (vm.count("timeout")) flags.timeout = milliseconds_of(vm["timeout"]);
    if (vm.count("limit")) flags.limit = vm["limit"].as<uint64_t>();
    if (vm.count("prefix")) flags.prefix = vm["prefix"].as<std::string>();
    flags.absent = switch_set(vm, "absent");
    flags.escaped = switch_set(vm, "escaped");
    flags.release = switch_set(vm, "release");
    flags.leave = switch_set(vm, "leave");
    flags.major = switch_set(vm, "major");
    if (vm.count("out-dir")) flags.out_dir = vm["out-dir"].as<std::string>();
    COPYCAT_RETURN_IF_ERROR(read_member_type(vm, command, flags));
    return flags;
}

// ---------------------------------------------------------------------------------------------
// Checking the arguments of a command.

Status check_number(const std::string& text, const std::string& what) {
    int64_t number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error == std::errc() && end == text.data() + text.size()) return Status::ok();
    return invalid_argument(what + " must be a whole number (64-bit), not '" + text + "'");
}

Status check_node_id(const std::string& text) {
    uint64_t id = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (error == std::errc() && end == text.data() + text.size() && id > 0) return Status::ok();
    return invalid_argument("ID must be a node id (1, 2, ...), not '" + text + "'");
}

Status check_arity(const CommandSpec& spec, size_t count) {
    if (count >= spec.min_args && count <= spec.max_args) return Status::ok();
    if (spec.max_args == 0) return invalid_argument("takes no arguments");
    if (count > spec.max_args) return invalid_argument("too many arguments");
    return invalid_argument("needs " + spec.arguments);
}

Status check_escaped(const Command& command, size_t first_value) {
    if (!command.flags.escaped) return Status::ok();
    for (size_t i = first_value; i < command.args.size(); ++i) {
        Result<Bytes> bytes = unescape_bytes(command.args[i]);
        if (!bytes.is_ok()) return bytes.status();
    }
    return Status::ok();
}

Status check_session_only(const Command& command, bool in_session) {
    const CommandFlags& flags = command.flags;
    if (command.name == "lock") {
        if (flags.release && !in_session) {
            return invalid_argument(
                "--release is for session lines: a lock belongs to its session");
        }
        if (flags.release && (flags.timeout || command.args.size() > 1)) {
            return invalid_argument("--release takes only NAME");
        }
        if (in_session && command.args.size() > 1) {
            return invalid_argument("a session line cannot run a COMMAND");
        }
    }
    if (command.name == "elect" && flags.leave && !in_session) {
        return invalid_argument("--leave is for session lines: a candidacy belongs to its session");
    }
    return Status::ok();
}

Status check_values(const Command& command, bool in_session) {
    const std::string& name = command.name;
    const std::vector<std::string>& args = command.args;
    if (name == "put") return check_escaped(command, 1);
    if (name == "cas") {
        if (command.flags.absent && args.size() != 2) {
            return invalid_argument("with --absent: needs KEY NEW");
        }
        if (!command.flags.absent && args.size() != 3) {
            return invalid_argument("needs KEY EXPECTED NEW (or --absent KEY NEW)");
        }
        return check_escaped(command, 1);
    }
    if (name == "watch" || name == "unwatch") {
        if (args.size() == 1 && command.flags.prefix) {
            return invalid_argument("give KEY or --prefix P, not both");
        }
        if (args.empty() && !command.flags.prefix)
            return invalid_argument("needs KEY or --prefix P");
    }
    if (name == "counter set" || name == "counter add") return check_number(args[1], "VALUE");
    if (name == "counter cas") {
        COPYCAT_RETURN_IF_ERROR(check_number(args[1], "EXPECTED"));
        return check_number(args[2], "NEW");
    }
    if (name == "move-leader" || (name.starts_with("member ") && name != "member list")) {
        return check_node_id(args[0]);
    }
    return check_session_only(command, in_session);
}

// Everything after the command's words: flags, arity, values.
Result<Command> build_command(const CommandSpec& spec, const SplitWords& split, size_t words,
                              const po::variables_map& vm, bool in_session) {
    Command command;
    command.name = spec.name;
    command.args.assign(split.positionals.begin() + static_cast<std::ptrdiff_t>(words),
                        split.positionals.end());
    Result<CommandFlags> flags = read_flags(vm, spec.name);
    if (!flags.is_ok()) return flags.status();
    command.flags = *flags;
    COPYCAT_RETURN_IF_ERROR(check_arity(spec, command.args.size()));
    COPYCAT_RETURN_IF_ERROR(check_values(command, in_session));
    return command;
}

ParseOutcome usage_error(std::ostream& err, const CommandSpec* spec, const std::string& message) {
    if (spec == nullptr) {
        err << "copycat-ctl: " << message << "\n"
            << "Try 'copycat-ctl --help' for more information.\n";
    } else {
        err << "copycat-ctl " << spec->name << ": " << message << "\n"
            << "Usage: copycat-ctl " << synopsis(*spec) << "\n"
            << "Try 'copycat-ctl " << spec->name << " --help' for more information.\n";
    }
    return ParseOutcome{false, kExitUsage, {}};
}

std::string subcommand_list(const CommandSpec& parent) {
    std::string list;
    for (const CommandSpec& spec : command_specs()) {
        if (!spec.name.starts_with(parent.name + " ")) continue;
        list += (list.empty() ? "" : ", ") + spec.name.substr(parent.name.size() + 1);
    }
    return list;
}

// The command named by the words, refusing groups and session-only ones.
Result<Resolved> command_to_run(const std::vector<std::string>& positionals, bool in_session) {
    Result<Resolved> resolved = resolve(positionals);
    if (!resolved.is_ok()) return resolved;
    const CommandSpec* spec = resolved->spec;
    if (spec == nullptr) return invalid_argument("no command given");
    if (!spec->runnable) {
        return invalid_argument("needs a subcommand: " + subcommand_list(*spec));
    }
    if (in_session && !spec->in_session) return invalid_argument("not in a session");
    if (!in_session && !spec->on_command_line) {
        return invalid_argument("is for session lines only (copycat-ctl session)");
    }
    return resolved;
}

}  // namespace

std::string environment_variable(std::string_view flag) {
    std::string variable(kEnvironmentPrefix);
    for (char c : flag) {
        variable += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return variable;
}

Environment process_environment() {
    Environment environment;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const size_t equals = text.find('=');
        if (!text.starts_with(kEnvironmentPrefix) || equals == std::string_view::npos) continue;
        environment.emplace(text.substr(0, equals), text.substr(equals + 1));
    }
    return environment;
}

ParseOutcome parse_command_line(const std::vector<std::string>& arguments,
                                const Environment& environment, std::ostream& out,
                                std::ostream& err) {
    SplitWords split = split_words(arguments);
    if (!split.positionals.empty() && split.positionals[0] == "help") {
        split.positionals.erase(split.positionals.begin());
        split.help = true;
    }
    const std::string globals_help = describe(global_options());
    if (split.help) {
        Result<Resolved> resolved = resolve(split.positionals, true);
        if (!resolved.is_ok()) return usage_error(err, nullptr, resolved.status().message());
        if (resolved->spec == nullptr) {
            print_tool_help(out, globals_help);
        } else {
            print_command_help(out, *resolved->spec, globals_help);
        }
        return ParseOutcome{false, kExitOk, {}};
    }
    Result<Resolved> resolved = command_to_run(split.positionals, false);
    if (!resolved.is_ok()) {
        const bool named = !split.positionals.empty() && find_command(split.positionals[0]);
        const CommandSpec* spec = named ? find_command(split.positionals[0]) : nullptr;
        return usage_error(err, spec, resolved.status().message());
    }
    const CommandSpec& spec = *resolved->spec;
    po::options_description options;
    options.add(global_options()).add(flags_of(spec));
    po::variables_map vm;
    try {
        store_flags(split.flags, options, vm);
        store_environment(environment, global_options(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return usage_error(err, &spec, e.what());
    }
    Result<GlobalOptions> globals = read_globals(vm);
    if (!globals.is_ok()) return usage_error(err, &spec, globals.status().message());
    Result<Command> command = build_command(spec, split, resolved->words, vm, false);
    if (!command.is_ok()) return usage_error(err, &spec, command.status().message());
    command->map = globals->map;
    command->consistency = globals->consistency;
    return ParseOutcome{true, kExitOk, Invocation{*globals, *command}};
}

Result<Command> parse_session_line(const std::vector<std::string>& words,
                                   const GlobalOptions& globals) {
    SplitWords split = split_words(words);
    Result<Resolved> resolved = command_to_run(split.positionals, true);
    const CommandSpec* spec = resolved.is_ok() ? resolved->spec : nullptr;
    auto usage = [&](const std::string& message) {
        return invalid_argument("usage: " + (spec ? synopsis(*spec) : std::string("COMMAND ...")) +
                                " (" + message + ")");
    };
    if (!resolved.is_ok()) return usage(resolved.status().message());
    if (split.help) return usage("no --help in a session");
    po::options_description options;
    options.add(line_options()).add(flags_of(*spec));
    po::variables_map vm;
    try {
        store_flags(split.flags, options, vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return usage(e.what());
    }
    Result<Command> command = build_command(*spec, split, resolved->words, vm, true);
    if (!command.is_ok()) return usage(command.status().message());
    command->map = vm.count("map") ? vm["map"].as<std::string>() : globals.map;
    command->consistency = globals.consistency;
    if (vm.count("consistency")) {
        Result<session::Consistency> level = consistency_named(vm["consistency"].as<std::string>());
        if (!level.is_ok()) return usage(level.status().message());
        command->consistency = *level;
    }
    if (command->map.empty()) return usage("--map names no map");
    return command;
}

Result<std::vector<std::string>> split_session_line(std::string_view line) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else if (c == '#' && !in_word) {
            break;
        } else if (c == '\'') {
            const size_t end = line.find('\'', i + 1);
            if (end == std::string_view::npos) return invalid_argument("usage: unbalanced '");
            word.append(line.substr(i + 1, end - i - 1));
            in_word = true;
            i = end;
        } else if (c == '"') {
            size_t j = i + 1;
            for (; j < line.size() && line[j] != '"'; ++j) {
                const bool escape = line[j] == '\\' && j + 1 < line.size() &&
                                    (line[j + 1] == '"' || line[j + 1] == '\\');
                if (escape) ++j;
                word += line[j];
            }
            if (j >= line.size()) return invalid_argument("usage: unbalanced \"");
            in_word = true;
            i = j;
        } else if (c == '\\' && i + 1 < line.size()) {
            word += line[++i];
            in_word = true;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word) words.push_back(std::move(word));
    return words;
}

bool holds_until_interrupted(const Command& command) {
    const CommandSpec* spec = find_command(command.name);
    return spec != nullptr && spec->holds;
}

std::vector<std::string> command_names() {
    std::vector<std::string> names;
    for (const CommandSpec& spec : command_specs()) names.push_back(spec.name);
    return names;
}

std::string usage_line(const std::string& command) {
    const CommandSpec* spec = find_command(command);
    return spec ? synopsis(*spec) : "";
}

}  // namespace copycat::ctl
