// The MANIFEST: which segment versions are live (FORMAT.md, "The manifest").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace copycat::logstore {

struct ManifestSegment {
    uint64_t id = 0;
    uint64_t version = 1;
    uint64_t first_index = 1;
    bool sealed = false;
    // Only for sealed segments: checked against the file at start-up.
    uint64_t last_index = 0;
    uint64_t records = 0;
    uint64_t size_bytes = 0;

    bool operator==(const ManifestSegment&) const = default;
};

struct Manifest {
    uint64_t sequence = 0;
    std::vector<ManifestSegment> segments;
    std::optional<uint64_t> truncate_intent;

    bool operator==(const Manifest&) const = default;
};

std::string encode_manifest(const Manifest& manifest);
// Checks the CRC, the format and the order of segments; errors name file_name.
Result<Manifest> decode_manifest(const std::string& text, const std::string& file_name);

// Atomic replace (FORMAT.md, "Atomic update"): MANIFEST.tmp, fdatasync, rename, fsync dir.
Status write_manifest(const std::string& directory, const Manifest& manifest);
Result<Manifest> read_manifest(const std::string& directory);

inline constexpr const char* kManifestFileName = "MANIFEST";

}  // namespace copycat::logstore
