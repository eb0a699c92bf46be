#include "common/status.h"

namespace copycat {

const char* status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::ok: return "ok";
        case StatusCode::invalid_argument: return "invalid argument";
        case StatusCode::out_of_range: return "out of range";
        case StatusCode::conflict: return "conflict";
        case StatusCode::corruption: return "corruption";
        case StatusCode::io_error: return "io error";
        case StatusCode::not_found: return "not found";
        case StatusCode::unavailable: return "unavailable";
        case StatusCode::timeout: return "timeout";
    }
    return "unknown";
}

std::string Status::to_string() const {
    if (is_ok()) return "ok";
    return std::string(status_code_name(code_)) + ": " + message_;
}

}  // namespace copycat
