#include "tests/wire/wire_test_util.h"

#include <algorithm>

namespace copycat::wire::testing {
namespace {

size_t position(const Bytes& bytes, std::mt19937_64& random) {
    return bytes.empty() ? 0 : random() % bytes.size();
}

void flip_bits(Bytes& bytes, std::mt19937_64& random) {
    for (int k = 0; k < 1 + static_cast<int>(random() % 4) && !bytes.empty(); ++k) {
        bytes[position(bytes, random)] ^= static_cast<uint8_t>(1u << (random() % 8));
    }
}

// A little-endian 32-bit word: offsets, lengths and union types are words or parts of them.
void overwrite_word(Bytes& bytes, std::mt19937_64& random) {
    if (bytes.size() < 4) return;
    size_t at = random() % (bytes.size() - 3);
    uint32_t value =
        random() % 2 == 0 ? static_cast<uint32_t>(random() % 64) : static_cast<uint32_t>(random());
    for (int k = 0; k < 4; ++k) bytes[at + k] = static_cast<uint8_t>(value >> (8 * k));
}

void extend(Bytes& bytes, std::mt19937_64& random) {
    size_t extra = 1 + random() % 64;
    for (size_t k = 0; k < extra; ++k) bytes.push_back(static_cast<uint8_t>(random()));
}

void duplicate_slice(Bytes& bytes, std::mt19937_64& random) {
    if (bytes.empty()) return;
    size_t from = position(bytes, random);
    size_t length = std::min<size_t>(1 + random() % 32, bytes.size() - from);
    size_t to = position(bytes, random);
    Bytes slice(bytes.begin() + from, bytes.begin() + from + length);
    std::copy_n(slice.begin(), std::min(length, bytes.size() - to), bytes.begin() + to);
}

}  // namespace

Bytes mutate(Bytes bytes, std::mt19937_64& random) {
    switch (random() % 6) {
        case 0: flip_bits(bytes, random); break;
        case 1: bytes.resize(random() % (bytes.size() + 1)); break;
        case 2: extend(bytes, random); break;
        case 3: overwrite_word(bytes, random); break;
        case 4: duplicate_slice(bytes, random); break;
        default: overwrite_word(bytes, random); flip_bits(bytes, random);
    }
    return bytes;
}

}  // namespace copycat::wire::testing
