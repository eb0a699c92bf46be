// A linearizability checker for histories of the key/value register model (history.h).
//
// The history is split by key and each key checked on its own: a map of independent registers
// is linearizable exactly when each register is, and the split is what keeps the search small
// (TESTING.md, "Histories and checking").
//
// Per key, the search is Wing & Gong's, with Lowe's just-in-time linearization and memoization
// (the algorithm of Porcupine): the invoke and completion times become call and return entries
// in one list sorted by time; a depth-first search linearizes an operation whose call comes
// before the first remaining return (it may take effect now), lifts its entries out of the list
// and goes on; when it reaches a return whose operation is not linearized it backtracks. A set
// of (linearized operations, register value) pairs already explored prunes repeated states.
//
// Outcomes (history.h): fail operations are dropped; ok operations must be linearized inside
// their window with their recorded output; info and pending operations have their return at
// infinity, an unconstrained output, and may also be left out (they may never have happened).
//
// Windows are closed: an operation that completes at tick t and one invoked at tick t are
// concurrent, as the clock cannot order them. This can only hide a violation, never invent one.
//
// Pure and deterministic: the same history and options give the same result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/sim/history.h"

namespace copycat::sim {

enum class Verdict {
    linearizable,
    not_linearizable,
    unknown,  // the search budget ran out first: neither verdict is claimed
};

// "linearizable", "not linearizable", "unknown"
const char* verdict_name(Verdict verdict);

struct CheckOptions {
    // Per key, the most search steps (one step: trying one operation at one point, or one
    // backtrack) before the key is given up as unknown. The default bounds a pathological key
    // to about half a second and 50 MB; a realistic key (500 operations, 10 clients) needs
    // well under a million steps even when it is not linearizable.
    uint64_t max_search_steps_per_key = 5'000'000;
};

// The result for one key that is not linearizable, or could not be decided.
struct KeyResult {
    std::string key;
    Verdict verdict = Verdict::unknown;
    uint64_t search_steps = 0;
    // not_linearizable: the longest prefix the search could linearize, in linearization order,
    // and the operations of which none could come next. Operation ids of the history.
    std::vector<int> longest_prefix;
    std::vector<int> stuck;
    // Readable, several lines: the key, the verdict, and for not_linearizable the end of the
    // prefix (its last 12 operations), the value after it, and the stuck operations, each
    // described with history.h's describe().
    std::string explanation;
};

struct CheckResult {
    // not_linearizable when any key is; otherwise unknown when any key is; else linearizable.
    Verdict verdict = Verdict::linearizable;
    int keys_checked = 0;
    uint64_t search_steps = 0;        // over all keys
    std::vector<KeyResult> problems;  // the keys that are not linearizable, then the unknown ones

    bool ok() const { return verdict == Verdict::linearizable; }
    // Every problem's explanation, or "linearizable (N keys)".
    std::string explanation() const;
};

CheckResult check_linearizable(const History& history, CheckOptions options = {});

}  // namespace copycat::sim
