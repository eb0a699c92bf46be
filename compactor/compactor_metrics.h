// The compactor's metrics (CONVENTIONS.md, Metrics; compactor/README.md lists them). Updated
// from the thread that runs compactions and from the event loop; prometheus-cpp's counters and
// histograms are safe for that.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include "common/compaction.h"
#include "common/metrics.h"

namespace copycat::compactor {

struct RunReport;

class CompactorMetrics {
public:
    explicit CompactorMetrics(Metrics& metrics);

    // One finished pass of `kind` (failed or not) and what it did.
    void record_pass(compaction::Kind kind, double seconds, const RunReport& done, bool failed);
    void record_leftovers_removed(uint64_t files);
    // A request on the compactor's socket refused: reason "malformed" or "not_a_request".
    void record_bad_request(const char* reason);

private:
    prometheus::Family<prometheus::Counter>& runs_total_;
    prometheus::Family<prometheus::Counter>& failures_total_;
    prometheus::Family<prometheus::Histogram>& duration_seconds_;
    prometheus::Family<prometheus::Counter>& segments_rewritten_total_;
    prometheus::Family<prometheus::Counter>& entries_removed_total_;
    prometheus::Counter& reclaimed_bytes_total_;
    prometheus::Counter& leftovers_removed_total_;
    prometheus::Family<prometheus::Counter>& bad_requests_total_;
};

}  // namespace copycat::compactor
