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
    // Snapshots (SNAPSHOTS.md): only state machines that take them move these.
    prometheus::Gauge& snapshot_index;               // of the newest durable snapshot
    prometheus::Counter& snapshots_taken_total;      // taken here and stored
    prometheus::Counter& snapshots_installed_total;  // received from a leader and stored
    prometheus::Histogram& snapshot_write_duration_seconds;
    prometheus::Gauge& snapshot_bytes;  // the newest durable snapshot's file
};

}  // namespace copycat::server
