#include "consensus/server/consensus_main.h"

#include <atomic>
#include <iostream>
#include <sstream>
#include <string>

#include "common/config.h"
#include "common/duration.h"
#include "common/event_loop.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/log_options.h"
#include "common/zmq_socket.h"
#include "consensus/server/server.h"

namespace copycat::server {

namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "the Raft server of one copycat node: sessions, commands, queries, events and the state\n"
    "machine. Its log lives in the node's copycat-logstore, which must be running.\n"
    "New cluster: --initial-cluster 1=tcp://127.0.0.1:7101,2=...,3=... on every node.\n"
    "Join a running one: --join tcp://127.0.0.1:7201 (client endpoints of members).\n"
    "A node with nothing stored bootstraps from --initial-cluster: only for a brand-new\n"
    "cluster. A member that lost its data must be removed and join again under a new id.";

po::options_description options_description() {
    po::options_description o("copycat-consensus options");
    auto add = o.add_options();
    add("node-id", po::value<uint64_t>()->default_value(1),
        "this node's id (stable, not its address)");
    add("cluster-name", po::value<std::string>()->default_value("copycat"),
        "peers must agree on it");
    add("data-dir", po::value<std::string>(), "the node's data directory (default data/node-<id>)");
    add("peer-listen", po::value<std::string>(),
        "endpoint for peers (default tcp://127.0.0.1:<7100+id>)");
    add("peer-advertise", po::value<std::string>(),
        "endpoint peers are told (default --peer-listen)");
    add("client-listen", po::value<std::string>(),
        "endpoint for gateways and clients (default tcp://127.0.0.1:<7200+id>)");
    add("client-advertise", po::value<std::string>(),
        "endpoint gateways are told in status answers (default --client-listen)");
    add("http", po::value<std::string>(),
        "host:port for /metrics, /livez, /readyz (default 127.0.0.1:<9100+id>)");
    add("logstore", po::value<std::string>(),
        "the node's logstore (default ipc://<data-dir>/logstore.sock)");
    add("compactor", po::value<std::string>(),
        "the node's compactor, for copycat-ctl compact (default ipc://<data-dir>/compactor.sock)");
    add("initial-cluster", po::value<std::string>(),
        "a brand-new cluster's members: ID=PEER_ENDPOINT,... (ignored once state is stored)");
    add("join", po::value<std::string>(),
        "join a running cluster through these client endpoints (comma separated; ID=ENDPOINT "
        "names the member, which CURVE needs)");
    add("join-type", po::value<std::string>()->default_value("active"),
        "member type when joining: active, passive or reserve");
    add("tick", po::value<Duration>()->default_value(Duration(std::chrono::milliseconds(10))),
        "Raft tick");
    add("election-timeout",
        po::value<Duration>()->default_value(Duration(std::chrono::milliseconds(750))),
        "followers time out in [T, 2T)");
    add("heartbeat-interval",
        po::value<Duration>()->default_value(Duration(std::chrono::milliseconds(250))),
        "leader heartbeats");
    add("session-timeout", po::value<Duration>()->default_value(Duration(std::chrono::seconds(5))),
        "for clients that ask for none");
    add("startup-timeout", po::value<Duration>()->default_value(Duration(std::chrono::seconds(30))),
        "wait this long for the logstore at start");
    add("max-operation-bytes", po::value<size_t>()->default_value(1024 * 1024),
        "refuse larger operation arguments");
    add("snapshot-every-entries", po::value<uint64_t>()->default_value(100'000),
        "a state machine that takes snapshots takes one each time it applied this many entries "
        "(0: never); stored in <data-dir>/snapshots");
    add("compact-log-every-entries", po::value<uint64_t>()->default_value(10'000),
        "drop released entries from the in-memory log each time this many entries applied (0: "
        "never; the log then grows in memory until a snapshot)");
    add("curve-key", po::value<std::string>(),
        "this node's CURVE key pair file (copycat-ctl keygen node-<id>); with the lists below "
        "it encrypts and authenticates the node's links");
    add("curve-peer-keys", po::value<std::string>(),
        "public keys of the members, NAME KEY a line named node-<id>: peer links admit only "
        "these");
    add("curve-gateway-keys", po::value<std::string>(),
        "public keys of the gateways: the client port admits only these (and the members)");
    o.add(logging_options());
    return o;
}

Result<raft::MemberType> member_type_named(const std::string& name) {
    if (name == "active") return raft::MemberType::active;
    if (name == "passive") return raft::MemberType::passive;
    if (name == "reserve") return raft::MemberType::reserve;
    return invalid_argument("--join-type takes active, passive or reserve, not '" + name + "'");
}

// tidy: long-function (one assignment per flag; splitting it would only scatter them)
Result<ServerOptions> server_options(const po::variables_map& vm) {
    ServerOptions o;
    o.node_id = vm["node-id"].as<uint64_t>();
    const std::string n = std::to_string(o.node_id);
    auto text = [&](const char* name, std::string fallback) {
        return vm.count(name) ? vm[name].as<std::string>() : fallback;
    };
    o.cluster_name = vm["cluster-name"].as<std::string>();
    o.data_dir = text("data-dir", "data/node-" + n);
    o.peer_listen = text("peer-listen", "tcp://127.0.0.1:" + std::to_string(7100 + o.node_id));
    o.peer_advertise = text("peer-advertise", o.peer_listen);
    o.client_listen = text("client-listen", "tcp://127.0.0.1:" + std::to_string(7200 + o.node_id));
    o.client_advertise = text("client-advertise", o.client_listen);
    o.http_address = text("http", "127.0.0.1:" + std::to_string(9100 + o.node_id));
    for (auto [flag, endpoint] : {std::pair{"logstore", &o.logstore_endpoint},
                                  std::pair{"compactor", &o.compactor_endpoint}}) {
        if (vm.count(flag)) {
            *endpoint = vm[flag].as<std::string>();
            continue;
        }
        Result<std::string> ipc = ipc_endpoint_for(o.data_dir + "/" + flag + ".sock");
        if (!ipc.is_ok()) return ipc.status();
        *endpoint = *ipc;
    }
    if (vm.count("initial-cluster")) {
        Result<std::vector<PeerAddress>> peers =
            parse_initial_cluster(vm["initial-cluster"].as<std::string>());
        if (!peers.is_ok()) return peers.status();
        o.initial_cluster = std::move(peers.value());
    }
    if (vm.count("join")) {
        auto join = parse_named_endpoints(vm["join"].as<std::string>(), "--join");
        if (!join.is_ok()) return join.status();
        for (const NamedEndpoint& member : *join) {
            o.join_endpoints.push_back(member.endpoint);
            o.join_ids.push_back(member.id);
        }
    }
    COPYCAT_RETURN_IF_ERROR(load_curve_flags(
        vm, o.curve_key,
        {{"curve-peer-keys", &o.curve_peer_keys}, {"curve-gateway-keys", &o.curve_gateway_keys}}));
    Result<raft::MemberType> type = member_type_named(vm["join-type"].as<std::string>());
    if (!type.is_ok()) return type.status();
    o.join_type = *type;
    o.tick = vm["tick"].as<Duration>();
    o.election_timeout = vm["election-timeout"].as<Duration>();
    o.heartbeat_interval = vm["heartbeat-interval"].as<Duration>();
    o.session_timeout = vm["session-timeout"].as<Duration>();
    o.startup_timeout = vm["startup-timeout"].as<Duration>();
    o.max_operation_bytes = vm["max-operation-bytes"].as<size_t>();
    o.snapshot_every_entries = vm["snapshot-every-entries"].as<uint64_t>();
    o.compact_log_every_entries = vm["compact-log-every-entries"].as<uint64_t>();
    COPYCAT_RETURN_IF_ERROR(validate(o));
    return o;
}

int serve(const ServerOptions& options, const statemachine::StateMachineFactory& factory) {
    Status blocked = EventLoop::block_termination_signals();
    if (!blocked.is_ok()) log::warn("cannot block termination signals", {{"error", blocked}});
    Metrics metrics;
    EventLoop loop;
    // Set once the server has started: /readyz answers from the first moment, and says
    // "starting" (not ready) while the log is being restored.
    std::atomic<ConsensusServer*> started{nullptr};
    Result<std::unique_ptr<HttpServer>> http =
        HttpServer::start(HttpServerOptions{options.http_address}, metrics, loop.heartbeat());
    if (!http.is_ok()) {
        log::fatal("cannot serve HTTP", {{"error", http.status()}});
        return 1;
    }
    (*http)->add_readiness_check("consensus", [&started] {
        ConsensusServer* server = started.load();
        if (server == nullptr) {
            return Status(StatusCode::unavailable, "starting: restoring state from the logstore");
        }
        return server->ready();
    });
    Result<std::unique_ptr<ConsensusServer>> server =
        ConsensusServer::start(options, factory, metrics);
    if (!server.is_ok()) {
        log::fatal("cannot start", {{"error", server.status()}});
        return server.status().code() == StatusCode::invalid_argument ? 2 : 1;
    }
    ConsensusServer* raw = server->get();
    started = raw;
    raw->attach(loop);
    log::info("serving", {{"peers", options.peer_listen},
                          {"clients", options.client_listen},
                          {"http", options.http_address}});
    Status ran = loop.run();
    // The HTTP server's threads call raw->ready() until it stops: stop it before the server
    // goes (`server` is declared after `http`, so it would be destroyed first).
    http->reset();
    if (!ran.is_ok()) {
        log::fatal("event loop failed", {{"error", ran}});
        return 1;
    }
    if (raw->failed()) return 1;
    log::info("stopped");
    return 0;
}

}  // namespace

int consensus_main(int argc, const char* const argv[], std::string_view program_name,
                   const statemachine::StateMachineFactory& factory) {
    ParseOutcome outcome = parse_config(argc, argv, options_description(), program_name, kUsage);
    if (!outcome.run) return outcome.exit_code;
    const po::variables_map& vm = outcome.variables;
    apply_logging_options(vm, "consensus-" + std::to_string(vm["node-id"].as<uint64_t>()));
    Result<ServerOptions> options = server_options(vm);
    if (!options.is_ok()) {
        std::cerr << program_name << ": " << options.status().message() << "\n";
        return 2;
    }
    log_effective_configuration(vm, {{"peer-listen", options->peer_listen},
                                     {"client-listen", options->client_listen},
                                     {"logstore", options->logstore_endpoint}});
    return serve(*options, factory);
}

}  // namespace copycat::server
