// The simulator's only source of randomness: xoshiro256** seeded through splitmix64 from the
// run's seed. Every consumer takes its own stream, named by purpose ("network", "disk", node 3's
// Raft...), so that adding a fault knob or a consumer does not reshuffle the choices of the
// others, and a seed replays exactly. No wall clock and no std::random_device, anywhere.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "consensus/raft/raft.h"

namespace copycat::sim {

// One splitmix64 step: advances `state`, returns a well-mixed 64-bit value.
inline uint64_t splitmix64_next(uint64_t& state) {
    state += 0x9E3779B97F4A7C15ULL;
    uint64_t mixed = state;
    mixed = (mixed ^ (mixed >> 30)) * 0xBF58476D1CE4E5B9ULL;
    mixed = (mixed ^ (mixed >> 27)) * 0x94D049BB133111EBULL;
    return mixed ^ (mixed >> 31);
}

// The seed of the sub-stream `purpose`/`index` of a run's seed.
inline uint64_t stream_seed(uint64_t seed, std::string_view purpose, uint64_t index = 0) {
    uint64_t hash = 0xCBF29CE484222325ULL;  // FNV-1a of the purpose
    for (const char c : purpose) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001B3ULL;
    }
    uint64_t state = seed ^ hash;
    state = splitmix64_next(state) ^ (index * 0xD1B54A32D192ED03ULL);
    return splitmix64_next(state);
}

class Rng final : public raft::Random {
public:
    explicit Rng(uint64_t seed) {
        uint64_t state = seed;
        for (uint64_t& word : words_) word = splitmix64_next(state);
    }
    Rng(uint64_t seed, std::string_view purpose, uint64_t index = 0)
        : Rng(stream_seed(seed, purpose, index)) {}

    uint64_t next() override {
        const uint64_t result = rotate_left(words_[1] * 5, 7) * 9;
        const uint64_t shifted = words_[1] << 17;
        words_[2] ^= words_[0];
        words_[3] ^= words_[1];
        words_[1] ^= words_[2];
        words_[0] ^= words_[3];
        words_[2] ^= shifted;
        words_[3] = rotate_left(words_[3], 45);
        return result;
    }

    // Uniform in [low, high], both included.
    uint64_t between(uint64_t low, uint64_t high) {
        if (high <= low) return low;
        return low + uniform(high - low + 1);
    }
    // Uniform in [0, 1).
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    bool chance(double probability) { return unit() < probability; }

    template <typename T>
    const T& pick(const std::vector<T>& items) {
        return items[uniform(items.size())];
    }
    template <typename T>
    void shuffle(std::vector<T>& items) {
        for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[uniform(i)]);
    }

private:
    static uint64_t rotate_left(uint64_t value, int bits) {
        return (value << bits) | (value >> (64 - bits));
    }

    uint64_t words_[4] = {};
};

}  // namespace copycat::sim
