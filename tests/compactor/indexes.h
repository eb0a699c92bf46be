// compaction::Indexes from its four values, in the order of SetIndexesRequest's words that
// matter to compaction, for the compactor's tests.
#pragma once

#include <cstdint>

#include "common/compaction.h"

namespace copycat::compactor {

inline compaction::Indexes make_indexes(uint64_t commit, uint64_t minor, uint64_t global = 0,
                                        uint64_t snapshot = 0) {
    compaction::Indexes indexes;
    indexes.commit = commit;
    indexes.minor = minor;
    indexes.global = global;
    indexes.snapshot = snapshot;
    return indexes;
}

}  // namespace copycat::compactor
