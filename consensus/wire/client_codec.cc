#include "consensus/wire/client_codec.h"

#include <string>
#include <type_traits>
#include <utility>

#include "consensus/raft/types.h"
#include "consensus/wire/decoding.h"
#include "consensus/wire/encoding.h"
#include "schemas/client_generated.h"

namespace copycat::wire {
namespace {

namespace fb = copycat::schema::client;

// The wire enums carry the values' numbers unchanged, so encoding and decoding are casts
// (after a range check on the way in).
constexpr bool error_codes_match() {
    using E = session::ErrorCode;
    using W = fb::ErrorCode;
    const std::pair<E, W> pairs[] = {
        {E::ok, W::Ok},
        {E::no_leader, W::NoLeader},
        {E::query_error, W::QueryError},
        {E::command_error, W::CommandError},
        {E::application_error, W::ApplicationError},
        {E::illegal_member_state, W::IllegalMemberState},
        {E::unknown_session, W::UnknownSession},
        {E::internal_error, W::InternalError},
        {E::configuration_error, W::ConfigurationError},
        {E::bad_request, W::BadRequest},
        {E::unknown_operation, W::UnknownOperation},
        {E::timeout, W::Timeout},
    };
    for (auto [value, wire] : pairs) {
        if (static_cast<int>(value) != static_cast<int>(wire)) return false;
    }
    return static_cast<int>(W::MAX) == static_cast<int>(E::timeout);
}
static_assert(error_codes_match(), "client.fbs ErrorCode must match session::ErrorCode");
static_assert(static_cast<int>(fb::Consistency::LinearizableLease) ==
              static_cast<int>(session::Consistency::linearizable_lease));
static_assert(static_cast<int>(fb::Consistency::MAX) ==
              static_cast<int>(session::Consistency::sequential));
static_assert(static_cast<int>(fb::SessionState::Unstable) ==
              static_cast<int>(statemachine::SessionState::unstable));
static_assert(static_cast<int>(fb::SessionState::MAX) ==
              static_cast<int>(statemachine::SessionState::closed));
static_assert(static_cast<int>(fb::MemberAction::Leave) ==
              static_cast<int>(session::MemberChangeRequest::Action::leave));
static_assert(static_cast<int>(fb::MemberAction::MAX) ==
              static_cast<int>(session::MemberChangeRequest::Action::set_type));
static_assert(static_cast<int>(fb::MemberType::Passive) ==
              static_cast<int>(raft::MemberType::passive));
static_assert(static_cast<int>(fb::MemberType::MAX) == static_cast<int>(raft::MemberType::active));

// ClientMessage > AdminResponse > StatusResponse > members > MemberInfo is the deepest.
constexpr FlatbufferLimits kClientLimits{16, 1'000'000};

// --- encoding -------------------------------------------------------------------------------

using BodyOffset = UnionOffset<fb::Body>;
constexpr auto body_of = [](auto offset) { return union_of<fb::BodyTraits>(offset); };

BodyOffset encode_body(Builder& builder, const session::RegisterRequest& m) {
    auto client_id = encode_string(builder, m.client_id);
    return body_of(fb::CreateRegisterRequest(builder, client_id, m.timeout_ms));
}

BodyOffset encode_body(Builder& builder, const session::KeepAliveRequest& m) {
    auto fill = [](size_t k, fb::KeepAliveItem* out, const session::KeepAliveRequest* request) {
        const session::KeepAliveItem& item = request->sessions[k];
        *out = fb::KeepAliveItem(item.session, item.command_sequence, item.event_index);
    };
    auto list = builder.CreateVectorOfStructs<fb::KeepAliveItem>(m.sessions.size(), fill, &m);
    return body_of(fb::CreateKeepAliveRequest(builder, list));
}

BodyOffset encode_body(Builder& builder, const session::UnregisterRequest& m) {
    return body_of(fb::CreateUnregisterRequest(builder, m.session));
}

BodyOffset encode_body(Builder& builder, const session::CommandRequest& m) {
    auto type = encode_string(builder, m.operation.type);
    auto argument = encode_bytes(builder, m.operation.argument);
    return body_of(fb::CreateCommandRequest(builder, m.session, m.sequence, type, argument));
}

BodyOffset encode_body(Builder& builder, const session::QueryRequest& m) {
    auto type = encode_string(builder, m.operation.type);
    auto argument = encode_bytes(builder, m.operation.argument);
    return body_of(fb::CreateQueryRequest(builder, m.session, m.sequence, m.index,
                                          static_cast<fb::Consistency>(m.consistency), type,
                                          argument));
}

BodyOffset encode_body(Builder& builder, const session::ResetRequest& m) {
    return body_of(fb::CreateResetRequest(builder, m.session, m.index));
}

BodyOffset encode_body(Builder& builder, const session::StatusRequest&) {
    return body_of(fb::CreateStatusRequest(builder));
}

BodyOffset encode_body(Builder& builder, const session::MemberChangeRequest& m) {
    auto address = encode_string(builder, m.address);
    return body_of(fb::CreateMemberChangeRequest(builder, static_cast<fb::MemberAction>(m.action),
                                                 m.node, static_cast<fb::MemberType>(m.type),
                                                 address, m.expected_index));
}

BodyOffset encode_body(Builder& builder, const session::TransferLeadershipRequest& m) {
    return body_of(fb::CreateTransferLeadershipRequest(builder, m.target));
}

BodyOffset encode_body(Builder& builder, const session::SessionsRequest&) {
    return body_of(fb::CreateSessionsRequest(builder));
}

BodyOffset encode_body(Builder& builder, const session::CompactLogRequest& m) {
    return body_of(fb::CreateCompactLogRequest(builder, m.major));
}

// --- response bodies ---

using ResponseBodyOffset = UnionOffset<fb::ResponseBody>;
constexpr auto response_body_of = [](auto offset) {
    return union_of<fb::ResponseBodyTraits>(offset);
};

ResponseBodyOffset encode_response_body(Builder&, std::monostate) { return {}; }

ResponseBodyOffset encode_response_body(Builder& builder, const session::RegisterResponse& m) {
    return response_body_of(fb::CreateRegisterResponse(builder, m.session, m.timeout_ms));
}

ResponseBodyOffset encode_response_body(Builder& builder, const session::KeepAliveResponse& m) {
    auto codes =
        builder.CreateVectorScalarCast<fb::ErrorCode>(m.sessions.data(), m.sessions.size());
    return response_body_of(fb::CreateKeepAliveResponse(builder, codes));
}

ResponseBodyOffset encode_response_body(Builder& builder, const session::UnregisterResponse&) {
    return response_body_of(fb::CreateUnregisterResponse(builder));
}

ResponseBodyOffset encode_response_body(Builder& builder, const session::OperationResponse& m) {
    auto value = encode_bytes(builder, m.value);
    return response_body_of(fb::CreateOperationResponse(builder, m.index, m.event_index, value));
}

// --- admin response bodies ---

using AdminBodyOffset = UnionOffset<fb::AdminResponseBody>;
constexpr auto admin_body_of = [](auto offset) {
    return union_of<fb::AdminResponseBodyTraits>(offset);
};

flatbuffers::Offset<fb::MemberInfo> encode_member(Builder& builder,
                                                  const session::MemberInfo& member) {
    auto address = encode_string(builder, member.address);
    return fb::CreateMemberInfo(builder, member.id, static_cast<fb::MemberType>(member.type),
                                member.available, address);
}

Offsets<fb::MemberInfo> encode_members(Builder& builder,
                                       const std::vector<session::MemberInfo>& members) {
    return encode_tables<fb::MemberInfo>(builder, members, encode_member);
}

AdminBodyOffset encode_admin_body(Builder&, std::monostate) { return {}; }

AdminBodyOffset encode_admin_body(Builder& builder, const session::StatusResponse& m) {
    auto role = encode_string(builder, m.role);
    auto members = encode_members(builder, m.members);
    return admin_body_of(fb::CreateStatusResponse(
        builder, m.node_id, role, static_cast<fb::MemberType>(m.member_type), m.term, m.leader,
        m.commit_index, m.applied_index, m.first_index, m.last_index, m.configuration_index,
        m.configuration_term, members, m.sessions, m.events_pending, m.logstore_reachable,
        encode_string(builder, m.client_address)));
}

AdminBodyOffset encode_admin_body(Builder& builder, const session::MemberChangeResponse& m) {
    auto members = encode_members(builder, m.members);
    return admin_body_of(fb::CreateMemberChangeResponse(builder, m.index, members));
}

flatbuffers::Offset<fb::SessionInfo> encode_session_info(
    Builder& builder, const session::SessionsResponse::Item& item) {
    auto client_id = encode_string(builder, item.client_id);
    return fb::CreateSessionInfo(builder, item.id, client_id,
                                 static_cast<fb::SessionState>(item.state), item.timeout_ms,
                                 item.command_sequence, item.event_index, item.events_pending);
}

AdminBodyOffset encode_admin_body(Builder& builder, const session::SessionsResponse& m) {
    auto list = encode_tables<fb::SessionInfo>(builder, m.sessions, encode_session_info);
    return admin_body_of(fb::CreateSessionsResponse(builder, list));
}

AdminBodyOffset encode_admin_body(Builder& builder, const session::CompactLogResponse& m) {
    return admin_body_of(fb::CreateCompactLogResponse(builder, m.major, m.segments_rewritten,
                                                      m.segments_replaced, m.entries_removed,
                                                      m.reclaimed_bytes, m.duration_seconds));
}

// --- the root ---

std::span<const uint8_t> finish(Builder& builder, uint64_t request_id, BodyOffset body,
                                session::NodeId node = 0) {
    auto root = fb::CreateClientMessage(builder, request_id, body.type, body.offset, node);
    builder.Finish(root, fb::ClientMessageIdentifier());
    return {builder.GetBufferPointer(), builder.GetSize()};
}

// A request or an admin request: both are a body under the root.
template <typename Request>
std::span<const uint8_t> encode_any_request(Builder& builder, uint64_t request_id,
                                            const Request& request, session::NodeId node = 0) {
    builder.Clear();
    BodyOffset body = std::visit([&](const auto& m) { return encode_body(builder, m); }, request);
    return finish(builder, request_id, body, node);
}

flatbuffers::Offset<fb::Event> encode_event(Builder& builder, const session::Event& event) {
    auto name = encode_string(builder, event.name);
    auto message = encode_bytes(builder, event.message);
    return fb::CreateEvent(builder, name, message);
}

// The client protocol's messages are small: a builder of their own starts with this room.
constexpr size_t kInitialBuilderBytes = 256;

// --- decoding -------------------------------------------------------------------------------

// What a union member that names a type without its table is refused with.
constexpr const char* kMissingTable = " without its table";

bool decode_operation(const flatbuffers::String* type, const flatbuffers::Vector<uint8_t>* argument,
                      statemachine::Operation& out, Decoding& check) {
    return check.copy_string(type, out.type, "operation type", kMaxOperationTypeBytes) &&
           check.copy_bytes(argument, out.argument, "operation argument");
}

bool decode(const fb::RegisterRequest& in, session::RegisterRequest& out, Decoding& check) {
    out.timeout_ms = in.timeout_ms();
    return check.copy_string(in.client_id(), out.client_id, "client id", kMaxClientIdBytes);
}

bool decode(const fb::KeepAliveRequest& in, session::KeepAliveRequest& out, Decoding& check) {
    const auto* list = in.sessions();
    if (list == nullptr) return true;
    if (!check.take_items(list->size(), sizeof(fb::KeepAliveItem), "keep-alive sessions")) {
        return false;
    }
    out.sessions.reserve(list->size());
    for (const fb::KeepAliveItem* item : *list) {
        out.sessions.push_back({item->session(), item->command_sequence(), item->event_index()});
    }
    return true;
}

bool decode(const fb::UnregisterRequest& in, session::UnregisterRequest& out, Decoding&) {
    out.session = in.session();
    return true;
}

bool decode(const fb::CommandRequest& in, session::CommandRequest& out, Decoding& check) {
    out.session = in.session();
    out.sequence = in.sequence();
    return decode_operation(in.operation_type(), in.argument(), out.operation, check);
}

bool decode(const fb::QueryRequest& in, session::QueryRequest& out, Decoding& check) {
    if (!check.check_enum(in.consistency(), "query consistency")) return false;
    out.session = in.session();
    out.sequence = in.sequence();
    out.index = in.index();
    out.consistency = static_cast<session::Consistency>(in.consistency());
    return decode_operation(in.operation_type(), in.argument(), out.operation, check);
}

bool decode(const fb::ResetRequest& in, session::ResetRequest& out, Decoding&) {
    out = {in.session(), in.index()};
    return true;
}

bool decode(const fb::StatusRequest&, session::StatusRequest&, Decoding&) { return true; }

bool decode(const fb::MemberChangeRequest& in, session::MemberChangeRequest& out, Decoding& check) {
    if (!check.check_enum(in.action(), "member change action") ||
        !check.check_enum(in.type(), "member type")) {
        return false;
    }
    out.action = static_cast<session::MemberChangeRequest::Action>(in.action());
    out.node = in.node();
    out.type = static_cast<uint8_t>(in.type());
    out.expected_index = in.expected_index();
    return check.copy_string(in.address(), out.address, "member address");
}

bool decode(const fb::TransferLeadershipRequest& in, session::TransferLeadershipRequest& out,
            Decoding&) {
    out.target = in.target();
    return true;
}

bool decode(const fb::SessionsRequest&, session::SessionsRequest&, Decoding&) { return true; }

bool decode(const fb::CompactLogRequest& in, session::CompactLogRequest& out, Decoding&) {
    out.major = in.major();
    return true;
}

// --- response bodies ---

bool decode(const fb::RegisterResponse& in, session::RegisterResponse& out, Decoding&) {
    out = {in.session(), in.timeout_ms()};
    return true;
}

bool decode(const fb::KeepAliveResponse& in, session::KeepAliveResponse& out, Decoding& check) {
    const auto* codes = in.sessions();
    if (codes == nullptr) return true;
    if (!check.take_items(codes->size(), 1, "keep-alive results")) return false;
    out.sessions.reserve(codes->size());
    for (fb::ErrorCode code : *codes) {
        if (!check.check_enum(code, "keep-alive error code")) return false;
        out.sessions.push_back(static_cast<session::ErrorCode>(code));
    }
    return true;
}

bool decode(const fb::UnregisterResponse&, session::UnregisterResponse&, Decoding&) { return true; }

bool decode(const fb::OperationResponse& in, session::OperationResponse& out, Decoding& check) {
    out.index = in.index();
    out.event_index = in.event_index();
    return check.copy_bytes(in.value(), out.value, "operation result");
}

bool decode_response_body(const fb::Response& in, decltype(session::Response::body)& out,
                          Decoding& check) {
    using B = fb::ResponseBody;
    const char* name = fb::EnumNameResponseBody(in.body_type());
    switch (in.body_type()) {
        case B::NONE: out = std::monostate{}; return true;
        case B::RegisterResponse:
            return decode_alternative<session::RegisterResponse>(
                in.body_as_RegisterResponse(), out, check, name, kMissingTable, decode);
        case B::KeepAliveResponse:
            return decode_alternative<session::KeepAliveResponse>(
                in.body_as_KeepAliveResponse(), out, check, name, kMissingTable, decode);
        case B::UnregisterResponse:
            return decode_alternative<session::UnregisterResponse>(
                in.body_as_UnregisterResponse(), out, check, name, kMissingTable, decode);
        case B::OperationResponse:
            return decode_alternative<session::OperationResponse>(
                in.body_as_OperationResponse(), out, check, name, kMissingTable, decode);
    }
    return check.fail_unknown("response", in.body_type());
}

bool decode(const fb::Response& in, session::Response& out, Decoding& check) {
    if (!check.check_enum(in.error(), "error code")) return false;
    out.error = static_cast<session::ErrorCode>(in.error());
    out.leader = in.leader();
    out.last_sequence = in.last_sequence();
    return check.copy_string(in.message(), out.message, "error message") &&
           decode_response_body(in, out.body, check);
}

bool decode_event(const fb::Event& in, session::Event& out, Decoding& check) {
    return check.copy_string(in.name(), out.name, "event name") &&
           check.copy_bytes(in.message(), out.message, "event message");
}

bool decode(const fb::PublishRequest& in, session::PublishRequest& out, Decoding& check) {
    out.session = in.session();
    out.event_index = in.event_index();
    out.previous_index = in.previous_index();
    return decode_tables(in.events(), out.events, check, "events", decode_event);
}

// --- admin response bodies ---

bool decode_member(const fb::MemberInfo& in, session::MemberInfo& out, Decoding& check) {
    if (!check.check_enum(in.type(), "member type")) return false;
    out.id = in.id();
    out.type = static_cast<uint8_t>(in.type());
    out.available = in.available();
    return check.copy_string(in.address(), out.address, "member address");
}

bool decode_members(const flatbuffers::Vector<flatbuffers::Offset<fb::MemberInfo>>* list,
                    std::vector<session::MemberInfo>& out, Decoding& check) {
    return decode_tables(list, out, check, "members", decode_member);
}

bool decode(const fb::StatusResponse& in, session::StatusResponse& out, Decoding& check) {
    if (!check.check_enum(in.member_type(), "member type")) return false;
    out.node_id = in.node_id();
    out.member_type = static_cast<uint8_t>(in.member_type());
    out.term = in.term();
    out.leader = in.leader();
    out.commit_index = in.commit_index();
    out.applied_index = in.applied_index();
    out.first_index = in.first_index();
    out.last_index = in.last_index();
    out.configuration_index = in.configuration_index();
    out.configuration_term = in.configuration_term();
    out.sessions = in.sessions();
    out.events_pending = in.events_pending();
    out.logstore_reachable = in.logstore_reachable();
    return check.copy_string(in.role(), out.role, "role") &&
           check.copy_string(in.client_address(), out.client_address, "client address") &&
           decode_members(in.members(), out.members, check);
}

bool decode(const fb::MemberChangeResponse& in, session::MemberChangeResponse& out,
            Decoding& check) {
    out.index = in.index();
    return decode_members(in.members(), out.members, check);
}

bool decode_session_info(const fb::SessionInfo& in, session::SessionsResponse::Item& out,
                         Decoding& check) {
    if (!check.check_enum(in.state(), "session state")) return false;
    out.id = in.id();
    out.state = static_cast<uint8_t>(in.state());
    out.timeout_ms = in.timeout_ms();
    out.command_sequence = in.command_sequence();
    out.event_index = in.event_index();
    out.events_pending = in.events_pending();
    return check.copy_string(in.client_id(), out.client_id, "client id", kMaxClientIdBytes);
}

bool decode(const fb::SessionsResponse& in, session::SessionsResponse& out, Decoding& check) {
    return decode_tables(in.sessions(), out.sessions, check, "sessions", decode_session_info);
}

bool decode(const fb::CompactLogResponse& in, session::CompactLogResponse& out, Decoding&) {
    out = {in.major(),           in.segments_rewritten(), in.segments_replaced(),
           in.entries_removed(), in.reclaimed_bytes(),    in.duration_seconds()};
    return true;
}

bool decode_admin_body(const fb::AdminResponse& in, decltype(session::AdminResponse::body)& out,
                       Decoding& check) {
    using B = fb::AdminResponseBody;
    const char* name = fb::EnumNameAdminResponseBody(in.body_type());
    switch (in.body_type()) {
        case B::NONE: out = std::monostate{}; return true;
        case B::StatusResponse:
            return decode_alternative<session::StatusResponse>(in.body_as_StatusResponse(), out,
                                                               check, name, kMissingTable, decode);
        case B::MemberChangeResponse:
            return decode_alternative<session::MemberChangeResponse>(
                in.body_as_MemberChangeResponse(), out, check, name, kMissingTable, decode);
        case B::SessionsResponse:
            return decode_alternative<session::SessionsResponse>(
                in.body_as_SessionsResponse(), out, check, name, kMissingTable, decode);
        case B::CompactLogResponse:
            return decode_alternative<session::CompactLogResponse>(
                in.body_as_CompactLogResponse(), out, check, name, kMissingTable, decode);
    }
    return check.fail_unknown("admin response", in.body_type());
}

bool decode(const fb::AdminResponse& in, session::AdminResponse& out, Decoding& check) {
    if (!check.check_enum(in.error(), "error code")) return false;
    out.error = static_cast<session::ErrorCode>(in.error());
    out.leader = in.leader();
    return check.copy_string(in.message(), out.message, "error message") &&
           decode_admin_body(in, out.body, check);
}

// --- the root ---

template <typename Value, typename Variant>
struct IsAlternative : std::false_type {};
template <typename Value, typename... Alternatives>
struct IsAlternative<Value, std::variant<Alternatives...>>
    : std::bool_constant<(std::is_same_v<Value, Alternatives> || ...)> {};

// The root's body as a Wire, decoded into `out` (a Value, or a variant holding one).
template <typename Value, typename Wire, typename Out>
bool decode_root_body(const fb::ClientMessage& message, Out& out, Decoding& check) {
    return decode_alternative<Value>(message.body_as<Wire>(), out, check,
                                     fb::EnumNameBody(message.body_type()), kMissingTable, decode);
}

// A request (RequestMessage) or an admin request (AdminRequestMessage): which one is told by
// the variant that holds Value.
template <typename Value, typename Wire>
bool decode_request(const fb::ClientMessage& message, ClientMessage& out, Decoding& check) {
    using Envelope = std::conditional_t<IsAlternative<Value, session::AdminRequest>::value,
                                        AdminRequestMessage, RequestMessage>;
    Envelope request{message.request_id(), {}};
    if (!decode_root_body<Value, Wire>(message, request.request, check)) return false;
    if constexpr (std::is_same_v<Envelope, AdminRequestMessage>) request.node = message.node();
    out = std::move(request);
    return true;
}

// Response and AdminResponse take the request_id of the root; a publish has none.
template <typename Value, typename Wire>
bool decode_reply(const fb::ClientMessage& message, ClientMessage& out, Decoding& check) {
    Value value;
    if (!decode_root_body<Value, Wire>(message, value, check)) return false;
    if constexpr (!std::is_same_v<Value, session::PublishRequest>) {
        value.request_id = message.request_id();
    }
    out = std::move(value);
    return true;
}

bool decode_message(const fb::ClientMessage& message, ClientMessage& out, Decoding& check) {
    using B = fb::Body;
    namespace s = session;
    switch (message.body_type()) {
        case B::RegisterRequest:
            return decode_request<s::RegisterRequest, fb::RegisterRequest>(message, out, check);
        case B::KeepAliveRequest:
            return decode_request<s::KeepAliveRequest, fb::KeepAliveRequest>(message, out, check);
        case B::UnregisterRequest:
            return decode_request<s::UnregisterRequest, fb::UnregisterRequest>(message, out, check);
        case B::CommandRequest:
            return decode_request<s::CommandRequest, fb::CommandRequest>(message, out, check);
        case B::QueryRequest:
            return decode_request<s::QueryRequest, fb::QueryRequest>(message, out, check);
        case B::ResetRequest:
            return decode_request<s::ResetRequest, fb::ResetRequest>(message, out, check);
        case B::Response: return decode_reply<s::Response, fb::Response>(message, out, check);
        case B::PublishRequest:
            return decode_reply<s::PublishRequest, fb::PublishRequest>(message, out, check);
        case B::StatusRequest:
            return decode_request<s::StatusRequest, fb::StatusRequest>(message, out, check);
        case B::MemberChangeRequest:
            return decode_request<s::MemberChangeRequest, fb::MemberChangeRequest>(message, out,
                                                                                   check);
        case B::TransferLeadershipRequest:
            return decode_request<s::TransferLeadershipRequest, fb::TransferLeadershipRequest>(
                message, out, check);
        case B::SessionsRequest:
            return decode_request<s::SessionsRequest, fb::SessionsRequest>(message, out, check);
        case B::AdminResponse:
            return decode_reply<s::AdminResponse, fb::AdminResponse>(message, out, check);
        case B::CompactLogRequest:
            return decode_request<s::CompactLogRequest, fb::CompactLogRequest>(message, out, check);
        case B::NONE: return check.fail("no message body");
    }
    return check.fail_unknown("message", message.body_type());
}

Result<const fb::ClientMessage*> verify_client(const void* data, size_t size) {
    return verify_root<fb::ClientMessage>(data, size, fb::ClientMessageIdentifier(), kClientLimits);
}

}  // namespace

std::span<const uint8_t> encode_request(flatbuffers::FlatBufferBuilder& builder,
                                        uint64_t request_id, const session::Request& request) {
    return encode_any_request(builder, request_id, request);
}

std::span<const uint8_t> encode_admin_request(flatbuffers::FlatBufferBuilder& builder,
                                              uint64_t request_id,
                                              const session::AdminRequest& request,
                                              session::NodeId node) {
    return encode_any_request(builder, request_id, request, node);
}

std::span<const uint8_t> encode_response(flatbuffers::FlatBufferBuilder& builder,
                                         const session::Response& response) {
    builder.Clear();
    ResponseBodyOffset body =
        std::visit([&](const auto& m) { return encode_response_body(builder, m); }, response.body);
    auto message = encode_string(builder, response.message);
    auto wire = fb::CreateResponse(builder, static_cast<fb::ErrorCode>(response.error), message,
                                   response.leader, response.last_sequence, body.type, body.offset);
    return finish(builder, response.request_id, body_of(wire));
}

std::span<const uint8_t> encode_admin_response(flatbuffers::FlatBufferBuilder& builder,
                                               const session::AdminResponse& response) {
    builder.Clear();
    AdminBodyOffset body =
        std::visit([&](const auto& m) { return encode_admin_body(builder, m); }, response.body);
    auto message = encode_string(builder, response.message);
    auto wire = fb::CreateAdminResponse(builder, static_cast<fb::ErrorCode>(response.error),
                                        message, response.leader, body.type, body.offset);
    return finish(builder, response.request_id, body_of(wire));
}

std::span<const uint8_t> encode_publish(flatbuffers::FlatBufferBuilder& builder,
                                        const session::PublishRequest& publish) {
    builder.Clear();
    auto list = encode_tables<fb::Event>(builder, publish.events, encode_event);
    auto wire = fb::CreatePublishRequest(builder, publish.session, publish.event_index,
                                         publish.previous_index, list);
    return finish(builder, 0, body_of(wire));
}

std::vector<uint8_t> encode_request(uint64_t request_id, const session::Request& request) {
    return encode_to_vector(kInitialBuilderBytes, [&](Builder& builder) {
        return encode_request(builder, request_id, request);
    });
}

std::vector<uint8_t> encode_admin_request(uint64_t request_id, const session::AdminRequest& request,
                                          session::NodeId node) {
    return encode_to_vector(kInitialBuilderBytes, [&](Builder& builder) {
        return encode_admin_request(builder, request_id, request, node);
    });
}

std::vector<uint8_t> encode_response(const session::Response& response) {
    return encode_to_vector(kInitialBuilderBytes,
                            [&](Builder& builder) { return encode_response(builder, response); });
}

std::vector<uint8_t> encode_admin_response(const session::AdminResponse& response) {
    return encode_to_vector(kInitialBuilderBytes, [&](Builder& builder) {
        return encode_admin_response(builder, response);
    });
}

std::vector<uint8_t> encode_publish(const session::PublishRequest& publish) {
    return encode_to_vector(kInitialBuilderBytes,
                            [&](Builder& builder) { return encode_publish(builder, publish); });
}

Result<ClientMessage> decode_client(const void* data, size_t size) {
    return decode_buffer<ClientMessage, fb::ClientMessage>(
        data, size, fb::ClientMessageIdentifier(), kClientLimits, "client message", decode_message);
}

std::optional<uint64_t> refused_request_id(const void* data, size_t size) {
    Result<const fb::ClientMessage*> root = verify_client(data, size);
    if (!root.is_ok()) return std::nullopt;
    switch ((*root)->body_type()) {
        case fb::Body::RegisterRequest:
        case fb::Body::KeepAliveRequest:
        case fb::Body::UnregisterRequest:
        case fb::Body::CommandRequest:
        case fb::Body::QueryRequest:
        case fb::Body::StatusRequest:
        case fb::Body::MemberChangeRequest:
        case fb::Body::TransferLeadershipRequest:
        case fb::Body::SessionsRequest: return (*root)->request_id();
        default: return std::nullopt;  // one-way, a reply, none or unknown: nobody waits
    }
}

}  // namespace copycat::wire
