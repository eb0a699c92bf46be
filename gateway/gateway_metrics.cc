#include "gateway/gateway_metrics.h"

namespace copycat::gateway {

GatewayMetrics::GatewayMetrics(Metrics& metrics, const std::vector<std::string>& node_endpoints)
    : requests_(metrics.counter_family("copycat_gateway_requests_total",
                                       "Client requests by op and the code of their answer")),
      durations_(metrics.histogram_family("copycat_gateway_request_duration_seconds",
                                          "Client requests from arrival to answer, by op")),
      buckets_(duration_buckets_seconds()),
      sessions_(metrics.gauge("copycat_gateway_sessions",
                              "Sessions whose events this gateway routes to a client")),
      clients_(metrics.gauge("copycat_gateway_clients", "Client connections the gateway knows")),
      pending_(metrics.gauge("copycat_gateway_pending_requests",
                             "Requests forwarded to nodes and not answered yet")),
      has_leader_(metrics.gauge("copycat_gateway_has_leader",
                                "1 while the gateway knows a reachable leader")),
      node_answers_(metrics.counter_family("copycat_gateway_node_answers_total",
                                           "Final answers to client requests, by the node "
                                           "that gave them and op")),
      node_labels_(node_endpoints),
      keep_alive_batches_{&metrics.counter("copycat_gateway_keep_alive_batches_total",
                                           "Keep-alive batches sent to the leader")},
      keep_alive_items_{&metrics.counter("copycat_gateway_keep_alive_items_total",
                                         "Sessions kept alive by the batches (after merging)")},
      events_forwarded_{&metrics.counter("copycat_gateway_events_forwarded_total",
                                         "Event publishes passed on to clients")} {
    auto& reachable = metrics.gauge_family("copycat_gateway_node_reachable",
                                           "1 while the node answers the gateway");
    auto& forwarded = metrics.counter_family("copycat_gateway_forwarded_total",
                                             "Requests sent to each node, resends included");
    for (const std::string& endpoint : node_endpoints) {
        reachable_.push_back(&reachable.Add({{"node", endpoint}}));
        forwarded_.push_back({&forwarded.Add({{"node", endpoint}}), 0});
    }
    node_answers_counters_.resize(node_endpoints.size());
    auto& dropped = metrics.counter_family("copycat_network_messages_dropped_total",
                                           "Messages not delivered, by reason");
    for (size_t i = 0; i < kDropCount; ++i) {
        dropped_[i] = {&dropped.Add({{"reason", drop_name(static_cast<Drop>(i))}}), 0};
    }
}

void GatewayMetrics::SyncedCounter::sync(uint64_t total) {
    if (total > seen) counter->Increment(static_cast<double>(total - seen));
    seen = total;
}

void GatewayMetrics::answered(Op op, session::ErrorCode code, Micros took) {
    const auto op_index = static_cast<size_t>(op);
    const auto code_index = static_cast<size_t>(code);
    if (code_index >= kCodeCount) return;
    prometheus::Counter*& counter = request_counters_[op_index][code_index];
    if (counter == nullptr) {
        counter = &requests_.Add({{"op", op_name(op)}, {"code", session::error_code_name(code)}});
    }
    counter->Increment();
    prometheus::Histogram*& histogram = duration_histograms_[op_index];
    if (histogram == nullptr) histogram = &durations_.Add({{"op", op_name(op)}}, buckets_);
    histogram->Observe(static_cast<double>(took.count()) / 1e6);
}

void GatewayMetrics::sync(const GatewayCore& core) {
    const GatewayStats& stats = core.stats();
    sessions_.Set(static_cast<double>(core.sessions()));
    clients_.Set(static_cast<double>(core.clients()));
    pending_.Set(static_cast<double>(core.pending()));
    has_leader_.Set(core.cluster().leader() ? 1 : 0);
    for (size_t node = 0; node < reachable_.size(); ++node) {
        reachable_[node]->Set(core.cluster().node(node).reachable ? 1 : 0);
        forwarded_[node].sync(stats.forwarded[node]);
        for (size_t op = 0; op < kOpCount; ++op) {
            const uint64_t total = stats.answered_by[node][op];
            SyncedCounter& counter = node_answers_counters_[node][op];
            if (total == 0) continue;
            if (counter.counter == nullptr) {
                counter.counter = &node_answers_.Add(
                    {{"node", node_labels_[node]}, {"op", op_name(static_cast<Op>(op))}});
            }
            counter.sync(total);
        }
    }
    keep_alive_batches_.sync(stats.keep_alive_batches);
    keep_alive_items_.sync(stats.keep_alive_items);
    events_forwarded_.sync(stats.events_forwarded);
    for (size_t i = 0; i < kDropCount; ++i) dropped_[i].sync(stats.dropped[i]);
}

}  // namespace copycat::gateway
