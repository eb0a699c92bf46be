// CRC-32C (Castagnoli), the checksum of every record on disk (logstore/FORMAT.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace copycat {

// crc32c("123456789") == 0xe3069283. extend() continues a running checksum:
// crc32c(a + b) == crc32c_extend(crc32c(a), b).
uint32_t crc32c(const void* data, size_t size);
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size);

}  // namespace copycat
