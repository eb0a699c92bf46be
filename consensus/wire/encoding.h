// What the encoders of consensus/wire share: the builder's offset types, union members as
// (type tag, table) pairs, and the conventions both protocols follow (an empty string, byte
// vector or table vector is left out; the decoder reads a missing one as empty).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace copycat::wire {

using Builder = flatbuffers::FlatBufferBuilder;
template <typename T>
using Offsets = flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<T>>>;
using BytesOffset = flatbuffers::Offset<flatbuffers::Vector<uint8_t>>;
using StringOffset = flatbuffers::Offset<flatbuffers::String>;

// A union member: its type tag and its table (NONE and no table by default).
template <typename Tag>
struct UnionOffset {
    Tag type = Tag::NONE;
    flatbuffers::Offset<void> offset = 0;
};

// The union member holding `offset`, tagged by the generated traits of its union
// (e.g. union_of<fb::BodyTraits>(fb::CreateVoteRequest(...))).
template <template <typename> class Traits, typename Wire>
auto union_of(flatbuffers::Offset<Wire> offset) {
    using Tag = std::remove_cv_t<decltype(Traits<Wire>::enum_value)>;
    return UnionOffset<Tag>{Traits<Wire>::enum_value, offset.Union()};
}

BytesOffset encode_bytes(Builder& builder, const std::vector<uint8_t>& bytes);
StringOffset encode_string(Builder& builder, std::string_view text);

// The vector of the tables `encode_one(builder, item)` makes of `items`, in order.
template <typename Table, typename Item, typename EncodeOne>
Offsets<Table> encode_tables(Builder& builder, const std::vector<Item>& items,
                             EncodeOne encode_one) {
    if (items.empty()) return 0;
    std::vector<flatbuffers::Offset<Table>> offsets;
    offsets.reserve(items.size());
    for (const Item& item : items) offsets.push_back(encode_one(builder, item));
    return builder.CreateVector(offsets);
}

// What `encode(builder)` returns, copied out of a builder of its own that starts with
// `initial_bytes` of room.
template <typename Encode>
std::vector<uint8_t> encode_to_vector(size_t initial_bytes, Encode encode) {
    Builder builder(initial_bytes);
    std::span<const uint8_t> bytes = encode(builder);
    return {bytes.begin(), bytes.end()};
}

}  // namespace copycat::wire
