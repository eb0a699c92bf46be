// LogAccess: what the compactor asks of its node's logstore (schemas/storage.fbs): the
// compaction indexes, the live segments, a copy of release bits, installing a compacted
// version, and removing compaction leftovers. The process speaks the storage protocol to a
// copycat-logstore (RemoteLogAccess, remote_log_access.h); tests and anything in-process use
// LocalLogAccess on a SegmentedLog directly. Calls are synchronous; one caller at a time.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/compaction.h"
#include "common/status.h"
#include "logstore/log.h"

namespace copycat::compactor {

// A copy of release bits, with the state the consensus server's batches left them in
// (ReleaseBitsResponse): bits that are not complete are not one cut of the log and must not be
// acted on; global_cap bounds the global index for deletes (consensus/session/disk_releases.h).
struct ReleaseBits {
    std::vector<logstore::SegmentBits> segments;
    bool complete = true;
    uint64_t global_cap = UINT64_MAX;
};

class LogAccess {
public:
    virtual ~LogAccess() = default;

    // commit, minor, global and snapshot index, as the consensus server last reported them.
    virtual Result<compaction::Indexes> indexes() = 0;
    // The live segments in log order; the last one is the active segment.
    virtual Result<std::vector<logstore::SegmentSummary>> segments() = 0;
    // The current release bits of the sealed segments `ids` (those that are not are left out).
    virtual Result<ReleaseBits> release_bits(std::span<const uint64_t> ids) = 0;
    // Has the logstore verify and install file_name in place of the neighbours `replaces`.
    virtual Result<logstore::SegmentSummary> install(std::span<const uint64_t> replaces,
                                                     const std::string& file_name) = 0;
    // Has the logstore remove compaction leftovers the manifest does not name.
    virtual Result<std::vector<std::string>> remove_leftovers() = 0;
};

// In-process access to a SegmentedLog that this thread owns; the indexes are whatever the
// owner last set (a SegmentedLog does not hold them: the logstore's service does).
class LocalLogAccess : public LogAccess {
public:
    explicit LocalLogAccess(logstore::SegmentedLog& log) : log_(log) {}
    void set_indexes(const compaction::Indexes& indexes) { indexes_ = indexes; }
    // As a logstore's last ReleaseRequest would leave them (complete and no cap by default).
    void set_release_state(bool complete, uint64_t global_cap = UINT64_MAX) {
        complete_ = complete;
        global_cap_ = global_cap;
    }

    Result<compaction::Indexes> indexes() override { return indexes_; }
    Result<std::vector<logstore::SegmentSummary>> segments() override { return log_.segments(); }
    Result<ReleaseBits> release_bits(std::span<const uint64_t> ids) override {
        return ReleaseBits{log_.release_bits(ids), complete_, global_cap_};
    }
    Result<logstore::SegmentSummary> install(std::span<const uint64_t> replaces,
                                             const std::string& file_name) override {
        return log_.install_segment(replaces, file_name);
    }
    Result<std::vector<std::string>> remove_leftovers() override { return log_.remove_leftovers(); }

private:
    logstore::SegmentedLog& log_;
    compaction::Indexes indexes_;
    bool complete_ = true;
    uint64_t global_cap_ = UINT64_MAX;
};

}  // namespace copycat::compactor
