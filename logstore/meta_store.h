// The `meta` file: term, vote, the log floor and the latest configuration, saved durably in one
// of two alternating slots (FORMAT.md, "Metadata").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "logstore/file.h"

namespace copycat::logstore {

struct Meta {
    uint64_t term = 0;
    uint64_t vote = 0;
    uint64_t configuration_index = 0;
    uint64_t configuration_term = 0;
    std::vector<uint8_t> configuration;
    // The end of the log dropped at the last log reset (raft::HardState::floor_*); 0/0: never
    // reset, and what a slot written before the floor existed (format 01) reads as.
    uint64_t floor_term = 0;
    uint64_t floor_index = 0;
    // raft::HardState::holes_released_by; 0 in a format 01 slot.
    uint64_t holes_released_by = 0;

    bool operator==(const Meta&) const = default;
};

// What SaveTerm saves: the Raft server's hard state (raft::HardState).
struct TermRecord {
    uint64_t term = 0;
    uint64_t vote = 0;
    uint64_t floor_term = 0;
    uint64_t floor_index = 0;
    uint64_t holes_released_by = 0;
};

inline constexpr size_t kMetaSlotBytes = 65536;
inline constexpr size_t kMetaSlotOverheadBytes = 80;  // format 02 (01 had 56)
inline constexpr size_t kMetaConfigurationMaxBytes = kMetaSlotBytes - kMetaSlotOverheadBytes;

class MetaStore {
public:
    // A missing file is created (term 0, no vote); a file with no valid slot is corruption.
    static Result<MetaStore> open(const std::string& path);
    // Reads the newest valid slot without creating or changing anything (inspect).
    static Result<Meta> read(const std::string& path);

    const Meta& meta() const { return meta_; }
    // Durable (fdatasync) before it returns ok. Refuses a term lower than the stored one.
    Status save(const Meta& meta);

private:
    MetaStore(File file, Meta meta, uint64_t sequence, int slot);

    File file_;
    Meta meta_;
    uint64_t sequence_ = 0;
    int newest_slot_ = 0;
};

}  // namespace copycat::logstore
