// The linearizability checker on histories whose verdict is known by hand, on large random
// histories recorded from a linearizable register, and the history's JSON-lines form.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "tests/sim/history.h"
#include "tests/sim/linearizability.h"

namespace copycat::sim {
namespace {

using std::nullopt;

// Builds a history one whole operation at a time: [from, to] is the window.
class Builder {
public:
    Builder& on(std::string key) {
        key_ = std::move(key);
        return *this;
    }
    Builder& read(int process, uint64_t from, uint64_t to, std::optional<std::string> seen,
                  Outcome outcome = Outcome::ok) {
        return add(process, Op::read(key_), from, to, outcome, OpOutput::read(std::move(seen)));
    }
    Builder& write(int process, uint64_t from, uint64_t to, std::string value,
                   Outcome outcome = Outcome::ok) {
        return add(process, Op::write(key_, std::move(value)), from, to, outcome, {});
    }
    Builder& cas(int process, uint64_t from, uint64_t to, std::optional<std::string> expected,
                 std::string value, bool swapped, Outcome outcome = Outcome::ok) {
        Op op = Op::cas(key_, std::move(expected), std::move(value));
        return add(process, std::move(op), from, to, outcome, OpOutput::cas(swapped));
    }
    Builder& remove(int process, uint64_t from, uint64_t to, Outcome outcome = Outcome::ok) {
        return add(process, Op::remove(key_), from, to, outcome, {});
    }
    const History& history() const { return history_; }
    Verdict verdict(CheckOptions options = {}) const {
        return check_linearizable(history_, options).verdict;
    }

private:
    Builder& add(int process, Op op, uint64_t from, uint64_t to, Outcome outcome, OpOutput output) {
        const int id = history_.invoke(process, std::move(op), from);
        history_.complete(id, outcome, std::move(output), to);
        return *this;
    }

    History history_;
    std::string key_ = "x";
};

// --- sequential histories -------------------------------------------------------------------

TEST(Checker, EmptyHistoryIsLinearizable) {
    const CheckResult result = check_linearizable(History{});
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(result.keys_checked, 0);
}

TEST(Checker, CorrectSequentialHistoryIsLinearizable) {
    Builder b;
    b.read(1, 0, 1, nullopt).write(1, 2, 3, "a").read(2, 4, 5, "a").write(2, 6, 7, "b");
    b.cas(1, 8, 9, "b", "c", true).cas(2, 10, 11, "b", "d", false).read(1, 12, 13, "c");
    b.remove(2, 14, 15).read(1, 16, 17, nullopt).cas(2, 18, 19, nullopt, "e", true);
    b.read(1, 20, 21, "e");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

TEST(Checker, SequentialReadOfAValueNeverWrittenIsNot) {
    Builder b;
    b.write(1, 0, 1, "a").read(2, 2, 3, "zzz");
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
}

TEST(Checker, ReadOfAbsentAfterACompletedWriteIsNot) {
    Builder b;
    b.write(1, 0, 1, "a").read(2, 2, 3, nullopt);
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
}

// --- overlapping windows --------------------------------------------------------------------

TEST(Checker, ReadConcurrentWithAWriteMaySeeTheOldValue) {
    Builder b;
    b.write(1, 0, 5, "old").write(1, 10, 30, "new").read(2, 15, 20, "old");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

TEST(Checker, ReadConcurrentWithAWriteMaySeeTheNewValue) {
    Builder b;
    b.write(1, 0, 5, "old").write(1, 10, 30, "new").read(2, 15, 20, "new");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

TEST(Checker, ReadMaySeeAWriteInvokedAfterTheReadWasInvoked) {
    Builder b;
    b.write(1, 0, 5, "old").read(2, 10, 40, "new").write(1, 20, 30, "new");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

// A completion and an invoke at the same tick are not ordered by the clock.
TEST(Checker, WindowsThatTouchAtOneTickAreConcurrent) {
    Builder b;
    b.write(1, 0, 5, "old").write(1, 10, 20, "new").read(2, 20, 30, "old");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

TEST(Checker, StaleReadAfterTheWriteCompletedIsNot) {
    Builder b;
    b.write(1, 0, 5, "old").write(1, 10, 20, "new").read(2, 21, 30, "old");
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
}

TEST(Checker, ReadGoingBackInTimeIsNot) {
    Builder b;
    b.write(1, 0, 5, "old").write(1, 10, 100, "new");
    b.read(2, 20, 30, "new").read(3, 40, 50, "old");
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
}

TEST(Checker, OverlappingReadsMaySeeOldAndNewInEitherOrderOfInvoke) {
    Builder b;
    b.write(1, 0, 5, "old").write(1, 10, 100, "new");
    b.read(2, 20, 50, "new").read(3, 30, 60, "old");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

// --- compare-and-set ------------------------------------------------------------------------

TEST(Checker, CasSwapsExactlyWhenItFindsTheExpectedValue) {
    Builder b;
    b.write(1, 0, 5, "a").cas(2, 10, 20, "a", "b", true).cas(3, 30, 40, "a", "c", false);
    b.read(1, 50, 60, "b");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

TEST(Checker, CasThatSwappedWithoutFindingTheExpectedValueIsNot) {
    Builder b;
    b.write(1, 0, 5, "a").cas(2, 10, 20, "zzz", "b", true);
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
}

TEST(Checker, CasThatDidNotSwapAlthoughItFoundTheExpectedValueIsNot) {
    Builder b;
    b.write(1, 0, 5, "a").cas(2, 10, 20, "a", "b", false);
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
}

TEST(Checker, TwoConcurrentCasesFromTheSameValueCannotBothSwap) {
    Builder both;
    both.write(1, 0, 5, "a").cas(2, 10, 20, "a", "b", true).cas(3, 10, 20, "a", "c", true);
    EXPECT_EQ(both.verdict(), Verdict::not_linearizable);
    Builder one;
    one.write(1, 0, 5, "a").cas(2, 10, 20, "a", "b", false).cas(3, 10, 20, "a", "c", true);
    one.read(1, 30, 40, "c");
    EXPECT_EQ(one.verdict(), Verdict::linearizable);
}

TEST(Checker, CasOnAnAbsentKeyExpectsAbsent) {
    Builder good;
    good.cas(1, 0, 5, nullopt, "a", true).cas(2, 10, 20, nullopt, "b", false);
    EXPECT_EQ(good.verdict(), Verdict::linearizable);
    Builder bad;
    bad.write(1, 0, 5, "a").cas(2, 10, 20, nullopt, "b", true);
    EXPECT_EQ(bad.verdict(), Verdict::not_linearizable);
}

// --- delete ---------------------------------------------------------------------------------

TEST(Checker, DeleteMakesTheKeyAbsent) {
    Builder good;
    good.write(1, 0, 5, "a").remove(1, 10, 20).read(2, 30, 40, nullopt);
    EXPECT_EQ(good.verdict(), Verdict::linearizable);
    Builder bad;
    bad.write(1, 0, 5, "a").remove(1, 10, 20).read(2, 30, 40, "a");
    EXPECT_EQ(bad.verdict(), Verdict::not_linearizable);
}

// --- indefinite outcomes --------------------------------------------------------------------

TEST(Checker, InfoWriteThatLaterReadsSeeIsLinearizable) {
    Builder b;
    b.write(1, 0, 5, "a").write(2, 10, 20, "b", Outcome::info);
    b.read(3, 30, 40, "b").read(3, 50, 60, "b");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

TEST(Checker, InfoWriteThatNoReadSeesIsLinearizable) {
    Builder b;
    b.write(1, 0, 5, "a").write(2, 10, 20, "b", Outcome::info);
    b.read(3, 30, 40, "a").read(3, 50, 60, "a");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

// Its completion time means nothing: the request may still be in flight.
TEST(Checker, InfoWriteMayTakeEffectLongAfterItsClientGaveUp) {
    Builder b;
    b.write(1, 0, 5, "a").write(2, 10, 20, "b", Outcome::info);
    b.read(3, 30, 40, "a").read(3, 50, 60, "b");
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

TEST(Checker, InfoWriteSeenAndThenUnseenIsNot) {
    Builder b;
    b.write(1, 0, 5, "a").write(2, 10, 20, "b", Outcome::info);
    b.read(3, 30, 40, "b").read(3, 50, 60, "a");
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
}

TEST(Checker, InfoWriteCannotTakeEffectBeforeItsInvoke) {
    Builder b;
    b.write(1, 0, 5, "a").read(3, 10, 20, "b").write(2, 30, 40, "b", Outcome::info);
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
}

TEST(Checker, InfoCasTakesEffectOnlyIfItFindsTheExpectedValue) {
    Builder good;
    good.write(1, 0, 5, "a").cas(2, 10, 20, "a", "b", false, Outcome::info);
    good.read(3, 30, 40, "b");
    EXPECT_EQ(good.verdict(), Verdict::linearizable);
    Builder bad;
    bad.write(1, 0, 5, "a").cas(2, 10, 20, "zzz", "b", false, Outcome::info);
    bad.read(3, 30, 40, "b");
    EXPECT_EQ(bad.verdict(), Verdict::not_linearizable);
}

TEST(Checker, PendingOperationCountsAsInfo) {
    History history;
    const int write = history.invoke(1, Op::write("x", "a"), 0);
    history.complete(write, Outcome::ok, OpOutput::none(), 5);
    history.invoke(2, Op::write("x", "b"), 10);  // never completes
    const int read = history.invoke(3, Op::read("x"), 30);
    history.complete(read, Outcome::ok, OpOutput::read("b"), 40);
    EXPECT_EQ(check_linearizable(history).verdict, Verdict::linearizable);
}

TEST(Checker, FailedWriteNeverTookEffect) {
    Builder good;
    good.write(1, 0, 5, "a").write(2, 10, 20, "b", Outcome::fail).read(3, 30, 40, "a");
    EXPECT_EQ(good.verdict(), Verdict::linearizable);
    Builder bad;
    bad.write(1, 0, 5, "a").write(2, 10, 20, "b", Outcome::fail).read(3, 15, 40, "b");
    EXPECT_EQ(bad.verdict(), Verdict::not_linearizable);
}

TEST(Checker, FailedReadIsIgnoredWhateverItRecorded) {
    Builder b;
    b.write(1, 0, 5, "a").read(2, 10, 20, "zzz", Outcome::fail);
    EXPECT_EQ(b.verdict(), Verdict::linearizable);
}

// --- keys and explanations ------------------------------------------------------------------

TEST(Checker, ExplanationShowsTheLongestPrefixAndTheOperationThatCannotFollow) {
    Builder b;
    b.write(1, 0, 5, "old").write(1, 10, 20, "new").read(2, 21, 30, "old");
    const CheckResult result = check_linearizable(b.history());
    ASSERT_EQ(result.problems.size(), 1u);
    const KeyResult& problem = result.problems[0];
    EXPECT_EQ(problem.key, "x");
    EXPECT_EQ(problem.longest_prefix, (std::vector<int>{0, 1}));
    EXPECT_EQ(problem.stuck, (std::vector<int>{2}));
    const std::string& text = problem.explanation;
    EXPECT_NE(text.find("key \"x\": not linearizable"), std::string::npos) << text;
    EXPECT_NE(text.find("2 of 3 operations"), std::string::npos) << text;
    EXPECT_NE(text.find("the key holds \"new\""), std::string::npos) << text;
    EXPECT_NE(text.find("process 2 read(key \"x\") -> \"old\" [21, 30] ok"), std::string::npos)
        << text;
}

TEST(Checker, EachKeyIsCheckedOnItsOwnAndOnlyTheBadKeyIsReported) {
    Builder b;
    b.on("good").write(1, 0, 5, "a").read(2, 10, 20, "a");
    b.on("bad").write(3, 0, 5, "a").write(3, 10, 20, "b").read(4, 30, 40, "a");
    b.on("also-good").read(5, 0, 5, nullopt);
    // The same value on another key is another register: "a" on "bad" is no write of "good".
    b.on("good").read(6, 30, 40, "a");
    const CheckResult result = check_linearizable(b.history());
    EXPECT_EQ(result.verdict, Verdict::not_linearizable);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.keys_checked, 3);
    ASSERT_EQ(result.problems.size(), 1u);
    EXPECT_EQ(result.problems[0].key, "bad");
    EXPECT_NE(result.explanation().find("key \"bad\""), std::string::npos);
    EXPECT_EQ(result.explanation().find("key \"good\""), std::string::npos);
}

TEST(Checker, WritesOnOneKeyAreNeverSeenOnAnother) {
    Builder b;
    b.on("x").write(1, 0, 5, "a").on("y").read(2, 10, 20, "a");
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
}

// --- budget ---------------------------------------------------------------------------------

// Many fully concurrent writes and a read of a value none of them wrote: the search must try
// every subset of the writes before it can say no.
Builder concurrent_writes_and_impossible_read(int writes) {
    Builder b;
    for (int i = 0; i < writes; ++i) b.write(i, 0, 100, "w" + std::to_string(i));
    b.read(writes, 0, 100, "never-written");
    return b;
}

TEST(Checker, RunningOutOfBudgetIsUnknownNotAViolation) {
    const Builder b = concurrent_writes_and_impossible_read(20);
    CheckOptions options;
    options.max_search_steps_per_key = 1000;
    const CheckResult result = check_linearizable(b.history(), options);
    EXPECT_EQ(result.verdict, Verdict::unknown);
    EXPECT_FALSE(result.ok());
    ASSERT_EQ(result.problems.size(), 1u);
    EXPECT_EQ(result.problems[0].verdict, Verdict::unknown);
    EXPECT_EQ(result.problems[0].search_steps, 1000u);
    EXPECT_NE(result.explanation().find("unknown: gave up after 1000 search steps"),
              std::string::npos);
}

TEST(Checker, TheSameShapeIsDecidedWithEnoughBudget) {
    const Builder b = concurrent_writes_and_impossible_read(8);
    EXPECT_EQ(b.verdict(), Verdict::not_linearizable);
    CheckOptions tiny;
    tiny.max_search_steps_per_key = 10;
    EXPECT_EQ(b.verdict(tiny), Verdict::unknown);
}

TEST(Checker, AViolationOnOneKeyOutweighsUnknownOnAnother) {
    Builder b = concurrent_writes_and_impossible_read(20);
    b.on("stale").write(100, 0, 5, "a").write(100, 10, 20, "b").read(101, 30, 40, "a");
    CheckOptions options;
    options.max_search_steps_per_key = 1000;
    const CheckResult result = check_linearizable(b.history(), options);
    EXPECT_EQ(result.verdict, Verdict::not_linearizable);
    ASSERT_EQ(result.problems.size(), 2u);
    EXPECT_EQ(result.problems[0].key, "stale");
    EXPECT_EQ(result.problems[1].verdict, Verdict::unknown);
}

// --- random histories of a linearizable register ---------------------------------------------

// One operation of a generated history, before it is recorded.
struct GeneratedOp {
    int process = 0;
    Op op;
    uint64_t invoke_time = 0;
    uint64_t complete_time = 0;
    uint64_t effect_time = 0;  // its linearization point, inside the window
    Outcome outcome = Outcome::ok;
    bool takes_effect = true;  // false for fail, and for some info operations
    OpOutput output;
};

struct RandomHistoryShape {
    int clients = 10;
    int operations = 500;
    int info_percent = 0;  // of writes, cases and deletes
    int fail_percent = 0;
};

Op random_op(std::mt19937_64& rng, int index) {
    const int dice = static_cast<int>(rng() % 100);
    if (dice < 45) return Op::read("x");
    if (dice < 80) return Op::write("x", "v" + std::to_string(index));
    if (dice < 90) return Op::remove("x");
    return Op::cas("x", nullopt, "v" + std::to_string(index));  // expected chosen on effect
}

// Windows for every operation: each client runs one operation at a time, for 1 to 40 ticks,
// with 0 to 5 ticks between; a client whose operation ends as info retires.
std::vector<GeneratedOp> random_windows(std::mt19937_64& rng, const RandomHistoryShape& shape) {
    std::vector<uint64_t> free_at(shape.clients, 0);
    std::vector<int> process_of(shape.clients);
    for (int c = 0; c < shape.clients; ++c) process_of[c] = c;
    int next_process = shape.clients;
    std::vector<GeneratedOp> ops;
    for (int i = 0; i < shape.operations; ++i) {
        const int client = static_cast<int>(rng() % shape.clients);
        GeneratedOp op;
        op.process = process_of[client];
        op.op = random_op(rng, i);
        op.invoke_time = free_at[client] + rng() % 6;
        op.complete_time = op.invoke_time + 1 + rng() % 40;
        op.effect_time = op.invoke_time + rng() % (op.complete_time - op.invoke_time + 1);
        const int dice = static_cast<int>(rng() % 100);
        if (op.op.kind != OpKind::read && dice < shape.info_percent) {
            op.outcome = Outcome::info;
            op.takes_effect = rng() % 2 == 0;
            process_of[client] = next_process++;
        } else if (dice >= 100 - shape.fail_percent) {
            op.outcome = Outcome::fail;
            op.takes_effect = false;
        }
        free_at[client] = op.complete_time + 1;
        ops.push_back(std::move(op));
    }
    return ops;
}

// Runs the operations that take effect on one register in the order of their effect times,
// and records what each one observed.
void execute_in_effect_order(std::mt19937_64& rng, std::vector<GeneratedOp>& ops) {
    std::vector<GeneratedOp*> order;
    for (GeneratedOp& op : ops) {
        if (op.takes_effect) order.push_back(&op);
    }
    std::stable_sort(order.begin(), order.end(), [](const GeneratedOp* a, const GeneratedOp* b) {
        return a->effect_time < b->effect_time;
    });
    std::optional<std::string> value;
    std::optional<std::string> previous;  // for cases that expect a stale value
    for (GeneratedOp* op : order) {
        if (op->op.kind == OpKind::write || op->op.kind == OpKind::remove) previous = value;
        switch (op->op.kind) {
            case OpKind::read: op->output = OpOutput::read(value); break;
            case OpKind::write: value = op->op.value; break;
            case OpKind::remove: value = nullopt; break;
            case OpKind::cas:
                // Expect the current value or the one before it, so that some cases swap.
                op->op.expected = rng() % 2 == 0 ? value : previous;
                op->output = OpOutput::cas(op->op.expected == value);
                if (op->output.swapped) previous = std::exchange(value, op->op.value);
                break;
        }
    }
}

std::vector<GeneratedOp> random_linearizable_ops(uint64_t seed, const RandomHistoryShape& shape) {
    std::mt19937_64 rng(seed);
    std::vector<GeneratedOp> ops = random_windows(rng, shape);
    execute_in_effect_order(rng, ops);
    return ops;
}

History record(const std::vector<GeneratedOp>& ops) {
    History history;
    for (const GeneratedOp& op : ops) {
        const int id = history.invoke(op.process, op.op, op.invoke_time);
        history.complete(id, op.outcome, op.output, op.complete_time);
    }
    return history;
}

// Changes the first ok read at or after `from` to a value no write wrote; returns its index.
size_t corrupt_a_read(std::vector<GeneratedOp>& ops, size_t from) {
    for (size_t i = from; i < ops.size(); ++i) {
        if (ops[i].op.kind == OpKind::read && ops[i].outcome == Outcome::ok) {
            ops[i].output = OpOutput::read("never-written");
            return i;
        }
    }
    ADD_FAILURE() << "no ok read after operation " << from;
    return ops.size();
}

struct TimedResult {
    CheckResult result;
    double milliseconds = 0;
};

TimedResult timed_check(const History& history) {
    const auto start = std::chrono::steady_clock::now();
    TimedResult timed{check_linearizable(history), 0};
    const std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    timed.milliseconds = elapsed.count();
    return timed;
}

TEST(CheckerRandom, LinearizableRegisterHistoryPassesAndOneBadReadFails) {
    const RandomHistoryShape shape;  // 10 clients, 500 operations on one key
    std::vector<GeneratedOp> ops = random_linearizable_ops(42, shape);
    const TimedResult good = timed_check(record(ops));
    EXPECT_EQ(good.result.verdict, Verdict::linearizable) << good.result.explanation();
    std::printf("500 ops, 10 clients, linearizable: %.2f ms, %llu search steps\n",
                good.milliseconds, static_cast<unsigned long long>(good.result.search_steps));

    const size_t corrupted = corrupt_a_read(ops, ops.size() / 2);
    const TimedResult bad = timed_check(record(ops));
    EXPECT_EQ(bad.result.verdict, Verdict::not_linearizable);
    ASSERT_EQ(bad.result.problems.size(), 1u);
    const std::vector<int>& stuck = bad.result.problems[0].stuck;
    EXPECT_NE(std::find(stuck.begin(), stuck.end(), static_cast<int>(corrupted)), stuck.end())
        << bad.result.explanation();
    const std::string& text = bad.result.problems[0].explanation;
    EXPECT_NE(text.find("earlier operations (all in KeyResult::longest_prefix)"),
              std::string::npos);
    EXPECT_LT(std::count(text.begin(), text.end(), '\n'), 30) << text;
    EXPECT_NE(text.find("-> \"never-written\""), std::string::npos) << text;
    std::printf("500 ops, 10 clients, one bad read: %.2f ms, %llu search steps\n", bad.milliseconds,
                static_cast<unsigned long long>(bad.result.search_steps));
    EXPECT_LT(good.milliseconds + bad.milliseconds, 1000.0);
}

TEST(CheckerRandom, HistoriesWithInfoAndFailOperationsPass) {
    RandomHistoryShape shape;
    shape.info_percent = 3;
    shape.fail_percent = 5;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        const TimedResult timed = timed_check(record(random_linearizable_ops(seed, shape)));
        EXPECT_EQ(timed.result.verdict, Verdict::linearizable) << "seed " << seed << "\n"
                                                               << timed.result.explanation();
        EXPECT_LT(timed.milliseconds, 1000.0) << "seed " << seed;
    }
}

TEST(CheckerRandom, EveryCorruptedReadIsCaught) {
    const RandomHistoryShape shape{.clients = 10, .operations = 200};
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        std::vector<GeneratedOp> ops = random_linearizable_ops(seed, shape);
        corrupt_a_read(ops, static_cast<size_t>(seed * 7));
        EXPECT_EQ(check_linearizable(record(ops)).verdict, Verdict::not_linearizable)
            << "seed " << seed;
    }
}

// --- the history and its JSON-lines form ----------------------------------------------------

TEST(History, JsonLinesHaveOneEventPerLineInTimeOrder) {
    History history;
    const int write = history.invoke(1, Op::write("k", "v1"), 10);
    const int cas = history.invoke(2, Op::cas("k", "v1", "v2"), 12);
    history.complete(cas, Outcome::ok, OpOutput::cas(true), 30);
    history.complete(write, Outcome::ok, OpOutput::none(), 20);
    const int read = history.invoke(3, Op::read("k"), 31);
    history.complete(read, Outcome::info, OpOutput::none(), 40);
    const int remove = history.invoke(4, Op::remove("k"), 41);
    history.complete(remove, Outcome::fail, OpOutput::none(), 42);
    history.invoke(5, Op::read("k"), 50);
    EXPECT_EQ(to_json_lines(history),
              R"({"process":1,"type":"invoke","f":"write","key":"k","value":"v1","time":10}
{"process":2,"type":"invoke","f":"cas","key":"k","value":"v2","expected":"v1","time":12}
{"process":1,"type":"ok","f":"write","key":"k","value":"v1","time":20}
{"process":2,"type":"ok","f":"cas","key":"k","value":"v2","expected":"v1","swapped":true,"time":30}
{"process":3,"type":"invoke","f":"read","key":"k","value":null,"time":31}
{"process":3,"type":"info","f":"read","key":"k","value":null,"time":40}
{"process":4,"type":"invoke","f":"delete","key":"k","value":null,"time":41}
{"process":4,"type":"fail","f":"delete","key":"k","value":null,"time":42}
{"process":5,"type":"invoke","f":"read","key":"k","value":null,"time":50}
)");
}

TEST(History, JsonLinesShowWhatAReadSaw) {
    Builder b;
    b.on("k").read(1, 0, 5, "seen").read(1, 6, 7, nullopt);
    const std::string text = to_json_lines(b.history());
    EXPECT_NE(text.find(R"("type":"ok","f":"read","key":"k","value":"seen","time":5})"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(R"("type":"ok","f":"read","key":"k","value":null,"time":7})"),
              std::string::npos)
        << text;
}

TEST(History, WritesTheJsonLinesToAFile) {
    Builder b;
    b.write(1, 0, 5, "a").read(2, 6, 9, "a");
    const std::filesystem::path path =
        std::filesystem::path(::testing::TempDir()) /
        ("checker_test_history-" + std::to_string(::getpid()) + ".jsonl");
    ASSERT_TRUE(write_json_lines(b.history(), path).is_ok());
    std::FILE* file = std::fopen(path.c_str(), "rb");
    ASSERT_NE(file, nullptr);
    std::string text(4096, '\0');
    text.resize(std::fread(text.data(), 1, text.size(), file));
    std::fclose(file);
    std::filesystem::remove(path);
    EXPECT_EQ(text, to_json_lines(b.history()));
    EXPECT_FALSE(write_json_lines(b.history(), "/nonexistent-dir/h.jsonl").is_ok());
}

TEST(History, DescribeSaysWhoDidWhatAndWhen) {
    Builder b;
    b.cas(7, 10, 25, "1", "2", true).cas(8, 30, 31, nullopt, "3", false, Outcome::info);
    EXPECT_EQ(describe(b.history().operation(0)),
              "process 7 cas(key \"x\", \"1\" -> \"2\") -> swapped [10, 25] ok");
    EXPECT_EQ(describe(b.history().operation(1)),
              "process 8 cas(key \"x\", absent -> \"3\") [30, 31] info");
}

TEST(HistoryDeathTest, AProcessThatGotInfoMustRetire) {
    History history;
    const int id = history.invoke(1, Op::write("k", "a"), 0);
    history.complete(id, Outcome::info, OpOutput::none(), 5);
    EXPECT_DEATH(history.invoke(1, Op::read("k"), 6), "must retire");
}

TEST(HistoryDeathTest, AProcessRunsOneOperationAtATime) {
    History history;
    history.invoke(1, Op::write("k", "a"), 0);
    EXPECT_DEATH(history.invoke(1, Op::read("k"), 1), "one operation at a time");
}

}  // namespace
}  // namespace copycat::sim
