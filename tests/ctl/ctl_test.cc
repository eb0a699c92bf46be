// copycat-ctl without a cluster: the command line (every command, bad usage exits 2 with the
// usage), environment fallbacks, the lines of `copycat-ctl session`, the output formats and how
// byte values are shown.
#include <gtest/gtest.h>

#include <sstream>

#include "client/ctl/command_line.h"
#include "client/ctl/ctl.h"
#include "client/ctl/outcomes.h"
#include "client/ctl/output.h"
#include "client/ctl/value_text.h"

namespace copycat::ctl {
namespace {

using namespace std::chrono_literals;
using session::Consistency;

struct Parsed {
    ParseOutcome outcome;
    std::string out;
    std::string err;
};

Parsed parse(const std::vector<std::string>& arguments, const Environment& environment = {}) {
    std::ostringstream out, err;
    Parsed parsed{parse_command_line(arguments, environment, out, err), "", ""};
    parsed.out = out.str();
    parsed.err = err.str();
    return parsed;
}

const Command& command_of(const Parsed& parsed) { return parsed.outcome.invocation.command; }

// Parses a line that must be valid.
Command run_parse(const std::vector<std::string>& arguments) {
    Parsed parsed = parse(arguments);
    EXPECT_TRUE(parsed.outcome.run) << parsed.err;
    EXPECT_EQ(parsed.err, "");
    return command_of(parsed);
}

void expect_usage_error(const std::vector<std::string>& arguments, const std::string& message) {
    Parsed parsed = parse(arguments);
    std::string line;
    for (const auto& word : arguments) line += word + " ";
    EXPECT_FALSE(parsed.outcome.run) << line;
    EXPECT_EQ(parsed.outcome.exit_code, 2) << line;
    EXPECT_NE(parsed.err.find(message), std::string::npos) << line << "\n" << parsed.err;
    EXPECT_EQ(parsed.out, "") << line;
}

// --- every command ------------------------------------------------------------------------------

TEST(CtlCommandLine, MapCommands) {
    Command put = run_parse({"put", "k", "v", "--ttl", "10s"});
    EXPECT_EQ(put.name, "put");
    EXPECT_EQ(put.args, (std::vector<std::string>{"k", "v"}));
    EXPECT_EQ(put.flags.ttl, 10s);
    EXPECT_EQ(put.map, "default");

    Command get = run_parse({"get", "k", "--consistency", "sequential", "--map", "m"});
    EXPECT_EQ(get.name, "get");
    EXPECT_EQ(get.consistency, Consistency::sequential);
    EXPECT_EQ(get.map, "m");
    EXPECT_EQ(run_parse({"get", "k", "--consistency=lease"}).consistency,
              Consistency::linearizable_lease);
    EXPECT_EQ(run_parse({"get", "k"}).consistency, Consistency::linearizable);

    EXPECT_EQ(run_parse({"del", "k"}).name, "del");
    Command cas = run_parse({"cas", "k", "old", "new"});
    EXPECT_EQ(cas.args.size(), 3u);
    EXPECT_FALSE(cas.flags.absent);
    Command absent = run_parse({"cas", "--absent", "k", "new"});
    EXPECT_TRUE(absent.flags.absent);
    EXPECT_EQ(absent.args, (std::vector<std::string>{"k", "new"}));

    Command list = run_parse({"list", "app/", "--limit", "5"});
    EXPECT_EQ(list.args, std::vector<std::string>{"app/"});
    EXPECT_EQ(list.flags.limit, 5u);
    EXPECT_TRUE(run_parse({"list"}).args.empty());
    EXPECT_EQ(run_parse({"size"}).name, "size");

    EXPECT_EQ(run_parse({"watch", "k"}).args, std::vector<std::string>{"k"});
    Command prefix = run_parse({"watch", "--prefix", "app/"});
    EXPECT_EQ(prefix.flags.prefix, "app/");
    EXPECT_TRUE(prefix.args.empty());
    EXPECT_EQ(run_parse({"watch", "--prefix="}).flags.prefix, "");
}

TEST(CtlCommandLine, CounterCommandsTakeNegativeNumbers) {
    EXPECT_EQ(run_parse({"counter", "get", "c"}).name, "counter get");
    Command add = run_parse({"counter", "add", "c", "-5"});
    EXPECT_EQ(add.name, "counter add");
    EXPECT_EQ(add.args, (std::vector<std::string>{"c", "-5"}));
    EXPECT_EQ(run_parse({"counter", "set", "c", "7"}).args[1], "7");
    EXPECT_EQ(run_parse({"counter", "cas", "c", "7", "-8"}).args.size(), 3u);
}

TEST(CtlCommandLine, CoordinationCommands) {
    Command hold = run_parse({"lock", "L"});
    EXPECT_EQ(hold.name, "lock");
    EXPECT_TRUE(holds_until_interrupted(hold));
    Command with_command = run_parse({"lock", "L", "--timeout", "2s", "--", "ls", "-l", "/"});
    EXPECT_EQ(with_command.args, (std::vector<std::string>{"L", "ls", "-l", "/"}));
    EXPECT_EQ(with_command.flags.timeout, 2s);
    EXPECT_EQ(run_parse({"lock", "L", "true"}).args.size(), 2u);

    Command elect = run_parse({"elect", "E"});
    EXPECT_EQ(elect.name, "elect");
    EXPECT_TRUE(holds_until_interrupted(elect));
    Command leader = run_parse({"elect", "leader", "E"});
    EXPECT_EQ(leader.name, "elect leader");
    EXPECT_EQ(leader.args, std::vector<std::string>{"E"});
    EXPECT_FALSE(holds_until_interrupted(leader));
    // An election named "leader" can still be entered.
    Command named_leader = run_parse({"elect", "leader"});
    EXPECT_EQ(named_leader.name, "elect");
    EXPECT_EQ(named_leader.args, std::vector<std::string>{"leader"});

    Command join = run_parse({"group", "join", "G", "m1"});
    EXPECT_EQ(join.name, "group join");
    EXPECT_TRUE(holds_until_interrupted(join));
    EXPECT_EQ(run_parse({"group", "members", "G"}).name, "group members");
}

TEST(CtlCommandLine, ClusterCommands) {
    EXPECT_EQ(run_parse({"member", "list"}).name, "member list");
    Command add = run_parse({"member", "add", "4", "tcp://127.0.0.1:7104", "--type", "passive"});
    EXPECT_EQ(add.args, (std::vector<std::string>{"4", "tcp://127.0.0.1:7104"}));
    EXPECT_EQ(add.flags.member_type, 2);
    EXPECT_EQ(run_parse({"member", "add", "4", "a"}).flags.member_type, 3);
    EXPECT_EQ(run_parse({"member", "remove", "4"}).name, "member remove");
    EXPECT_EQ(run_parse({"member", "promote", "4"}).flags.member_type, 3);
    EXPECT_EQ(run_parse({"member", "promote", "4", "--to", "passive"}).flags.member_type, 2);
    EXPECT_EQ(run_parse({"member", "demote", "4"}).flags.member_type, 2);
    EXPECT_EQ(run_parse({"member", "demote", "4", "--to", "reserve"}).flags.member_type, 1);
    EXPECT_EQ(run_parse({"move-leader", "2"}).args, std::vector<std::string>{"2"});
    EXPECT_EQ(run_parse({"endpoint", "status"}).name, "endpoint status");
    EXPECT_EQ(run_parse({"endpoint", "health"}).name, "endpoint health");
    EXPECT_EQ(run_parse({"session", "list"}).name, "session list");
    EXPECT_EQ(run_parse({"session"}).name, "session");
}

TEST(CtlCommandLine, EveryCommandHasHelp) {
    for (const std::string& name : command_names()) {
        std::vector<std::string> words;
        std::istringstream split(name);
        for (std::string word; split >> word;) words.push_back(word);
        words.push_back("--help");
        Parsed parsed = parse(words);
        EXPECT_FALSE(parsed.outcome.run) << name;
        EXPECT_EQ(parsed.outcome.exit_code, 0) << name;
        EXPECT_NE(parsed.out.find("copycat-ctl " + name), std::string::npos) << parsed.out;
    }
    Parsed tool = parse({"--help"});
    EXPECT_EQ(tool.outcome.exit_code, 0);
    EXPECT_NE(tool.out.find("Usage: copycat-ctl"), std::string::npos);
    EXPECT_NE(tool.out.find("COPYCAT_CTL_"), std::string::npos);
    EXPECT_NE(parse({"help", "put"}).out.find("put KEY VALUE"), std::string::npos);
    EXPECT_NE(parse({"member", "-h"}).out.find("member add ID ADDRESS"), std::string::npos);
}

// --- global flags and the environment --------------------------------------------------------

TEST(CtlCommandLine, GlobalFlagsGoAnywhere) {
    Parsed parsed = parse({"-w", "json", "get", "k", "--endpoints", "tcp://a:1, tcp://b:2",
                           "--dial-timeout=2s", "--command-timeout", "750ms"});
    ASSERT_TRUE(parsed.outcome.run) << parsed.err;
    const GlobalOptions& globals = parsed.outcome.invocation.globals;
    EXPECT_EQ(globals.format, Format::json);
    EXPECT_EQ(globals.endpoints, (std::vector<std::string>{"tcp://a:1", "tcp://b:2"}));
    EXPECT_EQ(globals.dial_timeout, 2s);
    EXPECT_EQ(globals.command_timeout, 750ms);
    EXPECT_EQ(parse({"get", "k", "-wtable"}).outcome.invocation.globals.format, Format::table);
    EXPECT_EQ(parse({"get", "k", "--write-out=simple"}).outcome.invocation.globals.format,
              Format::simple);
}

TEST(CtlCommandLine, Defaults) {
    Parsed parsed = parse({"get", "k"});
    const GlobalOptions& globals = parsed.outcome.invocation.globals;
    EXPECT_EQ(globals.endpoints, std::vector<std::string>{"tcp://127.0.0.1:7000"});
    EXPECT_EQ(globals.dial_timeout, 5s);
    EXPECT_EQ(globals.command_timeout, 5s);
    EXPECT_EQ(globals.format, Format::simple);
    EXPECT_EQ(globals.map, "default");
}

TEST(CtlCommandLine, EnvironmentFallbacksAndTheFlagWins) {
    Environment environment{{"COPYCAT_CTL_ENDPOINTS", "tcp://env:1"},
                            {"COPYCAT_CTL_WRITE_OUT", "json"},
                            {"COPYCAT_CTL_DIAL_TIMEOUT", "3s"},
                            {"COPYCAT_CTL_MAP", "envmap"},
                            {"COPYCAT_ENDPOINTS", "tcp://not-ours:1"}};
    Parsed parsed = parse({"get", "k", "-w", "table"}, environment);
    ASSERT_TRUE(parsed.outcome.run) << parsed.err;
    const GlobalOptions& globals = parsed.outcome.invocation.globals;
    EXPECT_EQ(globals.endpoints, std::vector<std::string>{"tcp://env:1"});
    EXPECT_EQ(globals.format, Format::table);
    EXPECT_EQ(globals.dial_timeout, 3s);
    EXPECT_EQ(command_of(parsed).map, "envmap");
    EXPECT_EQ(environment_variable("dial-timeout"), "COPYCAT_CTL_DIAL_TIMEOUT");

    Parsed bad = parse({"get", "k"}, {{"COPYCAT_CTL_DIAL_TIMEOUT", "5"}});
    EXPECT_EQ(bad.outcome.exit_code, 2);
    EXPECT_NE(bad.err.find("COPYCAT_CTL_DIAL_TIMEOUT"), std::string::npos) << bad.err;
}

// --- bad usage: exit 2 with the usage ---------------------------------------------------------

TEST(CtlCommandLine, BadUsageExitsTwoWithUsage) {
    expect_usage_error({}, "no command given");
    expect_usage_error({"frobnicate"}, "unknown command 'frobnicate'");
    expect_usage_error({"put", "k"}, "Usage: copycat-ctl put KEY VALUE");
    expect_usage_error({"put", "k", "v", "extra"}, "too many arguments");
    expect_usage_error({"put", "k", "v", "--bogus"}, "--bogus");
    expect_usage_error({"put", "k", "v", "--ttl", "10"}, "no unit");
    expect_usage_error({"put", "k", "v", "--limit", "3"}, "--limit");  // another command's flag
    expect_usage_error({"get", "k", "-w", "xml"}, "simple, json or table");
    expect_usage_error({"get", "k", "--consistency", "strong"},
                       "linearizable, lease or sequential");
    expect_usage_error({"get", "k", "--dial-timeout", "0s"}, "at least 1ms");
    expect_usage_error({"get", "k", "--endpoints", ","}, "names no endpoint");
    expect_usage_error({"cas", "k", "v"}, "needs KEY EXPECTED NEW");
    expect_usage_error({"cas", "--absent", "k", "a", "b"}, "with --absent: needs KEY NEW");
    expect_usage_error({"put", "--escaped", "k", "\\q"}, "bad escape");
    expect_usage_error({"list", "--limit", "many"}, "--limit");
    expect_usage_error({"watch"}, "needs KEY or --prefix P");
    expect_usage_error({"watch", "k", "--prefix", "p"}, "not both");
    expect_usage_error({"unwatch", "k"}, "session lines only");
    expect_usage_error({"counter"}, "needs a subcommand: get, set, add, cas");
    expect_usage_error({"counter", "inc", "c"}, "unknown command 'counter inc'");
    expect_usage_error({"counter", "add", "c", "x"}, "whole number");
    expect_usage_error({"counter", "add", "c", "99999999999999999999"}, "whole number");
    expect_usage_error({"lock"}, "needs NAME");
    expect_usage_error({"lock", "L", "--release"}, "session lines");
    expect_usage_error({"elect", "E", "--leave"}, "session lines");
    expect_usage_error({"elect", "a", "b"}, "too many arguments");
    expect_usage_error({"group", "join", "G"}, "needs GROUP MEMBER");
    expect_usage_error({"group", "leave", "G", "m"}, "session lines only");
    expect_usage_error({"member", "add", "0", "addr"}, "node id");
    expect_usage_error({"member", "add", "4", "addr", "--type", "voter"}, "active, passive");
    expect_usage_error({"member", "promote", "4", "--to", "reserve"}, "not reserve");
    expect_usage_error({"member", "demote", "4", "--to", "active"}, "not active");
    expect_usage_error({"member", "remove"}, "needs ID");
    expect_usage_error({"move-leader", "x"}, "node id");
    expect_usage_error({"endpoint", "status", "extra"}, "takes no arguments");
    expect_usage_error({"session", "extra"}, "takes no arguments");
    expect_usage_error({"help", "nothing"}, "unknown command 'nothing'");
}

TEST(CtlCommandLine, RunCtlExitsTwoForUnknownCommandsWithoutConnecting) {
    std::ostringstream out, err;
    EXPECT_EQ(run_ctl({"bogus"}, {}, -1, out, err), 2);
    EXPECT_NE(err.str().find("unknown command"), std::string::npos);
    EXPECT_EQ(run_ctl({"--help"}, {}, -1, out, err), 0);
}

// --- session lines ----------------------------------------------------------------------------

TEST(CtlSessionLine, SplitsLikeAShell) {
    auto split = [](std::string_view line) {
        Result<std::vector<std::string>> words = split_session_line(line);
        EXPECT_TRUE(words.is_ok()) << line;
        return words.is_ok() ? *words : std::vector<std::string>{};
    };
    EXPECT_EQ(split("put k v"), (std::vector<std::string>{"put", "k", "v"}));
    EXPECT_EQ(split("  put\t'a key'  \"a \\\"value\\\"\"  "),
              (std::vector<std::string>{"put", "a key", "a \"value\""}));
    EXPECT_EQ(split("put k ''"), (std::vector<std::string>{"put", "k", ""}));
    EXPECT_EQ(split("put k a\\ b"), (std::vector<std::string>{"put", "k", "a b"}));
    EXPECT_EQ(split("put k v # a comment"), (std::vector<std::string>{"put", "k", "v"}));
    EXPECT_EQ(split("put k v#not-a-comment"),
              (std::vector<std::string>{"put", "k", "v#not-a-comment"}));
    EXPECT_TRUE(split("").empty());
    EXPECT_TRUE(split("   # only a comment").empty());
    EXPECT_FALSE(split_session_line("put k 'open").is_ok());
    EXPECT_FALSE(split_session_line("put k \"open").is_ok());
}

TEST(CtlSessionLine, ParsesCommandsWithLineFlags) {
    GlobalOptions globals;
    globals.map = "m0";
    globals.consistency = Consistency::linearizable_lease;
    Result<Command> get = parse_session_line({"get", "k", "--consistency", "sequential"}, globals);
    ASSERT_TRUE(get.is_ok()) << get.status().message();
    EXPECT_EQ(get->consistency, Consistency::sequential);
    EXPECT_EQ(get->map, "m0");
    Result<Command> plain = parse_session_line({"get", "k", "--map", "m1"}, globals);
    ASSERT_TRUE(plain.is_ok());
    EXPECT_EQ(plain->consistency, Consistency::linearizable_lease);
    EXPECT_EQ(plain->map, "m1");

    // Session-only forms.
    EXPECT_TRUE(parse_session_line({"lock", "L", "--release"}, globals).is_ok());
    EXPECT_TRUE(parse_session_line({"elect", "E", "--leave"}, globals).is_ok());
    EXPECT_TRUE(parse_session_line({"unwatch", "--prefix", "p"}, globals).is_ok());
    EXPECT_TRUE(parse_session_line({"group", "leave", "G", "m"}, globals).is_ok());
    EXPECT_TRUE(parse_session_line({"counter", "add", "c", "-1"}, globals).is_ok());
    EXPECT_TRUE(parse_session_line({"member", "list"}, globals).is_ok());
}

TEST(CtlSessionLine, BadLinesAreUsageErrors) {
    GlobalOptions globals;
    auto error = [&](const std::vector<std::string>& words) {
        Result<Command> command = parse_session_line(words, globals);
        EXPECT_FALSE(command.is_ok());
        return command.is_ok() ? std::string() : command.status().message();
    };
    EXPECT_EQ(error({"put", "k"}).rfind("usage: put KEY VALUE", 0), 0u) << error({"put", "k"});
    EXPECT_EQ(error({"nope"}).rfind("usage: ", 0), 0u);
    EXPECT_NE(error({"get", "k", "--endpoints", "tcp://x:1"}).find("--endpoints"),
              std::string::npos);
    EXPECT_NE(error({"session"}).find("not in a session"), std::string::npos);
    EXPECT_NE(error({"lock", "L", "--", "true"}).find("cannot run a COMMAND"), std::string::npos);
    EXPECT_NE(error({"get", "k", "--consistency", "bad"}).find("linearizable"), std::string::npos);
    EXPECT_NE(error({"get", "k", "--help"}).find("usage: get KEY"), std::string::npos);
}

// --- values as text ---------------------------------------------------------------------------

TEST(CtlValueText, Utf8IsTextOtherBytesAreEscaped) {
    EXPECT_TRUE(is_valid_utf8("plain"));
    EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
    EXPECT_FALSE(is_valid_utf8("\xFF"));
    EXPECT_FALSE(is_valid_utf8("\xC3"));          // truncated
    EXPECT_FALSE(is_valid_utf8("\xC0\x80"));      // overlong
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // a surrogate
    EXPECT_EQ(display_text("caf\xC3\xA9"), "caf\xC3\xA9");
    EXPECT_EQ(display_text(std::string("a\0b\xFF\\", 5)), "a\\x00b\\xff\\\\");
    EXPECT_EQ(cell_text("two\nlines"), "two\\x0alines");
    EXPECT_EQ(cell_text("one line"), "one line");
}

TEST(CtlValueText, EscapedFormRoundTrips) {
    std::string all;
    for (int byte = 0; byte < 256; ++byte) all += static_cast<char>(byte);
    const std::string escaped = escape_bytes(all);
    for (char c : escaped) EXPECT_TRUE(c >= 0x20 && c < 0x7F);
    Result<Bytes> back = unescape_bytes(escaped);
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(as_text(*back), all);
    EXPECT_EQ(as_text(*unescape_bytes("\\x41\\\\B")), "A\\B");
    EXPECT_FALSE(unescape_bytes("\\X42").is_ok());  // only \x and \\ escape
    EXPECT_FALSE(unescape_bytes("\\x4").is_ok());
    EXPECT_FALSE(unescape_bytes("\\xZZ").is_ok());
    EXPECT_FALSE(unescape_bytes("trailing\\").is_ok());
}

// --- output formats ---------------------------------------------------------------------------

Bytes bytes(std::string_view text) { return to_bytes(text); }

std::string printed(const Outcome& outcome, Format format) {
    std::ostringstream out, err;
    print_outcome(outcome, format, out, err);
    return out.str() + (err.str().empty() ? "" : "[stderr]" + err.str());
}

TEST(CtlOutput, JsonEscapesBinaryValuesAndSaysSo) {
    Object object{field("ok", true), bytes_field("value", std::string("\x01\xFFz\"", 4)),
                  bytes_field("key", "caf\xC3\xA9"), field("n", int64_t{-3}),
                  field("none", Value::null())};
    EXPECT_EQ(render_json(object),
              "{\"ok\":true,\"value\":\"\\\\x01\\\\xffz\\\"\",\"value_escaped\":true,"
              "\"key\":\"caf\xC3\xA9\",\"n\":-3,\"none\":null}");
    // Valid UTF-8 with control characters is exact JSON, not escaped bytes.
    EXPECT_EQ(render_json({bytes_field("value", "a\nb")}), "{\"value\":\"a\\nb\"}");
}

TEST(CtlOutput, SimpleJsonAndTableOfAGet) {
    resources::MapGet::Output found{bytes("v1"), 7};
    Outcome outcome = get_outcome("k", found, 9);
    EXPECT_EQ(printed(outcome, Format::simple), "v1\n");
    EXPECT_EQ(printed(outcome, Format::json),
              "{\"ok\":true,\"key\":\"k\",\"value\":\"v1\",\"version\":7,\"index\":9}\n");
    EXPECT_EQ(printed(outcome, Format::table),
              "+-----+-------+---------+-------+\n"
              "| KEY | VALUE | VERSION | INDEX |\n"
              "+-----+-------+---------+-------+\n"
              "| k   | v1    | 7       | 9     |\n"
              "+-----+-------+---------+-------+\n");
    Outcome absent = get_outcome("k", resources::MapGet::Output{}, 9);
    EXPECT_EQ(printed(absent, Format::simple), "");
    EXPECT_NE(printed(absent, Format::json).find("\"value\":null"), std::string::npos);
    Outcome binary = get_outcome("k", {bytes(std::string("\x00\x80", 2)), 7}, 9);
    EXPECT_EQ(printed(binary, Format::simple), "\\x00\\x80\n");
}

TEST(CtlOutput, SimpleOutputOfEachCommand) {
    EXPECT_EQ(printed(put_outcome({std::nullopt, 5}, 5), Format::simple), "OK\n");
    EXPECT_EQ(printed(put_outcome({bytes("old"), 5}, 5), Format::json),
              "{\"ok\":true,\"value\":\"old\",\"index\":5}\n");
    EXPECT_EQ(printed(del_outcome({bytes("old")}, 6), Format::simple), "1\n");
    EXPECT_EQ(printed(del_outcome({std::nullopt}, 6), Format::simple), "0\n");
    EXPECT_EQ(printed(cas_outcome({true, bytes("new"), 8}, 8), Format::simple), "OK\n");
    EXPECT_EQ(printed(cas_outcome({false, bytes("cur"), 4}, 8), Format::simple), "FAILED\ncur\n");
    EXPECT_EQ(printed(size_outcome({3}, 8), Format::simple), "3\n");
    EXPECT_EQ(printed(counter_add_outcome({-2}, 8), Format::simple), "-2\n");
    EXPECT_EQ(printed(counter_get_outcome({42}, 8), Format::simple), "42\n");
    EXPECT_EQ(printed(counter_set_outcome(5, {4}, 8), Format::json),
              "{\"ok\":true,\"value\":5,\"previous\":4,\"index\":8}\n");
    EXPECT_EQ(printed(counter_cas_outcome({false, 9}, 8), Format::simple), "FAILED\n9\n");
    EXPECT_EQ(printed(lock_outcome("L", true, 17), Format::simple), "17\n");
    EXPECT_EQ(printed(elect_leader_outcome({std::nullopt, 0, {}}, 3), Format::simple), "");
    EXPECT_EQ(printed(elect_leader_outcome({12, 14, {12, 20}}, 3), Format::simple),
              "session 12 term 14\n");
}

TEST(CtlOutput, ListPrintsKeysAndValuesAndNotesTruncation) {
    resources::MapList::Output output;
    output.entries = {{"a", bytes("1"), 3}, {"b", bytes("2"), 4}};
    output.truncated = true;
    Outcome outcome = list_outcome("", output, 5);
    EXPECT_EQ(printed(outcome, Format::simple),
              "a\n1\nb\n2\n[stderr](more keys start with '': raise --limit to see them)\n");
    const std::string json = printed(outcome, Format::json);
    EXPECT_EQ(json.substr(0, json.find("[stderr]")),
              "{\"key\":\"a\",\"value\":\"1\",\"version\":3}\n"
              "{\"key\":\"b\",\"value\":\"2\",\"version\":4}\n");
    EXPECT_EQ(session_result_json(outcome),
              "{\"ok\":true,\"value\":[{\"key\":\"a\",\"value\":\"1\",\"version\":3},"
              "{\"key\":\"b\",\"value\":\"2\",\"version\":4}],\"truncated\":true,\"index\":5}");
}

TEST(CtlOutput, WatchedChangesAreOneLineEach) {
    resources::MapChanged written{"m", "k", resources::MapChange::written, bytes("v"), 11};
    resources::MapChanged removed{"m", "k", resources::MapChange::removed, std::nullopt, 12};
    EXPECT_EQ(map_changed_outcome(written).simple, std::vector<std::string>{"written k v"});
    EXPECT_EQ(map_changed_outcome(removed).simple, std::vector<std::string>{"removed k"});
    EXPECT_EQ(render_json(map_changed_outcome(written).fields),
              "{\"event\":\"map.changed\",\"map\":\"m\",\"key\":\"k\",\"change\":\"written\","
              "\"value\":\"v\",\"index\":11}");
}

session::StatusResponse node_status(session::NodeId id, bool leader) {
    session::StatusResponse status;
    status.node_id = id;
    status.role = leader ? "leader" : "follower";
    status.member_type = 3;
    status.term = 4;
    status.leader = 1;
    status.commit_index = 40;
    status.applied_index = 39;
    status.first_index = 1;
    status.last_index = 40;
    status.client_address = "ipc:///tmp/node-" + std::to_string(id);
    status.members = {{1, 3, true, "tcp://p1"}, {2, 2, false, "tcp://p2"}};
    return status;
}

TEST(CtlOutput, EndpointStatusHasTheConventionColumns) {
    std::vector<NodeReport> reports{{1, node_status(1, true), "", 1000us},
                                    {2, std::nullopt, "no answer", 5000us}};
    Outcome outcome = endpoint_status_outcome(reports);
    EXPECT_EQ(outcome.exit_code, 1);  // a node did not answer
    const std::string json = printed(outcome, Format::json);
    EXPECT_EQ(json.substr(0, json.find('\n')),
              "{\"endpoint\":\"ipc:///tmp/node-1\",\"node_id\":1,\"member_type\":\"active\","
              "\"is_leader\":true,\"term\":4,\"commit_index\":40,\"applied_index\":39,"
              "\"first_index\":1,\"last_index\":40,\"role\":\"leader\",\"leader\":1,"
              "\"errors\":\"\"}");
    const std::string table = printed(outcome, Format::table);
    for (const char* column :
         {"ENDPOINT", "NODE ID", "MEMBER TYPE", "IS LEADER", "TERM", "COMMIT INDEX",
          "APPLIED INDEX", "FIRST INDEX", "LAST INDEX", "ERRORS", "no answer"}) {
        EXPECT_NE(table.find(column), std::string::npos) << column << "\n" << table;
    }
    // Every line of the table is as wide as the others.
    std::istringstream lines(table);
    size_t width = 0;
    for (std::string line; std::getline(lines, line);) {
        if (width == 0) width = line.size();
        EXPECT_EQ(line.size(), width) << line;
    }
}

TEST(CtlOutput, EndpointHealthFailsWhenANodeKnowsNoLeader) {
    session::StatusResponse lost = node_status(2, false);
    lost.leader = 0;
    Outcome outcome =
        endpoint_health_outcome({{1, node_status(1, true), "", 1500us}, {2, lost, "", 2000us}});
    EXPECT_EQ(outcome.exit_code, 1);
    EXPECT_EQ(printed(outcome, Format::simple),
              "ipc:///tmp/node-1 is healthy: took 1.500ms\n"
              "ipc:///tmp/node-2 is unhealthy: no leader known\n");
    EXPECT_EQ(endpoint_health_outcome({{1, node_status(1, true), "", 1500us}}).exit_code, 0);
}

TEST(CtlOutput, MemberListAndSessions) {
    Outcome members = member_list_outcome(node_status(1, true));
    EXPECT_EQ(printed(members, Format::simple),
              "1, active, true, tcp://p1, true\n2, passive, false, tcp://p2, false\n");
    session::SessionsResponse sessions;
    sessions.sessions = {{5, "copycat-ctl-1-ab", 0, 2000, 3, 7, 0}};
    EXPECT_EQ(printed(session_list_outcome(sessions), Format::json),
              "{\"id\":5,\"client_id\":\"copycat-ctl-1-ab\",\"state\":\"open\",\"timeout\":\"2s\","
              "\"command_sequence\":3,\"event_index\":7,\"events_pending\":0}\n");
}

TEST(CtlOutput, AnEmptyTableStillHasItsHeader) {
    resources::MapList::Output none;
    EXPECT_EQ(printed(list_outcome("x", none, 3), Format::table),
              "+-----+-------+---------+\n"
              "| KEY | VALUE | VERSION |\n"
              "+-----+-------+---------+\n"
              "+-----+-------+---------+\n");
    EXPECT_EQ(printed(list_outcome("x", none, 3), Format::simple), "");
    EXPECT_EQ(printed(list_outcome("x", none, 3), Format::json), "");
}

TEST(CtlOutput, SessionErrorLines) {
    EXPECT_EQ(session_error_json("timeout"), "{\"ok\":false,\"error\":\"timeout\"}");
    EXPECT_EQ(session_error_json("usage: put KEY \"VALUE\""),
              "{\"ok\":false,\"error\":\"usage: put KEY \\\"VALUE\\\"\"}");
}

}  // namespace
}  // namespace copycat::ctl
