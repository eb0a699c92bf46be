// The client codec (consensus/wire/client_codec.h): every request, response, publish and
// admin message crosses the wire with every field intact and arrives as the right kind of
// message; what is not a valid client message is refused with a reason, never a crash, and
// never costs much more memory than its own size.
#include "consensus/wire/client_codec.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "schemas/client_generated.h"
#include "tests/wire/wire_test_util.h"

namespace copycat::wire {
namespace {

using testing::Bytes;
using testing::expect_fields_differ;
using testing::expect_fields_equal;
namespace fb = copycat::schema::client;
namespace s = copycat::session;

// --- the fields of each value, in declaration order (session/protocol.h) ---

auto fields(std::monostate) { return std::tuple<>(); }
auto fields(const statemachine::Operation& m) { return std::tie(m.type, m.argument); }
auto fields(const s::RegisterRequest& m) { return std::tie(m.client_id, m.timeout_ms); }
auto fields(const s::KeepAliveItem& m) {
    return std::tie(m.session, m.command_sequence, m.event_index);
}
auto fields(const s::KeepAliveRequest& m) { return std::tie(m.sessions); }
auto fields(const s::UnregisterRequest& m) { return std::tie(m.session); }
auto fields(const s::CommandRequest& m) { return std::tie(m.session, m.sequence, m.operation); }
auto fields(const s::QueryRequest& m) {
    return std::tie(m.session, m.sequence, m.index, m.consistency, m.operation);
}
auto fields(const s::ResetRequest& m) { return std::tie(m.session, m.index); }
auto fields(const s::RegisterResponse& m) { return std::tie(m.session, m.timeout_ms); }
auto fields(const s::KeepAliveResponse& m) { return std::tie(m.sessions); }
auto fields(const s::UnregisterResponse&) { return std::tuple<>(); }
auto fields(const s::OperationResponse& m) { return std::tie(m.index, m.event_index, m.value); }
// Without body: its alternatives have no operator==; expect_same_response compares it.
auto fields(const s::Response& m) {
    return std::tie(m.request_id, m.error, m.message, m.leader, m.last_sequence);
}
auto fields(const s::Event& m) { return std::tie(m.name, m.message); }
auto fields(const s::PublishRequest& m) {
    return std::tie(m.session, m.event_index, m.previous_index, m.events);
}
auto fields(const s::StatusRequest&) { return std::tuple<>(); }
auto fields(const s::MemberInfo& m) { return std::tie(m.id, m.type, m.available, m.address); }
auto fields(const s::StatusResponse& m) {
    return std::tie(m.node_id, m.role, m.member_type, m.term, m.leader, m.commit_index,
                    m.applied_index, m.first_index, m.last_index, m.configuration_index,
                    m.configuration_term, m.members, m.sessions, m.events_pending,
                    m.logstore_reachable);
}
auto fields(const s::MemberChangeRequest& m) {
    return std::tie(m.action, m.node, m.type, m.address, m.expected_index);
}
auto fields(const s::MemberChangeResponse& m) { return std::tie(m.index, m.members); }
auto fields(const s::TransferLeadershipRequest& m) { return std::tie(m.target); }
auto fields(const s::SessionsRequest&) { return std::tuple<>(); }
auto fields(const s::SessionsResponse::Item& m) {
    return std::tie(m.id, m.client_id, m.state, m.timeout_ms, m.command_sequence, m.event_index,
                    m.events_pending);
}
auto fields(const s::SessionsResponse& m) { return std::tie(m.sessions); }
auto fields(const s::CompactLogRequest& m) { return std::tie(m.major); }
auto fields(const s::CompactLogResponse& m) {
    return std::tie(m.major, m.segments_rewritten, m.segments_replaced, m.entries_removed,
                    m.reclaimed_bytes, m.duration_seconds);
}
auto fields(const s::AdminResponse& m) {
    return std::tie(m.request_id, m.error, m.message, m.leader);
}

// --- samples: every field away from its default, and no two numbers alike ---

std::vector<s::Request> sample_requests() {
    return {
        s::RegisterRequest{"client-7f3a", 30'000},
        s::KeepAliveRequest{{{11, 12, 13}, {14, 15, 16}}},
        s::UnregisterRequest{21},
        s::CommandRequest{31, 32, {"map.put", {1, 2, 3}}},
        s::QueryRequest{41, 42, 43, s::Consistency::sequential, {"map.get", {4, 5}}},
        s::ResetRequest{51, 52},
    };
}

std::vector<s::MemberInfo> sample_members() {
    return {{2, 2, false, "tcp://127.0.0.1:7102"}, {3, 1, true, "tcp://127.0.0.1:7103"}};
}

std::vector<s::AdminRequest> sample_admin_requests() {
    return {
        s::StatusRequest{},
        s::MemberChangeRequest{s::MemberChangeRequest::Action::set_type, 61, 1,
                               "tcp://127.0.0.1:7104", 62},
        s::TransferLeadershipRequest{71},
        s::SessionsRequest{},
        s::CompactLogRequest{true},
    };
}

// The last has no body (an error): its body field is the one left at its default.
std::vector<s::Response> sample_responses() {
    using s::ErrorCode;
    auto response = [](uint64_t k, ErrorCode error, auto body) {
        return s::Response{1000 + k, error, "message " + std::to_string(k), 100 + k, 200 + k, body};
    };
    return {
        response(1, ErrorCode::internal_error, s::RegisterResponse{81, 82}),
        response(
            2, ErrorCode::configuration_error,
            s::KeepAliveResponse{{ErrorCode::ok, ErrorCode::unknown_session, ErrorCode::timeout}}),
        response(3, ErrorCode::application_error, s::UnregisterResponse{}),
        response(4, ErrorCode::command_error, s::OperationResponse{91, 92, {7, 0, 7}}),
        response(5, ErrorCode::no_leader, std::monostate{}),
    };
}

s::StatusResponse sample_status() {
    return {101, "leader", 2,    102,
            103, 104,      105,  106,
            107, 108,      109,  sample_members(),
            110, 111,      true, "tcp://127.0.0.1:7201"};
}

std::vector<s::AdminResponse> sample_admin_responses() {
    s::SessionsResponse sessions{
        {{121, "client-a", 2, 122, 123, 124, 125}, {126, "client-b", 3, 127, 128, 129, 130}}};
    return {
        {2001, s::ErrorCode::timeout, "slow", 131, sample_status()},
        {2002, s::ErrorCode::bad_request, "no", 132,
         s::MemberChangeResponse{133, sample_members()}},
        {2003, s::ErrorCode::illegal_member_state, "reserve", 134, sessions},
        {2005, s::ErrorCode::internal_error, "compacted", 136,
         s::CompactLogResponse{true, 137, 138, 139, 140, 1.5}},
        {2004, s::ErrorCode::unknown_operation, "bare", 135, std::monostate{}},
    };
}

s::PublishRequest sample_publish() {
    return {141, 142, 143, {{"lock.acquired", {1, 2}}, {"map.changed", {3}}}};
}

// --- comparing ---

template <typename Variant>
void expect_same_alternative(const Variant& sent, const Variant& received, const char* what) {
    ASSERT_EQ(sent.index(), received.index()) << what << " came back as another kind";
    std::visit(
        [&](const auto& expected) {
            using T = std::decay_t<decltype(expected)>;
            expect_fields_equal(fields(expected), fields(std::get<T>(received)), what);
        },
        sent);
}

// Every field, and every field of each alternative, of a sample set.
template <typename Variant>
void expect_sample_sets_every_field(const Variant& sample, const char* what) {
    std::visit(
        [&](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            expect_fields_differ(fields(value), fields(T{}), what);
        },
        sample);
}

void expect_same_message(const ClientMessage& sent, const ClientMessage& received) {
    ASSERT_EQ(sent.index(), received.index()) << "decoded as another kind of message";
    if (const auto* request = std::get_if<RequestMessage>(&sent)) {
        const auto& other = std::get<RequestMessage>(received);
        EXPECT_EQ(request->request_id, other.request_id);
        expect_same_alternative(request->request, other.request, "request");
    } else if (const auto* admin = std::get_if<AdminRequestMessage>(&sent)) {
        const auto& other = std::get<AdminRequestMessage>(received);
        EXPECT_EQ(admin->request_id, other.request_id);
        EXPECT_EQ(admin->node, other.node);
        expect_same_alternative(admin->request, other.request, "admin request");
    } else if (const auto* response = std::get_if<s::Response>(&sent)) {
        const auto& other = std::get<s::Response>(received);
        expect_fields_equal(fields(*response), fields(other), "response");
        expect_same_alternative(response->body, other.body, "response body");
    } else if (const auto* admin_response = std::get_if<s::AdminResponse>(&sent)) {
        const auto& other = std::get<s::AdminResponse>(received);
        expect_fields_equal(fields(*admin_response), fields(other), "admin response");
        expect_same_alternative(admin_response->body, other.body, "admin response body");
    } else {
        expect_fields_equal(fields(std::get<s::PublishRequest>(sent)),
                            fields(std::get<s::PublishRequest>(received)), "publish");
    }
}

Bytes encode(const ClientMessage& message) {
    if (const auto* request = std::get_if<RequestMessage>(&message)) {
        return encode_request(request->request_id, request->request);
    }
    if (const auto* admin = std::get_if<AdminRequestMessage>(&message)) {
        return encode_admin_request(admin->request_id, admin->request, admin->node);
    }
    if (const auto* response = std::get_if<s::Response>(&message)) {
        return encode_response(*response);
    }
    if (const auto* admin = std::get_if<s::AdminResponse>(&message)) {
        return encode_admin_response(*admin);
    }
    return encode_publish(std::get<s::PublishRequest>(message));
}

// One of each kind of message, as a node or a client would receive it.
std::vector<ClientMessage> sample_messages() {
    std::vector<ClientMessage> messages;
    uint64_t request_id = 5001;
    for (const s::Request& request : sample_requests()) {
        messages.push_back(RequestMessage{request_id++, request});
    }
    for (const s::AdminRequest& request : sample_admin_requests()) {
        messages.push_back(AdminRequestMessage{request_id, request, request_id % 4});
        ++request_id;
    }
    for (const s::Response& response : sample_responses()) messages.push_back(response);
    for (const s::AdminResponse& response : sample_admin_responses()) {
        messages.push_back(response);
    }
    messages.push_back(sample_publish());
    return messages;
}

Result<ClientMessage> decode(const Bytes& bytes) {
    return decode_client(bytes.data(), bytes.size());
}

Result<ClientMessage> decode(flatbuffers::FlatBufferBuilder& builder) {
    return decode_client(builder.GetBufferPointer(), builder.GetSize());
}

std::string refusal(const Result<ClientMessage>& result) {
    EXPECT_FALSE(result.is_ok()) << "expected a refusal";
    return result.is_ok() ? "" : result.status().message();
}

std::optional<uint64_t> refused_id(flatbuffers::FlatBufferBuilder& builder) {
    return refused_request_id(builder.GetBufferPointer(), builder.GetSize());
}

// A hand-built ClientMessage around `body`, for bodies no encoder would write.
template <typename Wire>
void finish_raw(flatbuffers::FlatBufferBuilder& builder, flatbuffers::Offset<Wire> body,
                uint64_t request_id = 77) {
    auto root = fb::CreateClientMessage(builder, request_id, fb::BodyTraits<Wire>::enum_value,
                                        body.Union());
    builder.Finish(root, fb::ClientMessageIdentifier());
}

// --- round trips ---

TEST(ClientCodecTest, SamplesSetEveryField) {
    for (const s::Request& request : sample_requests()) {
        expect_sample_sets_every_field(request, "request");
    }
    for (const s::AdminRequest& request : sample_admin_requests()) {
        expect_sample_sets_every_field(request, "admin request");
    }
    for (const s::Response& response : sample_responses()) {
        expect_fields_differ(fields(response), fields(s::Response{}), "response");
        if (response.body.index() != 0) expect_sample_sets_every_field(response.body, "body");
    }
    for (const s::AdminResponse& response : sample_admin_responses()) {
        expect_fields_differ(fields(response), fields(s::AdminResponse{}), "admin response");
        if (response.body.index() != 0) expect_sample_sets_every_field(response.body, "body");
    }
    expect_fields_differ(fields(sample_publish()), fields(s::PublishRequest{}), "publish");
    expect_fields_differ(fields(sample_publish().events[0]), fields(s::Event{}), "event");
    expect_fields_differ(fields(sample_members()[0]), fields(s::MemberInfo{}), "member");
    const std::vector<s::Request> requests = sample_requests();
    const auto& command = std::get<s::CommandRequest>(requests[3]);
    expect_fields_differ(fields(command.operation), fields(statemachine::Operation{}), "operation");
    expect_fields_differ(fields(s::KeepAliveItem{11, 12, 13}), fields(s::KeepAliveItem{}),
                         "keep-alive item");
    const std::vector<s::AdminResponse> admin_responses = sample_admin_responses();
    const auto& sessions = std::get<s::SessionsResponse>(admin_responses[2].body);
    expect_fields_differ(fields(sessions.sessions[0]), fields(s::SessionsResponse::Item{}),
                         "session item");
}

TEST(ClientCodecTest, EveryMessageSurvivesTheRoundTripAsItsKindWithEveryField) {
    std::set<size_t> requests, admin_requests, response_bodies, admin_bodies, kinds;
    for (const ClientMessage& message : sample_messages()) {
        Result<ClientMessage> decoded = decode(encode(message));
        ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
        expect_same_message(message, *decoded);
        kinds.insert(message.index());
        if (const auto* m = std::get_if<RequestMessage>(&message)) {
            requests.insert(m->request.index());
        } else if (const auto* m = std::get_if<AdminRequestMessage>(&message)) {
            admin_requests.insert(m->request.index());
        } else if (const auto* m = std::get_if<s::Response>(&message)) {
            response_bodies.insert(m->body.index());
        } else if (const auto* m = std::get_if<s::AdminResponse>(&message)) {
            admin_bodies.insert(m->body.index());
        }
    }
    EXPECT_EQ(kinds.size(), std::variant_size_v<ClientMessage>);
    EXPECT_EQ(requests.size(), std::variant_size_v<s::Request>);
    EXPECT_EQ(admin_requests.size(), std::variant_size_v<s::AdminRequest>);
    EXPECT_EQ(response_bodies.size(), std::variant_size_v<decltype(s::Response::body)>);
    EXPECT_EQ(admin_bodies.size(), std::variant_size_v<decltype(s::AdminResponse::body)>);
}

TEST(ClientCodecTest, AReusedBuilderEncodesLikeAFreshOne) {
    flatbuffers::FlatBufferBuilder builder;
    s::PublishRequest big = sample_publish();
    big.events.assign(5000, {"map.changed", Bytes(200, 1)});
    std::span<const uint8_t> first = encode_publish(builder, big);
    EXPECT_EQ(Bytes(first.begin(), first.end()), encode_publish(big));
    s::Request reset = s::ResetRequest{51, 52};
    std::span<const uint8_t> second = encode_request(builder, 9, reset);
    EXPECT_EQ(Bytes(second.begin(), second.end()), encode_request(9, reset));
}

// --- bounds ---

TEST(ClientCodecTest, OperationTypesAndClientIdsLongerThan256BytesAreRefusedWithTheirId) {
    std::string longest(kMaxOperationTypeBytes, 't');
    std::string too_long(kMaxOperationTypeBytes + 1, 't');
    EXPECT_TRUE(decode(encode_request(1, s::CommandRequest{1, 1, {longest, {}}})).is_ok());
    EXPECT_TRUE(decode(encode_request(1, s::RegisterRequest{longest, 0})).is_ok());

    const s::Request refused[] = {
        s::CommandRequest{1, 1, {too_long, {}}},
        s::QueryRequest{1, 1, 1, s::Consistency::linearizable, {too_long, {}}},
    };
    for (const s::Request& request : refused) {
        Bytes bytes = encode_request(42, request);
        EXPECT_EQ(refusal(decode(bytes)),
                  "client message: operation type of 257 bytes is longer than 256");
        EXPECT_EQ(refused_request_id(bytes.data(), bytes.size()), 42u)
            << "the node can answer bad_request to request 42";
    }
    Bytes bytes = encode_request(43, s::RegisterRequest{too_long, 0});
    EXPECT_EQ(refusal(decode(bytes)), "client message: client id of 257 bytes is longer than 256");
    EXPECT_EQ(refused_request_id(bytes.data(), bytes.size()), 43u);
}

TEST(ClientCodecTest, OnlyRefusedRequestsThatSomeoneWaitsForGiveTheirId) {
    Bytes garbage = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    EXPECT_EQ(refused_request_id(garbage.data(), garbage.size()), std::nullopt);
    s::Response response = sample_responses()[0];
    Bytes reply = encode_response(response);
    EXPECT_EQ(refused_request_id(reply.data(), reply.size()), std::nullopt);
    Bytes reset = encode_request(44, s::ResetRequest{1, 2});
    EXPECT_EQ(refused_request_id(reset.data(), reset.size()), std::nullopt);
    Bytes admin = encode_admin_request(45, s::TransferLeadershipRequest{3});
    EXPECT_EQ(refused_request_id(admin.data(), admin.size()), 45u);
}

// A count beyond the buffer is caught by verification, before anything is reserved.
TEST(ClientCodecTest, AVectorCountBeyondTheBufferIsRefused) {
    s::KeepAliveRequest keep_alive{{{1, 2, 3}, {4, 5, 6}}};
    Bytes bytes = encode_request(7, keep_alive);
    const auto* root = flatbuffers::GetRoot<fb::ClientMessage>(bytes.data());
    const auto* sessions = root->body_as_KeepAliveRequest()->sessions();
    size_t length_at = reinterpret_cast<const uint8_t*>(sessions) - bytes.data();
    ASSERT_EQ(bytes[length_at], 2u);
    bytes[length_at + 3] = 0x40;  // 2 + 2^30 items
    EXPECT_NE(refusal(decode(bytes)).find("malformed buffer"), std::string::npos);
}

// Verification allows many offsets to one table; decoding each copy would turn a 64 KiB
// message into gigabytes.
TEST(ClientCodecTest, EventsSharingOneMessageAreRefusedBeforeTheyAreCopied) {
    flatbuffers::FlatBufferBuilder builder;
    auto event = fb::CreateEvent(builder, builder.CreateString("e"),
                                 builder.CreateVector(Bytes(64 * 1024, 1)));
    std::vector<flatbuffers::Offset<fb::Event>> events(100'000, event);
    finish_raw(builder, fb::CreatePublishRequest(builder, 1, 2, 1, builder.CreateVector(events)));
    ASSERT_LT(builder.GetSize(), 1u << 20);
    EXPECT_EQ(refusal(decode(builder)),
              "client message: event message: the message decodes to more bytes than it holds "
              "(vectors share their contents)");
}

// --- refusals ---

TEST(ClientCodecTest, WrongIdentifierTruncationAndNoBodyAreRefused) {
    Bytes bytes = encode_request(1, s::UnregisterRequest{2});
    Bytes foreign = bytes;
    foreign[7] = 'X';
    EXPECT_EQ(refusal(decode(foreign)),
              "client message: file identifier \"CCCX\" is not \"CCCL\": another protocol's "
              "message");
    // A cut through the alignment padding that may end a buffer loses nothing; any cut into
    // content is refused.
    for (const ClientMessage& message : sample_messages()) {
        Bytes encoded = encode(message);
        size_t padding = 0;
        while (padding < encoded.size() && encoded[encoded.size() - 1 - padding] == 0) padding++;
        for (size_t size = 0; size < encoded.size(); ++size) {
            Result<ClientMessage> decoded = decode_client(encoded.data(), size);
            if (size < encoded.size() - padding) {
                EXPECT_FALSE(decoded.is_ok()) << "cut to " << size;
            } else if (decoded.is_ok()) {
                expect_same_message(message, *decoded);
            }
        }
    }
    flatbuffers::FlatBufferBuilder builder;
    builder.Finish(fb::CreateClientMessage(builder, 3), fb::ClientMessageIdentifier());
    EXPECT_EQ(refusal(decode(builder)), "client message: no message body");
}

TEST(ClientCodecTest, UnknownUnionTypesAreRefusedAtEveryLevel) {
    flatbuffers::FlatBufferBuilder builder;
    auto body = fb::CreateSessionsRequest(builder);
    builder.Finish(fb::CreateClientMessage(builder, 3, static_cast<fb::Body>(99), body.Union()),
                   fb::ClientMessageIdentifier());
    EXPECT_EQ(refusal(decode(builder)), "client message: unknown message type 99");
    EXPECT_EQ(refused_id(builder), std::nullopt);

    builder.Clear();
    auto inner = fb::CreateUnregisterResponse(builder);
    finish_raw(builder, fb::CreateResponse(builder, fb::ErrorCode::Ok, 0, 0, 0,
                                           static_cast<fb::ResponseBody>(9), inner.Union()));
    EXPECT_EQ(refusal(decode(builder)), "client message: unknown response type 9");

    builder.Clear();
    auto status = fb::CreateStatusResponse(builder);
    finish_raw(builder,
               fb::CreateAdminResponse(builder, fb::ErrorCode::Ok, 0, 0,
                                       static_cast<fb::AdminResponseBody>(7), status.Union()));
    EXPECT_EQ(refusal(decode(builder)), "client message: unknown admin response type 7");

    builder.Clear();
    finish_raw(builder, fb::CreateResponse(builder, fb::ErrorCode::Ok, 0, 0, 0,
                                           fb::ResponseBody::OperationResponse, 0));
    EXPECT_EQ(refusal(decode(builder)), "client message: OperationResponse without its table");

    builder.Clear();
    builder.Finish(fb::CreateClientMessage(builder, 3, fb::Body::CommandRequest, 0),
                   fb::ClientMessageIdentifier());
    EXPECT_EQ(refusal(decode(builder)), "client message: CommandRequest without its table");
}

TEST(ClientCodecTest, EnumValuesOutOfRangeAreRefused) {
    flatbuffers::FlatBufferBuilder b;
    auto expect_refused = [&](const std::string& reason) {
        EXPECT_EQ(refusal(decode(b)), "client message: " + reason);
        b.Clear();
    };
    finish_raw(b, fb::CreateResponse(b, static_cast<fb::ErrorCode>(12)));
    expect_refused("error code 12 is not one of 0..11");
    finish_raw(b, fb::CreateAdminResponse(b, static_cast<fb::ErrorCode>(200)));
    expect_refused("error code 200 is not one of 0..11");
    std::vector<fb::ErrorCode> codes = {fb::ErrorCode::Ok, static_cast<fb::ErrorCode>(12)};
    auto keep_alive = fb::CreateKeepAliveResponse(b, b.CreateVector(codes));
    finish_raw(b, fb::CreateResponse(b, fb::ErrorCode::Ok, 0, 0, 0,
                                     fb::ResponseBody::KeepAliveResponse, keep_alive.Union()));
    expect_refused("keep-alive error code 12 is not one of 0..11");
    finish_raw(b, fb::CreateQueryRequest(b, 1, 1, 1, static_cast<fb::Consistency>(3)));
    expect_refused("query consistency 3 is not one of 0..2");
    finish_raw(b, fb::CreateMemberChangeRequest(b, static_cast<fb::MemberAction>(3)));
    expect_refused("member change action 3 is not one of 0..2");
    finish_raw(b, fb::CreateMemberChangeRequest(b, fb::MemberAction::Join, 4,
                                                static_cast<fb::MemberType>(4)));
    expect_refused("member type 4 is not one of 0..3");
    std::vector<flatbuffers::Offset<fb::SessionInfo>> sessions = {
        fb::CreateSessionInfo(b, 1, 0, static_cast<fb::SessionState>(4))};
    auto list = fb::CreateSessionsResponse(b, b.CreateVector(sessions));
    finish_raw(b, fb::CreateAdminResponse(b, fb::ErrorCode::Ok, 0, 0,
                                          fb::AdminResponseBody::SessionsResponse, list.Union()));
    expect_refused("session state 4 is not one of 0..3");
    std::vector<flatbuffers::Offset<fb::MemberInfo>> members = {
        fb::CreateMemberInfo(b, 1, static_cast<fb::MemberType>(9))};
    auto status = fb::CreateStatusResponse(b, 1, 0, fb::MemberType::Active, 0, 0, 0, 0, 0, 0, 0, 0,
                                           b.CreateVector(members));
    finish_raw(b, fb::CreateAdminResponse(b, fb::ErrorCode::Ok, 0, 0,
                                          fb::AdminResponseBody::StatusResponse, status.Union()));
    expect_refused("member type 9 is not one of 0..3");
}

// --- arbitrary damage ---

TEST(ClientCodecRobustnessTest, MutatedMessagesAreRefusedOrDecodeToMessagesThatEncodeAgain) {
    std::vector<Bytes> seeds;
    for (const ClientMessage& message : sample_messages()) seeds.push_back(encode(message));
    std::mt19937_64 random(0x5eed'0002);
    size_t accepted = 0;
    size_t refused = 0;
    for (int round = 0; round < 30000; ++round) {
        Bytes bytes = testing::mutate(seeds[random() % seeds.size()], random);
        Result<ClientMessage> decoded = decode(bytes);
        if (!decoded.is_ok()) {
            EXPECT_FALSE(decoded.status().message().empty());
            refused++;
            continue;
        }
        accepted++;
        Result<ClientMessage> again = decode(encode(*decoded));
        ASSERT_TRUE(again.is_ok()) << "round " << round << ": " << again.status().to_string();
        expect_same_message(*decoded, *again);
    }
    EXPECT_GT(accepted, 1000u) << "mutations too destructive to reach the field checks";
    EXPECT_GT(refused, 1000u);
}

}  // namespace
}  // namespace copycat::wire
