// Operations as the process tests run them on a real cluster: text as the bytes of a value
// and back, and the decoded output of an operation a SessionClient ran, or why there is none.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include "common/status.h"
#include "consensus/statemachine/operation.h"
#include "tests/support/consensus_cluster.h"

namespace copycat::testing {

inline statemachine::Bytes bytes_of(const std::string& text) {
    return statemachine::Bytes(text.begin(), text.end());
}

inline std::string text_of(const statemachine::Bytes& bytes) {
    return std::string(bytes.begin(), bytes.end());
}

// Op's output from `response`; a Status saying so when there was no answer, the answer is an
// error, or it carries no operation output.
template <typename Op>
Result<typename Op::Output> output_of(const std::optional<session::Response>& response) {
    if (!response) return Status(StatusCode::timeout, std::string(Op::type) + ": no answer");
    if (response->error != session::ErrorCode::ok) {
        return Status(StatusCode::invalid_argument,
                      std::string(Op::type) + " refused: " + response->message);
    }
    const auto* body = std::get_if<session::OperationResponse>(&response->body);
    if (body == nullptr) {
        return Status(StatusCode::invalid_argument,
                      std::string(Op::type) + ": answered without an operation response");
    }
    return statemachine::decode_output<Op>(body->value);
}

// `op` run by `client` as a command, and its output.
template <typename Op>
Result<typename Op::Output> command_output(SessionClient& client, const Op& op,
                                           std::chrono::milliseconds timeout) {
    return output_of<Op>(client.command(statemachine::make_operation(op), timeout));
}

// `op` run by `client` as a query, and its output.
template <typename Op>
Result<typename Op::Output> query_output(SessionClient& client, const Op& op,
                                         session::Consistency consistency,
                                         std::chrono::milliseconds timeout) {
    return output_of<Op>(client.query(statemachine::make_operation(op), consistency, timeout));
}

}  // namespace copycat::testing
