#include "gateway/message_view.h"

#include <string>

#include "common/fbs.h"
#include "consensus/wire/client_codec.h"
#include "consensus/wire/decoding.h"

namespace copycat::gateway {

namespace {

// As the node's own decoder allows (consensus/wire/client_codec.cc).
constexpr FlatbufferLimits kClientLimits{16, 1'000'000};

Result<const fb::ClientMessage*> verified(std::span<const uint8_t> bytes) {
    const auto* message = verify_flatbuffer<fb::ClientMessage>(
        bytes.data(), bytes.size(), fb::ClientMessageIdentifier(), kClientLimits);
    if (message == nullptr) {
        return wire::explain_refused_buffer(bytes.data(), bytes.size(),
                                            fb::ClientMessageIdentifier());
    }
    return message;
}

Status without_table(const fb::ClientMessage& message) {
    return invalid_argument(std::string(fb::EnumNameBody(message.body_type())) +
                            " without its table");
}

// An out-of-range consistency is routed as linearizable: the leader refuses it.
Op query_op(fb::Consistency consistency) {
    switch (consistency) {
        case fb::Consistency::LinearizableLease: return Op::query_lease;
        case fb::Consistency::Sequential: return Op::query_sequential;
        case fb::Consistency::Linearizable: break;
    }
    return Op::query_linearizable;
}

// The session a request names, and its op; false when the body's table is missing.
bool read_session_request(const fb::ClientMessage& message, ClientRequestView& view) {
    switch (message.body_type()) {
        case fb::Body::CommandRequest: {
            const auto* body = message.body_as_CommandRequest();
            if (body == nullptr) return false;
            view = {Op::command, {}, view.request_id, body->session(), 0, nullptr};
            return true;
        }
        case fb::Body::QueryRequest: {
            const auto* body = message.body_as_QueryRequest();
            if (body == nullptr) return false;
            view = {
                query_op(body->consistency()), {}, view.request_id, body->session(), 0, nullptr};
            return true;
        }
        case fb::Body::UnregisterRequest: {
            const auto* body = message.body_as_UnregisterRequest();
            if (body == nullptr) return false;
            view = {Op::unregister, {}, view.request_id, body->session(), 0, nullptr};
            return true;
        }
        case fb::Body::ResetRequest: {
            const auto* body = message.body_as_ResetRequest();
            if (body == nullptr) return false;
            view = {Op::reset, {}, view.request_id, body->session(), 0, nullptr};
            return true;
        }
        default: return false;
    }
}

bool read_admin_request(const fb::ClientMessage& message, ClientRequestView& view) {
    switch (message.body_type()) {
        case fb::Body::StatusRequest: view.admin = AdminKind::status; break;
        case fb::Body::MemberChangeRequest: view.admin = AdminKind::member_change; break;
        case fb::Body::TransferLeadershipRequest:
            view.admin = AdminKind::transfer_leadership;
            break;
        case fb::Body::SessionsRequest: view.admin = AdminKind::sessions; break;
        case fb::Body::CompactLogRequest: view.admin = AdminKind::compact; break;
        default: return false;
    }
    view.op = Op::admin;
    view.node = message.node();
    return message.body() != nullptr;
}

bool read_node_response(const fb::Response& response, NodeMessageView& view) {
    view.kind = NodeMessageView::Kind::response;
    view.error = static_cast<session::ErrorCode>(response.error());
    view.leader = response.leader();
    switch (response.body_type()) {
        case fb::ResponseBody::RegisterResponse:
            if (response.body_as_RegisterResponse() == nullptr) return false;
            view.session = response.body_as_RegisterResponse()->session();
            return true;
        case fb::ResponseBody::KeepAliveResponse:
            if (response.body_as_KeepAliveResponse() == nullptr) return false;
            view.keep_alive_codes = response.body_as_KeepAliveResponse()->sessions();
            return true;
        case fb::ResponseBody::UnregisterResponse: view.unregistered = true; return true;
        default: return true;
    }
}

bool read_node_admin_response(const fb::AdminResponse& response, NodeMessageView& view) {
    view.kind = NodeMessageView::Kind::admin_response;
    view.error = static_cast<session::ErrorCode>(response.error());
    view.leader = response.leader();
    view.status = response.body_as_StatusResponse();
    return true;
}

bool error_code_in_range(fb::ErrorCode code) {
    return static_cast<uint8_t>(code) <= static_cast<uint8_t>(fb::ErrorCode::MAX);
}

}  // namespace

const char* op_name(Op op) {
    switch (op) {
        case Op::register_session: return "register";
        case Op::keep_alive: return "keep_alive";
        case Op::unregister: return "unregister";
        case Op::command: return "command";
        case Op::query_linearizable: return "query_linearizable";
        case Op::query_lease: return "query_lease";
        case Op::query_sequential: return "query_sequential";
        case Op::reset: return "reset";
        case Op::admin: return "admin";
        case Op::malformed: return "malformed";
    }
    return "unknown";
}

Result<ClientRequestView> read_client_request(std::span<const uint8_t> bytes) {
    Result<const fb::ClientMessage*> root = verified(bytes);
    if (!root.is_ok()) return root.status();
    const fb::ClientMessage& message = **root;
    ClientRequestView view;
    view.request_id = message.request_id();
    switch (message.body_type()) {
        case fb::Body::RegisterRequest:
            if (message.body() == nullptr) return without_table(message);
            view.op = Op::register_session;
            return view;
        case fb::Body::KeepAliveRequest:
            if (message.body_as_KeepAliveRequest() == nullptr) return without_table(message);
            view.op = Op::keep_alive;
            view.keep_alive_items = message.body_as_KeepAliveRequest()->sessions();
            return view;
        case fb::Body::CommandRequest:
        case fb::Body::QueryRequest:
        case fb::Body::UnregisterRequest:
        case fb::Body::ResetRequest:
            if (!read_session_request(message, view)) return without_table(message);
            return view;
        case fb::Body::StatusRequest:
        case fb::Body::MemberChangeRequest:
        case fb::Body::TransferLeadershipRequest:
        case fb::Body::SessionsRequest:
        case fb::Body::CompactLogRequest:
            if (!read_admin_request(message, view)) return without_table(message);
            return view;
        default: break;
    }
    return invalid_argument(std::string("a client sent ") + fb::EnumNameBody(message.body_type()) +
                            ", which is no request");
}

Result<NodeMessageView> read_node_message(std::span<const uint8_t> bytes) {
    Result<const fb::ClientMessage*> root = verified(bytes);
    if (!root.is_ok()) return root.status();
    const fb::ClientMessage& message = **root;
    NodeMessageView view;
    view.request_id = message.request_id();
    bool complete = false;
    if (const auto* response = message.body_as_Response()) {
        if (!error_code_in_range(response->error())) return invalid_argument("bad error code");
        complete = read_node_response(*response, view);
    } else if (const auto* admin = message.body_as_AdminResponse()) {
        if (!error_code_in_range(admin->error())) return invalid_argument("bad error code");
        complete = read_node_admin_response(*admin, view);
    } else if (const auto* publish = message.body_as_PublishRequest()) {
        view.kind = NodeMessageView::Kind::publish;
        view.session = publish->session();
        complete = true;
    } else {
        return invalid_argument(std::string("a node sent ") +
                                fb::EnumNameBody(message.body_type()) +
                                ", which is no answer or publish");
    }
    if (!complete) return invalid_argument("a node's answer lacks its body's table");
    return view;
}

std::optional<Refusal> answerable_refusal(std::span<const uint8_t> bytes) {
    std::optional<uint64_t> id = wire::refused_request_id(bytes.data(), bytes.size());
    if (!id) return std::nullopt;
    Result<const fb::ClientMessage*> root = verified(bytes);
    if (!root.is_ok()) return std::nullopt;
    ClientRequestView view;
    read_admin_request(**root, view);  // sets op to admin for an admin body, table or not
    return Refusal{*id, view.op == Op::admin};
}

bool rewrite_request_id(std::span<uint8_t> bytes, uint64_t request_id) {
    // The generated code has no mutators (flatc runs without --gen-mutable); the root is a
    // table all the same, and SetField writes a field that is stored.
    auto* root = flatbuffers::GetMutableRoot<flatbuffers::Table>(bytes.data());
    return root->SetField<uint64_t>(fb::ClientMessage::VT_REQUEST_ID, request_id);
}

}  // namespace copycat::gateway
