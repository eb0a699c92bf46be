#include "compactor/compactor_metrics.h"

#include "compactor/compactor.h"

namespace copycat::compactor {
namespace {

// From 10 ms (a small segment) to an hour (a major run over a large log).
const std::vector<double>& run_buckets_seconds() {
    static const std::vector<double> buckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                                5,    10,    30,   60,  120,  300, 900, 3600};
    return buckets;
}

const compaction::Kind kKinds[] = {compaction::Kind::minor, compaction::Kind::major,
                                   compaction::Kind::snapshot};

prometheus::Labels kind_label(compaction::Kind kind) {
    return {{"kind", compaction::kind_name(kind)}};
}

}  // namespace

CompactorMetrics::CompactorMetrics(Metrics& metrics)
    : runs_total_(
          metrics.counter_family("copycat_compactor_runs_total", "Compaction passes run, by kind")),
      failures_total_(metrics.counter_family("copycat_compactor_failures_total",
                                             "Compaction passes that stopped on an error")),
      duration_seconds_(metrics.histogram_family("copycat_compactor_duration_seconds",
                                                 "Duration of each compaction pass, by kind")),
      segments_rewritten_total_(metrics.counter_family("copycat_compactor_segments_rewritten_total",
                                                       "Compacted segment versions installed")),
      entries_removed_total_(metrics.counter_family("copycat_compactor_entries_removed_total",
                                                    "Log entries removed by compaction")),
      reclaimed_bytes_total_(metrics.counter("copycat_compactor_reclaimed_bytes_total",
                                             "Bytes of segment files that compaction freed")),
      leftovers_removed_total_(
          metrics.counter("copycat_compactor_leftovers_removed_total",
                          "Files of interrupted compactions that the logstore removed")),
      bad_requests_total_(metrics.counter_family(
          "copycat_compactor_bad_requests_total",
          "Messages on the compactor's socket answered with an error, by reason")) {
    for (compaction::Kind kind : kKinds) {  // every kind shows, at 0, before its first pass
        runs_total_.Add(kind_label(kind));
        failures_total_.Add(kind_label(kind));
        duration_seconds_.Add(kind_label(kind), run_buckets_seconds());
        segments_rewritten_total_.Add(kind_label(kind));
        entries_removed_total_.Add(kind_label(kind));
    }
    for (const char* reason : {"malformed", "not_a_request"}) {
        bad_requests_total_.Add({{"reason", reason}});
    }
}

void CompactorMetrics::record_pass(compaction::Kind kind, double seconds, const RunReport& done,
                                   bool failed) {
    runs_total_.Add(kind_label(kind)).Increment();
    if (failed) failures_total_.Add(kind_label(kind)).Increment();
    duration_seconds_.Add(kind_label(kind), run_buckets_seconds()).Observe(seconds);
    segments_rewritten_total_.Add(kind_label(kind))
        .Increment(static_cast<double>(done.segments_rewritten));
    entries_removed_total_.Add(kind_label(kind))
        .Increment(static_cast<double>(done.entries_removed));
    reclaimed_bytes_total_.Increment(static_cast<double>(done.reclaimed_bytes));
}

void CompactorMetrics::record_leftovers_removed(uint64_t files) {
    leftovers_removed_total_.Increment(static_cast<double>(files));
}

void CompactorMetrics::record_bad_request(const char* reason) {
    bad_requests_total_.Add({{"reason", reason}}).Increment();
}

}  // namespace copycat::compactor
