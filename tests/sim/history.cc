#include "tests/sim/history.h"

#include <algorithm>
#include <fstream>

#include "common/assert.h"
#include "common/json.h"

namespace copycat::sim {

const char* op_kind_name(OpKind kind) {
    switch (kind) {
        case OpKind::read: return "read";
        case OpKind::write: return "write";
        case OpKind::cas: return "cas";
        case OpKind::remove: return "delete";
    }
    return "?";
}

const char* outcome_name(Outcome outcome) {
    switch (outcome) {
        case Outcome::ok: return "ok";
        case Outcome::fail: return "fail";
        case Outcome::info: return "info";
    }
    return "?";
}

Op Op::read(std::string key) { return {OpKind::read, std::move(key), std::nullopt, std::nullopt}; }

Op Op::write(std::string key, std::string value) {
    return {OpKind::write, std::move(key), std::move(value), std::nullopt};
}

Op Op::cas(std::string key, std::optional<std::string> expected, std::string value) {
    return {OpKind::cas, std::move(key), std::move(value), std::move(expected)};
}

Op Op::remove(std::string key) {
    return {OpKind::remove, std::move(key), std::nullopt, std::nullopt};
}

int History::invoke(int process, Op op, uint64_t time) {
    const bool needs_value = op.kind == OpKind::write || op.kind == OpKind::cas;
    COPYCAT_ASSERT(needs_value == op.value.has_value(),
                   "write and cas carry a value, read and delete none: build ops with Op::write()"
                   " and friends");
    ProcessState& state = processes_[process];
    COPYCAT_ASSERT(state.pending_id < 0,
                   "a process invoked while its previous operation is pending: a process runs "
                   "one operation at a time");
    COPYCAT_ASSERT(!state.retired,
                   "a process invoked after an info completion: it must retire and a new "
                   "process id take its place");
    const int id = static_cast<int>(operations_.size());
    Operation operation;
    operation.id = id;
    operation.process = process;
    operation.op = std::move(op);
    operation.invoke_time = time;
    operations_.push_back(std::move(operation));
    events_.push_back({id, true});
    state.pending_id = id;
    return id;
}

void History::complete(int id, Outcome outcome, OpOutput output, uint64_t time) {
    COPYCAT_ASSERT(id >= 0 && id < static_cast<int>(operations_.size()),
                   "complete() for an id that invoke() never returned");
    Operation& operation = operations_[id];
    COPYCAT_ASSERT(operation.pending(), "an operation completed twice");
    COPYCAT_ASSERT(time >= operation.invoke_time, "an operation completed before its invoke");
    operation.outcome = outcome;
    operation.complete_time = time;
    if (outcome == Outcome::ok) operation.output = std::move(output);
    events_.push_back({id, false});
    ProcessState& state = processes_[operation.process];
    state.pending_id = -1;
    state.retired = outcome == Outcome::info;
}

const Operation& History::operation(int id) const {
    COPYCAT_ASSERT(id >= 0 && id < static_cast<int>(operations_.size()),
                   "operation() for an id that invoke() never returned");
    return operations_[id];
}

namespace {

std::string quote_or_absent(const std::optional<std::string>& value) {
    if (!value) return "absent";
    std::string text;
    append_json_string(text, *value);
    return text;
}

std::string describe_call(const Op& op) {
    std::string text = op_kind_name(op.kind);
    text += "(key " + quote_or_absent(op.key);
    if (op.kind == OpKind::write) text += ", " + quote_or_absent(op.value);
    if (op.kind == OpKind::cas)
        text += ", " + quote_or_absent(op.expected) + " -> " + quote_or_absent(op.value);
    return text + ")";
}

std::string describe_output(const Operation& operation) {
    if (operation.outcome != Outcome::ok) return "";
    if (operation.op.kind == OpKind::read) return " -> " + quote_or_absent(operation.output.value);
    if (operation.op.kind == OpKind::cas) {
        return operation.output.swapped ? " -> swapped" : " -> not swapped";
    }
    return "";
}

}  // namespace

std::string describe(const Operation& operation) {
    std::string text = "process " + std::to_string(operation.process) + " ";
    text += describe_call(operation.op) + describe_output(operation);
    text += " [" + std::to_string(operation.invoke_time) + ", ";
    if (operation.pending()) return text + "pending]";
    text += std::to_string(operation.complete_time) + "] " + outcome_name(*operation.outcome);
    return text;
}

namespace {

void write_optional(JsonWriter& json, std::string_view name,
                    const std::optional<std::string>& value) {
    json.key(name);
    if (value) {
        json.value(*value);
    } else {
        json.null_value();
    }
}

std::string event_line(const Operation& operation, bool invoke) {
    const Op& op = operation.op;
    JsonWriter json;
    json.begin_object().field("process", operation.process);
    json.field("type", invoke ? "invoke" : outcome_name(*operation.outcome));
    json.field("f", op_kind_name(op.kind)).field("key", op.key);
    const bool seen = !invoke && operation.outcome == Outcome::ok;
    if (op.kind == OpKind::read && seen) {
        write_optional(json, "value", operation.output.value);
    } else {
        write_optional(json, "value", op.value);
    }
    if (op.kind == OpKind::cas) write_optional(json, "expected", op.expected);
    if (op.kind == OpKind::cas && seen) json.field("swapped", operation.output.swapped);
    json.field("time", invoke ? operation.invoke_time : operation.complete_time).end_object();
    return json.str();
}

}  // namespace

std::string to_json_lines(const History& history) {
    std::vector<History::Event> events = history.events();
    const auto time_of = [&history](const History::Event& event) {
        const Operation& operation = history.operation(event.id);
        return event.invoke ? operation.invoke_time : operation.complete_time;
    };
    std::stable_sort(
        events.begin(), events.end(),
        [&](const History::Event& a, const History::Event& b) { return time_of(a) < time_of(b); });
    std::string text;
    for (const History::Event& event : events) {
        text += event_line(history.operation(event.id), event.invoke) + "\n";
    }
    return text;
}

Status write_json_lines(const History& history, const std::filesystem::path& path) {
    const std::string text = to_json_lines(history);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return io_error("cannot open " + path.string() + " to write a history");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) return io_error("cannot write the history to " + path.string());
    return Status::ok();
}

}  // namespace copycat::sim
