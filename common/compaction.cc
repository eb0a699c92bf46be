#include "common/compaction.h"

#include <algorithm>

namespace copycat::compaction {

namespace {

// The numbering of statemachine::CompactionMode (and storage::CompactionMode).
enum Mode : uint8_t {
    default_mode = 0,
    unknown = 1,
    snapshot = 2,
    release = 3,
    quorum = 4,
    full = 5,
    sequential = 6,
    expiring = 7,
    tombstone = 8,
};

}  // namespace

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::minor: return "minor";
        case Kind::major: return "major";
        case Kind::snapshot: return "snapshot";
    }
    return "invalid";
}

bool is_delete(uint8_t mode) { return mode == sequential || mode == expiring || mode == tombstone; }

bool removable(uint8_t mode, uint64_t index, bool released, const Indexes& indexes, Kind kind) {
    if (index == 0 || index > indexes.commit) return false;
    bool covered_by_snapshot = index <= indexes.snapshot;
    if (covered_by_snapshot && kind != Kind::minor) return true;
    if (!released || index > indexes.minor) return false;
    bool below_global = index < indexes.global;
    bool major = kind == Kind::major;
    switch (mode) {
        case release:
        case quorum: return true;
        case snapshot: return covered_by_snapshot;
        case full: return below_global;
        case sequential:
        case expiring:
        case tombstone: return major && below_global;
        default: return false;  // DEFAULT, UNKNOWN: only a snapshot covers them (above)
    }
}

}  // namespace copycat::compaction
