// copycat-ctl as a user runs it: the binary as a subprocess against a real 3-node cluster
// (logstore + consensus per node) behind a copycat-gateway, on ipc sockets.
//
//  - writes, then reads at every consistency level;
//  - `copycat-ctl session`: a script of lines, one JSON object per line, in ONE session;
//  - endpoint status / health, member list, member add and remove, move-leader;
//  - watch streams changes and exits 0 on SIGTERM; elect hands over when the leader leaves;
//  - a lock holder that stops sending keep-alives (SIGSTOP) loses the lock to the next
//    waiter after its session timeout, and the fencing token grows;
//  - an unreachable gateway fails within the dial timeout; an unknown command exits 2.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/ctl/ctl_runner.h"
#include "tests/support/built_cluster.h"
#include "tests/support/consensus_cluster.h"
#include "tests/support/subprocess.h"

namespace copycat::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class CtlProcess : public ::testing::Test {
protected:
    void SetUp() override {
        ClusterOptions options = built_cluster_options();
        options.session_timeout = "2s";
        cluster_ = std::make_unique<ProcessCluster>(options);
        cluster_->start_all();
        cluster_->start_gateway(1);
        ctl_ = std::make_unique<Ctl>(COPYCAT_CTL_BINARY, cluster_->gateway_endpoint(1));
        // Ready when every node answers through the gateway and knows the leader.
        CtlResult health;
        const bool ready = eventually(
            [&] {
                return (health = ctl_->run({"endpoint", "health"})).exit_code == 0;
            },
            30s);
        ASSERT_TRUE(ready) << describe(health) << cluster_->gateway_output(1);
    }

    CtlResult ctl(const std::vector<std::string>& args, const std::string& input = "") {
        return ctl_->run(args, input);
    }

    std::unique_ptr<ProcessCluster> cluster_;
    std::unique_ptr<Ctl> ctl_;
};

TEST_F(CtlProcess, WritesThenReadsAtEveryConsistencyLevel) {
    CtlResult put = ctl({"put", "greeting", "hello world"});
    ASSERT_EQ(put.exit_code, 0) << describe(put);
    EXPECT_EQ(put.out, "OK\n");
    for (const char* level : {"linearizable", "lease", "sequential"}) {
        CtlResult get = ctl({"get", "greeting", "--consistency", level});
        EXPECT_EQ(get.exit_code, 0) << level << "\n" << describe(get);
        EXPECT_EQ(get.out, "hello world\n") << level;
    }
    CtlResult json = ctl({"-w", "json", "get", "greeting"});
    EXPECT_NE(json.out.find("\"value\":\"hello world\""), std::string::npos) << describe(json);
    EXPECT_EQ(ctl({"put", "--escaped", "binary", "\\x00\\xff"}).exit_code, 0);
    EXPECT_EQ(ctl({"get", "binary"}).out, "\\x00\\xff\n");
    EXPECT_NE(ctl({"-w", "json", "get", "binary"}).out.find("\"value_escaped\":true"),
              std::string::npos);
    EXPECT_EQ(ctl({"del", "greeting"}).out, "1\n");
    CtlResult gone = ctl({"get", "greeting", "--consistency", "sequential"});
    EXPECT_EQ(gone.exit_code, 0);
    EXPECT_EQ(gone.out, "");
    EXPECT_EQ(ctl({"counter", "add", "hits", "-3"}).out, "-3\n");
    EXPECT_EQ(ctl({"counter", "get", "hits"}).out, "-3\n");
}

TEST_F(CtlProcess, SessionRunsEveryLineInOneSessionAndPrintsOneJsonObjectEach) {
    const std::string script =
        "put a 1\n"
        "get a --consistency sequential\n"
        "# a comment, skipped\n"
        "\n"
        "counter add c 5\n"
        "counter add c -2\n"
        "cas a 1 2\n"
        "cas --absent a 3\n"
        "frobnicate\n"
        "put a\n"
        "lock L\n"
        "lock L --release\n"
        "get a --consistency lease\n";
    CtlResult result = ctl({"session"}, script);
    ASSERT_EQ(result.exit_code, 0) << describe(result);
    std::vector<std::string> lines = lines_of(result.out);
    ASSERT_EQ(lines.size(), 11u) << describe(result);
    EXPECT_EQ(lines[0].rfind("{\"ok\":true,\"value\":null,\"index\":", 0), 0u) << lines[0];
    EXPECT_EQ(lines[1].rfind("{\"ok\":true,\"key\":\"a\",\"value\":\"1\"", 0), 0u) << lines[1];
    EXPECT_EQ(lines[2].rfind("{\"ok\":true,\"value\":5,", 0), 0u) << lines[2];
    EXPECT_EQ(lines[3].rfind("{\"ok\":true,\"value\":3,", 0), 0u) << lines[3];
    EXPECT_EQ(lines[4].rfind("{\"ok\":true,\"succeeded\":true,\"value\":\"2\"", 0), 0u) << lines[4];
    EXPECT_EQ(lines[5].rfind("{\"ok\":true,\"succeeded\":false,\"value\":\"2\"", 0), 0u)
        << lines[5];
    EXPECT_EQ(lines[6].rfind("{\"ok\":false,\"error\":\"usage: ", 0), 0u) << lines[6];
    EXPECT_EQ(lines[7].rfind("{\"ok\":false,\"error\":\"usage: put KEY VALUE", 0), 0u) << lines[7];
    EXPECT_EQ(lines[8].rfind("{\"ok\":true,\"value\":", 0), 0u) << lines[8];
    EXPECT_NE(lines[8].find("\"acquired\":true"), std::string::npos) << lines[8];
    // The release finds the lock held: the same session took it one line before.
    EXPECT_EQ(lines[9], "{\"ok\":true,\"value\":\"released\"}");
    EXPECT_EQ(lines[10].rfind("{\"ok\":true,\"key\":\"a\",\"value\":\"2\"", 0), 0u) << lines[10];
}

TEST_F(CtlProcess, EndpointStatusJsonDescribesEveryNode) {
    CtlResult status = ctl({"-w", "json", "endpoint", "status"});
    ASSERT_EQ(status.exit_code, 0) << describe(status);
    std::vector<std::string> lines = lines_of(status.out);
    ASSERT_EQ(lines.size(), 3u) << describe(status);
    int leaders = 0;
    for (int n = 1; n <= 3; ++n) {
        const std::string& line = lines[static_cast<size_t>(n - 1)];
        EXPECT_NE(line.find("\"endpoint\":\"" + cluster_->client_endpoint(n) + "\""),
                  std::string::npos)
            << line;
        EXPECT_NE(line.find("\"node_id\":" + std::to_string(n) + ","), std::string::npos) << line;
        EXPECT_NE(line.find("\"member_type\":\"active\""), std::string::npos) << line;
        for (const char* field : {"\"term\":", "\"commit_index\":", "\"applied_index\":",
                                  "\"first_index\":", "\"last_index\":", "\"errors\":\"\""}) {
            EXPECT_NE(line.find(field), std::string::npos) << field << " in " << line;
        }
        leaders += line.find("\"is_leader\":true") != std::string::npos;
    }
    EXPECT_EQ(leaders, 1) << status.out;
    CtlResult table = ctl({"-w", "table", "endpoint", "status"});
    EXPECT_NE(table.out.find("ENDPOINT"), std::string::npos) << describe(table);
    EXPECT_NE(table.out.find("| " + cluster_->client_endpoint(1) + " | 1 "), std::string::npos);
    EXPECT_NE(table.out.find("COMMIT INDEX"), std::string::npos);
}

TEST_F(CtlProcess, MemberListAddAndRemove) {
    CtlResult list = ctl({"-w", "json", "member", "list"});
    ASSERT_EQ(list.exit_code, 0) << describe(list);
    ASSERT_EQ(lines_of(list.out).size(), 3u) << list.out;
    for (int n = 1; n <= 3; ++n) {
        EXPECT_NE(list.out.find("\"id\":" + std::to_string(n) + ",\"type\":\"active\""),
                  std::string::npos)
            << list.out;
    }
    CtlResult add = ctl(
        {"member", "add", "4", "ipc://" + ctl_->scratch() + "/nobody.sock", "--type", "reserve"});
    ASSERT_EQ(add.exit_code, 0) << describe(add);
    EXPECT_NE(add.out.find("Member 4 added to the cluster as reserve"), std::string::npos);
    EXPECT_NE(ctl({"member", "list"}).out.find("4, reserve"), std::string::npos);
    CtlResult remove = ctl({"member", "remove", "4"});
    ASSERT_EQ(remove.exit_code, 0) << describe(remove);
    EXPECT_EQ(lines_of(ctl({"member", "list"}).out).size(), 3u);
    CtlResult missing = ctl({"member", "remove", "9"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("no member 9"), std::string::npos) << describe(missing);
}

TEST_F(CtlProcess, MoveLeaderHandsLeadershipToTheNodeNamed) {
    CtlResult status = ctl({"-w", "json", "endpoint", "status"});
    std::string target;
    for (const std::string& line : lines_of(status.out)) {
        if (line.find("\"is_leader\":false") == std::string::npos) continue;
        const size_t at = line.find("\"node_id\":") + 10;
        target = line.substr(at, line.find(',', at) - at);
        break;
    }
    ASSERT_FALSE(target.empty()) << describe(status);
    CtlResult moved = ctl({"move-leader", target, "--command-timeout", "10s"});
    ASSERT_EQ(moved.exit_code, 0) << describe(moved);
    EXPECT_NE(moved.out.find("Leadership transferred to node " + target), std::string::npos);
}

TEST_F(CtlProcess, WatchPrintsEachChangeAndExitsZeroOnSigterm) {
    Subprocess watch = ctl_->start({"watch", "k"});
    std::this_thread::sleep_for(1s);  // let it register its watch (no output before changes)
    EXPECT_EQ(ctl({"put", "k", "v1"}).exit_code, 0);
    EXPECT_EQ(ctl({"put", "k", "v2"}).exit_code, 0);
    EXPECT_EQ(ctl({"put", "other", "x"}).exit_code, 0);
    EXPECT_EQ(ctl({"del", "k"}).exit_code, 0);
    ASSERT_TRUE(eventually([&] { return lines_of(watch.output()).size() >= 3; }, 10s))
        << watch.output();
    watch.signal(SIGTERM);
    EXPECT_EQ(watch.wait(10s), 0);
    EXPECT_EQ(lines_of(watch.output()),
              (std::vector<std::string>{"written k v1", "written k v2", "removed k"}));
}

TEST_F(CtlProcess, ElectionPassesToTheNextCandidateWhenTheLeaderLeaves) {
    Subprocess first = ctl_->start({"elect", "E"});
    ASSERT_TRUE(
        eventually([&] { return first.output().find("elected") != std::string::npos; }, 10s))
        << first.output();
    Subprocess second = ctl_->start({"elect", "E"});
    ASSERT_TRUE(eventually(
        [&] { return second.output().find("candidate: leader session") != std::string::npos; },
        10s))
        << second.output();
    first.signal(SIGINT);
    EXPECT_EQ(first.wait(10s), 0);
    EXPECT_TRUE(
        eventually([&] { return second.output().find("elected term") != std::string::npos; }, 10s))
        << second.output();
    CtlResult leader = ctl({"elect", "leader", "E"});
    EXPECT_EQ(leader.exit_code, 0) << describe(leader);
    EXPECT_EQ(leader.out.rfind("session ", 0), 0u) << leader.out;
    second.signal(SIGTERM);
    EXPECT_EQ(second.wait(10s), 0);
}

TEST_F(CtlProcess, SilentLockHolderLosesTheLockToTheNextWaiterAfterItsSessionTimeout) {
    Subprocess holder = ctl_->start({"lock", "L"});
    ASSERT_TRUE(eventually([&] { return !lines_of(holder.output()).empty(); }, 10s))
        << holder.output();
    const uint64_t holder_token = std::stoull(lines_of(holder.output())[0]);
    // Held: a try fails at once.
    CtlResult tried = ctl({"lock", "L", "--timeout", "0s", "--", "true"});
    EXPECT_EQ(tried.exit_code, 1) << describe(tried);
    EXPECT_NE(tried.err.find("not granted"), std::string::npos) << describe(tried);

    holder.signal(SIGSTOP);  // no more keep-alives: its session expires after 2 s
    const auto stopped = Clock::now();
    const std::string token_file = ctl_->scratch() + "/token";
    CtlResult waiter = ctl({"lock", "L", "--command-timeout", "20s", "--", "/bin/sh", "-c",
                            "echo \"$COPYCAT_LOCK_TOKEN\" > " + token_file});
    const auto waited = Clock::now() - stopped;
    holder.kill_now();
    ASSERT_EQ(waiter.exit_code, 0) << describe(waiter);
    // Not before the holder's session could expire (2 s without keep-alives; the last one may
    // have been sent up to half a timeout before the stop).
    EXPECT_GE(waited, 900ms);
    EXPECT_LT(waited, 20s);
    const std::string token = read_file(token_file);
    ASSERT_FALSE(token.empty());
    EXPECT_GT(std::stoull(token), holder_token);
}

TEST(CtlProcessNoCluster, UnreachableGatewayFailsWithinTheDialTimeout) {
    TempDir nowhere;
    const std::string endpoint = "ipc://" + nowhere.path() + "/no-gateway.sock";
    Ctl ctl(COPYCAT_CTL_BINARY, endpoint);
    CtlResult result = ctl.run({"get", "k", "--dial-timeout", "1s"});
    EXPECT_EQ(result.exit_code, 1) << describe(result);
    EXPECT_NE(result.err.find("cannot reach a gateway at " + endpoint), std::string::npos)
        << describe(result);
    EXPECT_LT(result.took, 4s);
    CtlResult admin = ctl.run({"member", "list", "--dial-timeout", "1s"});
    EXPECT_EQ(admin.exit_code, 1) << describe(admin);
    EXPECT_NE(admin.err.find("cannot reach a gateway"), std::string::npos) << describe(admin);
}

TEST(CtlProcessNoCluster, UnknownCommandsAndFlagsExitTwoWithUsage) {
    Ctl ctl(COPYCAT_CTL_BINARY, "ipc:///nonexistent");
    CtlResult unknown = ctl.run({"frobnicate"});
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos);
    EXPECT_EQ(unknown.out, "");
    CtlResult flag = ctl.run({"get", "k", "--frobnicate"});
    EXPECT_EQ(flag.exit_code, 2);
    EXPECT_NE(flag.err.find("Usage: copycat-ctl get KEY"), std::string::npos) << flag.err;
}

}  // namespace
}  // namespace copycat::testing
