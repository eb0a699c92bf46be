// SessionCore against a model server over a faulty network, over many seeds.
//
// The model server applies commands the way the session layer does (copycat.md §4.6): it
// admits only the next sequence (command_error otherwise, with the last one it admitted),
// answers a sequence it applied before from its result cache, refuses malformed commands
// before logging them, and publishes events chained by previous index. Its faults: a new
// leader that forgets the admitted sequence (down to what keep-alives acknowledged), no_leader
// answers before and after applying, and a network that delays, drops, duplicates and reorders
// messages (in order per connection, mostly). The client reconnects now and then.
//
// What must hold (TESTING.md #5, #6): every sequence is applied once and in order with no
// gap; each command applies at most once, and exactly once when its result is ok (with its own
// result); results come once each, in submission order; the events come exactly once, in
// order, each before the result of the command that published it; queries never claim an
// index the server has not reached.
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "client/session_core.h"

namespace copycat::client {
namespace {

using session::Response;

constexpr SessionId session_id = 7;

struct Faults {
    // The network: each connection delivers in order (TCP); a message may be lost or sent
    // twice, or overtake others (reorder, as across gateways); a reconnect opens a new
    // connection while messages on the old one still arrive.
    double drop = 0.02;
    double duplicate = 0.02;
    double no_leader = 0.02;         // refused without applying
    double lost_after_apply = 0.02;  // applied, then the leader stepped down: no_leader
    double forget = 0.01;            // a new leader forgets admitted sequences
    double event = 0.3;              // a command publishes an event to the session
    uint64_t delay_max_ms = 40;
    double reorder = 0.02;
};

// The faults healed: the network still delays, and events are still published.
Faults calmed(Faults faults) {
    faults.drop = faults.duplicate = faults.no_leader = faults.lost_after_apply = 0;
    faults.forget = faults.reorder = 0;
    return faults;
}

using ToClient = std::variant<Response, session::PublishRequest>;

// How often the runs took the paths worth testing: every one must be taken in some seed.
struct Coverage {
    uint64_t operations = 0;
    uint64_t requests = 0;
    uint64_t command_errors = 0;  // answered
    uint64_t leader_resets = 0;   // keep-alives that raised a forgetful leader's sequence
    uint64_t cached_answers = 0;  // resubmissions answered from the result cache
    uint64_t refused = 0;         // bad_request answers
    uint64_t no_ops = 0;          // sequences filled with a no-op
    uint64_t resets = 0;          // ResetRequests
    uint64_t timeouts = 0;        // operations given up by the client
    uint64_t reconnects = 0;

    void add(const Coverage& other) {
        operations += other.operations;
        requests += other.requests;
        command_errors += other.command_errors;
        leader_resets += other.leader_resets;
        cached_answers += other.cached_answers;
        refused += other.refused;
        no_ops += other.no_ops;
        resets += other.resets;
        timeouts += other.timeouts;
        reconnects += other.reconnects;
    }
};

class Rng {
public:
    explicit Rng(uint64_t seed) : engine_(seed) {}
    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(engine_) < p; }
    uint64_t below(uint64_t n) { return engine_() % n; }

private:
    std::mt19937_64 engine_;
};

// A server of one session, with the session layer's sequencing and result cache.
class ModelServer {
public:
    ModelServer(Rng& rng, const Faults& faults) : rng_(rng), faults_(faults) {}

    std::vector<ToClient> handle(uint64_t request_id, const session::Request& request) {
        ++coverage.requests;
        out_.clear();
        std::visit([&](const auto& value) { on(request_id, value); }, request);
        return std::move(out_);
    }

    void calm() { faults_ = calmed(faults_); }
    uint64_t command_sequence() const { return command_sequence_; }
    const std::map<uint64_t, std::string>& applied() const { return applied_; }
    const std::vector<Index>& published() const { return published_; }
    std::vector<std::string> violations;
    Coverage coverage;

private:
    struct Cached {
        ErrorCode error = ErrorCode::ok;
        Index index = 0;
        Index event_index = 0;
        std::string value;
    };

    void on(uint64_t id, const session::RegisterRequest&) {
        respond(id, ErrorCode::ok, session::RegisterResponse{session_id, 1'000});
    }
    void on(uint64_t id, const session::UnregisterRequest&) {
        respond(id, ErrorCode::ok, session::UnregisterResponse{});
    }
    void on(uint64_t, const session::ResetRequest& reset) {
        ++coverage.resets;
        acknowledge(reset.index);
        resend_events();
    }

    void on(uint64_t id, const session::KeepAliveRequest& request) {
        if (rng_.chance(faults_.no_leader)) return respond(id, ErrorCode::no_leader);
        const session::KeepAliveItem item = request.sessions.at(0);
        if (item.command_sequence > command_sequence_) {
            violations.push_back("a keep-alive acknowledged sequence " +
                                 std::to_string(item.command_sequence) + " never applied");
        }
        acked_sequence_ = std::max(acked_sequence_, item.command_sequence);
        if (item.command_sequence > request_sequence_) ++coverage.leader_resets;
        request_sequence_ = std::max(request_sequence_, item.command_sequence);
        cache_.erase(cache_.begin(), cache_.upper_bound(item.command_sequence));
        acknowledge(item.event_index);
        resend_events();
        respond(id, ErrorCode::ok, session::KeepAliveResponse{{ErrorCode::ok}});
    }

    void on(uint64_t id, const session::CommandRequest& request) {
        if (request.session != session_id || request.sequence == 0) {
            violations.push_back("a command of session " + std::to_string(request.session) +
                                 " with sequence " + std::to_string(request.sequence));
            return;
        }
        if (rng_.chance(faults_.forget)) request_sequence_ = acked_sequence_;
        if (rng_.chance(faults_.no_leader)) return respond(id, ErrorCode::no_leader);
        if (request.sequence > request_sequence_ + 1) {
            ++coverage.command_errors;
            return respond(id, ErrorCode::command_error, std::monostate{}, request_sequence_);
        }
        if (request.operation.type == "bad") {
            ++coverage.refused;
            return respond(id, ErrorCode::bad_request);
        }
        request_sequence_ = std::max(request_sequence_, request.sequence);
        if (request.sequence > command_sequence_) {
            apply(request);
        } else {
            ++coverage.cached_answers;
        }
        if (rng_.chance(faults_.lost_after_apply)) return respond(id, ErrorCode::no_leader);
        answer_from_cache(id, request.sequence);
    }

    void apply(const session::CommandRequest& request) {
        if (request.sequence != command_sequence_ + 1) {
            violations.push_back("sequence " + std::to_string(request.sequence) +
                                 " applied after " + std::to_string(command_sequence_));
        }
        command_sequence_ = request.sequence;
        const Index index = ++last_index_;
        const std::string argument(request.operation.argument.begin(),
                                   request.operation.argument.end());
        applied_[request.sequence] = request.operation.type.empty() ? "no-op" : argument;
        if (request.operation.type.empty()) ++coverage.no_ops;
        const bool fails = request.operation.type == "fail";
        if (!request.operation.type.empty() && rng_.chance(faults_.event)) publish(index, argument);
        cache_[request.sequence] = Cached{fails ? ErrorCode::application_error : ErrorCode::ok,
                                          index, event_index_, argument};
    }

    void answer_from_cache(uint64_t id, uint64_t sequence) {
        const auto cached = cache_.find(sequence);
        if (cached == cache_.end()) {  // acknowledged: the client no longer waits for it
            return respond(id, ErrorCode::command_error);
        }
        const Cached& result = cached->second;
        const Bytes value(result.value.begin(), result.value.end());
        respond(id, result.error,
                session::OperationResponse{result.index, result.event_index, value});
    }

    void on(uint64_t id, const session::QueryRequest& request) {
        if (request.index > last_index_) {
            violations.push_back("a query at index " + std::to_string(request.index) +
                                 " beyond the log's " + std::to_string(last_index_));
        }
        if (rng_.chance(faults_.no_leader)) return respond(id, ErrorCode::query_error);
        // The session layer waits for the commands before it; the model asks for a retry.
        if (request.sequence > command_sequence_) return respond(id, ErrorCode::timeout);
        respond(id, ErrorCode::ok, session::OperationResponse{last_index_, event_index_, {}});
    }

    void publish(Index index, const std::string& argument) {
        session::PublishRequest batch{session_id, index, event_index_, {{argument, {}}}};
        event_index_ = index;
        published_.push_back(index);
        unacked_.push_back(batch);
        out_.push_back(batch);
    }

    void acknowledge(Index index) {
        while (!unacked_.empty() && unacked_.front().event_index <= index) unacked_.pop_front();
        acked_event_index_ = std::max(acked_event_index_, std::min(index, event_index_));
    }

    // Resent chained from what the client acknowledged (the session layer's to_publish).
    void resend_events() {
        for (session::PublishRequest batch : unacked_) {
            batch.previous_index = std::max(batch.previous_index, acked_event_index_);
            out_.push_back(batch);
        }
    }

    template <typename Body = std::monostate>
    void respond(uint64_t id, ErrorCode error, Body body = {}, uint64_t last_sequence = 0) {
        Response response;
        response.request_id = id;
        response.error = error;
        response.last_sequence = last_sequence;
        response.body = std::move(body);
        out_.push_back(response);
    }

    Rng& rng_;
    Faults faults_;
    std::vector<ToClient> out_;
    Index last_index_ = session_id;
    uint64_t request_sequence_ = 0;  // admitted (a leader's, forgettable)
    uint64_t command_sequence_ = 0;  // applied
    uint64_t acked_sequence_ = 0;
    std::map<uint64_t, Cached> cache_;
    std::map<uint64_t, std::string> applied_;  // by sequence: the argument, or "no-op"
    Index event_index_ = session_id;
    Index acked_event_index_ = session_id;
    std::deque<session::PublishRequest> unacked_;
    std::vector<Index> published_;
};

// What the application saw, checked as it comes.
struct Observed {
    std::map<OperationId, std::string> command_of;  // submitted commands: their argument
    std::set<OperationId> queries;
    std::map<OperationId, OperationResult> results;
    std::vector<Index> events;
    std::vector<std::string> violations;
    OperationId last_result = 0;

    void see(const Delivery& delivery, const std::map<std::string, Index>& published_at) {
        if (const auto* event = std::get_if<EventDelivery>(&delivery)) {
            if (!events.empty() && event->event_index <= events.back()) {
                violations.push_back("event " + std::to_string(event->event_index) + " after " +
                                     std::to_string(events.back()));
            }
            events.push_back(event->event_index);
            return;
        }
        const auto* result = std::get_if<OperationResult>(&delivery);
        if (result == nullptr) return;
        if (result->id <= last_result) violations.push_back("result out of order");
        last_result = result->id;
        results[result->id] = *result;
        const auto command = command_of.find(result->id);
        if (command == command_of.end() || result->error != ErrorCode::ok) return;
        // A command that published an event: the event came first.
        const auto publisher = published_at.find(command->second);
        if (publisher != published_at.end() &&
            (events.empty() || events.back() < publisher->second)) {
            violations.push_back("the result of " + command->second + " before its event");
        }
    }
};

// The client, the server and the network between them, in simulated time.
class World {
public:
    World(uint64_t seed, Faults faults) : rng_(seed), faults_(faults), server_(rng_, faults_) {
        SessionCoreOptions options;
        options.client_id = "model";
        options.session_timeout_ms = 1'000;
        options.attempt_timeout_ms = 200;
        options.operation_timeout_ms = 4'000;
        options.retry_min_ms = 5;
        options.retry_max_ms = 100;
        options.event_wait_ms = 2'000;
        core_.emplace(options);
        core_->open(now_ms_);
        flush();
    }

    void run(uint64_t until_ms, int operations) {
        uint64_t next_submit_ms = now_ms_;
        while (now_ms_ < until_ms) {
            uint64_t next_ms = until_ms;
            if (operations > 0) next_ms = std::min(next_ms, next_submit_ms);
            if (!network_.empty()) next_ms = std::min(next_ms, network_.begin()->first.first);
            if (const auto due = core_->next_deadline_ms()) next_ms = std::min(next_ms, *due);
            next_ms = std::min(next_ms, next_reconnect_ms_);
            now_ms_ = std::max(now_ms_, next_ms);
            if (now_ms_ >= next_reconnect_ms_) reconnect();
            if (operations > 0 && now_ms_ >= next_submit_ms) {
                submit();
                --operations;
                next_submit_ms = now_ms_ + rng_.below(30);
            }
            deliver_due();
            core_->tick(now_ms_);
            flush();
        }
    }

    // Now and then the shell moves to another gateway.
    void reconnect() {
        ++coverage_.reconnects;
        ++connection_;
        core_->reconnected(now_ms_);
        flush();
        next_reconnect_ms_ = now_ms_ + 500 + rng_.below(3'000);
    }

    void calm() {
        faults_ = calmed(faults_);
        server_.calm();
    }
    void close() {
        core_->close(now_ms_);
        flush();
    }
    void check(uint64_t seed) const;
    Coverage coverage() const {
        Coverage total = server_.coverage;
        total.add(coverage_);
        total.operations = observed_.results.size();
        for (const auto& [id, result] : observed_.results) {
            if (result.error == ErrorCode::timeout) ++total.timeouts;
        }
        return total;
    }
    bool closed() const { return core_->state() == SessionState::closed; }

private:
    void submit() {
        const uint64_t dice = rng_.below(100);
        if (dice < 15) {
            observed_.queries.insert(
                core_->query(session::Operation{"get", {}}, Consistency::linearizable, now_ms_));
            return;
        }
        const std::string argument = "op" + std::to_string(next_argument_++);
        const std::string type = dice < 18 ? "bad" : dice < 21 ? "fail" : "put";
        const uint64_t timeout_ms = dice < 26 && dice >= 21 ? 1 + rng_.below(150) : 0;
        const OperationId id = core_->command(
            session::Operation{type, Bytes(argument.begin(), argument.end())}, now_ms_, timeout_ms);
        observed_.command_of[id] = argument;
    }

    void deliver_due() {
        while (!network_.empty() && network_.begin()->first.first <= now_ms_) {
            auto message = std::move(network_.begin()->second);
            network_.erase(network_.begin());
            note(message);
            if (auto* outgoing = std::get_if<Outgoing>(&message)) {
                for (ToClient& reply : server_.handle(outgoing->request_id, outgoing->request)) {
                    put(std::move(reply));
                }
            } else if (auto* response = std::get_if<Response>(&std::get<ToClient>(message))) {
                core_->receive(*response, now_ms_);
            } else {
                core_->receive(std::get<session::PublishRequest>(std::get<ToClient>(message)),
                               now_ms_);
            }
            flush();
            if (failure_trace_.empty() &&
                (!server_.violations.empty() || !observed_.violations.empty())) {
                failure_trace_ = trace_;
            }
        }
    }

    void flush() {
        CoreOutput output = core_->take_output();
        for (Outgoing& request : output.requests) put(std::move(request));
        for (const Delivery& delivery : output.deliveries) {
            observed_.see(delivery, published_by_argument_);
        }
    }

    // The last messages delivered, for a failure's report.
    void note(const std::variant<Outgoing, ToClient>& message) {
        std::string line = std::to_string(now_ms_) + " ms: ";
        if (const auto* outgoing = std::get_if<Outgoing>(&message)) {
            line +=
                "-> " + std::to_string(outgoing->request_id) + " " + describe(outgoing->request);
        } else if (const auto* response = std::get_if<Response>(&std::get<ToClient>(message))) {
            line += "<- " + std::to_string(response->request_id) + " " +
                    session::error_code_name(response->error) + " last " +
                    std::to_string(response->last_sequence);
        } else {
            const auto& publish = std::get<session::PublishRequest>(std::get<ToClient>(message));
            line += "<- publish " + std::to_string(publish.event_index) + " after " +
                    std::to_string(publish.previous_index);
        }
        trace_.push_back(std::move(line));
        if (trace_.size() > 150) trace_.pop_front();
    }

    static std::string describe(const session::Request& request) {
        if (const auto* command = std::get_if<session::CommandRequest>(&request)) {
            return "command " + std::to_string(command->sequence) + " " +
                   (command->operation.type.empty() ? "no-op" : command->operation.type);
        }
        if (const auto* keep_alive = std::get_if<session::KeepAliveRequest>(&request)) {
            return "keep-alive " + std::to_string(keep_alive->sessions.at(0).command_sequence);
        }
        if (const auto* query = std::get_if<session::QueryRequest>(&request)) {
            return "query after " + std::to_string(query->sequence);
        }
        if (std::holds_alternative<session::ResetRequest>(request)) return "reset";
        return std::holds_alternative<session::RegisterRequest>(request) ? "register"
                                                                         : "unregister";
    }

    // Onto the network: maybe dropped, maybe twice, after a random delay (so reordered).
    void put(std::variant<Outgoing, ToClient> message) {
        if (const auto* to_client = std::get_if<ToClient>(&message)) note_publish(*to_client);
        if (rng_.chance(faults_.drop)) return;
        const int copies = rng_.chance(faults_.duplicate) ? 2 : 1;
        const bool to_server = std::holds_alternative<Outgoing>(message);
        uint64_t& last_ms = last_arrival_ms_[{connection_, to_server}];
        for (int copy = 0; copy < copies; ++copy) {
            uint64_t at_ms = now_ms_ + 1 + rng_.below(faults_.delay_max_ms);
            if (!rng_.chance(faults_.reorder)) at_ms = last_ms = std::max(last_ms, at_ms);
            network_.emplace(std::make_pair(at_ms, serial_++), message);
        }
    }

    // The index each command's event was published at (its name is the command's argument).
    void note_publish(const ToClient& message) {
        if (const auto* publish = std::get_if<session::PublishRequest>(&message)) {
            for (const session::Event& event : publish->events) {
                published_by_argument_.emplace(event.name, publish->event_index);
            }
        }
    }

    Rng rng_;
    Faults faults_;
    ModelServer server_;
    std::optional<SessionCore> core_;
    uint64_t now_ms_ = 0;
    uint64_t serial_ = 0;
    std::map<std::pair<uint64_t, uint64_t>, std::variant<Outgoing, ToClient>> network_;
    uint64_t connection_ = 1;
    std::map<std::pair<uint64_t, bool>, uint64_t> last_arrival_ms_;  // by connection, way
    Observed observed_;
    uint64_t next_argument_ = 1;
    std::map<std::string, Index> published_by_argument_;
    std::deque<std::string> trace_;
    std::deque<std::string> failure_trace_;  // the trace when the first violation was seen
    Coverage coverage_;
    uint64_t next_reconnect_ms_ = 1'000;
};

void World::check(uint64_t seed) const {
    const std::string where = "seed " + std::to_string(seed);
    for (const std::string& violation : server_.violations)
        ADD_FAILURE() << where << ": " << violation;
    for (const std::string& violation : observed_.violations)
        ADD_FAILURE() << where << ": " << violation;
    EXPECT_EQ(core_->pending(), 0u) << where;
    if (!server_.violations.empty() || !observed_.violations.empty()) {
        std::string lines;
        for (const std::string& line : failure_trace_) lines += line + "\n";
        ADD_FAILURE() << where << ": the last messages:\n" << lines;
    }
    EXPECT_EQ(observed_.results.size(), observed_.command_of.size() + observed_.queries.size())
        << where;
    // Every sequence issued was consumed (refused and timed-out ones by no-ops)...
    EXPECT_EQ(server_.command_sequence(), observed_.command_of.size()) << where;
    // ... once, in order: 1..n, each command's argument at most once.
    std::map<std::string, int> times_applied;
    uint64_t expected = 1;
    for (const auto& [sequence, argument] : server_.applied()) {
        EXPECT_EQ(sequence, expected++) << where;
        if (argument != "no-op") ++times_applied[argument];
    }
    for (const auto& [id, argument] : observed_.command_of) {
        const auto result = observed_.results.find(id);
        if (result == observed_.results.end()) continue;
        const int applied = times_applied.contains(argument) ? times_applied.at(argument) : 0;
        EXPECT_LE(applied, 1) << where << ": " << argument;
        const ErrorCode error = result->second.error;
        if (error == ErrorCode::ok || error == ErrorCode::application_error) {
            EXPECT_EQ(applied, 1) << where << ": " << argument;
            const std::string value(result->second.value.begin(), result->second.value.end());
            EXPECT_EQ(value, argument) << where << ": another command's result";
        }
        if (error == ErrorCode::bad_request) {
            EXPECT_EQ(applied, 0) << where << ": " << argument;
        }
    }
    // Every event exactly once, in order.
    EXPECT_EQ(observed_.events, server_.published()) << where;
}

// Runs seeds [first, last): operations submitted under faults for 15 s, then the faults heal
// and everything must settle; then the client closes. Returns what the runs went through.
Coverage run_seeds(uint64_t first, uint64_t last, const Faults& faults, int operations,
                   uint64_t settle_ms) {
    Coverage total;
    for (uint64_t seed = first; seed < last; ++seed) {
        World world(seed, faults);
        world.run(15'000, operations);
        world.calm();
        world.run(15'000 + settle_ms, 0);
        world.check(seed);
        world.close();
        world.run(15'000 + settle_ms + 10'000, 0);
        EXPECT_TRUE(world.closed()) << "seed " << seed;
        total.add(world.coverage());
        if (::testing::Test::HasFailure()) break;
    }
    return total;
}

// Every path the faults are there to provoke was taken in some seed, and the client did not
// flood the server doing it: at most `requests_per_operation` on average, keep-alives included.
void expect_every_path(const Coverage& coverage, uint64_t requests_per_operation) {
    EXPECT_LE(coverage.requests, coverage.operations * requests_per_operation);
    EXPECT_GT(coverage.command_errors, 0u);
    EXPECT_GT(coverage.leader_resets, 0u);
    EXPECT_GT(coverage.cached_answers, 0u);
    EXPECT_GT(coverage.refused, 0u);
    EXPECT_GT(coverage.no_ops, 0u);
    EXPECT_GT(coverage.resets, 0u);
    EXPECT_GT(coverage.timeouts, 0u);
    EXPECT_GT(coverage.reconnects, 0u);
}

TEST(SessionCoreModel, ManySeedsUnderFaults) {
    expect_every_path(run_seeds(1, 501, Faults{}, 300, 25'000), 5);
}

TEST(SessionCoreModel, HeavyLossAndForgetfulLeaders) {
    Faults faults;
    faults.drop = 0.2;
    faults.duplicate = 0.2;
    faults.no_leader = 0.2;
    faults.forget = 0.05;
    faults.reorder = 0.2;
    expect_every_path(run_seeds(1'000, 1'100, faults, 200, 45'000), 150);
}

}  // namespace
}  // namespace copycat::client
