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
#include <string>
#include <vector>

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
};

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
    std::unique_ptr<GatewayCore> core_;
    // Reused for every message received: no allocation per message for small frames.
    zmq::message_t routing_id_;
    zmq::message_t payload_;
    std::atomic<bool> leader_known_{false};
    session::NodeId logged_leader_ = 0;
    std::vector<bool> logged_reachable_;
};

}  // namespace copycat::gateway
