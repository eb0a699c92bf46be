#include "consensus/session/protocol.h"

namespace copycat::session {

const char* error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::ok: return "ok";
        case ErrorCode::no_leader: return "no_leader";
        case ErrorCode::query_error: return "query_error";
        case ErrorCode::command_error: return "command_error";
        case ErrorCode::application_error: return "application_error";
        case ErrorCode::illegal_member_state: return "illegal_member_state";
        case ErrorCode::unknown_session: return "unknown_session";
        case ErrorCode::internal_error: return "internal_error";
        case ErrorCode::configuration_error: return "configuration_error";
        case ErrorCode::bad_request: return "bad_request";
        case ErrorCode::unknown_operation: return "unknown_operation";
        case ErrorCode::timeout: return "timeout";
    }
    return "invalid";
}

const char* consistency_name(Consistency consistency) {
    switch (consistency) {
        case Consistency::linearizable: return "linearizable";
        case Consistency::linearizable_lease: return "linearizable_lease";
        case Consistency::sequential: return "sequential";
    }
    return "invalid";
}

}  // namespace copycat::session
