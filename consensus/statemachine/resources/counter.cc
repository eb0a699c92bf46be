#include "consensus/statemachine/resources/counter.h"

#include <string>
#include <utility>

namespace copycat::resources {

using statemachine::Commit;

void CounterResource::configure(statemachine::Executor& executor) {
    statemachine::register_command<CounterAdd>(
        executor, [this](CounterAdd op, Commit commit) { return add(op, std::move(commit)); });
    statemachine::register_command<CounterCas>(executor, [this](CounterCas op, Commit commit) {
        return compare_and_set(op, std::move(commit));
    });
    statemachine::register_command<CounterSet>(
        executor, [this](CounterSet op, Commit commit) { return set(op, std::move(commit)); });
    statemachine::register_query<CounterGet>(
        executor, [this](const CounterGet& op, const Commit&) -> Result<CounterGet::Output> {
            return CounterGet::Output{value_of(op.counter)};
        });
}

Result<CounterAdd::Output> CounterResource::add(const CounterAdd& op, Commit commit) {
    const int64_t current = value_of(op.counter);
    int64_t sum = 0;
    if (__builtin_add_overflow(current, op.delta, &sum)) {
        return out_of_range("counter.add: " + op.counter + " is " + std::to_string(current) +
                            "; adding " + std::to_string(op.delta) +
                            " overflows 64 bits, nothing changed");
    }
    chain(op.counter, sum, std::move(commit));
    return CounterAdd::Output{sum};
}

Result<CounterCas::Output> CounterResource::compare_and_set(const CounterCas& op, Commit commit) {
    const int64_t current = value_of(op.counter);
    // A failed cas changes nothing: its commit is released when it goes out of scope.
    if (current != op.expected) return CounterCas::Output{false, current};
    chain(op.counter, op.value, std::move(commit));
    return CounterCas::Output{true, op.value};
}

Result<CounterSet::Output> CounterResource::set(const CounterSet& op, Commit commit) {
    Instance& counter = counters_[op.counter];
    const int64_t previous = counter.value;
    counter.value = op.value;
    counter.writes.clear();  // destroys the chain's commits: released
    counter.writes.push_back(std::move(commit));
    return CounterSet::Output{previous};
}

int64_t CounterResource::value_of(const std::string& name) const {
    auto counter = counters_.find(name);
    return counter == counters_.end() ? 0 : counter->second.value;
}

void CounterResource::chain(const std::string& name, int64_t value, Commit commit) {
    Instance& counter = counters_[name];
    counter.value = value;
    counter.writes.push_back(std::move(commit));
}

void CounterResource::hash(StateHash& hash) const {
    hash.add(std::string_view("counter"));
    hash.add(static_cast<uint64_t>(counters_.size()));
    for (const auto& [name, counter] : counters_) {
        hash.add(std::string_view(name));
        hash.add(counter.value);
        hash.add(static_cast<uint64_t>(counter.writes.size()));
        for (const Commit& write : counter.writes) hash.add(write.index());
    }
}

}  // namespace copycat::resources
