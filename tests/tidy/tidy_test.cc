#include "tests/tidy/tidy_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace copycat::tidy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr std::string_view core_file = "consensus/raft/raft.cc";
constexpr std::string_view shell_file = "consensus/server/server.cc";

// "line: message" for each problem, to compare whole lists at once.
std::vector<std::string> problems(std::string_view path, const std::string& text) {
    std::vector<std::string> out;
    for (const Problem& problem : check_source(path, text)) {
        out.push_back(std::to_string(problem.line) + ": " + problem.message);
    }
    return out;
}

// `signature {`, then `body_lines` statements, then `}`; `above` goes first.
std::string function(int body_lines, const std::string& signature = "int f(int x)",
                     const std::string& above = "") {
    std::string text = above + signature + " {\n";
    for (int i = 0; i < body_lines; ++i) text += "    x += 1;\n";
    return text + "}\n";
}

TEST(TidyLines, LineOf100ColumnsPassesAnd101IsFlagged) {
    EXPECT_THAT(problems(shell_file, "//" + std::string(98, 'x') + "\n"), IsEmpty());
    EXPECT_THAT(problems(shell_file, "//" + std::string(99, 'x') + "\n"),
                ElementsAre("1: line is 101 columns (limit 100)"));
}

TEST(TidyLines, ColumnsCountCodePointsNotBytes) {
    std::string line = "// ";
    for (int i = 0; i < 97; ++i) line += "\xc3\xa9";  // é: two bytes, one column
    EXPECT_THAT(problems(shell_file, line + "\n"), IsEmpty());
    EXPECT_THAT(problems(shell_file, line + "\xc3\xa9\n"), ElementsAre(HasSubstr("101 columns")));
}

TEST(TidyLines, TabsAndTrailingWhitespaceAreFlagged) {
    EXPECT_THAT(problems(shell_file, "int x;\n\tint y;\nint z; \nint w;\r\n"),
                ElementsAre("2: tab character: indent with spaces", "3: trailing whitespace",
                            "4: trailing whitespace"));
}

TEST(TidyFunctions, BodyOf80LinesPassesAnd81IsFlagged) {
    EXPECT_THAT(problems(shell_file, function(80)), IsEmpty());
    EXPECT_THAT(problems(shell_file, "\n" + function(81)),
                ElementsAre(HasSubstr("2: function body is 81 lines (limit 80")));
}

TEST(TidyFunctions, SignaturesOfEveryShapeAreFound) {
    const std::vector<std::string> signatures = {
        "int Raft::term() const",
        "void Node::step(const Message& message,\n               Outputs& outputs)",
        "void Follower::tick() override",
        "Result<int> parse() noexcept(false)",
        "auto index() const -> std::uint64_t",
        "Log::Log(Storage& storage)\n    : storage_(storage), entries_{}",
        "TEST(Raft, ElectsALeader)",
        "const auto handler = [](int x)",
        "template <typename T>\nT sum(std::vector<T> x)",
    };
    for (const std::string& signature : signatures) {
        EXPECT_THAT(problems(shell_file, function(81, signature)), SizeIs(1)) << signature;
        EXPECT_THAT(problems(shell_file, function(80, signature)), IsEmpty()) << signature;
    }
}

TEST(TidyFunctions, MembersInsideClassesAndNamespacesAreFound) {
    const std::string text = "namespace copycat {\nclass Raft {\npublic:\n" + function(81) +
                             "private:\n    int x_{0};\n};\n}  // namespace copycat\n";
    EXPECT_THAT(problems(shell_file, text), ElementsAre(HasSubstr("4: function body is 81")));
}

TEST(TidyFunctions, LongClassesAndNamespacesAreNotFunctions) {
    std::string members;
    for (int i = 0; i < 100; ++i) members += "    int field_" + std::to_string(i) + " = 0;\n";
    const std::string text = "namespace copycat {\nstruct Big {\n" + members + "};\n}\n";
    EXPECT_THAT(problems(shell_file, text), IsEmpty());
}

TEST(TidyFunctions, LambdasCountTowardTheEnclosingFunction) {
    std::string text = "void run() {\n    auto step = [&](int x) {\n";
    for (int i = 0; i < 40; ++i) text += "        x += 1;\n";
    text += "    };\n";
    for (int i = 0; i < 39; ++i) text += "    step(1);\n";
    EXPECT_THAT(problems(shell_file, text + "}\n"), ElementsAre(HasSubstr("body is 81 lines")));
}

TEST(TidyFunctions, BracesInCommentsStringsAndCharactersAreIgnored) {
    std::string text = "int f(int x) {\n    const char* s = \"}}}\";  // }\n";
    text += "    char c = '}';\n    /* } */\n    x = 1'000;\n}\n";
    text += function(81, "int g(int x)");
    EXPECT_THAT(problems(shell_file, text), ElementsAre(HasSubstr("7: function body is 81")));
}

TEST(TidyFunctions, EscapeHatchRaisesTheLimitTo160) {
    const std::string hatch = "// tidy: long-function (dispatches every message type)\n";
    EXPECT_THAT(problems(shell_file, function(160, "void dispatch(int x)", hatch)), IsEmpty());
    EXPECT_THAT(problems(shell_file, function(161, "void dispatch(int x)", hatch)),
                ElementsAre(HasSubstr("2: function body is 161 lines (limit 160)")));
}

TEST(TidyFunctions, EscapeHatchNeedsAReasonAndOnlyCoversTheNextFunction) {
    EXPECT_THAT(problems(shell_file, function(81, "void f(int x)", "// tidy: long-function\n")),
                ElementsAre(HasSubstr("1: `tidy: long-function` needs a reason"),
                            HasSubstr("2: function body is 81 lines (limit 80")));
    const std::string hatch = "// tidy: long-function (dispatcher)\n";
    EXPECT_THAT(problems(shell_file, function(1, "void f(int x)", hatch) + function(81)),
                ElementsAre(HasSubstr("5: function body is 81 lines (limit 80")));
}

TEST(TidyBanned, CoreCallIsFlaggedAndTheSameTextOutsideCoresIsNot) {
    const std::string text = "auto now = std::chrono::steady_clock::now();\n";
    for (const std::string_view path :
         {"consensus/raft/raft.cc", "consensus/session/sessions.h", "client/core/client.cc",
          "consensus/statemachine/kv.cc", "compactor/plan/plan.cc"}) {
        EXPECT_THAT(problems(path, text),
                    ElementsAre("1: banned in a pure core: `steady_clock`: a clock: a core takes "
                                "time as an input"))
            << path;
    }
    EXPECT_THAT(problems(shell_file, text), IsEmpty());
    EXPECT_THAT(problems("consensus/raftish/x.cc", text), IsEmpty());
}

TEST(TidyBanned, EachCoreBanIsFlagged) {
    const std::vector<std::string> lines = {
        "auto t = system_clock::now();",
        "auto t = time(nullptr);",
        "auto t = std::time(nullptr);",
        "clock_gettime(CLOCK_MONOTONIC, &ts);",
        "std::random_device device;",
        "srand(7);",
        "std::thread worker(run);",
        "std::mutex lock;",
        "zmq::socket_t socket(context);",
        "int fd = socket(AF_INET, SOCK_STREAM, 0);",
        "FILE* f = fopen(path, \"r\");",
        "std::ifstream in(path);",
        "int fd = ::open(path, 0);",
        "if (open(path, 0) < 0) return;",
        "sleep(1);",
        "std::this_thread::sleep_for(delay);",
        "auto home = getenv(\"HOME\");",
        "std::unordered_map<int, int> counts;",
    };
    for (const std::string& line : lines) {
        EXPECT_THAT(problems(core_file, line + "\n"), SizeIs(1)) << line;
    }
}

TEST(TidyBanned, NamesInsideLongerIdentifiersAreNotFlagged) {
    const std::vector<std::string> lines = {
        "auto t = runtime();",
        "auto t = fsync_time(entry);",
        "reopen(path);",
        "if (file.is_open()) return;",
        "auto t = entry.time();",
        "auto t = commit->time();",
        "std::int64_t time() const { return time_; }",
        "Result<File> open(const std::string& path);",
        "Status Disk::open(const std::string& path) { return {}; }",
        "std::this_thread::get_id();",
        "std::map<int, int> ordered_map;",
        "auto category = std::system_category();",
        "int random_device_count = 0;",
    };
    for (const std::string& line : lines) {
        EXPECT_THAT(problems(core_file, line + "\n"), IsEmpty()) << line;
    }
}

TEST(TidyBanned, CommentsAndStringsAreIgnored) {
    const std::string text =
        "// never sleep_until a deadline; std::chrono::steady_clock lives in the shell\n"
        "/* rand() and system(\"x\")\n   time(nullptr) */\n"
        "const char* help = \"uses steady_clock, rand() and zmq::\";\n"
        "const char* raw = R\"x(\nsystem(\"rm\") sleep(1)\n)x\";\n";
    EXPECT_THAT(problems(core_file, text), IsEmpty());
}

TEST(TidyBanned, UnorderedContainerNeedsTheHatchOnItsLine) {
    EXPECT_THAT(problems(core_file, "#include <unordered_map>\n"), IsEmpty());
    EXPECT_THAT(problems(core_file, "std::unordered_set<int> seen;  // tidy: unordered-ok\n"),
                ElementsAre(HasSubstr("needs a reason"), HasSubstr("`unordered_set`")));
    EXPECT_THAT(problems(core_file,
                         "std::unordered_set<int> seen;  // tidy: unordered-ok (lookups only)\n"),
                IsEmpty());
}

TEST(TidyBanned, RandAndSystemAreFlaggedEverywhere) {
    for (const std::string_view path :
         {std::string_view("tests/sim/sim.cc"), std::string_view("gateway/main.cc"), core_file}) {
        EXPECT_THAT(problems(path, "int x = rand() % 3;\n"), ElementsAre(HasSubstr("`rand`")));
        EXPECT_THAT(problems(path, "int x = std::rand();\n"), ElementsAre(HasSubstr("`rand`")));
        EXPECT_THAT(problems(path, "system(\"ls\");\n"), ElementsAre(HasSubstr("`system`")));
    }
    EXPECT_THAT(problems(shell_file, "auto now = std::chrono::system_clock::now();\n"), IsEmpty());
}

TEST(TidyBanned, IostreamIsFlaggedInCommonOnly) {
    const std::string text = "#include <iostream>\n";
    EXPECT_THAT(problems("common/log.cc", text), ElementsAre(HasSubstr("1: #include <iostream>")));
    EXPECT_THAT(problems("gateway/main.cc", text), IsEmpty());
}

TEST(TidyBanned, UnknownTidyCommentIsFlagged) {
    EXPECT_THAT(problems(shell_file, "int x;  // tidy: ignore-everything (because)\n"),
                ElementsAre(HasSubstr("unknown tidy comment `tidy: ignore-everything`")));
}

TEST(TidyFiles, ListsCxxFilesAndSkipsBuildDataAndGenerated) {
    namespace fs = std::filesystem;
    const fs::path root =
        fs::path(::testing::TempDir()) / ("copycat_tidy_" + std::to_string(::getpid()));
    fs::remove_all(root);
    for (const char* file : {"common/status.h", "common/status.cc", "build/x.cc", "build-tidy/y.h",
                             "data/z.cc", ".git/w.cc", "logstore/generated/a_generated.h",
                             "schemas/b_generated.h", "ops/test", "README.md"}) {
        fs::create_directories((root / file).parent_path());
        std::ofstream(root / file) << "\n";
    }
    EXPECT_THAT(list_source_files(root), ElementsAre("common/status.cc", "common/status.h"));
    fs::remove_all(root);
}

}  // namespace
}  // namespace copycat::tidy
