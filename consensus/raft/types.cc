#include "consensus/raft/types.h"

#include <algorithm>
#include <cstring>

namespace copycat::raft {

const char* member_type_name(MemberType type) {
    switch (type) {
        case MemberType::inactive: return "inactive";
        case MemberType::reserve: return "reserve";
        case MemberType::passive: return "passive";
        case MemberType::active: return "active";
    }
    return "unknown";
}

const Member* Configuration::find(NodeId id) const {
    for (const Member& member : members) {
        if (member.id == id) return &member;
    }
    return nullptr;
}

bool Configuration::is_voter(NodeId id) const {
    const Member* member = find(id);
    return member != nullptr && member->type == MemberType::active;
}

std::vector<NodeId> Configuration::voters() const {
    std::vector<NodeId> ids;
    for (const Member& member : members) {
        if (member.type == MemberType::active) ids.push_back(member.id);
    }
    return ids;
}

size_t Configuration::quorum() const { return voters().size() / 2 + 1; }

namespace {

void put_u64(std::vector<uint8_t>& out, uint64_t value) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t get_u64(std::span<const uint8_t> bytes, size_t at) {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= static_cast<uint64_t>(bytes[at + i]) << (8 * i);
    return value;
}

}  // namespace

// Layout: index u64, term u64, count u64, then per member: id u64, type u8, available u8,
// address length u16, address bytes.
std::vector<uint8_t> encode_configuration(const Configuration& configuration) {
    std::vector<uint8_t> out;
    put_u64(out, configuration.index);
    put_u64(out, configuration.term);
    put_u64(out, configuration.members.size());
    for (const Member& member : configuration.members) {
        put_u64(out, member.id);
        out.push_back(static_cast<uint8_t>(member.type));
        out.push_back(member.available ? 1 : 0);
        size_t length = std::min<size_t>(member.address.size(), UINT16_MAX);
        out.push_back(static_cast<uint8_t>(length));
        out.push_back(static_cast<uint8_t>(length >> 8));
        out.insert(out.end(), member.address.begin(), member.address.begin() + length);
    }
    return out;
}

Result<Configuration> decode_configuration(std::span<const uint8_t> bytes) {
    if (bytes.size() < 24) return invalid_argument("configuration shorter than its header");
    Configuration configuration;
    configuration.index = get_u64(bytes, 0);
    configuration.term = get_u64(bytes, 8);
    uint64_t count = get_u64(bytes, 16);
    if (count > (bytes.size() - 24) / 12) {
        return invalid_argument("configuration member count does not match its size");
    }
    size_t at = 24;
    for (uint64_t k = 0; k < count; ++k) {
        if (bytes.size() - at < 12) return invalid_argument("configuration member cut short");
        uint8_t type = bytes[at + 8];
        if (type > static_cast<uint8_t>(MemberType::active) || bytes[at + 9] > 1) {
            return invalid_argument("bad member type " + std::to_string(type));
        }
        size_t length = bytes[at + 10] | (static_cast<size_t>(bytes[at + 11]) << 8);
        if (bytes.size() - at - 12 < length) return invalid_argument("member address cut short");
        const char* address = reinterpret_cast<const char*>(bytes.data() + at + 12);
        configuration.members.push_back({get_u64(bytes, at), static_cast<MemberType>(type),
                                         bytes[at + 9] != 0, std::string(address, length)});
        at += 12 + length;
    }
    if (at != bytes.size()) return invalid_argument("configuration has trailing bytes");
    return configuration;
}

const char* message_name(const Message& message) {
    static const char* const kNames[] = {"AppendRequest",
                                         "AppendResponse",
                                         "PollRequest",
                                         "PollResponse",
                                         "VoteRequest",
                                         "VoteResponse",
                                         "TimeoutNow",
                                         "ConfigureRequest",
                                         "ConfigureResponse",
                                         "InstallSnapshotRequest",
                                         "InstallSnapshotResponse"};
    return kNames[message.index()];
}

Term message_term(const Message& message) {
    return std::visit([](const auto& m) { return m.term; }, message);
}

}  // namespace copycat::raft
