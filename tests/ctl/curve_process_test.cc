// CURVE on every link of a real cluster (common/curve.h): nodes, a gateway and copycat-ctl with
// keys made by copycat-ctl keygen. Listed keys get in; an unlisted client or node is refused,
// the refusal is logged and counted, the refused side is told why, and nothing it sent reaches
// the state machine.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "tests/ctl/ctl_runner.h"
#include "tests/support/built_cluster.h"
#include "tests/support/consensus_cluster.h"
#include "tests/support/http_get.h"
#include "tests/support/subprocess.h"

namespace copycat::testing {
namespace {

using namespace std::chrono_literals;

class CurveProcess : public ::testing::Test {
protected:
    void SetUp() override {
        keys_ = keys_dir_.path();
        // Keys as an operator makes them: keygen, then the .pub files gathered into lists.
        for (const char* name : {"node-1", "node-2", "node-3", "gateway", "alice", "mallory"}) {
            keygen(name);
        }
        write(keys_ + "/peers.keys", pub("node-1") + pub("node-2") + pub("node-3"));
        write(keys_ + "/gateways.keys", pub("gateway"));
        write(keys_ + "/clients.keys", pub("alice"));
    }

    void keygen(const std::string& name, const std::string& dir = "") {
        Ctl local(COPYCAT_CTL_BINARY, "tcp://127.0.0.1:1");
        CtlResult made = local.run({"keygen", name, "--out-dir", dir.empty() ? keys_ : dir});
        ASSERT_EQ(made.exit_code, 0) << describe(made);
    }
    std::string pub(const std::string& name, const std::string& dir = "") {
        return read_file((dir.empty() ? keys_ : dir) + "/" + name + ".pub");
    }
    static void write(const std::string& path, const std::string& text) {
        std::ofstream(path) << text;
    }

    ClusterOptions secured_options() {
        ClusterOptions options = built_cluster_options();
        options.consensus_flags = {"--curve-gateway-keys", keys_ + "/gateways.keys"};
        for (int n = 1; n <= 3; ++n) {
            options.node_flags[n] = {"--curve-key", keys_ + "/node-" + std::to_string(n) + ".key",
                                     "--curve-peer-keys", keys_ + "/peers.keys"};
        }
        return options;
    }

    void start_secured_gateway(ProcessCluster& cluster) {
        cluster.start_gateway(
            1, {"--curve-key", keys_ + "/gateway.key", "--curve-node-keys", keys_ + "/peers.keys",
                "--curve-client-keys", keys_ + "/clients.keys"});
    }

    // copycat-ctl through gateway 1 as `who` (a key pair in keys_), or without CURVE ("").
    CtlResult ctl_as(ProcessCluster& cluster, const std::string& who,
                     std::vector<std::string> args) {
        Ctl ctl(COPYCAT_CTL_BINARY, cluster.gateway_endpoint(1));
        std::vector<std::string> all;
        if (!who.empty()) {
            all = {"--curve-key", keys_ + "/" + who + ".key", "--curve-gateway-key",
                   keys_ + "/gateway.pub"};
        }
        all.insert(all.end(), args.begin(), args.end());
        return ctl.run(all);
    }

    TempDir keys_dir_;
    std::string keys_;
};

TEST_F(CurveProcess, AListedClientIsServedAndAnUnlistedOneIsRefusedToldCountedAndNeverApplied) {
    ProcessCluster cluster(secured_options());
    cluster.start_all();
    start_secured_gateway(cluster);
    CtlResult health;
    ASSERT_TRUE(eventually(
        [&] {
            return (health = ctl_as(cluster, "alice", {"endpoint", "health"})).exit_code == 0;
        },
        30s))
        << describe(health) << cluster.gateway_output(1) << cluster.output(1);
    CtlResult put = ctl_as(cluster, "alice", {"put", "owner", "alice"});
    ASSERT_EQ(put.exit_code, 0) << describe(put);

    // Mallory has a key pair and the gateway's public key, but is not listed.
    CtlResult refused =
        ctl_as(cluster, "mallory", {"--dial-timeout", "2s", "put", "owner", "mallory"});
    EXPECT_EQ(refused.exit_code, 1) << describe(refused);
    EXPECT_NE(refused.err.find("refused this process's CURVE key"), std::string::npos)
        << describe(refused);
    // Without CURVE nobody gets in either.
    CtlResult plain = ctl_as(cluster, "", {"--dial-timeout", "2s", "put", "owner", "nobody"});
    EXPECT_EQ(plain.exit_code, 1) << describe(plain);

    CtlResult get = ctl_as(cluster, "alice", {"get", "owner"});
    EXPECT_EQ(get.out, "alice\n") << describe(get);
    CtlResult sessions = ctl_as(cluster, "alice", {"session", "list"});
    EXPECT_EQ(sessions.out.find("mallory"), std::string::npos) << sessions.out;

    const int port = cluster.gateway_http_port(1, 10s);
    ASSERT_GT(port, 0);
    const std::string metrics = http_get(port, "/metrics", 5s).value_or("");
    EXPECT_NE(metrics.find("copycat_auth_refused_total{link=\"clients\"} "), std::string::npos)
        << metrics;
    EXPECT_EQ(metrics.find("copycat_auth_refused_total{link=\"clients\"} 0"), std::string::npos)
        << metrics;
    const std::string log = cluster.gateway_output(1);
    EXPECT_NE(log.find("refused a connection: its CURVE key is not listed for this link"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find(read_file(keys_ + "/mallory.pub").substr(8, 40)), std::string::npos)
        << "the refusal names the key";
}

TEST_F(CurveProcess, ANodeStartedWithAKeyItsListDoesNotHoldForItStopsAndSaysWhy) {
    // A second pair for node 3, not the one --curve-peer-keys lists.
    ClusterOptions options = secured_options();
    TempDir other;
    keygen("node-3", other.path());
    options.node_flags[3][1] = other.path() + "/node-3.key";
    ProcessCluster cluster(options);
    cluster.start_node(3);
    EXPECT_EQ(cluster.wait_consensus(3, 20s), 2) << cluster.output(3);
    EXPECT_NE(cluster.output(3).find("is not the key node-3 has in --curve-peer-keys"),
              std::string::npos)
        << cluster.output(3);
}

TEST_F(CurveProcess, ANodeItsPeersDoNotListIsRefusedAndToldWhileTheOthersServe) {
    // Node 3 has a new key pair and a list of its own naming it; nodes 1 and 2 still list the
    // old one: they refuse it, and it says so.
    TempDir other;
    keygen("node-3", other.path());
    write(other.path() + "/peers.keys",
          pub("node-1") + pub("node-2") + pub("node-3", other.path()));
    ClusterOptions options = secured_options();
    options.node_flags[3] = {"--curve-key", other.path() + "/node-3.key", "--curve-peer-keys",
                             other.path() + "/peers.keys"};
    ProcessCluster cluster(options);
    cluster.start_all();
    start_secured_gateway(cluster);
    CtlResult put;
    ASSERT_TRUE(eventually(
        [&] {
            return (put = ctl_as(cluster, "alice", {"put", "k", "v"})).exit_code == 0;
        },
        30s))
        << describe(put);
    const std::string told = "the server refused this process's CURVE key (status 400)";
    ASSERT_TRUE(eventually([&] { return cluster.output(3).find(told) != std::string::npos; }, 20s))
        << cluster.output(3);
    const std::string refusal = "refused a connection: its CURVE key is not listed for this link";
    EXPECT_TRUE(eventually(
        [&] {
            return cluster.output(1).find(refusal) != std::string::npos &&
                   cluster.output(2).find(refusal) != std::string::npos;
        },
        10s))
        << cluster.output(1);
    // Node 3 never took part: it has no leader, and what the others wrote never reached it.
    EXPECT_EQ(cluster.output(3).find(" leader=1"), std::string::npos) << cluster.output(3);
}

// Each bad CURVE setting stops the process at start, exit code 2, with a message naming it.
TEST_F(CurveProcess, BadSettingsStopTheProcessAndNameTheFlag) {
    TempDir scratch;
    const std::string data = "--data-dir=" + scratch.path() + "/data";
    struct Case {
        std::vector<std::string> argv;
        std::string says;
    };
    const std::vector<Case> cases = {
        {{COPYCAT_CONSENSUS_BINARY, data, "--curve-key", keys_ + "/node-1.key"},
         "--curve-key switches nothing on alone"},
        {{COPYCAT_CONSENSUS_BINARY, data, "--curve-peer-keys", keys_ + "/peers.keys"},
         "need this node's key pair: --curve-key"},
        {{COPYCAT_CONSENSUS_BINARY, data, "--curve-key", keys_ + "/node-1.pub", "--curve-peer-keys",
          keys_ + "/peers.keys"},
         "--curve-key: " + keys_ + "/node-1.pub is not a key pair file"},
        {{COPYCAT_CONSENSUS_BINARY, data, "--node-id", "4", "--curve-key", keys_ + "/node-1.key",
          "--curve-peer-keys", keys_ + "/peers.keys"},
         "--curve-peer-keys lists no key for this node (node-4)"},
        {{COPYCAT_CONSENSUS_BINARY, data, "--curve-key", keys_ + "/node-1.key",
          "--curve-gateway-keys", keys_ + "/gateways.keys", "--curve-peer-keys",
          keys_ + "/peers.keys", "--join", "tcp://127.0.0.1:7201"},
         "with CURVE, each --join endpoint names its member"},
        {{COPYCAT_GATEWAY_BINARY, "--curve-key", keys_ + "/gateway.key", "--curve-node-keys",
          keys_ + "/peers.keys"},
         "with --curve-node-keys, each --nodes endpoint names its node"},
        {{COPYCAT_GATEWAY_BINARY, "--curve-key", keys_ + "/gateway.key", "--curve-client-keys",
          keys_ + "/missing.keys"},
         "--curve-client-keys: cannot read " + keys_ + "/missing.keys"},
    };
    for (const Case& c : cases) {
        Result<Subprocess> process = Subprocess::start(c.argv, scratch.path() + "/bad.out");
        ASSERT_TRUE(process.is_ok());
        EXPECT_EQ(process->wait(10s), 2) << c.says << "\n" << process->output();
        EXPECT_NE(process->output().find(c.says), std::string::npos) << process->output();
    }
    Ctl ctl(COPYCAT_CTL_BINARY, "tcp://127.0.0.1:1");
    CtlResult alone = ctl.run({"--curve-key", keys_ + "/alice.key", "get", "k"});
    EXPECT_EQ(alone.exit_code, 2) << describe(alone);
    EXPECT_NE(alone.err.find("--curve-key and --curve-gateway-key go together"), std::string::npos)
        << describe(alone);
}

}  // namespace
}  // namespace copycat::testing
