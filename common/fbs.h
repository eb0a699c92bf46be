// Checking a received FlatBuffers buffer before anything reads it (DESIGN.md, Wire): a buffer
// from the network or the disk is untrusted until verified. Header-only (templates).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>

namespace copycat {

struct FlatbufferLimits {
    // Nesting of tables and vectors; copycat's schemas nest a few levels deep.
    unsigned max_depth = 64;
    // Tables in one buffer: bounds the verification work for a hostile buffer. A 64 MiB
    // append of small entries stays under it.
    unsigned max_tables = 4'000'000;
};

// The root table of `data` if it is a well-formed buffer of T with the 4-character
// `file_identifier` (e.g. "CCST"), else nullptr: truncated, misaligned offsets, out-of-bounds
// references, bad UTF-8 length, the wrong identifier, or past the limits. The result points
// into `data` and is valid while it is. `data` should be 8-byte aligned, as ZeroMQ messages
// are; null data or an empty buffer gives nullptr.
template <typename T>
const T* verify_flatbuffer(const void* data, size_t size, const char* file_identifier,
                           const FlatbufferLimits& limits = {}) {
    // The Verifier asserts on sizes from 2 GiB up; smaller ones it checks itself.
    if (data == nullptr || size >= FLATBUFFERS_MAX_BUFFER_SIZE) return nullptr;
    const auto* bytes = static_cast<const uint8_t*>(data);
    flatbuffers::Verifier::Options options;
    options.max_depth = limits.max_depth;
    options.max_tables = limits.max_tables;
    flatbuffers::Verifier verifier(bytes, size, options);
    if (!verifier.VerifyBuffer<T>(file_identifier)) return nullptr;
    return flatbuffers::GetRoot<T>(bytes);
}

}  // namespace copycat
