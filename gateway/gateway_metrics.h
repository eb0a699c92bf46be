// The Prometheus metrics of copycat-gateway (CONVENTIONS.md, Metrics):
//
//   copycat_gateway_requests_total{op,code}          client requests by final answer
//   copycat_gateway_request_duration_seconds{op}     arrival to answer (histogram)
//   copycat_gateway_sessions                         sessions it routes events for
//   copycat_gateway_clients                          client connections it knows
//   copycat_gateway_pending_requests                 forwarded, not answered yet
//   copycat_gateway_has_leader                       1 while a reachable leader is known
//   copycat_gateway_node_reachable{node}             per node endpoint
//   copycat_gateway_forwarded_total{node}            requests sent to each node (resends too)
//   copycat_gateway_node_answers_total{node,op}      final answers by the node that gave them
//   copycat_gateway_keep_alive_batches_total         batches sent to the leader
//   copycat_gateway_keep_alive_items_total           sessions in them (after merging)
//   copycat_gateway_events_forwarded_total           publishes passed on to clients
//   copycat_network_messages_dropped_total{reason}   not delivered (gateway.h says why)
//
// Request counts and durations are recorded as each request finishes; the rest is copied
// from the core's counters by sync(), which the shell calls a few times a second.
//
// Single-threaded (the event loop's); Prometheus reads the values from its own threads.
#pragma once

#include <array>
#include <vector>

#include "common/metrics.h"
#include "gateway/gateway_core.h"

namespace copycat::gateway {

class GatewayMetrics {
public:
    GatewayMetrics(Metrics& metrics, const std::vector<std::string>& node_endpoints);

    void answered(Op op, session::ErrorCode code, Micros took);
    // Brings the counters and gauges up to the core's.
    void sync(const GatewayCore& core);

private:
    static constexpr size_t kCodeCount = static_cast<size_t>(session::ErrorCode::timeout) + 1;

    // A Prometheus counter brought up to a total kept elsewhere.
    struct SyncedCounter {
        prometheus::Counter* counter = nullptr;
        uint64_t seen = 0;
        void sync(uint64_t total);
    };

    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Family<prometheus::Histogram>& durations_;
    // Created on first use, so that /metrics lists only what happened.
    std::array<std::array<prometheus::Counter*, kCodeCount>, kOpCount> request_counters_{};
    std::array<prometheus::Histogram*, kOpCount> duration_histograms_{};
    const std::vector<double> buckets_;

    prometheus::Gauge& sessions_;
    prometheus::Gauge& clients_;
    prometheus::Gauge& pending_;
    prometheus::Gauge& has_leader_;
    std::vector<prometheus::Gauge*> reachable_;
    std::vector<SyncedCounter> forwarded_;
    prometheus::Family<prometheus::Counter>& node_answers_;
    std::vector<std::array<SyncedCounter, kOpCount>> node_answers_counters_;
    std::vector<std::string> node_labels_;
    SyncedCounter keep_alive_batches_;
    SyncedCounter keep_alive_items_;
    SyncedCounter events_forwarded_;
    std::array<SyncedCounter, kDropCount> dropped_;
};

}  // namespace copycat::gateway
