// Gateway: the copycat-gateway process (DESIGN.md, Processes), a shell around the pure
// GatewayCore. It owns the sockets, the clock and the metrics:
//
//  - a ROUTER that clients' DEALERs connect to (router_mandatory: an answer to a connection
//    that has gone is reported, and counted, not silently lost);
//  - one DEALER per node, connected to the node's client ROUTER, with a routing id unique to
//    this process (a restarted gateway is a new connection to the nodes, so they resend
//    pending events to it when its sessions' requests arrive);
//  - timers: the core's tick every few milliseconds, metrics and readiness a few times a
//    second.
//
// Sockets are drained in batches (up to 512 messages per wake-up), every send is dontwait,
// and the bytes of commands, queries, answers and events pass through without decoding.
//
// Single-threaded (the event loop's); the HTTP server's threads read only an atomic.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/curve.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "common/status.h"
#include "gateway/gateway_core.h"
#include "gateway/gateway_metrics.h"

namespace copycat::gateway {

struct GatewayConfig {
    uint64_t id = 1;     // the gateway's number: logs and default ports
    std::string listen;  // the endpoint clients connect to
    std::string http;    // host:port for /metrics, /livez, /readyz
    GatewayOptions core;
    // The node id of each of core.node_endpoints where given (ID=ENDPOINT; else 0).
    std::vector<uint64_t> node_ids;
    // CURVE (common/curve.h), off unless curve_key is set: with curve_node_keys the links to
    // the nodes are encrypted (each node's key found as node-<id>); with curve_client_keys
    // clients must connect with CURVE and only those keys get in.
    std::optional<CurveKeyPair> curve_key;
    std::optional<CurvePublicKeys> curve_node_keys;
    std::optional<CurvePublicKeys> curve_client_keys;
};

// The CURVE settings go together: a key with a list, a list with a key, a node id and a key
// for every node when the node links are secured.
Status validate_curve(const GatewayConfig& config);

class Gateway final : private GatewayOutput {
public:
    // Binds the client endpoint and connects to every node; errors say what to fix.
    static Result<std::unique_ptr<Gateway>> start(const GatewayConfig& config, Metrics& metrics);
    ~Gateway() override;
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    void attach(EventLoop& loop);
    // /readyz: a leader is known. Any thread.
    Status ready() const;

private:
    Gateway(const GatewayConfig& config, Metrics& metrics);
    Status connect();

    void on_client_readable();
    void on_node_readable(size_t node);
    void on_tick();
    void on_housekeeping();
    void log_changes();

    // GatewayOutput
    bool send_to_node(size_t node, std::span<const uint8_t> bytes) override;
    ClientSend send_to_client(std::string_view routing_id, std::span<const uint8_t> bytes) override;
    void answered(Op op, session::ErrorCode code, Micros took) override;
    void malformed(std::string_view from, const Status& why) override;

    GatewayConfig config_;
    zmq::context_t context_{1};
    zmq::socket_t router_;
    std::vector<zmq::socket_t> dealers_;
    GatewayMetrics metrics_;
    ZapHandler zap_;  // bound only with curve_client_keys
    bool zap_bound_ = false;
    std::vector<std::unique_ptr<HandshakeMonitor>> monitors_;  // of dealers_, with CURVE
    prometheus::Family<prometheus::Counter>& handshake_failures_;
    std::unique_ptr<GatewayCore> core_;
    // Reused for every message received: no allocation per message for small frames.
    zmq::message_t routing_id_;
    zmq::message_t payload_;
    std::atomic<bool> leader_known_{false};
    session::NodeId logged_leader_ = 0;
    std::vector<bool> logged_reachable_;
};

}  // namespace copycat::gateway
