// A client history of operations on a key/value store, as the simulator and the process tests
// record it, and its JSON-lines form (TESTING.md, "Histories and checking").
//
// The model is a map partitioned by key; each key is a register that holds a value or nothing
// (absent). Four operations act on one key:
//   read               returns the value, or absent
//   write(v)           sets the value
//   cas(expected, v)   sets the value to v if it equals `expected` (absent when `expected` is
//                      nullopt); returns whether it swapped
//   remove             makes the key absent ("delete" in the JSON form)
//
// Each operation has an invoke time and, once it completes, a completion time (ticks of the
// simulated clock) and an outcome:
//   ok     it happened exactly once, between invoke and completion, with the recorded output;
//   fail   it definitely did not happen (rejected before being proposed, unknown session);
//   info   unknown (timeout, connection lost after sending): it may have happened at any time
//          after its invoke, or never, and its output is unknown. The process retires.
// An operation still pending when the history is checked counts as info.
//
// A process runs one operation at a time: invoking while one is pending, or after an info, is a
// bug in the recorder and asserts. Not thread-safe; one recorder per history.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace copycat::sim {

enum class OpKind { read, write, cas, remove };
enum class Outcome { ok, fail, info };

// "read", "write", "cas", "delete"
const char* op_kind_name(OpKind kind);
// "ok", "fail", "info"
const char* outcome_name(Outcome outcome);

// What a client asked for.
struct Op {
    OpKind kind = OpKind::read;
    std::string key;
    std::optional<std::string> value;     // write and cas: the new value
    std::optional<std::string> expected;  // cas: the value it must find; nullopt means absent

    static Op read(std::string key);
    static Op write(std::string key, std::string value);
    static Op cas(std::string key, std::optional<std::string> expected, std::string value);
    static Op remove(std::string key);
};

// What a client observed when an operation completed with `ok`. Ignored for fail and info.
struct OpOutput {
    std::optional<std::string> value;  // read: the value seen; nullopt when the key was absent
    bool swapped = false;              // cas: whether it found `expected` and wrote

    static OpOutput none() { return {}; }
    static OpOutput read(std::optional<std::string> value) { return {std::move(value), false}; }
    static OpOutput cas(bool swapped) { return {std::nullopt, swapped}; }
};

// One operation of a history.
struct Operation {
    int id = 0;  // index in History::operations()
    int process = 0;
    Op op;
    uint64_t invoke_time = 0;
    std::optional<Outcome> outcome;  // nullopt while pending
    uint64_t complete_time = 0;      // meaningful once completed
    OpOutput output;

    bool pending() const { return !outcome.has_value(); }
    // info, or still pending: may have happened at any time after invoke, or never.
    bool indefinite() const { return pending() || *outcome == Outcome::info; }
};

class History {
public:
    // Records that `process` invoked `op` at `time`; returns the operation's id.
    int invoke(int process, Op op, uint64_t time);
    // Records the completion of operation `id`. `output` matters for ok only. Asserts that `id`
    // is pending and that `time` is not before its invoke.
    void complete(int id, Outcome outcome, OpOutput output, uint64_t time);

    const std::vector<Operation>& operations() const { return operations_; }
    const Operation& operation(int id) const;

    // Every invoke and completion in the order recorded.
    struct Event {
        int id = 0;
        bool invoke = true;
    };
    const std::vector<Event>& events() const { return events_; }

private:
    struct ProcessState {
        int pending_id = -1;
        bool retired = false;
    };

    std::vector<Operation> operations_;
    std::vector<Event> events_;
    std::map<int, ProcessState> processes_;
};

// One line for an operation, for explanations: `process 3 cas(key "k", "1" -> "2") -> swapped
// [10, 25] ok`, with values quoted and absent written as `absent`.
std::string describe(const Operation& operation);

// The history as JSON lines, one event per line, ordered by time and, at the same tick, in the
// order recorded:
//   {"process":1,"type":"invoke","f":"cas","key":"k","value":"2","expected":"1","time":10}
//   {"process":1,"type":"ok","f":"cas","key":"k","value":"2","expected":"1","swapped":true,
//    "time":25}
// "value" is the written value for write and cas, the value seen for a completed read (null
// when absent), null otherwise; "expected" appears for cas only (null: it expects absent);
// "swapped" for a cas completed ok. Pending operations have only their invoke line.
std::string to_json_lines(const History& history);

// Writes to_json_lines(history) to `path`, replacing it.
Status write_json_lines(const History& history, const std::filesystem::path& path);

}  // namespace copycat::sim
