// Client histories of a real copycat cluster, checked for linearizability (TESTING.md, layer 3):
// client threads, each on its own session and its own sockets, run unique-valued writes,
// compare-and-sets and linearizable and lease reads against three real nodes (a
// copycat-logstore and a copycat-consensus each) while the test kills the leader with kill -9
// or stops it with SIGSTOP. Every operation is recorded with what its client could know of it:
//   ok    the answer came back;
//   fail  it definitely did not happen: a command refused before it was logged (unknown session
//         or a malformed request on its only send), or any read that was not answered (a read
//         changes nothing);
//   info  a command without a definite answer by its deadline, or refused only after a resend
//         (it may have applied): its client retires and a new session takes its place.
// The history must be linearizable (tests/sim/linearizability.h). Times are microseconds of
// the steady clock.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/ops.h"
#include "tests/sim/history.h"
#include "tests/sim/linearizability.h"
#include "tests/support/built_cluster.h"
#include "tests/support/consensus_cluster.h"
#include "tests/support/operations.h"

namespace copycat::testing {
namespace {

using namespace std::chrono_literals;
using session::Consistency;
using session::ErrorCode;
using statemachine::Bytes;
using statemachine::make_operation;

constexpr const char* kMap = "histories";

using copycat::testing::bytes_of;
using copycat::testing::text_of;

std::optional<Bytes> bytes_of(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    return bytes_of(*text);
}

std::optional<std::string> text_of(const std::optional<Bytes>& bytes) {
    if (!bytes) return std::nullopt;
    return text_of(*bytes);
}

// The history all client threads record into. Times are read under the lock, so the events
// are recorded in the order of their times.
class Recorder {
public:
    uint64_t now_us() const {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::steady_clock::now() - start_)
                                         .count());
    }
    int new_process() { return ++last_process_; }

    int invoke(int process, sim::Op op) {
        std::lock_guard lock(mutex_);
        ++invoked_;
        return history_.invoke(process, std::move(op), now_us());
    }

    void complete(int id, sim::Outcome outcome, sim::OpOutput output) {
        std::lock_guard lock(mutex_);
        if (outcome == sim::Outcome::ok) {
            const bool read = history_.operation(id).op.kind == sim::OpKind::read;
            ++(read ? ok_reads_ : ok_commands_);
        }
        history_.complete(id, outcome, std::move(output), now_us());
    }

    sim::History history() const {
        std::lock_guard lock(mutex_);
        return history_;
    }
    // How many recorded operations satisfy `predicate` (sim::Operation -> bool).
    template <typename Predicate>
    int count_if(Predicate predicate) const {
        std::lock_guard lock(mutex_);
        const auto& operations = history_.operations();
        return static_cast<int>(std::count_if(operations.begin(), operations.end(), predicate));
    }
    int invoked() const { return invoked_; }
    int ok_commands() const { return ok_commands_; }
    int ok_reads() const { return ok_reads_; }

private:
    const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    mutable std::mutex mutex_;
    sim::History history_;
    std::atomic<int> last_process_{0};
    std::atomic<int> invoked_{0};
    std::atomic<int> ok_commands_{0};
    std::atomic<int> ok_reads_{0};
};

session::Operation to_operation(const sim::Op& op) {
    switch (op.kind) {
        case sim::OpKind::write:
            return make_operation(resources::MapPut{kMap, op.key, bytes_of(*op.value), 0});
        case sim::OpKind::cas:
            return make_operation(
                resources::MapCas{kMap, op.key, bytes_of(op.expected), bytes_of(*op.value), 0});
        case sim::OpKind::remove: return make_operation(resources::MapRemove{kMap, op.key});
        case sim::OpKind::read: break;
    }
    return make_operation(resources::MapGet{kMap, op.key});
}

// How an operation completed, and what its client learned of the key's value (if anything).
struct Completion {
    sim::Outcome outcome = sim::Outcome::info;
    sim::OpOutput output;
    bool value_known = false;
    std::optional<std::string> value;  // the key's value right after it, when value_known
};

Completion command_output(const sim::Op& op, const session::Response& response) {
    const auto* body = std::get_if<session::OperationResponse>(&response.body);
    if (body == nullptr) {
        ADD_FAILURE() << "a command answered ok without an operation response";
        return {};
    }
    if (op.kind == sim::OpKind::cas) {
        auto output = statemachine::decode_output<resources::MapCas>(body->value);
        if (!output.is_ok()) {
            ADD_FAILURE() << "map.cas output: " << output.status().message();
            return {};
        }
        return {sim::Outcome::ok, sim::OpOutput::cas(output->succeeded), true,
                text_of(output->current)};
    }
    if (op.kind == sim::OpKind::write)
        return {sim::Outcome::ok, sim::OpOutput::none(), true, op.value};
    return {sim::Outcome::ok, sim::OpOutput::none(), true, std::nullopt};  // remove
}

// A command's completion from its answer (nullopt: none by the deadline) and how many times it
// was sent.
Completion command_completion(const sim::Op& op, const std::optional<session::Response>& response,
                              uint64_t sends) {
    if (!response) return {};  // info: it may still apply
    switch (response->error) {
        case ErrorCode::ok: return command_output(op, *response);
        case ErrorCode::bad_request:
        case ErrorCode::unknown_operation:
            ADD_FAILURE() << "a valid command was refused: " << response->message;
            return {sim::Outcome::fail, {}, false, std::nullopt};
        case ErrorCode::unknown_session:
            // Refused at admission, before logging; but the answer to a resend may come after
            // an earlier send applied and the session then expired.
            return {sends == 1 ? sim::Outcome::fail : sim::Outcome::info, {}, false, std::nullopt};
        default: return {};  // timeout, internal_error, ...: unknown
    }
}

// A read's completion: anything but an answer with a value is a fail (reads change nothing).
Completion read_completion(const std::optional<session::Response>& response) {
    if (!response || response->error != ErrorCode::ok) {
        return {sim::Outcome::fail, {}, false, std::nullopt};
    }
    const auto* body = std::get_if<session::OperationResponse>(&response->body);
    if (body == nullptr) {
        ADD_FAILURE() << "a query answered ok without an operation response";
        return {sim::Outcome::fail, {}, false, std::nullopt};
    }
    auto output = statemachine::decode_output<resources::MapGet>(body->value);
    if (!output.is_ok()) {
        ADD_FAILURE() << "map.get output: " << output.status().message();
        return {sim::Outcome::fail, {}, false, std::nullopt};
    }
    std::optional<std::string> value = text_of(output->value);
    return {sim::Outcome::ok, sim::OpOutput::read(value), true, value};
}

struct Workload {
    int keys = 3;                  // keys in use at a time
    int operations_per_key = 250;  // then a new set of keys (0: never)
    std::string key_prefix = "key";
    std::chrono::milliseconds command_timeout = 10s;
    std::chrono::milliseconds query_timeout = 5s;
    std::chrono::milliseconds open_timeout = 10s;
    uint64_t session_timeout_ms = 30'000;  // longer than any outage here: no session expires
    // Between two operations of a client: keeps a one-key history small enough to check.
    std::chrono::milliseconds pacing = 0ms;
};

// The key of a slot, in the generation the recorder's operation count has reached.
std::string key_for(const Workload& workload, const Recorder& recorder, int slot) {
    int generation = 0;
    if (workload.operations_per_key > 0) {
        generation = recorder.invoked() / (workload.keys * workload.operations_per_key);
    }
    return workload.key_prefix + "-" + std::to_string(generation) + "-" + std::to_string(slot);
}

// One client thread: a session at a time (a new one, and a new process of the history, after an
// info), one operation at a time, chosen at random: writes, compare-and-sets from the value it
// last saw, linearizable and lease reads.
class Worker {
public:
    Worker(zmq::context_t& context, std::vector<std::string> endpoints, Recorder& recorder,
           Workload workload, int number)
        : context_(context),
          endpoints_(std::move(endpoints)),
          recorder_(recorder),
          workload_(std::move(workload)),
          number_(number),
          random_(static_cast<uint32_t>(number) * 7919u + 17u) {}

    void run(const std::atomic<bool>& stop) {
        while (!stop) {
            if (!client_ && !open_session()) continue;
            step();
            if (workload_.pacing > 0ms) std::this_thread::sleep_for(workload_.pacing);
        }
    }
    int sessions() const { return sessions_; }
    int ok_lease_reads() const { return ok_lease_reads_; }

private:
    bool open_session() {
        const std::string name =
            "worker-" + std::to_string(number_) + "-" + std::to_string(retired_.size());
        auto client = std::make_unique<SessionClient>(context_, endpoints_, name,
                                                      workload_.session_timeout_ms);
        const bool opened = client->open(workload_.open_timeout);
        if (!opened) {
            retired_.push_back(std::move(client));  // a new client id next time
            return false;
        }
        client_ = std::move(client);
        process_ = recorder_.new_process();
        ++sessions_;
        return true;
    }

    // Kept, not destroyed: its sockets' identities stay unique for the whole test.
    void retire() { retired_.push_back(std::move(client_)); }

    void step() {
        const std::string key = key_for(workload_, recorder_, uniform(workload_.keys));
        const int dice = uniform(100);
        if (dice < 35) {
            command(sim::Op::write(key, next_value()));
        } else if (dice < 60) {
            auto seen = seen_.find(key);
            std::optional<std::string> expected;
            if (seen != seen_.end()) expected = seen->second;
            command(sim::Op::cas(key, expected, next_value()));
        } else {
            read(key, dice < 80 ? Consistency::linearizable : Consistency::linearizable_lease);
        }
    }

    void command(const sim::Op& op) {
        const int id = recorder_.invoke(process_, op);
        std::optional<session::Response> response =
            client_->command(to_operation(op), workload_.command_timeout);
        const Completion completion =
            command_completion(op, response, client_->last_command_sends());
        recorder_.complete(id, completion.outcome, completion.output);
        if (completion.value_known) seen_[op.key] = completion.value;
        const bool gone = response && response->error == ErrorCode::unknown_session;
        if (completion.outcome == sim::Outcome::info || gone) retire();
    }

    void read(const std::string& key, Consistency consistency) {
        const sim::Op op = sim::Op::read(key);
        const int id = recorder_.invoke(process_, op);
        std::optional<session::Response> response =
            client_->query(to_operation(op), consistency, workload_.query_timeout);
        const Completion completion = read_completion(response);
        recorder_.complete(id, completion.outcome, completion.output);
        if (completion.value_known) seen_[key] = completion.value;
        if (completion.outcome == sim::Outcome::ok && consistency != Consistency::linearizable) {
            ++ok_lease_reads_;
        }
        if (response && response->error == ErrorCode::unknown_session) retire();
    }

    std::string next_value() {
        return "w" + std::to_string(number_) + "-" + std::to_string(++values_);
    }
    int uniform(int below) { return std::uniform_int_distribution<int>(0, below - 1)(random_); }

    zmq::context_t& context_;
    std::vector<std::string> endpoints_;
    Recorder& recorder_;
    Workload workload_;
    int number_;
    std::mt19937 random_;
    std::unique_ptr<SessionClient> client_;
    std::vector<std::unique_ptr<SessionClient>> retired_;
    int process_ = 0;
    std::map<std::string, std::optional<std::string>> seen_;
    int values_ = 0;
    int sessions_ = 0;
    std::atomic<int> ok_lease_reads_{0};
};

// Holds readers back between two reads while closed: the test picks the moment their next
// reads are sent.
struct ReaderGate {
    std::atomic<bool> closed{false};
    std::atomic<int> waiting{0};  // readers held at the gate
};

// Reads one key from one node only, never redirected to the leader, with one consistency: what
// a client still talking to a stalled server gets.
class NodeReader {
public:
    NodeReader(zmq::context_t& context, std::vector<std::string> endpoints, Recorder& recorder,
               int node, std::string key, Consistency consistency, int number)
        : client_(context, std::move(endpoints), "reader-" + std::to_string(number), 30'000),
          recorder_(recorder),
          node_(node),
          key_(std::move(key)),
          consistency_(consistency) {}

    bool open() {
        process_ = recorder_.new_process();
        return client_.open(10s);
    }
    int process() const { return process_; }
    Consistency consistency() const { return consistency_; }
    // What the node answered to operation `id` of the history: an error code name, or "no
    // answer".
    std::string answer(int id) const {
        std::lock_guard lock(answers_mutex_);
        auto found = answers_.find(id);
        return found == answers_.end() ? "" : found->second;
    }

    void run(const std::atomic<bool>& stop, ReaderGate& gate) {
        while (!stop) {
            if (gate.closed) {
                ++gate.waiting;
                eventually([&] { return !gate.closed || stop; }, 60s);
                --gate.waiting;
                continue;
            }
            const sim::Op op = sim::Op::read(key_);
            const int id = recorder_.invoke(process_, op);
            std::optional<session::Response> response =
                client_.query(to_operation(op), consistency_, 15s, node_);
            const Completion completion = read_completion(response);
            recorder_.complete(id, completion.outcome, completion.output);
            {
                std::lock_guard lock(answers_mutex_);
                answers_[id] = response ? session::error_code_name(response->error) : "no answer";
            }
            // Pacing, not waiting for anything: the history stays small enough to check, and
            // a refusing node is not flooded.
            std::this_thread::sleep_for(10ms);
        }
    }

private:
    SessionClient client_;
    Recorder& recorder_;
    int node_;
    std::string key_;
    Consistency consistency_;
    int process_ = 0;
    mutable std::mutex answers_mutex_;
    std::map<int, std::string> answers_;
};

// Threads running a body each until stop(); stop() joins them.
class Threads {
public:
    template <typename Body>
    void start(Body body) {
        threads_.emplace_back([this, body]() mutable { body(stop_); });
    }
    void stop() {
        stop_ = true;
        for (std::thread& thread : threads_) thread.join();
        threads_.clear();
    }
    ~Threads() {
        if (!threads_.empty()) stop();
    }

private:
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
};

class LinearizabilityTest : public ::testing::Test {
protected:
    static ClusterOptions cluster_options() {
        ClusterOptions options = built_cluster_options();
        // Tolerant of a loaded two-core machine: fewer elections that nobody asked for.
        options.election_timeout = "500ms";
        options.heartbeat_interval = "100ms";
        return options;
    }
    LinearizabilityTest() : cluster_(cluster_options()) {}

    // A node that says it leads, among `nodes` (all when empty), or 0 by the timeout.
    int wait_for_leader(std::vector<int> nodes = {}, std::chrono::milliseconds timeout = 20s) {
        if (nodes.empty()) {
            for (int n = 1; n <= cluster_.nodes(); ++n) nodes.push_back(n);
        }
        std::vector<std::string> endpoints;
        for (int n : nodes) endpoints.push_back(cluster_.client_endpoint(n));
        session::NodeId leader = 0;
        eventually(
            [&] {
                leader = find_leader(context_, endpoints, 300ms);
                return leader != 0;
            },
            timeout);
        return static_cast<int>(leader);
    }

    // Waits until `count` more commands succeeded, and at least `at_least` passed.
    static bool progress(const Recorder& recorder, int count, std::chrono::milliseconds at_least,
                         std::chrono::milliseconds timeout = 25s) {
        const int target = recorder.ok_commands() + count;
        const auto earliest = std::chrono::steady_clock::now() + at_least;
        return eventually(
            [&] {
                return recorder.ok_commands() >= target &&
                       std::chrono::steady_clock::now() >= earliest;
            },
            timeout);
    }

    session::Index applied_index(int node) {
        auto status = node_status(context_, cluster_.client_endpoint(node), 500ms);
        return status ? status->applied_index : 0;
    }

    std::string outputs() const {
        std::string text;
        for (int n = 1; n <= cluster_.nodes(); ++n) {
            text += "\n--- consensus " + std::to_string(n) + " ---\n" + cluster_.output(n);
        }
        return text;
    }

    // The history must be linearizable; if not, it is kept as JSON lines for a look.
    static void expect_linearizable(const sim::History& history, const std::string& name) {
        const auto started = std::chrono::steady_clock::now();
        const sim::CheckResult result = sim::check_linearizable(history);
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        std::cout << name << ": " << history.operations().size() << " operations, "
                  << result.keys_checked << " keys, " << result.search_steps
                  << " search steps, checked in " << took.count() << " ms\n";
        if (result.ok()) return;
        const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                           (name + "-" + std::to_string(::getpid()) + ".jsonl");
        const Status written = sim::write_json_lines(history, path);
        ADD_FAILURE() << sim::verdict_name(result.verdict) << ": " << result.explanation()
                      << "\nhistory: "
                      << (written.is_ok() ? path.string() : "not written: " + written.message());
    }

    zmq::context_t context_{1};
    ProcessCluster cluster_;
};

// Summary counts of a history, for the assertions that the test did something and for its log.
struct Tally {
    int ok = 0;
    int fail = 0;
    int info = 0;
    int ok_reads = 0;
    int ok_swaps = 0;  // cas that swapped
};

Tally tally(const sim::History& history) {
    Tally counts;
    for (const sim::Operation& operation : history.operations()) {
        if (operation.indefinite()) {
            ++counts.info;
        } else if (*operation.outcome == sim::Outcome::fail) {
            ++counts.fail;
        } else {
            ++counts.ok;
            counts.ok_reads += operation.op.kind == sim::OpKind::read ? 1 : 0;
            counts.ok_swaps += operation.op.kind == sim::OpKind::cas && operation.output.swapped;
        }
    }
    return counts;
}

std::ostream& operator<<(std::ostream& out, const Tally& counts) {
    return out << counts.ok << " ok (" << counts.ok_reads << " reads, " << counts.ok_swaps
               << " swaps), " << counts.fail << " fail, " << counts.info << " info";
}

// Five clients, three keys at a time, while the leader is killed (kill -9, both of its
// processes) and restarted, twice: every acknowledged operation took effect once, inside its
// window, in one order that explains every read.
TEST_F(LinearizabilityTest, HistoriesStayLinearizableWhileLeadersAreKilled) {
    cluster_.start_all();
    ASSERT_NE(wait_for_leader(), 0) << outputs();
    Recorder recorder;
    std::vector<std::unique_ptr<Worker>> workers;
    Threads threads;  // after the workers: stopped before they go
    for (int number = 1; number <= 5; ++number) {
        workers.push_back(std::make_unique<Worker>(context_, cluster_.client_endpoints(), recorder,
                                                   Workload{}, number));
        Worker* worker = workers.back().get();
        threads.start([worker](const std::atomic<bool>& stop) { worker->run(stop); });
    }
    ASSERT_TRUE(progress(recorder, 50, 2s)) << outputs();
    for (int round = 1; round <= 2; ++round) {
        const int leader = wait_for_leader();
        ASSERT_NE(leader, 0) << outputs();
        cluster_.kill_node(leader);
        ASSERT_TRUE(progress(recorder, 50, 2s))
            << "no progress after killing node " << leader << outputs();
        const int successor = wait_for_leader();
        ASSERT_NE(successor, 0) << outputs();
        EXPECT_NE(successor, leader);
        cluster_.start_node(leader);
        const session::Index target = applied_index(successor);
        ASSERT_TRUE(eventually([&] { return applied_index(leader) >= target; }, 20s))
            << "node " << leader << " did not catch up after its restart" << outputs();
        ASSERT_TRUE(progress(recorder, 50, 1s)) << outputs();
    }
    threads.stop();

    const sim::History history = recorder.history();
    const Tally counts = tally(history);
    int sessions = 0;
    int ok_lease_reads = 0;
    for (const auto& worker : workers) {
        sessions += worker->sessions();
        ok_lease_reads += worker->ok_lease_reads();
    }
    std::cout << "kill-leader: " << counts << "; " << sessions << " sessions, " << ok_lease_reads
              << " lease reads ok\n";
    EXPECT_GE(counts.ok - counts.ok_reads, 300);
    EXPECT_GE(counts.ok_reads, 100);
    EXPECT_GE(counts.ok_swaps, 10);
    EXPECT_GE(ok_lease_reads, 20);
    expect_linearizable(history, "kill-leader");
}

// TESTING.md failures #1 and #2: the leader stops (SIGSTOP) past the election timeout, the
// others elect a new leader and take writes, then the old one resumes (SIGCONT) still
// believing it leads. Writers go through whichever node leads; readers (half linearizable, half
// lease) send to the old leader only. Before it stops the readers are held back; once the
// majority has taken writes each sends one read to the stopped node, which waits in its socket
// and is among the first things it reads when it resumes. Every read must be refused or see
// the newest value.
class PausedLeaderTest : public LinearizabilityTest {
protected:
    static constexpr int kReaders = 6;
    static constexpr int kWriters = 3;
    static constexpr int kBurstReads = 20000;

    template <typename Predicate>
    int by_readers(Predicate predicate) const {
        return recorder_.count_if([&](const sim::Operation& operation) {
            return readers_by_process_.count(operation.process) != 0 && predicate(operation);
        });
    }
    static bool is_ok(const sim::Operation& op) { return op.outcome == sim::Outcome::ok; }
    static auto completed_after(uint64_t time_us) {
        return [time_us](const sim::Operation& op) {
            return !op.pending() && op.complete_time > time_us;
        };
    }
    auto sent_while_stopped() const {
        return [this](const sim::Operation& op) { return op.invoke_time > written_us_; };
    }

    // A leader, readers with sessions at it, writers, all running.
    void start_clients() {
        old_leader_ = wait_for_leader();
        ASSERT_NE(old_leader_, 0) << outputs();
        Workload workload;
        workload.keys = 1;
        workload.operations_per_key = 0;  // one key: every write is one the readers must see
        workload.key_prefix = "paused";
        workload.pacing = 5ms;
        const std::string key = key_for(workload, recorder_, 0);
        burst_client_ =
            std::make_unique<SessionClient>(context_, cluster_.client_endpoints(), "burst", 30'000);
        ASSERT_TRUE(burst_client_->open(10s)) << outputs();
        burst_ = std::make_unique<NodeClient>(context_, cluster_.client_endpoint(old_leader_));
        burst_read_ =
            session::QueryRequest{burst_client_->id(), 0, 0, Consistency::linearizable_lease,
                                  to_operation(sim::Op::read(key))};
        for (int number = 1; number <= kReaders; ++number) {
            const Consistency consistency =
                number % 2 == 1 ? Consistency::linearizable_lease : Consistency::linearizable;
            readers_.push_back(std::make_unique<NodeReader>(context_, cluster_.client_endpoints(),
                                                            recorder_, old_leader_, key,
                                                            consistency, number));
            ASSERT_TRUE(readers_.back()->open()) << outputs();
            readers_by_process_[readers_.back()->process()] = readers_.back().get();
        }
        for (int number = 1; number <= kWriters; ++number) {
            writers_.push_back(std::make_unique<Worker>(context_, cluster_.client_endpoints(),
                                                        recorder_, workload, number));
            Worker* writer = writers_.back().get();
            threads_.start([writer](const std::atomic<bool>& stop) { writer->run(stop); });
        }
        for (const auto& reader : readers_) {
            NodeReader* client = reader.get();
            threads_.start(
                [client, this](const std::atomic<bool>& stop) { client->run(stop, gate_); });
        }
        ASSERT_TRUE(progress(recorder_, 30, 1s)) << outputs();
        ASSERT_TRUE(eventually([&] { return by_readers(is_ok) >= 20; }, 10s))
            << "the leader served no reads before its pause" << outputs();
    }

    // Holds the readers, stops the leader, waits for a new one among the others and for
    // writes through it.
    void pause_and_write() {
        gate_.closed = true;
        ASSERT_TRUE(eventually([&] { return gate_.waiting == kReaders; }, 20s));
        // A burst of lease reads (answers not awaited, not in the history) just before the
        // stop: the node is then likely stopped in the middle of a batch of client requests,
        // which it goes on with when it resumes, before it looks at its peers or its timers.
        for (int i = 0; i < kBurstReads; ++i) burst_->send(burst_read_);
        paused_us_ = recorder_.now_us();
        cluster_.pause_consensus(old_leader_);
        for (int n = 1; n <= cluster_.nodes(); ++n) {
            if (n != old_leader_) others_.push_back(n);
        }
        ASSERT_NE(wait_for_leader(others_), 0) << "the majority elected nobody" << outputs();
        ASSERT_TRUE(progress(recorder_, 30, 500ms)) << "the majority took no writes" << outputs();
        written_us_ = recorder_.now_us();
    }

    // Lets each reader send one read to the stopped node, then resumes it.
    void read_from_stopped_node_and_resume() {
        gate_.closed = false;
        ASSERT_TRUE(eventually([&] { return by_readers(sent_while_stopped()) == kReaders; }, 5s));
        resumed_us_ = recorder_.now_us();
        cluster_.resume_consensus(old_leader_);
    }

    // Stops the clients; the history must be linearizable.
    void finish(const std::string& name) {
        threads_.stop();
        auto waited = [&](const sim::Operation& op) {
            return sent_while_stopped()(op) && op.invoke_time < resumed_us_ &&
                   completed_after(resumed_us_)(op);
        };
        const int waited_ok = by_readers([&](const auto& op) { return waited(op) && is_ok(op); });
        const sim::History history = recorder_.history();
        std::cout << name << ": " << tally(history) << "; reads at node " << old_leader_ << ": "
                  << by_readers(
                         [&](const auto& op) { return is_ok(op) && op.complete_time < paused_us_; })
                  << " ok before the pause, " << by_readers(waited)
                  << " sent while it was stopped (" << waited_ok << " answered ok), pause "
                  << (resumed_us_ - paused_us_) / 1000 << " ms\n";
        for (const sim::Operation& op : history.operations()) {
            const auto reader = readers_by_process_.find(op.process);
            if (reader == readers_by_process_.end() || !waited(op)) continue;
            std::cout << "  " << session::consistency_name(reader->second->consistency())
                      << " read sent " << (op.invoke_time - written_us_) / 1000
                      << " ms after the writes: " << reader->second->answer(op.id) << " after "
                      << (op.complete_time - resumed_us_) / 1000 << " ms; " << sim::describe(op)
                      << "\n";
        }
        EXPECT_EQ(by_readers(waited), kReaders) << "reads sent to the stopped node were not kept";
        expect_linearizable(history, name);
    }

    int old_leader_ = 0;
    std::vector<int> others_;
    Recorder recorder_;
    ReaderGate gate_;
    std::vector<std::unique_ptr<NodeReader>> readers_;
    std::map<int, NodeReader*> readers_by_process_;  // by their process in the history
    std::vector<std::unique_ptr<Worker>> writers_;
    uint64_t paused_us_ = 0;
    uint64_t written_us_ = 0;
    uint64_t resumed_us_ = 0;
    std::unique_ptr<SessionClient> burst_client_;
    std::unique_ptr<NodeClient> burst_;
    session::QueryRequest burst_read_;
    Threads threads_;  // last: stopped before the clients and the gate go
};

TEST_F(PausedLeaderTest, AResumedLeaderServesNoStaleRead) {
    cluster_.start_all();
    ASSERT_NO_FATAL_FAILURE(start_clients());
    ASSERT_NO_FATAL_FAILURE(pause_and_write());
    ASSERT_NO_FATAL_FAILURE(read_from_stopped_node_and_resume());
    EXPECT_TRUE(eventually(
        [&] {
            auto status = node_status(context_, cluster_.client_endpoint(old_leader_), 300ms);
            return status && status->role != "leader";
        },
        10s))
        << "the old leader did not step down" << outputs();
    // The readers keep asking it for a while.
    EXPECT_TRUE(eventually([&] { return by_readers(completed_after(resumed_us_)) >= 30; }, 15s))
        << outputs();
    finish("paused-leader");
}

// As above, but the majority is gone (its consensus processes killed) by the time the old
// leader resumes: only what its peers sent before they died can tell it of the new term, and
// nothing confirms a read any more. It may believe it still leads; it must not serve a read
// from a lease that ran out while it was stopped. The majority then restarts and the cluster
// goes on.
TEST_F(PausedLeaderTest, AResumedLeaderCutOffFromTheMajorityServesNoStaleRead) {
    cluster_.start_all();
    ASSERT_NO_FATAL_FAILURE(start_clients());
    ASSERT_NO_FATAL_FAILURE(pause_and_write());
    for (int n : others_) cluster_.kill_consensus(n);
    ASSERT_NO_FATAL_FAILURE(read_from_stopped_node_and_resume());
    EXPECT_TRUE(eventually(
        [&] {
            return by_readers([&](const sim::Operation& op) {
                       return sent_while_stopped()(op) && !op.pending();
                   }) == kReaders;
        },
        20s))
        << outputs();
    for (int n : others_) cluster_.start_node(n);
    EXPECT_TRUE(progress(recorder_, 30, 500ms)) << "no writes after the restart" << outputs();
    finish("paused-leader-cut-off");
}

}  // namespace
}  // namespace copycat::testing
