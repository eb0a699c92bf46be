#include "tests/sim/linearizability.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <unordered_set>

#include "common/assert.h"
#include "common/json.h"

namespace copycat::sim {

const char* verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::linearizable: return "linearizable";
        case Verdict::not_linearizable: return "not linearizable";
        case Verdict::unknown: return "unknown";
    }
    return "?";
}

namespace {

// Register values as small integers, so that a search state is cheap to copy and compare.
// 0 is absent; a value read but never written gets an id no write produces, and never matches.
class ValueIds {
public:
    static constexpr int absent = 0;

    int id(const std::optional<std::string>& value) {
        if (!value) return absent;
        const auto [it, inserted] = ids_.try_emplace(*value, static_cast<int>(names_.size()));
        if (inserted) names_.push_back(*value);
        return it->second;
    }
    std::string describe(int id) const {
        if (id == absent) return "absent";
        std::string text;
        append_json_string(text, names_[id]);
        return text;
    }

private:
    std::map<std::string, int> ids_;
    std::vector<std::string> names_{""};  // index 0 stands for absent
};

// One operation of one key, compiled for the search.
struct RegisterOp {
    OpKind kind = OpKind::read;
    bool indefinite = false;          // info or pending: output unknown, may never have happened
    int value = ValueIds::absent;     // write, cas: the new value
    int expected = ValueIds::absent;  // cas
    int observed = ValueIds::absent;  // read completed ok: the value seen
    bool swapped = false;             // cas completed ok
    uint64_t call_time = 0;
    uint64_t return_time = 0;  // unused when indefinite: its return is at infinity
};

RegisterOp compile(const Operation& operation, ValueIds& values) {
    RegisterOp op;
    op.kind = operation.op.kind;
    op.indefinite = operation.indefinite();
    op.value = values.id(operation.op.value);
    op.expected = values.id(operation.op.expected);
    op.observed = values.id(operation.output.value);
    op.swapped = operation.output.swapped;
    op.call_time = operation.invoke_time;
    op.return_time = operation.complete_time;
    return op;
}

// The register's sequential specification: the value after `op` takes effect on `value`, or
// nullopt when `op`'s recorded output is impossible from `value`.
std::optional<int> apply(const RegisterOp& op, int value) {
    switch (op.kind) {
        case OpKind::read:
            if (!op.indefinite && op.observed != value) return std::nullopt;
            return value;
        case OpKind::write: return op.value;
        case OpKind::remove: return ValueIds::absent;
        case OpKind::cas: {
            const bool matches = op.expected == value;
            if (!op.indefinite && matches != op.swapped) return std::nullopt;
            return matches ? op.value : value;
        }
    }
    return std::nullopt;
}

uint64_t mix64(uint64_t x) {  // splitmix64's finalizer
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// The search states already explored, for memoization: which operations are linearized, and
// the register value after them. Packed in one array, a state being its bitset words followed
// by the value, so that remembering one costs no allocation of its own.
class ExploredStates {
public:
    explicit ExploredStates(size_t bitset_words)
        : stride_(bitset_words + 1), set_(64, Hash{this}, Equal{this}) {}
    ExploredStates(const ExploredStates&) = delete;  // the set's functors point to this
    ExploredStates& operator=(const ExploredStates&) = delete;

    // Remembers the state; false when it was explored before. `hash` is of both parts.
    bool insert(const std::vector<uint64_t>& linearized, int value, uint64_t hash) {
        COPYCAT_ASSERT(linearized.size() + 1 == stride_, "a bitset of the wrong size");
        COPYCAT_ASSERT(hashes_.size() < std::numeric_limits<uint32_t>::max(),
                       "more explored states than an index holds: lower the search budget");
        const auto index = static_cast<uint32_t>(hashes_.size());
        words_.insert(words_.end(), linearized.begin(), linearized.end());
        words_.push_back(static_cast<uint64_t>(value));
        hashes_.push_back(hash);
        if (set_.insert(index).second) return true;
        words_.resize(words_.size() - stride_);
        hashes_.pop_back();
        return false;
    }

private:
    struct Hash {
        const ExploredStates* self;
        size_t operator()(uint32_t index) const { return self->hashes_[index]; }
    };
    struct Equal {
        const ExploredStates* self;
        bool operator()(uint32_t a, uint32_t b) const {
            const auto first = self->words_.begin();
            return std::equal(first + a * self->stride_, first + (a + 1) * self->stride_,
                              first + b * self->stride_);
        }
    };

    size_t stride_;                 // words per state
    std::vector<uint64_t> words_;   // the states, one after the other
    std::vector<uint64_t> hashes_;  // per state
    std::unordered_set<uint32_t, Hash, Equal> set_;
};

// A call or return entry of the time-ordered doubly linked list.
struct Entry {
    int op = -1;  // index into the key's operations; -1 for the head sentinel
    bool is_call = false;
    int match = -1;  // the return of a call, the call of a return
    int prev = -1;
    int next = -1;
};

// The search over one key's operations.
class KeySearch {
public:
    KeySearch(std::vector<RegisterOp> ops, uint64_t max_steps)
        : ops_(std::move(ops)), max_steps_(max_steps), explored_(words_for(ops_.size())) {
        linearized_.assign(words_for(ops_.size()), 0);
        required_left_ = static_cast<int>(std::count_if(
            ops_.begin(), ops_.end(), [](const RegisterOp& op) { return !op.indefinite; }));
        build_list();
    }

    Verdict run();
    uint64_t steps() const { return steps_; }
    // For not_linearizable: indices into the operations given to the constructor.
    const std::vector<int>& longest_prefix() const { return best_prefix_; }
    const std::vector<int>& stuck() const { return best_stuck_; }
    int value_after_prefix() const { return best_value_; }

private:
    struct Frame {
        int call_entry = 0;
        int value_before = 0;
    };

    static size_t words_for(size_t op_count) { return (op_count + 63) / 64; }
    static uint64_t op_hash(int op) { return mix64(static_cast<uint64_t>(op)); }
    static uint64_t value_hash(int value) { return mix64(~static_cast<uint64_t>(value)); }

    void build_list();
    bool try_linearize(int call_entry);
    int backtrack();
    void lift(int call_entry);
    void unlift(int call_entry);
    void toggle(int op);
    void note_progress();

    std::vector<RegisterOp> ops_;
    uint64_t max_steps_ = 0;
    std::vector<Entry> entries_;        // entries_[0] is the head sentinel
    std::vector<Frame> stack_;          // the linearized calls, in linearization order
    std::vector<uint64_t> linearized_;  // bitset over ops_
    int value_ = ValueIds::absent;      // the register after the linearized operations
    uint64_t linearized_hash_ = 0;      // of linearized_, kept incrementally
    ExploredStates explored_;
    int required_left_ = 0;  // ok operations not yet linearized
    uint64_t steps_ = 0;
    bool have_best_ = false;
    std::vector<int> best_prefix_;
    std::vector<int> best_stuck_;
    int best_value_ = ValueIds::absent;
};

// Entries sorted by time; at the same tick calls before returns, so that touching windows
// overlap; returns of indefinite operations after everything.
void KeySearch::build_list() {
    struct SortKey {
        bool at_infinity;
        uint64_t time;
        bool is_return;
        int op;
        auto operator<=>(const SortKey&) const = default;
    };
    std::vector<SortKey> keys;
    for (int op = 0; op < static_cast<int>(ops_.size()); ++op) {
        const RegisterOp& register_op = ops_[op];
        keys.push_back({false, register_op.call_time, false, op});
        keys.push_back({register_op.indefinite, register_op.return_time, true, op});
    }
    std::sort(keys.begin(), keys.end());
    entries_.assign(keys.size() + 1, Entry{});
    std::vector<int> call_of(ops_.size());
    for (int position = 1; position <= static_cast<int>(keys.size()); ++position) {
        Entry& entry = entries_[position];
        entry.op = keys[position - 1].op;
        entry.is_call = !keys[position - 1].is_return;
        entry.prev = position - 1;
        entry.next = position < static_cast<int>(keys.size()) ? position + 1 : -1;
        if (entry.is_call) {
            call_of[entry.op] = position;
        } else {
            entry.match = call_of[entry.op];
            entries_[entry.match].match = position;
        }
    }
    entries_[0].next = keys.empty() ? -1 : 1;
}

Verdict KeySearch::run() {
    note_progress();
    int entry = entries_[0].next;
    while (required_left_ > 0) {
        if (steps_ >= max_steps_) return Verdict::unknown;
        ++steps_;
        COPYCAT_ASSERT(entry > 0,
                       "the search ran off the list with ok operations left: the list"
                       " lost a return entry");
        if (!entries_[entry].is_call) {
            // An operation must take effect before this return, and none of the choices so far
            // allows it: undo the last one.
            if (stack_.empty()) return Verdict::not_linearizable;
            entry = backtrack();
        } else if (try_linearize(entry)) {
            entry = entries_[0].next;
        } else {
            entry = entries_[entry].next;
        }
    }
    return Verdict::linearizable;
}

bool KeySearch::try_linearize(int call_entry) {
    const int op = entries_[call_entry].op;
    const std::optional<int> next_value = apply(ops_[op], value_);
    if (!next_value) return false;
    toggle(op);
    if (!explored_.insert(linearized_, *next_value, linearized_hash_ ^ value_hash(*next_value))) {
        toggle(op);  // explored before, from this same state
        return false;
    }
    stack_.push_back({call_entry, value_});
    value_ = *next_value;
    lift(call_entry);
    if (!ops_[op].indefinite) --required_left_;
    note_progress();
    return true;
}

// Undoes the last linearization; returns the entry to try next, the one after its call.
int KeySearch::backtrack() {
    const Frame frame = stack_.back();
    stack_.pop_back();
    const int op = entries_[frame.call_entry].op;
    unlift(frame.call_entry);
    toggle(op);
    value_ = frame.value_before;
    if (!ops_[op].indefinite) ++required_left_;
    return entries_[frame.call_entry].next;
}

// Unlinks a call and its return. Undone by unlift() in reverse order (dancing links).
void KeySearch::lift(int call_entry) {
    const Entry& call = entries_[call_entry];
    entries_[call.prev].next = call.next;
    entries_[call.next].prev = call.prev;  // a call is always followed, at least by its return
    const Entry& ret = entries_[call.match];
    entries_[ret.prev].next = ret.next;
    if (ret.next >= 0) entries_[ret.next].prev = ret.prev;
}

void KeySearch::unlift(int call_entry) {
    const Entry& call = entries_[call_entry];
    const Entry& ret = entries_[call.match];
    entries_[ret.prev].next = call.match;
    if (ret.next >= 0) entries_[ret.next].prev = call.match;
    entries_[call.prev].next = call_entry;
    entries_[call.next].prev = call_entry;
}

void KeySearch::toggle(int op) {
    linearized_[op / 64] ^= uint64_t{1} << (op % 64);
    linearized_hash_ ^= op_hash(op);
}

// Remembers the deepest point reached, for the explanation: the prefix, the value after it, and
// the operations that could take effect next (the calls before the first remaining return).
void KeySearch::note_progress() {
    if (have_best_ && stack_.size() <= best_prefix_.size()) return;
    have_best_ = true;
    best_prefix_.clear();
    for (const Frame& frame : stack_) best_prefix_.push_back(entries_[frame.call_entry].op);
    best_value_ = value_;
    best_stuck_.clear();
    for (int entry = entries_[0].next; entry > 0 && entries_[entry].is_call;
         entry = entries_[entry].next) {
        best_stuck_.push_back(entries_[entry].op);
    }
}

// The operations of each key that the check must consider: fail operations definitely did not
// happen, and an indefinite read neither changes the register nor constrains it.
std::map<std::string, std::vector<int>> operations_by_key(const History& history) {
    std::map<std::string, std::vector<int>> by_key;
    for (const Operation& operation : history.operations()) {
        if (operation.outcome == Outcome::fail) continue;
        if (operation.indefinite() && operation.op.kind == OpKind::read) continue;
        by_key[operation.op.key].push_back(operation.id);
    }
    return by_key;
}

std::string describe_key_operation(const History& history, int id) {
    const Operation& operation = history.operation(id);
    std::string text = "    " + describe(operation);
    if (operation.indefinite()) text += " (may have taken effect at any time after its invoke)";
    return text + "\n";
}

// The explanation shows the end of the longest prefix: where the trouble is.
constexpr size_t explained_prefix_tail = 12;

std::string explain_violation(const History& history, const KeyResult& result,
                              const std::string& value_after_prefix, size_t operation_count) {
    std::string text;
    append_json_string(text, result.key);
    text = "key " + text + ": not linearizable (" + std::to_string(result.search_steps) +
           " search steps)\n";
    text += "  longest linearizable prefix, " + std::to_string(result.longest_prefix.size()) +
            " of " + std::to_string(operation_count) + " operations, in linearization order:\n";
    const std::vector<int>& prefix = result.longest_prefix;
    if (prefix.empty()) text += "    (none)\n";
    const size_t shown = std::min(prefix.size(), explained_prefix_tail);
    if (shown < prefix.size()) {
        text += "    ... " + std::to_string(prefix.size() - shown) +
                " earlier operations (all in KeyResult::longest_prefix)\n";
    }
    for (size_t i = prefix.size() - shown; i < prefix.size(); ++i) {
        text += describe_key_operation(history, prefix[i]);
    }
    text += "  after it the key holds " + value_after_prefix +
            ", and none of these can take effect next:\n";
    for (int id : result.stuck) text += describe_key_operation(history, id);
    return text;
}

std::string explain_unknown(const KeyResult& result) {
    std::string text;
    append_json_string(text, result.key);
    return "key " + text + ": unknown: gave up after " + std::to_string(result.search_steps) +
           " search steps (CheckOptions::max_search_steps_per_key); the key's history is too"
           " concurrent to decide: use fewer concurrent clients or fewer operations per key\n";
}

KeyResult check_key(const History& history, const std::string& key, const std::vector<int>& ids,
                    const CheckOptions& options) {
    ValueIds values;
    std::vector<RegisterOp> ops;
    for (int id : ids) ops.push_back(compile(history.operation(id), values));
    KeySearch search(std::move(ops), options.max_search_steps_per_key);
    KeyResult result;
    result.key = key;
    result.verdict = search.run();
    result.search_steps = search.steps();
    if (result.verdict == Verdict::unknown) result.explanation = explain_unknown(result);
    if (result.verdict != Verdict::not_linearizable) return result;
    for (int op : search.longest_prefix()) result.longest_prefix.push_back(ids[op]);
    for (int op : search.stuck()) result.stuck.push_back(ids[op]);
    result.explanation = explain_violation(
        history, result, values.describe(search.value_after_prefix()), ids.size());
    return result;
}

}  // namespace

std::string CheckResult::explanation() const {
    if (problems.empty()) return "linearizable (" + std::to_string(keys_checked) + " keys)\n";
    std::string text;
    for (const KeyResult& problem : problems) text += problem.explanation;
    return text;
}

CheckResult check_linearizable(const History& history, CheckOptions options) {
    CheckResult result;
    for (const auto& [key, ids] : operations_by_key(history)) {
        KeyResult key_result = check_key(history, key, ids, options);
        ++result.keys_checked;
        result.search_steps += key_result.search_steps;
        if (key_result.verdict != Verdict::linearizable) {
            result.problems.push_back(std::move(key_result));
        }
    }
    std::stable_partition(result.problems.begin(), result.problems.end(), [](const KeyResult& r) {
        return r.verdict == Verdict::not_linearizable;
    });
    if (!result.problems.empty()) result.verdict = result.problems.front().verdict;
    return result;
}

}  // namespace copycat::sim
