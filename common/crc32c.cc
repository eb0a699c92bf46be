#include "common/crc32c.h"

#include <array>
#include <cstring>

namespace copycat {
namespace {

constexpr uint32_t kReflectedPolynomial = 0x82F63B78;  // 0x1EDC6F41 bit-reversed

constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t crc = i;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kReflectedPolynomial : 0);
        table[i] = crc;
    }
    return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

uint32_t extend_portable(uint32_t state, const uint8_t* p, size_t size) {
    for (size_t i = 0; i < size; ++i) state = kTable[(state ^ p[i]) & 0xFF] ^ (state >> 8);
    return state;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t extend_sse42(uint32_t state, const uint8_t* p,
                                                        size_t size) {
    uint64_t state64 = state;
    while (size >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        state64 = __builtin_ia32_crc32di(state64, word);
        p += 8;
        size -= 8;
    }
    state = static_cast<uint32_t>(state64);
    while (size > 0) {
        state = __builtin_ia32_crc32qi(state, *p++);
        --size;
    }
    return state;
}

bool cpu_has_sse42() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}
#endif

uint32_t extend_state(uint32_t state, const uint8_t* p, size_t size) {
#if defined(__x86_64__)
    static const bool has_sse42 = cpu_has_sse42();
    if (has_sse42) return extend_sse42(state, p, size);
#endif
    return extend_portable(state, p, size);
}

}  // namespace

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size) {
    return ~extend_state(~crc, static_cast<const uint8_t*>(data), size);
}

uint32_t crc32c(const void* data, size_t size) { return crc32c_extend(0, data, size); }

}  // namespace copycat
