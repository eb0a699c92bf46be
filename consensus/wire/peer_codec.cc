#include "consensus/wire/peer_codec.h"

#include "common/assert.h"
#include "consensus/statemachine/state_machine.h"
#include "consensus/wire/decoding.h"
#include "consensus/wire/encoding.h"
#include "schemas/peer_generated.h"

namespace copycat::wire {
namespace {

namespace fb = copycat::peer;

// The wire enums carry the core's numbers unchanged, so encoding and decoding are casts
// (after a range check on the way in).
static_assert(static_cast<int>(fb::EntryType::Initialize) ==
              static_cast<int>(raft::EntryType::initialize));
static_assert(static_cast<int>(fb::EntryType::Configuration) ==
              static_cast<int>(raft::EntryType::configuration));
static_assert(static_cast<int>(fb::EntryType::Command) ==
              static_cast<int>(raft::EntryType::command));
static_assert(static_cast<int>(fb::MemberType::Inactive) ==
              static_cast<int>(raft::MemberType::inactive));
static_assert(static_cast<int>(fb::MemberType::Reserve) ==
              static_cast<int>(raft::MemberType::reserve));
static_assert(static_cast<int>(fb::MemberType::Passive) ==
              static_cast<int>(raft::MemberType::passive));
static_assert(static_cast<int>(fb::MemberType::Active) ==
              static_cast<int>(raft::MemberType::active));
static_assert(static_cast<int>(fb::CompactionMode::MAX) ==
              static_cast<int>(statemachine::CompactionMode::tombstone));

// A peer message nests PeerMessage > body > Configuration > members > Member.
constexpr FlatbufferLimits kPeerLimits{16, 4'000'000};

// --- encoding -------------------------------------------------------------------------------

using BodyOffset = UnionOffset<fb::Body>;
constexpr auto body_of = [](auto offset) { return union_of<fb::BodyTraits>(offset); };

flatbuffers::Offset<fb::Entry> encode_entry(Builder& builder, const raft::Entry& entry) {
    COPYCAT_ASSERT(entry.type >= raft::EntryType::initialize &&
                       entry.type <= raft::EntryType::command &&
                       entry.compaction_mode <= static_cast<uint8_t>(fb::CompactionMode::MAX),
                   "a Raft entry with an unknown type or compaction mode is being sent");
    BytesOffset payload = encode_bytes(builder, entry.payload);
    return fb::CreateEntry(builder, entry.index, entry.term, static_cast<fb::EntryType>(entry.type),
                           entry.timestamp_ms,
                           static_cast<fb::CompactionMode>(entry.compaction_mode), payload,
                           entry.previous_timestamp_ms);
}

Offsets<fb::Entry> encode_entries(Builder& builder, const std::vector<raft::Entry>& entries) {
    return encode_tables<fb::Entry>(builder, entries, encode_entry);
}

flatbuffers::Offset<fb::Configuration> encode_configuration(
    Builder& builder, const raft::Configuration& configuration) {
    raft::NodeId previous = 0;
    auto encode_member = [&previous](Builder& builder, const raft::Member& member) {
        COPYCAT_ASSERT(member.id > previous,
                       "configuration members must be sorted by id, unique and never 0");
        COPYCAT_ASSERT(member.type <= raft::MemberType::active, "unknown member type");
        previous = member.id;
        auto address = encode_string(builder, member.address);
        return fb::CreateMember(builder, member.id, static_cast<fb::MemberType>(member.type),
                                member.available, address);
    };
    auto list = encode_tables<fb::Member>(builder, configuration.members, encode_member);
    return fb::CreateConfiguration(builder, configuration.index, configuration.term, list);
}

BodyOffset encode_body(Builder& builder, const raft::AppendRequest& m) {
    COPYCAT_ASSERT(m.leader != 0, "an AppendRequest names its leader");
    auto entries = encode_entries(builder, m.entries);
    return body_of(fb::CreateAppendRequest(builder, m.term, m.leader, m.prev_index, m.prev_term,
                                           m.commit_index, m.global_index, m.round, entries,
                                           m.holes_released_by));
}

BodyOffset encode_body(Builder& builder, const raft::AppendResponse& m) {
    return body_of(fb::CreateAppendResponse(builder, m.term, m.success, m.index, m.round, m.reset));
}

BodyOffset encode_body(Builder& builder, const raft::PollRequest& m) {
    COPYCAT_ASSERT(m.candidate != 0, "a PollRequest names its candidate");
    return body_of(fb::CreatePollRequest(builder, m.term, m.candidate, m.last_index, m.last_term));
}

BodyOffset encode_body(Builder& builder, const raft::PollResponse& m) {
    return body_of(fb::CreatePollResponse(builder, m.term, m.accepted));
}

BodyOffset encode_body(Builder& builder, const raft::VoteRequest& m) {
    COPYCAT_ASSERT(m.candidate != 0, "a VoteRequest names its candidate");
    return body_of(
        fb::CreateVoteRequest(builder, m.term, m.candidate, m.last_index, m.last_term, m.transfer));
}

BodyOffset encode_body(Builder& builder, const raft::VoteResponse& m) {
    return body_of(fb::CreateVoteResponse(builder, m.term, m.granted));
}

BodyOffset encode_body(Builder& builder, const raft::TimeoutNow& m) {
    return body_of(fb::CreateTimeoutNow(builder, m.term));
}

BodyOffset encode_body(Builder& builder, const raft::ConfigureRequest& m) {
    COPYCAT_ASSERT(m.leader != 0, "a ConfigureRequest names its leader");
    auto configuration = encode_configuration(builder, m.configuration);
    return body_of(
        fb::CreateConfigureRequest(builder, m.term, m.leader, m.commit_index, configuration));
}

BodyOffset encode_body(Builder& builder, const raft::ConfigureResponse& m) {
    return body_of(fb::CreateConfigureResponse(builder, m.term));
}

BodyOffset encode_body(Builder& builder, const raft::InstallSnapshotRequest& m) {
    COPYCAT_ASSERT(m.leader != 0, "an InstallSnapshotRequest names its leader");
    auto configuration = encode_configuration(builder, m.configuration);
    auto data = encode_bytes(builder, m.data);
    return body_of(fb::CreateInstallSnapshotRequest(builder, m.term, m.leader, m.snapshot_index,
                                                    m.snapshot_term, configuration, m.offset,
                                                    m.total_bytes, data, m.done));
}

BodyOffset encode_body(Builder& builder, const raft::InstallSnapshotResponse& m) {
    return body_of(fb::CreateInstallSnapshotResponse(builder, m.term, m.snapshot_index,
                                                     m.next_offset, m.installed));
}

// --- decoding -------------------------------------------------------------------------------

bool decode_entry(const fb::Entry& in, raft::Entry& out, Decoding& check) {
    if (!check.check_enum(in.type(), "entry type") ||
        !check.check_enum(in.compaction_mode(), "entry compaction mode")) {
        return false;
    }
    out.index = in.index();
    out.term = in.term();
    out.type = static_cast<raft::EntryType>(in.type());
    out.timestamp_ms = in.timestamp_ms();
    out.previous_timestamp_ms = in.previous_timestamp_ms();
    out.compaction_mode = static_cast<uint8_t>(in.compaction_mode());
    return check.copy_bytes(in.payload(), out.payload, "entry payload");
}

bool decode_member(const fb::Member& in, raft::Member& out, Decoding& check) {
    if (!check.check_enum(in.type(), "member type")) return false;
    out.id = in.id();
    out.type = static_cast<raft::MemberType>(in.type());
    out.available = in.available();
    return check.copy_string(in.address(), out.address, "member address");
}

bool decode_configuration(const fb::Configuration* in, raft::Configuration& out, Decoding& check) {
    if (in == nullptr) return check.fail("configuration missing");
    out.index = in->index();
    out.term = in->term();
    raft::NodeId previous = 0;
    auto decode_sorted_member = [&previous](const fb::Member& in, raft::Member& out,
                                            Decoding& check) {
        if (!decode_member(in, out, check)) return false;
        // The core looks members up assuming one per id (Configuration::find).
        if (out.id <= previous) {
            return check.fail("configuration members not sorted by id, repeated, or id 0 (id " +
                              std::to_string(out.id) + " after " + std::to_string(previous) + ")");
        }
        previous = out.id;
        return true;
    };
    return decode_tables(in->members(), out.members, check, "members", decode_sorted_member);
}

bool check_node(raft::NodeId id, const char* field, Decoding& check) {
    return id != 0 || check.fail(std::string(field) + " is node 0 (no node)");
}

bool decode(const fb::AppendRequest& in, raft::AppendRequest& out, Decoding& check) {
    out = {in.term(),
           in.leader(),
           in.prev_index(),
           in.prev_term(),
           in.commit_index(),
           in.global_index(),
           in.round(),
           {},
           in.holes_released_by()};
    return check_node(out.leader, "leader", check) &&
           decode_tables(in.entries(), out.entries, check, "entries", decode_entry);
}

bool decode(const fb::AppendResponse& in, raft::AppendResponse& out, Decoding&) {
    out = {in.term(), in.success(), in.index(), in.round(), in.reset()};
    return true;
}

bool decode(const fb::PollRequest& in, raft::PollRequest& out, Decoding& check) {
    out = {in.term(), in.candidate(), in.last_index(), in.last_term()};
    return check_node(out.candidate, "candidate", check);
}

bool decode(const fb::PollResponse& in, raft::PollResponse& out, Decoding&) {
    out = {in.term(), in.accepted()};
    return true;
}

bool decode(const fb::VoteRequest& in, raft::VoteRequest& out, Decoding& check) {
    out = {in.term(), in.candidate(), in.last_index(), in.last_term(), in.transfer()};
    return check_node(out.candidate, "candidate", check);
}

bool decode(const fb::VoteResponse& in, raft::VoteResponse& out, Decoding&) {
    out = {in.term(), in.granted()};
    return true;
}

bool decode(const fb::TimeoutNow& in, raft::TimeoutNow& out, Decoding&) {
    out = {in.term()};
    return true;
}

bool decode(const fb::ConfigureRequest& in, raft::ConfigureRequest& out, Decoding& check) {
    out.term = in.term();
    out.leader = in.leader();
    out.commit_index = in.commit_index();
    return check_node(out.leader, "leader", check) &&
           decode_configuration(in.configuration(), out.configuration, check);
}

bool decode(const fb::ConfigureResponse& in, raft::ConfigureResponse& out, Decoding&) {
    out = {in.term()};
    return true;
}

bool decode(const fb::InstallSnapshotRequest& in, raft::InstallSnapshotRequest& out,
            Decoding& check) {
    out.term = in.term();
    out.leader = in.leader();
    out.snapshot_index = in.snapshot_index();
    out.snapshot_term = in.snapshot_term();
    out.offset = in.offset();
    out.total_bytes = in.total_bytes();
    out.done = in.done();
    return check_node(out.leader, "leader", check) &&
           decode_configuration(in.configuration(), out.configuration, check) &&
           check.copy_bytes(in.data(), out.data, "snapshot data");
}

bool decode(const fb::InstallSnapshotResponse& in, raft::InstallSnapshotResponse& out, Decoding&) {
    out = {in.term(), in.snapshot_index(), in.next_offset(), in.installed()};
    return true;
}

template <typename Wire, typename Value>
bool decode_body(const fb::PeerMessage& message, raft::Message& out, Decoding& check) {
    return decode_alternative<Value>(message.body_as<Wire>(), out, check,
                                     fb::EnumNameBody(message.body_type()), " without a body",
                                     decode);
}

bool decode_message(const fb::PeerMessage& message, raft::Message& out, Decoding& check) {
    using B = fb::Body;
    switch (message.body_type()) {
        case B::AppendRequest:
            return decode_body<fb::AppendRequest, raft::AppendRequest>(message, out, check);
        case B::AppendResponse:
            return decode_body<fb::AppendResponse, raft::AppendResponse>(message, out, check);
        case B::PollRequest:
            return decode_body<fb::PollRequest, raft::PollRequest>(message, out, check);
        case B::PollResponse:
            return decode_body<fb::PollResponse, raft::PollResponse>(message, out, check);
        case B::VoteRequest:
            return decode_body<fb::VoteRequest, raft::VoteRequest>(message, out, check);
        case B::VoteResponse:
            return decode_body<fb::VoteResponse, raft::VoteResponse>(message, out, check);
        case B::TimeoutNow:
            return decode_body<fb::TimeoutNow, raft::TimeoutNow>(message, out, check);
        case B::ConfigureRequest:
            return decode_body<fb::ConfigureRequest, raft::ConfigureRequest>(message, out, check);
        case B::ConfigureResponse:
            return decode_body<fb::ConfigureResponse, raft::ConfigureResponse>(message, out, check);
        case B::InstallSnapshotRequest:
            return decode_body<fb::InstallSnapshotRequest, raft::InstallSnapshotRequest>(
                message, out, check);
        case B::InstallSnapshotResponse:
            return decode_body<fb::InstallSnapshotResponse, raft::InstallSnapshotResponse>(
                message, out, check);
        case B::NONE: return check.fail("no message body");
    }
    return check.fail_unknown("message", message.body_type());
}

bool decode_root(const fb::PeerMessage& message, PeerMessage& out, Decoding& check) {
    out.envelope.from = message.from();
    out.envelope.to = message.to();
    return check.copy_string(message.cluster(), out.cluster, "cluster name",
                             kMaxClusterNameBytes) &&
           check_node(out.envelope.from, "sender", check) &&
           check_node(out.envelope.to, "receiver", check) &&
           decode_message(message, out.envelope.message, check);
}

}  // namespace

std::span<const uint8_t> encode_peer(flatbuffers::FlatBufferBuilder& builder,
                                     std::string_view cluster, const raft::Envelope& envelope) {
    COPYCAT_ASSERT(cluster.size() <= kMaxClusterNameBytes,
                   "the cluster name is longer than peers accept: check it at start-up");
    COPYCAT_ASSERT(envelope.from != 0 && envelope.to != 0,
                   "a peer message goes from a node to a node: id 0 is none");
    builder.Clear();
    BodyOffset body = std::visit([&](const auto& message) { return encode_body(builder, message); },
                                 envelope.message);
    auto name = encode_string(builder, cluster);
    auto root =
        fb::CreatePeerMessage(builder, name, envelope.from, envelope.to, body.type, body.offset);
    builder.Finish(root, fb::PeerMessageIdentifier());
    return {builder.GetBufferPointer(), builder.GetSize()};
}

std::vector<uint8_t> encode_peer(std::string_view cluster, const raft::Envelope& envelope) {
    return encode_to_vector(
        1024, [&](Builder& builder) { return encode_peer(builder, cluster, envelope); });
}

Result<PeerMessage> decode_peer(const void* data, size_t size) {
    return decode_buffer<PeerMessage, fb::PeerMessage>(data, size, fb::PeerMessageIdentifier(),
                                                       kPeerLimits, "peer message", decode_root);
}

}  // namespace copycat::wire
