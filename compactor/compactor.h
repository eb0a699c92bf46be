// Compactor: the compaction runs of one node (compactor/README.md). It asks the logstore for
// the indexes, the live segments and a copy of their release bits (LogAccess), plans with the
// pure core (plan/selection.h, plan/retention.h), reads the chosen sealed segments read-only,
// writes each compacted version beside them (segment_files.h) and has the logstore install it.
// It never writes a live segment and never removes a file; leftovers of an interrupted run are
// removed by the logstore at its request (logstore/FORMAT.md, "Compaction leftovers").
//
// Synchronous and single-threaded: one call at a time, from one thread (the process runs them
// on its compaction thread, one run at a time; tests call them directly).
//
// Crash points (logstore/file.h), in the order a rewrite passes them: replace.after_tmp_write
// (new version written and fdatasync'd under its .tmp name), replace.after_rename (under its
// own name), compactor.before_install (directory fsync'd, install not yet asked),
// compactor.install_sent (RemoteLogAccess only: asked, no answer yet), then the logstore's
// install steps (in-process only), compactor.after_install (answered).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/compaction.h"
#include "common/status.h"
#include "compactor/compactor_metrics.h"
#include "compactor/log_access.h"
#include "compactor/plan/retention.h"
#include "compactor/plan/selection.h"
#include "compactor/segment_files.h"

namespace copycat::compactor {

struct CompactorOptions {
    std::string log_directory;  // <data-dir>/log, read here and written beside
    double threshold = 0.5;     // minor: (released / records) x version must reach it
    plan::Limits limits;        // major: how far neighbours combine
};

// What a run did. A run that stopped on a failure did what it reports and no more.
struct RunReport {
    uint64_t segments_rewritten = 0;  // compacted versions installed
    uint64_t segments_replaced = 0;   // live segments they replaced
    uint64_t entries_removed = 0;
    uint64_t reclaimed_bytes = 0;
    uint64_t leftovers_removed = 0;

    RunReport& operator+=(const RunReport& other);
};

class Compactor {
public:
    // log and metrics (may be null) must outlive the compactor.
    Compactor(LogAccess& log, CompactorOptions options, CompactorMetrics* metrics = nullptr);

    // A whole job: has the logstore remove leftovers, then runs major compaction, or snapshot
    // compaction followed by minor. Stops at the first failure (the Status says which pass and
    // what it had done; what was installed stays installed), or between two rewrites once
    // *stop is true (then the report says what was done).
    Result<RunReport> compact(bool major, const std::atomic<bool>* stop = nullptr);
    // One pass of one kind; with remove_leftovers_first, having the leftovers removed is part
    // of it (a failure there fails the pass).
    Result<RunReport> run_pass(compaction::Kind kind, const std::atomic<bool>* stop = nullptr,
                               bool remove_leftovers_first = false);

private:
    // A sealed segment and what the pass's plan keeps of it (plan/retention.h, over every
    // sealed segment from one copy of the release bits).
    struct Candidate {
        logstore::SegmentSummary summary;
        std::vector<bool> keep;  // one per record
        uint64_t removed = 0;
        plan::RewrittenSize kept;
    };

    Status remove_leftovers(RunReport* done);
    Status pass(compaction::Kind kind, const std::atomic<bool>* stop, RunReport* done);
    // Reads the release bits of every sealed segment and the segments themselves, and plans.
    Result<std::vector<Candidate>> plan_sealed(compaction::Kind kind,
                                               const compaction::Indexes& indexes,
                                               const std::vector<logstore::SegmentSummary>& live);
    std::vector<std::vector<Candidate>> major_groups(std::vector<Candidate> chosen) const;
    Status rewrite(const std::vector<Candidate>& group, RunReport* done);
    Status install(const std::vector<Candidate>& group, const WrittenSegment& written,
                   uint64_t kept_records);

    LogAccess& log_;
    CompactorOptions options_;
    CompactorMetrics* metrics_;
};

}  // namespace copycat::compactor
