// A small bounds-checked binary codec for values that are not wire messages of their own:
// session log entries, operation arguments and results, snapshots. Little-endian fixed
// integers and LEB128 varints; strings and byte strings carry a varint length.
//
// Writer appends to a byte vector. Reader never reads past its span: every read returns false
// once the input runs short or is malformed (an over-long varint, a length beyond the end),
// and the reader stays failed (ok() false), so a decoder can read every field and check ok()
// once at the end. Bytes from the network or the disk are untrusted: decode, then check.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace copycat::codec {

using Bytes = std::vector<uint8_t>;

class Writer {
public:
    Writer() = default;
    explicit Writer(Bytes& out) : out_(&out) {}

    void u8(uint8_t value) { bytes().push_back(value); }
    void boolean(bool value) { u8(value ? 1 : 0); }
    void u64(uint64_t value);     // fixed 8 bytes
    void varint(uint64_t value);  // 1 to 10 bytes
    void i64(int64_t value);      // zig-zag varint
    void string(std::string_view value);
    void bytes(std::span<const uint8_t> value);

    Bytes& bytes() { return out_ != nullptr ? *out_ : own_; }
    Bytes take() { return std::move(bytes()); }

private:
    Bytes own_;
    Bytes* out_ = nullptr;
};

class Reader {
public:
    explicit Reader(std::span<const uint8_t> input) : input_(input) {}

    bool u8(uint8_t& value);
    bool boolean(bool& value);  // only 0 or 1
    bool u64(uint64_t& value);
    bool varint(uint64_t& value);
    bool i64(int64_t& value);
    bool string(std::string& value, size_t max_bytes = kDefaultMaxBytes);
    bool bytes(Bytes& value, size_t max_bytes = kDefaultMaxBytes);
    // A count of items that each take at least min_item_bytes: refused when the rest of the
    // input could not hold them, so a hostile count never makes the decoder reserve memory.
    bool count(uint64_t& value, size_t min_item_bytes = 1);

    bool ok() const { return ok_; }
    bool at_end() const { return ok_ && position_ == input_.size(); }
    size_t remaining() const { return ok_ ? input_.size() - position_ : 0; }
    // ok() and nothing left over: what a decoder of a whole value checks last.
    bool done() const { return at_end(); }
    void fail() { ok_ = false; }

    static constexpr size_t kDefaultMaxBytes = 64 * 1024 * 1024;

private:
    std::span<const uint8_t> input_;
    size_t position_ = 0;
    bool ok_ = true;
};

}  // namespace copycat::codec
