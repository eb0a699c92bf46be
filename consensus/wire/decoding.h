// What the decoders of consensus/wire share: verifying a received buffer with a message that
// says what was wrong, and copying strings and byte vectors out of it within bounds.
//
// Verification (common/fbs.h) proves that every offset and length stays inside the buffer. It
// does not prove that the buffer is a tree: a hostile sender can point a million vector
// elements at one 1 MiB byte vector, and a decoder that copied each would turn 4 MiB into a
// terabyte. Decoding therefore charges every copied byte and every decoded table to a budget
// of the buffer's own size, which an honest encoder (each string, vector and table stored
// once) never exceeds.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/fbs.h"
#include "common/status.h"

namespace copycat::wire {

// Why `data` is not a buffer of the given identifier, or ok. Called when verify_flatbuffer
// refused it, to tell a short buffer, a foreign one and a malformed one apart.
Status explain_refused_buffer(const void* data, size_t size, const char* file_identifier);

// The verified root table of `data`, or why there is none.
template <typename Root>
Result<const Root*> verify_root(const void* data, size_t size, const char* file_identifier,
                                const FlatbufferLimits& limits) {
    const Root* root = verify_flatbuffer<Root>(data, size, file_identifier, limits);
    if (root == nullptr) return explain_refused_buffer(data, size, file_identifier);
    return root;
}

// The state of decoding one verified buffer: the first problem found and the copy budget.
// Checks return false on a problem, so decoders can `return check.fail(...)` or chain them
// with &&; once one failed the rest still run cheaply and the first message is kept.
class Decoding {
public:
    explicit Decoding(size_t buffer_bytes) : budget_bytes_(buffer_bytes) {}

    bool ok() const { return status_.is_ok(); }
    const Status& status() const { return status_; }

    // Records `message` as the problem (unless one was recorded first); returns false.
    bool fail(std::string message);

    // Copies `from` (null: empty) into `to`; refused past max_bytes or the budget. `field`
    // names it in the message.
    bool copy_string(const flatbuffers::String* from, std::string& to, const char* field,
                     size_t max_bytes = SIZE_MAX);
    bool copy_bytes(const flatbuffers::Vector<uint8_t>* from, std::vector<uint8_t>& to,
                    const char* field);

    // Charges `count` decoded items of at least `min_item_bytes` each (a table in a vector
    // takes at least its 4-byte offset), before the decoder reserves room for them.
    bool take_items(size_t count, size_t min_item_bytes, const char* field);

    // Generated scoped enums carry MIN and MAX; copycat's have no gaps between them.
    template <typename Enum>
    bool check_enum(Enum value, const char* field) {
        auto number = static_cast<uint64_t>(value);
        if (number >= static_cast<uint64_t>(Enum::MIN) &&
            number <= static_cast<uint64_t>(Enum::MAX)) {
            return true;
        }
        return fail(std::string(field) + " " + std::to_string(number) + " is not one of " +
                    std::to_string(static_cast<uint64_t>(Enum::MIN)) + ".." +
                    std::to_string(static_cast<uint64_t>(Enum::MAX)));
    }

    // For a union whose type tag is none of those this build knows: `what` names the union.
    template <typename Tag>
    bool fail_unknown(const char* what, Tag tag) {
        return fail(std::string("unknown ") + what + " type " +
                    std::to_string(static_cast<unsigned>(tag)));
    }

private:
    bool charge(size_t bytes, const char* field);

    Status status_;
    size_t budget_bytes_;
};

// Decodes the union member `table` with `decode_value` and stores the Value in `out` (a
// variant holding it, or a Value) only once it decoded whole. `table` is null when the union
// names a type but its table is missing: the message is then `name` followed by `missing`.
// (The decoder is passed in because the overloads it is picked from are declared after this
// template.)
template <typename Value, typename Wire, typename Out>
bool decode_alternative(const Wire* table, Out& out, Decoding& check, const char* name,
                        const char* missing, bool (*decode_value)(const Wire&, Value&, Decoding&)) {
    if (table == nullptr) return check.fail(std::string(name) + missing);
    Value value;
    if (!decode_value(*table, value, check)) return false;
    out = std::move(value);
    return true;
}

// Decodes a vector of tables (null: none, `out` left as it is) with `decode_one` into `out`,
// charging the budget first; `field` names the vector in the message.
template <typename Wire, typename Value, typename DecodeOne>
bool decode_tables(const flatbuffers::Vector<flatbuffers::Offset<Wire>>* list,
                   std::vector<Value>& out, Decoding& check, const char* field,
                   DecodeOne decode_one) {
    if (list == nullptr) return true;
    if (!check.take_items(list->size(), sizeof(flatbuffers::uoffset_t), field)) return false;
    out.resize(list->size());
    for (flatbuffers::uoffset_t k = 0; k < list->size(); ++k) {
        if (!decode_one(*list->Get(k), out[k], check)) return false;
    }
    return true;
}

// Verifies `data` as a Root of the given identifier and decodes it with `decode_root` into a
// Value; a refusal says why, after `what` (the protocol's name for its messages).
template <typename Value, typename Root, typename DecodeRoot>
Result<Value> decode_buffer(const void* data, size_t size, const char* file_identifier,
                            const FlatbufferLimits& limits, const char* what,
                            DecodeRoot decode_root) {
    Result<const Root*> root = verify_root<Root>(data, size, file_identifier, limits);
    if (!root.is_ok()) {
        return Status(root.status().code(), std::string(what) + ": " + root.status().message());
    }
    Decoding check(size);
    Value out;
    if (!decode_root(**root, out, check)) {
        return Status(check.status().code(), std::string(what) + ": " + check.status().message());
    }
    return out;
}

}  // namespace copycat::wire
