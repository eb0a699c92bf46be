// CounterResource: the "counter.*" operations (ops.h) over many named signed 64-bit counters.
// Part of CoordinationStateMachine.
//
// Compaction, incremental through releases, with the rule of map.h: a replay of whatever the
// compacted log still holds must end at the same value. counter.add and counter.cas depend on
// the value before them, so a counter holds the Commits of every write since its last
// counter.set (the chain); a counter.set holds only itself and releases the chain before it. A
// failed cas or a refused add changes nothing and is released at once. Hence a counter that is
// only ever added to keeps all its adds in the log (and in memory): clients that add often should
// set now and then where the application allows it (a cas cannot reset the chain: it depends on
// it). A counter, once written, is kept even at 0: only its chain says what its value is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "consensus/statemachine/resources/ops.h"
#include "consensus/statemachine/resources/state_hash.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::resources {

class CounterResource {
public:
    // Registers counter.*; the executor must outlive this object.
    void configure(statemachine::Executor& executor);

    void hash(StateHash& hash) const;
    size_t instance_count() const { return counters_.size(); }

private:
    struct Instance {
        int64_t value = 0;
        std::vector<statemachine::Commit> writes;  // since the last counter.set, oldest first
    };

    Result<CounterAdd::Output> add(const CounterAdd& op, statemachine::Commit commit);
    Result<CounterCas::Output> compare_and_set(const CounterCas& op, statemachine::Commit commit);
    Result<CounterSet::Output> set(const CounterSet& op, statemachine::Commit commit);
    int64_t value_of(const std::string& name) const;
    // Records a write that depends on the value before it.
    void chain(const std::string& name, int64_t value, statemachine::Commit commit);

    std::map<std::string, Instance> counters_;
};

}  // namespace copycat::resources
