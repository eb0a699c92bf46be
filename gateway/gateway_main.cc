#include "gateway/gateway_main.h"

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/duration.h"
#include "common/event_loop.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/log_options.h"
#include "common/serve.h"
#include "gateway/gateway.h"

namespace copycat::gateway {

namespace {

namespace po = boost::program_options;

constexpr const char* kProgram = "copycat-gateway";
constexpr const char* kUsage =
    "the stateless front end of a copycat cluster: clients connect here and speak the same\n"
    "protocol as to a node. Commands and linearizable reads go to the leader, sequential reads\n"
    "to caught-up followers, keep-alives are batched, events go to the client of their\n"
    "session. Kill it and clients carry on through another gateway with the same sessions.";

po::options_description options_description() {
    po::options_description o("copycat-gateway options");
    auto add = o.add_options();
    add("id", po::value<uint64_t>()->default_value(1),
        "this gateway's number g: names it in logs and picks the default ports");
    add("listen", po::value<std::string>(),
        "endpoint clients connect to (default tcp://127.0.0.1:<7000+g-1>)");
    add("nodes",
        po::value<std::string>()->default_value(
            "tcp://127.0.0.1:7201,tcp://127.0.0.1:7202,tcp://127.0.0.1:7203"),
        "the nodes' client endpoints, comma separated (ID=ENDPOINT names the node, which "
        "--curve-node-keys needs)");
    add("http", po::value<std::string>(),
        "host:port for /metrics, /livez, /readyz (default 127.0.0.1:<9000+g-1>)");
    add("request-timeout",
        po::value<Duration>()->default_value(Duration(std::chrono::milliseconds(2500))),
        "a request no node answered within this is answered timeout");
    add("keep-alive-window",
        po::value<Duration>()->default_value(Duration(std::chrono::milliseconds(50))),
        "the longest a client's keep-alive waits to be batched with others");
    add("status-interval",
        po::value<Duration>()->default_value(Duration(std::chrono::milliseconds(250))),
        "how often each node is asked for its status (silent for two: unreachable)");
    add("max-follower-lag", po::value<uint64_t>()->default_value(1000),
        "sequential reads go to followers at most this many entries behind the leader's commit");
    add("curve-key", po::value<std::string>(),
        "this gateway's CURVE key pair file (copycat-ctl keygen gateway); every replica may "
        "share it");
    add("curve-node-keys", po::value<std::string>(),
        "public keys of the nodes, NAME KEY a line named node-<id>: the links to the nodes "
        "use CURVE");
    add("curve-client-keys", po::value<std::string>(),
        "public keys of the clients: the client endpoint uses CURVE and admits only these");
    o.add(logging_options());
    return o;
}

Micros micros_of(const po::variables_map& vm, const char* name) {
    return Micros(vm[name].as<Duration>().microseconds());
}

Status validate(const GatewayConfig& config) {
    if (config.id == 0) return invalid_argument("--id must be 1 or more");
    if (config.core.node_endpoints.empty()) {
        return invalid_argument("--nodes names no node: give their client endpoints");
    }
    for (auto [name, value] : {std::pair{"--request-timeout", config.core.request_timeout},
                               std::pair{"--keep-alive-window", config.core.keep_alive_window},
                               std::pair{"--status-interval", config.core.status_interval}}) {
        if (value < std::chrono::milliseconds(1)) {
            return invalid_argument(std::string(name) + " must be at least 1ms");
        }
    }
    if (config.core.keep_alive_window >= config.core.request_timeout) {
        return invalid_argument("--keep-alive-window must be below --request-timeout");
    }
    return check_listen_address(config.http);
}

Result<GatewayConfig> gateway_config(const po::variables_map& vm) {
    GatewayConfig config;
    config.id = vm["id"].as<uint64_t>();
    const uint64_t g = config.id;
    config.listen = vm.count("listen") ? vm["listen"].as<std::string>()
                                       : "tcp://127.0.0.1:" + std::to_string(7000 + g - 1);
    config.http = vm.count("http") ? vm["http"].as<std::string>()
                                   : "127.0.0.1:" + std::to_string(9000 + g - 1);
    auto nodes = parse_named_endpoints(vm["nodes"].as<std::string>(), "--nodes");
    if (!nodes.is_ok()) return nodes.status();
    for (const NamedEndpoint& node : *nodes) {
        config.core.node_endpoints.push_back(node.endpoint);
        config.node_ids.push_back(node.id);
    }
    COPYCAT_RETURN_IF_ERROR(load_curve_flags(vm, config.curve_key,
                                             {{"curve-node-keys", &config.curve_node_keys},
                                              {"curve-client-keys", &config.curve_client_keys}}));
    COPYCAT_RETURN_IF_ERROR(validate_curve(config));
    config.core.request_timeout = micros_of(vm, "request-timeout");
    config.core.keep_alive_window = micros_of(vm, "keep-alive-window");
    config.core.status_interval = micros_of(vm, "status-interval");
    config.core.max_follower_lag = vm["max-follower-lag"].as<uint64_t>();
    COPYCAT_RETURN_IF_ERROR(validate(config));
    return config;
}

int serve(const GatewayConfig& config) {
    Status blocked = EventLoop::block_termination_signals();
    if (!blocked.is_ok()) log::warn("cannot block termination signals", {{"error", blocked}});
    Metrics metrics;
    EventLoop loop;
    Result<std::unique_ptr<HttpServer>> http =
        HttpServer::start(HttpServerOptions{config.http}, metrics, loop.heartbeat());
    if (!http.is_ok()) {
        log::fatal("cannot serve HTTP", {{"error", http.status()}});
        return 1;
    }
    Result<std::unique_ptr<Gateway>> gateway = Gateway::start(config, metrics);
    if (!gateway.is_ok()) {
        log::fatal("cannot start", {{"error", gateway.status()}});
        return gateway.status().code() == StatusCode::invalid_argument ? 2 : 1;
    }
    Gateway* raw = gateway->get();
    (*http)->add_readiness_check("leader", [raw] { return raw->ready(); });
    raw->attach(loop);
    // The port actually bound: with port 0 in --http, tests and scripts read it here.
    const std::string host = config.http.substr(0, config.http.rfind(':'));
    log::info("serving",
              {{"clients", config.listen}, {"http", host + ":" + std::to_string((*http)->port())}});
    // The HTTP threads call raw->ready() until they stop: they stop before the gateway goes.
    return serve_until_stopped(loop, *http);
}

}  // namespace

int gateway_main(int argc, const char* const argv[]) {
    ParseOutcome outcome = parse_config(argc, argv, options_description(), kProgram, kUsage);
    if (!outcome.run) return outcome.exit_code;
    const po::variables_map& vm = outcome.variables;
    apply_logging_options(vm, "gateway-" + std::to_string(vm["id"].as<uint64_t>()));
    Result<GatewayConfig> config = gateway_config(vm);
    if (!config.is_ok()) {
        std::cerr << kProgram << ": " << config.status().message() << "\n";
        return 2;
    }
    // Defaults that depend on --id, shown as they came out.
    log_effective_configuration(vm, {{"listen", config->listen}, {"http", config->http}});
    return serve(*config);
}

}  // namespace copycat::gateway
