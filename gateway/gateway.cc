#include "gateway/gateway.h"

#include <unistd.h>

#include <chrono>

#include "common/log.h"
#include "common/zmq_socket.h"

namespace copycat::gateway {

namespace {

// Messages taken from one socket per wake-up: enough to batch under load, few enough that one
// busy socket does not starve the others.
constexpr size_t kReceiveBatch = 512;
constexpr auto kTickInterval = std::chrono::milliseconds(5);
constexpr auto kHousekeepingInterval = std::chrono::milliseconds(100);

Time steady_now() {
    return Time(
        std::chrono::duration_cast<Micros>(std::chrono::steady_clock::now().time_since_epoch()));
}

SocketOptions client_socket_options() {
    SocketOptions options;
    options.send_high_water_mark = 100000;
    options.receive_high_water_mark = 100000;
    options.max_message_bytes = 16 << 20;
    options.router_mandatory = true;
    return options;
}

SocketOptions node_socket_options() {
    SocketOptions options;
    options.send_high_water_mark = 100000;
    options.receive_high_water_mark = 100000;
    options.max_message_bytes = 64 << 20;
    return options;
}

// This process's name at the nodes: unique per start, so that nodes see a restarted gateway
// as a new connection.
std::string dealer_routing_id(uint64_t gateway_id) {
    const auto nonce = std::chrono::steady_clock::now().time_since_epoch().count() % 1'000'000'000;
    return "gateway-" + std::to_string(gateway_id) + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(nonce);
}

// One message from a ROUTER: the routing id frame, then the last frame as the payload (a
// DEALER client sends one frame; anything between is dropped). False if none is waiting.
bool receive_routed(zmq::socket_t& router, zmq::message_t& routing_id, zmq::message_t& payload) {
    if (!router.recv(routing_id, zmq::recv_flags::dontwait)) return false;
    payload.rebuild();
    bool more = routing_id.more();
    while (more) {
        // The frames of one message arrive together: the rest are there already.
        if (!router.recv(payload, zmq::recv_flags::dontwait)) break;
        more = payload.more();
    }
    return true;
}

}  // namespace

Gateway::Gateway(const GatewayConfig& config, Metrics& metrics)
    : config_(config),
      router_(make_router(context_, client_socket_options())),
      metrics_(metrics, config.core.node_endpoints),
      zap_(context_, metrics),
      handshake_failures_(handshake_failures_family(metrics)) {}

Gateway::~Gateway() = default;

Result<std::unique_ptr<Gateway>> Gateway::start(const GatewayConfig& config, Metrics& metrics) {
    std::unique_ptr<Gateway> gateway(new Gateway(config, metrics));
    COPYCAT_RETURN_IF_ERROR(gateway->connect());
    GatewayOutput& output = *gateway;  // a private base: convertible here, not in make_unique
    gateway->core_ = std::make_unique<GatewayCore>(config.core, output, steady_now());
    return gateway;
}

Status validate_curve(const GatewayConfig& config) {
    const bool lists = config.curve_node_keys || config.curve_client_keys;
    if (!config.curve_key) {
        if (!lists) return Status::ok();
        return invalid_argument(
            "--curve-node-keys and --curve-client-keys need this gateway's key pair: "
            "--curve-key (copycat-ctl keygen gateway makes one)");
    }
    if (!lists) {
        return invalid_argument(
            "--curve-key switches nothing on alone: add --curve-node-keys (links to the nodes) "
            "and/or --curve-client-keys (the client endpoint)");
    }
    if (!config.curve_node_keys) return Status::ok();
    for (size_t i = 0; i < config.core.node_endpoints.size(); ++i) {
        const uint64_t id = i < config.node_ids.size() ? config.node_ids[i] : 0;
        if (id == 0) {
            return invalid_argument(
                "with --curve-node-keys, each --nodes endpoint names its node, ID=ENDPOINT (e.g. "
                "1=tcp://10.0.0.1:7201), to find its key: '" +
                config.core.node_endpoints[i] + "' does not");
        }
        if (config.curve_node_keys->find(node_key_name(id)) == nullptr) {
            return invalid_argument("--curve-node-keys lists no key for " + node_key_name(id));
        }
    }
    return Status::ok();
}

// With CURVE on the client endpoint, the ZAP handler is bound before it listens: without it
// ZeroMQ would admit every key.
Status Gateway::connect() {
    if (config_.curve_client_keys) {
        COPYCAT_RETURN_IF_ERROR(zap_.bind());
        zap_bound_ = true;
        const CurveServer link{*config_.curve_key, *config_.curve_client_keys, "clients"};
        zap_.admit(link);
        make_curve_server(router_, link);
    }
    try {
        router_.bind(config_.listen);
    } catch (const zmq::error_t& e) {
        return Status(StatusCode::unavailable,
                      "cannot listen for clients on " + config_.listen + ": " + e.what());
    }
    const std::string routing_id = dealer_routing_id(config_.id);
    for (size_t i = 0; i < config_.core.node_endpoints.size(); ++i) {
        const std::string& endpoint = config_.core.node_endpoints[i];
        dealers_.push_back(make_dealer(context_, routing_id, node_socket_options()));
        if (config_.curve_node_keys) {
            const std::string& key = *config_.curve_node_keys->find(
                node_key_name(config_.node_ids[i]));  // validate_curve() checked it is there
            make_curve_client(dealers_.back(), CurveClient{*config_.curve_key, key});
            monitors_.push_back(std::make_unique<HandshakeMonitor>(context_, dealers_.back()));
        }
        try {
            dealers_.back().connect(endpoint);
        } catch (const zmq::error_t& e) {
            return invalid_argument("cannot connect to node " + endpoint + ": " + e.what());
        }
    }
    return Status::ok();
}

void Gateway::attach(EventLoop& loop) {
    if (zap_bound_) loop.add_socket(zap_.socket(), [this] { zap_.on_readable(); });
    loop.add_socket(router_, [this] { on_client_readable(); });
    for (size_t node = 0; node < dealers_.size(); ++node) {
        loop.add_socket(dealers_[node], [this, node] { on_node_readable(node); });
    }
    loop.add_periodic(kTickInterval, [this] { on_tick(); });
    loop.add_periodic(kHousekeepingInterval, [this] { on_housekeeping(); });
    // The first status polls go with the first tick, once the connections to the nodes had a
    // few milliseconds to come up (before, a send to a node fails as if it were down).
}

void Gateway::on_client_readable() {
    for (size_t i = 0; i < kReceiveBatch; ++i) {
        if (!receive_routed(router_, routing_id_, payload_)) return;
        const std::string_view routing_id(static_cast<const char*>(routing_id_.data()),
                                          routing_id_.size());
        core_->on_client_message(routing_id, {payload_.data<uint8_t>(), payload_.size()},
                                 steady_now());
    }
}

void Gateway::on_node_readable(size_t node) {
    zmq::socket_t& dealer = dealers_[node];
    for (size_t i = 0; i < kReceiveBatch; ++i) {
        if (!dealer.recv(payload_, zmq::recv_flags::dontwait)) return;
        if (payload_.more()) continue;  // nodes send one frame: skip the parts of anything else
        core_->on_node_message(node, {payload_.data<uint8_t>(), payload_.size()}, steady_now());
    }
}

void Gateway::on_tick() { core_->on_tick(steady_now()); }

void Gateway::on_housekeeping() {
    for (size_t node = 0; node < monitors_.size(); ++node) {
        report_handshake_failures(*monitors_[node], handshake_failures_, "gateways",
                                  node_key_name(config_.node_ids[node]));
    }
    metrics_.sync(*core_);
    leader_known_ = core_->cluster().leader().has_value();
    log_changes();
}

// What an operator wants to see in the log: which node leads, and nodes lost and found.
void Gateway::log_changes() {
    const ClusterView& cluster = core_->cluster();
    const session::NodeId leader = cluster.leader_id();
    if (leader != logged_leader_) {
        if (leader != 0) {
            log::info("leader",
                      {{"leader", leader}, {"endpoint", cluster.node(*cluster.leader()).endpoint}});
        } else {
            log::warn("no leader known: requests wait and are retried");
        }
        logged_leader_ = leader;
    }
    logged_reachable_.resize(cluster.size(), true);
    for (size_t node = 0; node < cluster.size(); ++node) {
        const bool reachable = cluster.node(node).reachable;
        if (reachable == logged_reachable_[node]) continue;
        logged_reachable_[node] = reachable;
        const log::Fields fields = {{"endpoint", cluster.node(node).endpoint}};
        if (reachable) {
            log::info("node reachable again", fields);
        } else {
            log::warn(
                "node unreachable: a send to it failed, or it was silent for two status "
                "intervals",
                fields);
        }
    }
}

Status Gateway::ready() const {
    if (!leader_known_) return Status(StatusCode::unavailable, "no leader known");
    return Status::ok();
}

bool Gateway::send_to_node(size_t node, std::span<const uint8_t> bytes) {
    return try_send(dealers_[node], bytes);
}

ClientSend Gateway::send_to_client(std::string_view routing_id, std::span<const uint8_t> bytes) {
    switch (try_send_result(router_, routing_id, bytes)) {
        case SendResult::sent: return ClientSend::sent;
        case SendResult::would_block:
            log::warn_once("gateway-client-queue-full",
                           "a client connection's queue is full: dropping answers and events to "
                           "it until it reads");
            return ClientSend::full;
        case SendResult::unreachable: return ClientSend::gone;
    }
    return ClientSend::gone;
}

void Gateway::answered(Op op, session::ErrorCode code, Micros took) {
    metrics_.answered(op, code, took);
}

void Gateway::malformed(std::string_view from, const Status& why) {
    const std::string key = "gateway-malformed-" + std::string(from);
    log::warn_once(key, "refused a message that does not read",
                   {{"from", from}, {"error", why.message()}});
}

}  // namespace copycat::gateway
