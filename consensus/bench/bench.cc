// copycat-consensus-bench: write throughput and latency of a real three-node cluster on this
// machine (issue "copycat-consensus", Benchmark): it starts 3 × (copycat-logstore +
// copycat-consensus) in a scratch directory, fsync on every node, registers N sessions and keeps
// one 100-byte map.put in flight per session, sent straight to the leader, for a fixed time.
// Beside the figures it measures the raw fdatasync of the same directory (before and after),
// so that a run on a slow or noisy disk reads as such.
//
//   copycat-consensus-bench [--sessions 64] [--seconds 10] [--value-bytes 100] [--dir /tmp]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/latency.h"
#include "common/zmq_socket.h"
#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/ops.h"
#include "consensus/wire/client_codec.h"
#include "tests/support/consensus_cluster.h"

namespace copycat::bench {
namespace {

namespace po = boost::program_options;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Load {
    uint64_t acknowledged = 0;
    uint64_t errors = 0;
    std::vector<double> latencies_us;
    double seconds = 0;
};

// One DEALER to the leader; `sessions` sessions, each with one put in flight.
// tidy: long-function (the benchmark's one loop: send, receive, record, resend)
Load run_load(zmq::context_t& context, const std::string& endpoint,
              const std::vector<session::SessionId>& sessions, size_t value_bytes, double seconds) {
    zmq::socket_t socket = make_dealer(context, "bench", SocketOptions{100000, 100000});
    socket.set(zmq::sockopt::immediate, 0);
    socket.connect(endpoint);
    flatbuffers::FlatBufferBuilder builder(4096);
    const statemachine::Bytes value(value_bytes, 'v');
    struct InFlight {
        uint64_t sequence = 0;
        Clock::time_point sent;
    };
    std::vector<InFlight> in_flight(sessions.size());
    uint64_t next_key = 0;
    auto send = [&](size_t slot) {
        InFlight& flight = in_flight[slot];
        ++flight.sequence;
        flight.sent = Clock::now();
        resources::MapPut put{"bench", "key-" + std::to_string(next_key++ % 100000), value, 0};
        session::CommandRequest request{sessions[slot], flight.sequence,
                                        statemachine::make_operation(put)};
        std::span<const uint8_t> bytes = wire::encode_request(builder, slot + 1, request);
        socket.send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::none);
    };
    Load load;
    for (size_t slot = 0; slot < sessions.size(); ++slot) send(slot);
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        zmq::message_t message;
        zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, 100ms) == 0) continue;
        while (socket.recv(message, zmq::recv_flags::dontwait)) {
            Result<wire::ClientMessage> decoded =
                wire::decode_client(message.data(), message.size());
            const auto* response =
                decoded.is_ok() ? std::get_if<session::Response>(&*decoded) : nullptr;
            if (response == nullptr || response->request_id == 0 ||
                response->request_id > sessions.size()) {
                continue;
            }
            size_t slot = response->request_id - 1;
            if (response->error == session::ErrorCode::ok) {
                ++load.acknowledged;
                load.latencies_us.push_back(
                    std::chrono::duration<double, std::micro>(Clock::now() - in_flight[slot].sent)
                        .count());
            } else {
                ++load.errors;
                --in_flight[slot].sequence;  // resubmit the same sequence
            }
            if (Clock::now() < end) send(slot);
        }
    }
    load.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return load;
}

int run(const po::variables_map& vm) {
    const int sessions = vm["sessions"].as<int>();
    const double seconds = vm["seconds"].as<double>();
    testing::TempDir scratch;  // under /tmp unless --dir says otherwise
    std::string dir = vm.count("dir") ? vm["dir"].as<std::string>() : scratch.path();
    std::filesystem::create_directories(dir);
    std::printf("fdatasync reference (before)...\n");
    LatencySummary before = fdatasync_reference(dir, 2.0);
    testing::ClusterOptions cluster_options;
    cluster_options.logstore_binary = vm["logstore-binary"].as<std::string>();
    cluster_options.consensus_binary = vm["consensus-binary"].as<std::string>();
    cluster_options.election_timeout = "750ms";
    cluster_options.heartbeat_interval = "250ms";
    cluster_options.session_timeout = "10s";
    cluster_options.directory = dir + "/cluster";
    testing::ProcessCluster cluster(cluster_options);
    std::filesystem::create_directories(dir + "/cluster");
    cluster.start_all();
    zmq::context_t context(1);
    session::NodeId leader = 0;
    testing::eventually(
        [&] {
            return (leader = testing::find_leader(context, cluster.client_endpoints(), 300ms)) != 0;
        },
        30s);
    if (leader == 0) {
        std::fprintf(stderr, "no leader elected within 30 s\n");
        return 1;
    }
    std::vector<session::SessionId> ids;
    for (int i = 0; i < sessions; ++i) {
        testing::SessionClient client(context, cluster.client_endpoints(),
                                      "bench-" + std::to_string(i), 60000);
        if (!client.open(10s)) {
            std::fprintf(stderr, "cannot open session %d\n", i);
            return 1;
        }
        ids.push_back(client.id());
    }
    std::printf("leader: node %llu; %d sessions; %.0f s of 100-byte puts...\n",
                static_cast<unsigned long long>(leader), sessions, seconds);
    Load load = run_load(context, cluster.client_endpoint(static_cast<int>(leader)), ids,
                         vm["value-bytes"].as<size_t>(), seconds);
    LatencySummary writes = summarize_latencies(load.latencies_us, load.seconds);
    for (int n = 1; n <= 3; ++n) cluster.stop_node(n);
    std::printf("fdatasync reference (after)...\n");
    LatencySummary after = fdatasync_reference(dir, 2.0);
    std::printf("\nwrites/s            %10.0f   (target >= 20000)\n", writes.per_second);
    std::printf("write p50 / p99     %10.2f / %.2f ms\n", writes.p50_us / 1000,
                writes.p99_us / 1000);
    std::printf("errors              %10llu\n", static_cast<unsigned long long>(load.errors));
    std::printf("fdatasync/s before  %10.0f   p50 %.0f us, p99 %.0f us\n", before.per_second,
                before.p50_us, before.p99_us);
    std::printf("fdatasync/s after   %10.0f   p50 %.0f us, p99 %.0f us\n", after.per_second,
                after.p50_us, after.p99_us);
    std::printf(
        "{\"writes_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%llu,"
        "\"fdatasync_per_s\":%.0f,\"fdatasync_p50_us\":%.0f}\n",
        writes.per_second, writes.p50_us / 1000, writes.p99_us / 1000,
        static_cast<unsigned long long>(load.errors), (before.per_second + after.per_second) / 2,
        (before.p50_us + after.p50_us) / 2);
    return 0;
}

}  // namespace
}  // namespace copycat::bench

int main(int argc, char* argv[]) {
    namespace po = boost::program_options;
    po::options_description options("copycat-consensus-bench options");
    options.add_options()("sessions", po::value<int>()->default_value(64), "concurrent sessions")(
        "seconds", po::value<double>()->default_value(10), "how long to write")(
        "value-bytes", po::value<size_t>()->default_value(100), "bytes per put")(
        "dir", po::value<std::string>(), "scratch directory (default: a new one under /tmp)")(
        "logstore-binary", po::value<std::string>()->default_value(COPYCAT_LOGSTORE_BINARY),
        "copycat-logstore to run")(
        "consensus-binary", po::value<std::string>()->default_value(COPYCAT_CONSENSUS_BINARY),
        "copycat-consensus to run");
    copycat::ParseOutcome outcome =
        copycat::parse_config(argc, argv, options, "copycat-consensus-bench",
                              "write throughput of a real 3-node cluster on this machine");
    if (!outcome.run) return outcome.exit_code;
    return copycat::bench::run(outcome.variables);
}
