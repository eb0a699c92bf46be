// Status and Result<T>: expected failures as values (STYLE.md, "Two kinds of failure").
// A Status is either ok or carries a code and a message a user can act on. Broken
// invariants are not Statuses: they are COPYCAT_ASSERT failures (common/assert.h).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace copycat {

enum class StatusCode {
    ok = 0,
    invalid_argument,  // the caller asked for something malformed or impossible
    out_of_range,      // an index or position outside what exists
    conflict,          // the request contradicts stored state (e.g. a term going back)
    corruption,        // stored data fails its checks
    io_error,          // the operating system refused (disk full, EIO, missing file)
    not_found,
    unavailable,  // a peer or process is not reachable
    timeout,
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return Status(); }

    bool is_ok() const { return code_ == StatusCode::ok; }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "corruption: bad CRC in segment-...log at offset 4096"
    std::string to_string() const;

private:
    StatusCode code_ = StatusCode::ok;
    std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::invalid_argument, m}; }
inline Status out_of_range(std::string m) { return {StatusCode::out_of_range, m}; }
inline Status conflict(std::string m) { return {StatusCode::conflict, m}; }
inline Status corruption(std::string m) { return {StatusCode::corruption, m}; }
inline Status io_error(std::string m) { return {StatusCode::io_error, m}; }
inline Status not_found(std::string m) { return {StatusCode::not_found, m}; }

// A value or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)) {}
    Result(Status status) : status_(std::move(status)) {}

    bool is_ok() const { return value_.has_value(); }
    const Status& status() const { return status_; }
    T& value() & { return *value_; }
    const T& value() const& { return *value_; }
    T&& value() && { return std::move(*value_); }
    T* operator->() { return &*value_; }
    const T* operator->() const { return &*value_; }
    T& operator*() { return *value_; }
    const T& operator*() const { return *value_; }

private:
    std::optional<T> value_;
    Status status_;
};

}  // namespace copycat

// Return early with the Status of an expression that fails.
#define COPYCAT_RETURN_IF_ERROR(expr)               \
    do {                                            \
        ::copycat::Status status_or_ = (expr);      \
        if (!status_or_.is_ok()) return status_or_; \
    } while (0)
