#include "consensus/wire/decoding.h"

#include <cstdio>
#include <cstring>

namespace copycat::wire {
namespace {

// The four identifier bytes as text a log line can carry: printable ASCII as is, others as
// \xNN (a foreign buffer holds anything there).
std::string quoted_identifier(const uint8_t* bytes) {
    std::string text = "\"";
    for (size_t k = 0; k < flatbuffers::kFileIdentifierLength; ++k) {
        if (bytes[k] >= 0x20 && bytes[k] < 0x7f && bytes[k] != '"' && bytes[k] != '\\') {
            text += static_cast<char>(bytes[k]);
        } else {
            char escaped[5];
            std::snprintf(escaped, sizeof(escaped), "\\x%02x", bytes[k]);
            text += escaped;
        }
    }
    return text + "\"";
}

}  // namespace

Status explain_refused_buffer(const void* data, size_t size, const char* file_identifier) {
    const size_t header_bytes = sizeof(flatbuffers::uoffset_t) + flatbuffers::kFileIdentifierLength;
    if (data == nullptr || size < header_bytes) {
        return invalid_argument(std::to_string(size) +
                                " bytes: too short for a message (at least " +
                                std::to_string(header_bytes) + ")");
    }
    if (size >= FLATBUFFERS_MAX_BUFFER_SIZE) {
        return invalid_argument(std::to_string(size) + " bytes: larger than any FlatBuffer");
    }
    const auto* bytes = static_cast<const uint8_t*>(data);
    const uint8_t* identifier = bytes + sizeof(flatbuffers::uoffset_t);
    if (std::memcmp(identifier, file_identifier, flatbuffers::kFileIdentifierLength) != 0) {
        return invalid_argument("file identifier " + quoted_identifier(identifier) + " is not \"" +
                                file_identifier + "\": another protocol's message");
    }
    return invalid_argument("malformed buffer: an offset or length points outside its " +
                            std::to_string(size) +
                            " bytes, or it nests too deep or holds too many tables");
}

bool Decoding::fail(std::string message) {
    if (status_.is_ok()) status_ = invalid_argument(std::move(message));
    return false;
}

bool Decoding::charge(size_t bytes, const char* field) {
    if (bytes <= budget_bytes_) {
        budget_bytes_ -= bytes;
        return true;
    }
    return fail(std::string(field) +
                ": the message decodes to more bytes than it holds "
                "(vectors share their contents)");
}

bool Decoding::copy_string(const flatbuffers::String* from, std::string& to, const char* field,
                           size_t max_bytes) {
    to.clear();
    if (from == nullptr) return true;
    if (from->size() > max_bytes) {
        return fail(std::string(field) + " of " + std::to_string(from->size()) +
                    " bytes is longer than " + std::to_string(max_bytes));
    }
    if (!charge(from->size(), field)) return false;
    to.assign(from->data(), from->size());
    return true;
}

bool Decoding::copy_bytes(const flatbuffers::Vector<uint8_t>* from, std::vector<uint8_t>& to,
                          const char* field) {
    to.clear();
    if (from == nullptr) return true;
    if (!charge(from->size(), field)) return false;
    to.assign(from->data(), from->data() + from->size());
    return true;
}

bool Decoding::take_items(size_t count, size_t min_item_bytes, const char* field) {
    if (min_item_bytes != 0 && count > budget_bytes_ / min_item_bytes) {
        return fail(std::string(field) + ": " + std::to_string(count) +
                    " items are more than the message holds (vectors share their contents)");
    }
    return charge(count * min_item_bytes, field);
}

}  // namespace copycat::wire
