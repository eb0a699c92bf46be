// Typed operations and events on top of the byte-level Executor (state_machine.h).
//
// An operation type is a struct that both sides share: the state machine registers it, and
// clients (the C++ client library, copycat-ctl, the benchmark, tests) build requests from it
// and read its result. This header needs no state machine implementation: clients include it
// (and the op structs) and link only copycat_common for the codec.
//
// An operation type `Op` has
//   - `static constexpr std::string_view type`: the registered name, "map.put";
//   - its argument's encoding (see Encodable below);
//   - `Op::Output`, Encodable: what the operation returns;
//   - commands only: `CompactionMode compaction() const` (copycat.md §2.4: overwrites RELEASE,
//     deletes TOMBSTONE, TTL writes EXPIRING). A type without it is a query;
//   - optionally `Status validate() const`: refuses arguments that decode but make no sense
//     (an empty resource name); run before the leader logs the operation and again at apply.
// An event type `E` has `static constexpr std::string_view name` ("lock.acquired") and is
// Encodable.
//
// Encodable: either `static auto fields(auto& self)` returning std::tie of the members in wire
// order (the usual way: one list, used for both directions), or a hand-written pair
// `void encode(codec::Writer&) const` / `bool decode(codec::Reader&)`. Members may be bool,
// uint64_t, int64_t, std::string, Bytes, enums (one byte; the enum's namespace provides
// `constexpr uint8_t codec_enum_count(E)`, values at or beyond it are refused), std::optional
// and std::vector of these, and nested Encodable structs. Appending a field at the end is the
// only compatible change; renaming a type is a new type.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/codec.h"
#include "common/status.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::statemachine {

// ---------------------------------------------------------------------------------------------
// Field codec: turns the members of an op, output or event into bytes and back.

template <typename T>
concept HasFields = requires(T& value, const T& constant) {
    T::fields(value);
    T::fields(constant);
};

template <typename T>
concept HasCodec = requires(T& value, const T& constant, codec::Writer& out, codec::Reader& in) {
    constant.encode(out);
    { value.decode(in) } -> std::same_as<bool>;
};

template <typename T>
concept Encodable = HasFields<T> || HasCodec<T>;

namespace value_codec {

inline void encode_value(codec::Writer& out, bool value) { out.boolean(value); }
inline void encode_value(codec::Writer& out, uint64_t value) { out.varint(value); }
inline void encode_value(codec::Writer& out, int64_t value) { out.i64(value); }
inline void encode_value(codec::Writer& out, const std::string& value) { out.string(value); }
inline void encode_value(codec::Writer& out, const Bytes& value) { out.bytes(value); }

inline bool decode_value(codec::Reader& in, bool& value) { return in.boolean(value); }
inline bool decode_value(codec::Reader& in, uint64_t& value) { return in.varint(value); }
inline bool decode_value(codec::Reader& in, int64_t& value) { return in.i64(value); }
inline bool decode_value(codec::Reader& in, std::string& value) { return in.string(value); }
inline bool decode_value(codec::Reader& in, Bytes& value) { return in.bytes(value); }

template <typename E>
requires std::is_enum_v<E>
void encode_value(codec::Writer& out, E value);
template <typename T>
void encode_value(codec::Writer& out, const std::optional<T>& value);
template <typename T>
void encode_value(codec::Writer& out, const std::vector<T>& value);
template <Encodable T>
void encode_value(codec::Writer& out, const T& value);

template <typename E>
requires std::is_enum_v<E>
bool decode_value(codec::Reader& in, E& value);
template <typename T>
bool decode_value(codec::Reader& in, std::optional<T>& value);
template <typename T>
bool decode_value(codec::Reader& in, std::vector<T>& value);
template <Encodable T>
bool decode_value(codec::Reader& in, T& value);

template <typename E>
requires std::is_enum_v<E>
void encode_value(codec::Writer& out, E value) {
    static_assert(sizeof(E) == 1, "enums on the wire are one byte");
    out.u8(static_cast<uint8_t>(value));
}

template <typename E>
requires std::is_enum_v<E>
bool decode_value(codec::Reader& in, E& value) {
    uint8_t raw = 0;
    if (!in.u8(raw)) return false;
    if (raw >= codec_enum_count(E{})) {
        in.fail();
        return false;
    }
    value = static_cast<E>(raw);
    return true;
}

template <typename T>
void encode_value(codec::Writer& out, const std::optional<T>& value) {
    out.boolean(value.has_value());
    if (value.has_value()) encode_value(out, *value);
}

template <typename T>
bool decode_value(codec::Reader& in, std::optional<T>& value) {
    bool present = false;
    if (!in.boolean(present)) return false;
    if (!present) {
        value.reset();
        return true;
    }
    value.emplace();
    return decode_value(in, *value);
}

template <typename T>
void encode_value(codec::Writer& out, const std::vector<T>& value) {
    out.varint(value.size());
    for (const T& item : value) encode_value(out, item);
}

template <typename T>
bool decode_value(codec::Reader& in, std::vector<T>& value) {
    uint64_t count = 0;
    // Every item takes at least one byte: a hostile count cannot make us reserve memory.
    if (!in.count(count, 1)) return false;
    value.clear();
    for (uint64_t i = 0; i < count; ++i) {
        if (!decode_value(in, value.emplace_back())) return false;
    }
    return true;
}

template <Encodable T>
void encode_value(codec::Writer& out, const T& value) {
    if constexpr (HasCodec<T>) {
        value.encode(out);
    } else {
        std::apply([&out](const auto&... field) { (encode_value(out, field), ...); },
                   T::fields(value));
    }
}

template <Encodable T>
bool decode_value(codec::Reader& in, T& value) {
    if constexpr (HasCodec<T>) {
        return value.decode(in) && in.ok();
    } else {
        std::apply([&in](auto&... field) { (decode_value(in, field), ...); }, T::fields(value));
        return in.ok();
    }
}

}  // namespace value_codec

template <Encodable T>
Bytes encode_to_bytes(const T& value) {
    codec::Writer out;
    value_codec::encode_value(out, value);
    return out.take();
}

// The whole input is one value: trailing bytes are refused like missing ones.
template <Encodable T>
bool decode_from_bytes(std::span<const uint8_t> input, T& value) {
    codec::Reader in(input);
    return value_codec::decode_value(in, value) && in.done();
}

// ---------------------------------------------------------------------------------------------
// Operation and event types.

template <typename Op>
concept OperationType = Encodable<Op> && std::default_initializable<Op> && requires {
    { Op::type } -> std::convertible_to<std::string_view>;
    typename Op::Output;
} && Encodable<typename Op::Output> && std::default_initializable<typename Op::Output>;

template <typename Op>
concept CommandType = OperationType<Op> && requires(const Op& op) {
    { op.compaction() } -> std::same_as<CompactionMode>;
};

template <typename Op>
concept QueryType = OperationType<Op> && !CommandType<Op>;

template <typename E>
concept EventType = Encodable<E> && std::default_initializable<E> && requires {
    { E::name } -> std::convertible_to<std::string_view>;
};

template <typename T>
concept Validated = requires(const T& value) {
    { value.validate() } -> std::same_as<Status>;
};

// ---------------------------------------------------------------------------------------------
// For clients.

template <OperationType Op>
Operation make_operation(const Op& op) {
    return Operation{std::string(Op::type), encode_to_bytes(op)};
}

template <OperationType Op>
Result<typename Op::Output> decode_output(std::span<const uint8_t> output) {
    typename Op::Output value;
    if (!decode_from_bytes(output, value)) {
        return invalid_argument(std::string(Op::type) + ": malformed output (" +
                                std::to_string(output.size()) + " bytes)");
    }
    return value;
}

template <EventType E>
Result<E> decode_event(std::span<const uint8_t> message) {
    E value;
    if (!decode_from_bytes(message, value)) {
        return invalid_argument(std::string(E::name) + ": malformed event (" +
                                std::to_string(message.size()) + " bytes)");
    }
    return value;
}

// ---------------------------------------------------------------------------------------------
// For state machines.

// Decodes and validates an argument. Bytes from the network: an error, never a crash.
template <OperationType Op>
Result<Op> decode_argument(std::span<const uint8_t> argument) {
    Op op;
    if (!decode_from_bytes(argument, op)) {
        return invalid_argument(std::string(Op::type) + ": malformed argument (" +
                                std::to_string(argument.size()) + " bytes)");
    }
    if constexpr (Validated<Op>) {
        Status valid = op.validate();
        if (!valid.is_ok()) return valid;
    }
    return op;
}

template <OperationType Op>
Bytes encode_output(const typename Op::Output& output) {
    return encode_to_bytes(output);
}

// Queues an event for a session (allowed where Session::publish allows it).
template <EventType E>
Status publish(Session& session, const E& event) {
    return session.publish(E::name, encode_to_bytes(event));
}

// A command handler owns its Commit: keeping it holds the log entry (state_machine.h).
template <typename Op>
using TypedCommandHandler = std::function<Result<typename Op::Output>(Op op, Commit commit)>;
template <typename Op>
using TypedQueryHandler =
    std::function<Result<typename Op::Output>(const Op& op, const Commit& commit)>;

// The check the leader runs before logging a command: the argument decodes and validates,
// and the command itself says how its entry is compacted.
template <CommandType Op>
ArgumentCheck command_check() {
    return [](std::span<const uint8_t> argument) -> Result<CompactionMode> {
        Result<Op> op = decode_argument<Op>(argument);
        if (!op.is_ok()) return op.status();
        return op->compaction();
    };
}

// Queries are never logged: their check only refuses bad arguments; the mode is unused.
template <QueryType Op>
ArgumentCheck query_check() {
    return [](std::span<const uint8_t> argument) -> Result<CompactionMode> {
        Result<Op> op = decode_argument<Op>(argument);
        if (!op.is_ok()) return op.status();
        return CompactionMode::default_mode;
    };
}

template <CommandType Op>
void register_command(Executor& executor, TypedCommandHandler<Op> handler) {
    auto run = [handler = std::move(handler)](Commit commit) -> Output {
        // Checked by the leader already; decoding again costs little and keeps a server that
        // replays an entry logged by another version from trusting it.
        Result<Op> op = decode_argument<Op>(commit.operation().argument);
        if (!op.is_ok()) return op.status();
        Result<typename Op::Output> output = handler(std::move(op).value(), std::move(commit));
        if (!output.is_ok()) return output.status();
        return encode_output<Op>(*output);
    };
    executor.register_command(std::string(Op::type), command_check<Op>(), std::move(run));
}

template <QueryType Op>
void register_query(Executor& executor, TypedQueryHandler<Op> handler) {
    auto run = [handler = std::move(handler)](const Commit& commit) -> Output {
        Result<Op> op = decode_argument<Op>(commit.operation().argument);
        if (!op.is_ok()) return op.status();
        Result<typename Op::Output> output = handler(*op, commit);
        if (!output.is_ok()) return output.status();
        return encode_output<Op>(*output);
    };
    executor.register_query(std::string(Op::type), query_check<Op>(), std::move(run));
}

}  // namespace copycat::statemachine
