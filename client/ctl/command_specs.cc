#include "client/ctl/command_specs.h"

#include <ostream>

namespace copycat::ctl {

const std::vector<FlagSpec>& command_flags() {
    static const std::vector<FlagSpec> flags = {
        {"ttl", true, "D", "remove the key after D of log time (e.g. 10s); 0: never"},
        {"absent", false, "", "succeed only if KEY does not exist (then: cas --absent KEY NEW)"},
        {"escaped", false, "",
         "VALUE and EXPECTED are escaped: \\\\ for a backslash, \\xNN for any byte"},
        {"limit", true, "N", "at most N keys (0: all)"},
        {"prefix", true, "P", "every key starting with P (\"\" for all keys)"},
        {"timeout", true, "D", "give up waiting for the lock after D of log time; 0 tries once"},
        {"release", false, "", "release the lock (a session line: the session holds it)"},
        {"leave", false, "", "leave the election (a session line: the session is a candidate)"},
        {"type", true, "TYPE", "the new member's type: active, passive or reserve"},
        {"to", true, "TYPE", "the type to change to: active, passive or reserve"},
        {"major", false, "", "major compaction (also combines neighbouring segments)"},
        {"out-dir", true, "DIR", "write the key files into DIR (default: the current directory)"},
    };
    return flags;
}

namespace {

CommandSpec command(std::string name, std::string arguments, size_t min_args, size_t max_args,
                    std::string summary, std::vector<std::string> flags = {},
                    std::string details = "") {
    CommandSpec spec;
    spec.name = std::move(name);
    spec.arguments = std::move(arguments);
    spec.min_args = min_args;
    spec.max_args = max_args;
    spec.summary = std::move(summary);
    spec.flags = std::move(flags);
    spec.details = std::move(details);
    return spec;
}

// A group of subcommands (counter, member, ...): only for help.
CommandSpec group_of(std::string name, std::string summary) {
    CommandSpec spec = command(std::move(name), "", 0, 0, std::move(summary));
    spec.runnable = false;
    return spec;
}

CommandSpec holding(CommandSpec spec) {
    spec.holds = true;
    return spec;
}

CommandSpec session_only(CommandSpec spec) {
    spec.on_command_line = false;
    return spec;
}

std::vector<CommandSpec> data_commands() {
    return {
        command("put", "KEY VALUE", 2, 2, "put a value under KEY", {"ttl", "escaped"},
                "Prints OK. With --ttl the key is removed (and watchers told) once D of log\n"
                "time has passed. -w json: {\"ok\":true,\"value\":<the value replaced, or null>,\n"
                "\"index\":N}."),
        command("get", "KEY", 1, 1, "print the value of KEY", {},
                "Prints the value, or nothing when KEY does not exist (-w json: \"value\":null).\n"
                "Reads at the --consistency given (linearizable, lease or sequential)."),
        command("del", "KEY", 1, 1, "remove KEY", {},
                "Prints 1 when KEY existed and was removed, else 0."),
        command("cas", "KEY EXPECTED NEW", 2, 3,
                "compare and set: put NEW if the value is EXPECTED", {"absent", "ttl", "escaped"},
                "Prints OK when the value was EXPECTED and is now NEW, else FAILED and the\n"
                "current value (exit code 0 either way; -w json: \"succeeded\"). With --absent:\n"
                "cas --absent KEY NEW puts NEW only if KEY does not exist."),
        command("list", "[PREFIX]", 0, 1, "list the keys starting with PREFIX, and their values",
                {"limit"},
                "Prints each key and then its value, in key byte order (-w json: one object\n"
                "per key). A note on stderr says when --limit left keys out."),
        command("size", "", 0, 0, "print the number of keys in the map"),
        holding(command(
            "watch", "KEY | --prefix P", 0, 1, "print every change of KEY (or of keys under P)",
            {"prefix"},
            "Prints one line per change until interrupted (Ctrl-C or SIGTERM), then closes its\n"
            "session and exits 0: \"written KEY VALUE\", \"removed KEY\" or \"expired KEY\"\n"
            "(-w json: one object per change). Exits 1 if its session is lost.")),
        session_only(command("unwatch", "KEY | --prefix P", 0, 1,
                             "stop a watch of this session (session lines only)", {"prefix"})),
    };
}

std::vector<CommandSpec> counter_commands() {
    return {
        group_of("counter", "counters: get, set, add, cas"),
        command("counter get", "NAME", 1, 1, "print a counter's value"),
        command("counter set", "NAME VALUE", 2, 2, "set a counter (prints OK)"),
        command("counter add", "NAME DELTA", 2, 2, "add DELTA (may be negative), print the result",
                {}, "A negative DELTA is a number, not a flag: counter add hits -1."),
        command("counter cas", "NAME EXPECTED NEW", 3, 3,
                "set NEW if the value is EXPECTED (OK or FAILED)"),
    };
}

std::vector<CommandSpec> coordination_commands() {
    return {
        holding(command(
            "lock", "NAME [COMMAND...]", 1, kAnyCount,
            "hold a lock, or run a command while holding it", {"timeout", "release"},
            "Waits for the lock (FIFO). Without COMMAND: prints the fencing token and holds\n"
            "the lock until interrupted, then releases it and exits 0. With COMMAND: runs it\n"
            "while holding the lock, with COPYCAT_LOCK_NAME and COPYCAT_LOCK_TOKEN (the fencing\n"
            "token) in its environment, releases the lock when it ends and exits with its exit\n"
            "code. Put -- before a COMMAND that has flags: lock L -- ls -l. Exits 1 when the\n"
            "session (and with it the lock) is lost while holding; with COMMAND it warns and\n"
            "lets the command run. A session line `lock NAME` acquires for the session (waiting\n"
            "as long as it takes, or --timeout); `lock NAME --release` releases.")),
        holding(command(
            "elect", "NAME", 1, 1, "stand in an election and print its leaders", {"leave"},
            "Enters the election and prints a line whenever a leader is elected (\"elected\"\n"
            "when it is this session) until interrupted; then leaves and exits 0. A session\n"
            "line `elect NAME` enters for the session, `elect NAME --leave` leaves.")),
        command("elect leader", "NAME", 1, 1, "print an election's leader session and term"),
        group_of("group", "group membership: join, leave, members"),
        holding(command(
            "group join", "GROUP MEMBER", 2, 2, "be a member of a group, printing joins and leaves",
            {},
            "Joins and prints the members, then one line per member joining or leaving until\n"
            "interrupted; then leaves and exits 0. As a session line: joins for the session.")),
        session_only(
            command("group leave", "GROUP MEMBER", 2, 2, "leave a group (session lines only)")),
        command("group members", "GROUP", 1, 1, "list a group's members"),
    };
}

std::vector<CommandSpec> cluster_commands() {
    CommandSpec script = command(
        "session", "", 0, 0, "run commands read from stdin in one session (JSON lines out)", {},
        "Reads one command per line (the commands of --help, without global flags; a line may\n"
        "say --consistency and --map), runs them in order in ONE session and prints one JSON\n"
        "object per line: {\"ok\":true,\"value\":...,\"index\":N,...} or\n"
        "{\"ok\":false,\"error\":\"...\"}; \"error\":\"timeout\" means the outcome is unknown.\n"
        "A bad line gets {\"ok\":false,\"error\":\"usage: ...\"} and the session goes on. Blank\n"
        "lines and # comments are skipped. Words split like a shell's ('...', \"...\", \\).\n"
        "Events of the watches, elections and groups the session took are printed as they\n"
        "come: {\"event\":\"map.changed\",...}. Ends at the end of input or on SIGINT/SIGTERM,\n"
        "closing the session.");
    script.in_session = false;
    CommandSpec keygen =
        command("keygen", "NAME", 1, 1, "make a CURVE key pair: NAME.key (secret) and NAME.pub",
                {"out-dir"},
                "Made here; no cluster is asked. Prints the public key. NAME.key holds the pair\n"
                "(mode 0600: give it to the one process that owns it, --curve-key); NAME.pub the\n"
                "public key, one 'NAME KEY' line: concatenate them into the keys files of the\n"
                "processes that admit it (--curve-peer-keys, --curve-gateway-keys,\n"
                "--curve-client-keys) or give it to clients (--curve-gateway-key). Name nodes\n"
                "node-<id>. Existing files are never overwritten.");
    keygen.in_session = false;
    return {
        group_of("member", "cluster membership: list, add, remove, promote, demote"),
        command("member list", "", 0, 0, "list the members of the cluster"),
        command("member add", "ID ADDRESS", 2, 2, "add a member (ADDRESS: its peer endpoint)",
                {"type"},
                "--type active (default), passive or reserve. The change is a compare-and-set on\n"
                "the configuration this command read: if another change came first, it fails\n"
                "and says so (look again with member list, and retry)."),
        command("member remove", "ID", 1, 1, "remove a member"),
        command("member promote", "ID", 1, 1,
                "promote a member (--to active, the default, or passive)", {"to"}),
        command("member demote", "ID", 1, 1,
                "demote a member (--to passive, the default, or reserve)", {"to"}),
        command("move-leader", "ID", 1, 1, "transfer leadership to member ID", {},
                "Waits (at most the command timeout) until ID says it leads."),
        group_of("endpoint", "per-node state: status, health"),
        command("endpoint status", "", 0, 0, "print every node's state", {},
                "Asks the leader for the members, then each node (through the gateway) for its\n"
                "state: endpoint, node id, member type, leader?, term, commit, applied and log\n"
                "indexes. Exits 1 if a node did not answer (its row says why)."),
        command("endpoint health", "", 0, 0, "check that every node answers and knows a leader", {},
                "Exits 1 if any node is unhealthy."),
        script,
        command("session list", "", 0, 0, "list the sessions of the cluster"),
        command("compact", "", 0, 0, "compact every node's log now", {"major"},
                "Asks each member (through the gateway) to have its copycat-compactor run now:\n"
                "snapshot then minor compaction, or major with --major; prints per node what\n"
                "it rewrote and reclaimed. Each node's run must end within --command-timeout\n"
                "(give a longer one for big logs). Exits 1 if a node did not answer or its\n"
                "compactor failed (its row says why)."),
        keygen,
    };
}

std::string flag_usage(const FlagSpec& flag) {
    return "--" + flag.name + (flag.takes_value ? " " + flag.value_name : "");
}

}  // namespace

const std::vector<CommandSpec>& command_specs() {
    static const std::vector<CommandSpec> specs = [] {
        std::vector<CommandSpec> all;
        for (auto part :
             {data_commands(), counter_commands(), coordination_commands(), cluster_commands()}) {
            all.insert(all.end(), part.begin(), part.end());
        }
        return all;
    }();
    return specs;
}

const CommandSpec* find_command(const std::string& name) {
    for (const CommandSpec& spec : command_specs()) {
        if (spec.name == name) return &spec;
    }
    return nullptr;
}

const FlagSpec* find_flag(const std::string& name) {
    for (const FlagSpec& flag : command_flags()) {
        if (flag.name == name) return &flag;
    }
    return nullptr;
}

bool has_subcommands(const std::string& name) {
    for (const CommandSpec& spec : command_specs()) {
        if (spec.name.starts_with(name + " ")) return true;
    }
    return false;
}

std::string synopsis(const CommandSpec& spec) {
    std::string text = spec.name;
    if (!spec.arguments.empty()) text += " " + spec.arguments;
    for (const std::string& name : spec.flags) {
        if (name == "prefix") continue;  // in the arguments already
        text += " [" + flag_usage(*find_flag(name)) + "]";
    }
    return text;
}

void print_tool_help(std::ostream& out, const std::string& global_options_help) {
    out << "copycat-ctl - a command line client for copycat clusters (like etcdctl)\n\n"
        << "Usage: copycat-ctl [global options] COMMAND [arguments] [options]\n\nCommands:\n";
    for (const CommandSpec& spec : command_specs()) {
        if (!spec.runnable) continue;
        std::string line = "  " + spec.name + (spec.arguments.empty() ? "" : " " + spec.arguments);
        if (line.size() < 38) line.resize(38, ' ');
        out << line << " " << spec.summary << "\n";
    }
    out << "\n"
        << global_options_help << "\n"
        << "Every global flag --some-flag is also read from COPYCAT_CTL_SOME_FLAG (the flag\n"
        << "wins). Durations need a unit: 500ms, 5s, 1m.\n\n"
        << "Output (-w): simple (etcdctl-like text), json (one JSON object per result, or per\n"
        << "row of a list), table. Errors go to stderr whatever the format.\n"
        << "Values are bytes: printed as they are when valid UTF-8, else escaped (\\\\ for a\n"
        << "backslash, \\xNN for other bytes that are not printable ASCII); -w json adds\n"
        << "\"value_escaped\":true to an escaped value. put/cas --escaped read that form.\n\n"
        << "Exit codes: 0 ok, 1 failure (cluster unreachable, an operation refused or timed\n"
        << "out), 2 bad usage. 'copycat-ctl COMMAND --help' describes a command.\n";
}

void print_command_help(std::ostream& out, const CommandSpec& spec,
                        const std::string& global_options_help) {
    out << "copycat-ctl " << spec.name << " - " << spec.summary << "\n\n";
    if (!spec.runnable) {
        out << "Commands:\n";
        for (const CommandSpec& sub : command_specs()) {
            if (!sub.name.starts_with(spec.name + " ")) continue;
            out << "  copycat-ctl " << synopsis(sub) << "\n      " << sub.summary << "\n";
        }
        out << "\n" << global_options_help;
        return;
    }
    out << "Usage: copycat-ctl [global options] " << synopsis(spec) << "\n\n";
    if (!spec.details.empty()) out << spec.details << "\n\n";
    if (!spec.flags.empty()) {
        out << "Options:\n";
        for (const std::string& name : spec.flags) {
            const FlagSpec& flag = *find_flag(name);
            std::string line = "  " + flag_usage(flag);
            if (line.size() < 20) line.resize(20, ' ');
            out << line << " " << flag.help << "\n";
        }
        out << "\n";
    }
    out << global_options_help;
}

}  // namespace copycat::ctl
