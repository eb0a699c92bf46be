// StateHash: a 64-bit FNV-1a hash over a canonical walk of a state machine's state, for
// comparing servers (the simulator checks that servers which applied the same entries hash the
// same). Not cryptographic: it detects divergence, it does not resist an adversary. Every
// variable-length value is hashed with its length, so ("ab","c") and ("a","bc") differ.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace copycat::resources {

class StateHash {
public:
    void add(uint64_t value) {
        for (int i = 0; i < 8; ++i) add_byte(static_cast<uint8_t>(value >> (8 * i)));
    }
    void add(int64_t value) { add(static_cast<uint64_t>(value)); }
    void add(bool value) { add_byte(value ? 1 : 0); }
    void add(std::string_view value) {
        add(static_cast<uint64_t>(value.size()));
        for (char c : value) add_byte(static_cast<uint8_t>(c));
    }
    void add(std::span<const uint8_t> value) {
        add(static_cast<uint64_t>(value.size()));
        for (uint8_t byte : value) add_byte(byte);
    }

    uint64_t value() const { return hash_; }

private:
    static constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ULL;
    static constexpr uint64_t kPrime = 0x100000001b3ULL;

    void add_byte(uint8_t byte) {
        hash_ ^= byte;
        hash_ *= kPrime;
    }

    uint64_t hash_ = kOffsetBasis;
};

}  // namespace copycat::resources
