// How a Raft entry is stored in the logstore: the logstore keeps index, term and compaction
// mode itself and treats the payload as opaque, so the entry's type and timestamp go in front
// of the Raft payload: [type u8][timestamp_ms u64 little-endian][payload].
#pragma once

#include "common/status.h"
#include "consensus/raft/types.h"
#include "logstore/record.h"

namespace copycat::server {

logstore::Entry to_stored_entry(const raft::Entry& entry);
// A stored entry back; corruption if its header is short or names no entry type.
Result<raft::Entry> from_stored_entry(logstore::Entry stored);

}  // namespace copycat::server
