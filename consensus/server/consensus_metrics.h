// The consensus metrics of CONVENTIONS.md (etcd's shapes), refreshed from the server core by
// the event loop.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "common/metrics.h"

namespace copycat::server {

struct ConsensusMetrics {
    explicit ConsensusMetrics(Metrics& metrics);

    prometheus::Gauge& has_leader;
    prometheus::Gauge& is_leader;
    prometheus::Counter& leader_changes_seen_total;
    prometheus::Gauge& term;
    prometheus::Gauge& commit_index;
    prometheus::Gauge& applied_index;
    prometheus::Counter& proposals_committed_total;
    prometheus::Counter& proposals_failed_total;
    prometheus::Family<prometheus::Gauge>& member_type;
    prometheus::Gauge& sessions_open;
    prometheus::Counter& session_expired_total;
    prometheus::Gauge& session_events_pending;
    prometheus::Family<prometheus::Counter>& requests_total;  // {code}
    prometheus::Family<prometheus::Counter>& queries_total;   // {consistency}
};

}  // namespace copycat::server
