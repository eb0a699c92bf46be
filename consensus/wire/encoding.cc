#include "consensus/wire/encoding.h"

namespace copycat::wire {

BytesOffset encode_bytes(Builder& builder, const std::vector<uint8_t>& bytes) {
    if (bytes.empty()) return 0;
    return builder.CreateVector(bytes.data(), bytes.size());
}

StringOffset encode_string(Builder& builder, std::string_view text) {
    if (text.empty()) return 0;
    return builder.CreateString(text.data(), text.size());
}

}  // namespace copycat::wire
