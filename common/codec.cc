#include "common/codec.h"

namespace copycat::codec {

void Writer::u64(uint64_t value) {
    for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(value >> (8 * i)));
}

void Writer::varint(uint64_t value) {
    while (value >= 0x80) {
        u8(static_cast<uint8_t>(value | 0x80));
        value >>= 7;
    }
    u8(static_cast<uint8_t>(value));
}

void Writer::i64(int64_t value) {
    varint((static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63));
}

void Writer::string(std::string_view value) {
    varint(value.size());
    bytes().insert(bytes().end(), value.begin(), value.end());
}

void Writer::bytes(std::span<const uint8_t> value) {
    varint(value.size());
    bytes().insert(bytes().end(), value.begin(), value.end());
}

bool Reader::u8(uint8_t& value) {
    if (!ok_ || position_ >= input_.size()) return ok_ = false;
    value = input_[position_++];
    return true;
}

bool Reader::boolean(bool& value) {
    uint8_t byte = 0;
    if (!u8(byte) || byte > 1) return ok_ = false;
    value = byte == 1;
    return true;
}

bool Reader::u64(uint64_t& value) {
    if (!ok_ || input_.size() - position_ < 8) return ok_ = false;
    value = 0;
    for (int i = 0; i < 8; ++i) value |= static_cast<uint64_t>(input_[position_ + i]) << (8 * i);
    position_ += 8;
    return true;
}

bool Reader::varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t byte = 0;
        if (!u8(byte)) return false;
        // The tenth byte may only hold the top bit of a 64-bit value.
        if (shift == 63 && byte > 1) return ok_ = false;
        value |= static_cast<uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) return true;
    }
    return ok_ = false;
}

bool Reader::i64(int64_t& value) {
    uint64_t raw = 0;
    if (!varint(raw)) return false;
    value = static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
    return true;
}

bool Reader::string(std::string& value, size_t max_bytes) {
    uint64_t size = 0;
    if (!varint(size) || size > max_bytes || size > remaining()) return ok_ = false;
    value.assign(reinterpret_cast<const char*>(input_.data() + position_), size);
    position_ += size;
    return true;
}

bool Reader::bytes(Bytes& value, size_t max_bytes) {
    uint64_t size = 0;
    if (!varint(size) || size > max_bytes || size > remaining()) return ok_ = false;
    value.assign(input_.begin() + position_, input_.begin() + position_ + size);
    position_ += size;
    return true;
}

bool Reader::count(uint64_t& value, size_t min_item_bytes) {
    if (!varint(value)) return false;
    if (min_item_bytes > 0 && value > remaining() / min_item_bytes) return ok_ = false;
    return true;
}

}  // namespace copycat::codec
