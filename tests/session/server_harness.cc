#include "tests/session/server_harness.h"

#include <gtest/gtest.h>

#include <utility>

#include "common/codec.h"

namespace copycat::session::testing {

uint64_t SeededRandom::next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

Bytes encode_amount(int64_t amount) {
    codec::Writer writer;
    writer.u64(static_cast<uint64_t>(amount));
    return writer.take();
}

std::optional<int64_t> decode_amount(const Bytes& bytes) {
    codec::Reader reader(bytes);
    uint64_t value = 0;
    if (!reader.u64(value) || !reader.done()) return std::nullopt;
    return static_cast<int64_t>(value);
}

// --- CounterMachine -------------------------------------------------------------------------

namespace {

using statemachine::Commit;
using statemachine::CompactionMode;
using statemachine::Output;

Result<CompactionMode> check_amount(std::span<const uint8_t> argument) {
    if (argument.size() != 8) return invalid_argument("add takes an 8-byte amount");
    return CompactionMode::default_mode;
}

Result<CompactionMode> any_argument(std::span<const uint8_t> /*argument*/) {
    return CompactionMode::default_mode;
}

class CounterMachine : public statemachine::StateMachine {
public:
    CounterMachine(std::shared_ptr<CounterProbe> probe, bool snapshottable)
        : probe_(std::move(probe)), snapshottable_(snapshottable) {}

    void configure(statemachine::Executor& executor) override {
        executor_ = &executor;
        executor.register_command("add", check_amount,
                                  [this](Commit commit) { return add(std::move(commit)); });
        executor.register_command("fail", any_argument, [](Commit /*commit*/) -> Output {
            return invalid_argument("the counter refuses this command");
        });
        executor.register_query("get", any_argument, [this](const Commit& /*commit*/) -> Output {
            return encode_amount(probe_->value);
        });
    }

    bool snapshottable() const override { return snapshottable_; }
    Bytes snapshot() const override { return encode_amount(probe_->value); }
    Status install(std::span<const uint8_t> snapshot) override {
        const std::optional<int64_t> value = decode_amount(Bytes(snapshot.begin(), snapshot.end()));
        if (!value) return invalid_argument("a counter snapshot is 8 bytes");
        probe_->value = *value;
        return Status::ok();
    }

private:
    Output add(Commit commit) {
        const std::optional<int64_t> amount = decode_amount(commit.operation().argument);
        if (!amount) return invalid_argument("add takes an 8-byte amount");
        probe_->value += *amount;
        ++probe_->adds_executed;
        statemachine::Sessions& sessions = executor_->context().sessions();
        for (SessionId id : sessions.ids()) {
            statemachine::Session* session = sessions.find(id);
            if (session == nullptr) continue;
            Status published = session->publish("added", encode_amount(probe_->value));
            EXPECT_TRUE(published.is_ok()) << published.to_string();
        }
        return encode_amount(probe_->value);
    }

    std::shared_ptr<CounterProbe> probe_;
    bool snapshottable_;
    statemachine::Executor* executor_ = nullptr;
};

}  // namespace

std::unique_ptr<statemachine::StateMachine> make_counter_machine(
    std::shared_ptr<CounterProbe> probe, bool snapshottable) {
    return std::make_unique<CounterMachine>(std::move(probe), snapshottable);
}

// --- ServerCluster --------------------------------------------------------------------------

ServerCluster::ServerCluster(ClusterOptions options) {
    raft::Configuration configuration;
    for (raft::NodeId id = 1; id <= options.voters; ++id) {
        configuration.members.push_back({id, raft::MemberType::active, true, {}});
    }
    for (const raft::Member& member : options.extra_members) {
        configuration.members.push_back(member);
    }
    for (const raft::Member& member : configuration.members) {
        SessionServerOptions server_options;
        server_options.raft.id = member.id;
        server_options.raft.quiet_ticks_after_start = 0;
        if (options.adjust) options.adjust(server_options);
        tick_ms_ = server_options.raft.tick_ms;
        raft::RestoredState restored;
        restored.configuration = configuration;
        Node& node = nodes_[member.id];
        node.random = std::make_unique<SeededRandom>(member.id);
        node.probe = std::make_shared<CounterProbe>();
        node.server = std::make_unique<SessionServer>(
            server_options, *node.random, std::move(restored),
            [probe = node.probe, snapshottable = options.snapshottable] {
                return make_counter_machine(probe, snapshottable);
            });
        node.server->set_time_ms(now_ms_);
        collect(member.id);
    }
}

std::vector<raft::NodeId> ServerCluster::ids() const {
    std::vector<raft::NodeId> ids;
    for (const auto& [id, node] : nodes_) ids.push_back(id);
    return ids;
}

void ServerCluster::collect(raft::NodeId id) {
    Node& node = nodes_.at(id);
    while (true) {
        ServerOutput output = node.server->take_output();
        if (output.empty()) return;
        for (raft::Envelope& envelope : output.messages) in_flight_.push_back(std::move(envelope));
        for (OutboundResponse& response : output.responses) {
            node.responses[response.connection].push_back(std::move(response.response));
        }
        for (OutboundEvents& events : output.events) {
            node.events[events.connection].push_back(std::move(events.publish));
        }
        for (raft::Entry& entry : output.applied) node.applied.push_back(std::move(entry));
        node.server->set_time_ms(now_ms_);
        if (!output.persist.empty()) node.server->persisted(output.persist.back().seq);
        if (output.snapshot) {
            node.snapshots.push_back(*output.snapshot);
            node.server->snapshot_stored(output.snapshot->index);
        }
    }
}

bool ServerCluster::blocked(const raft::Envelope& envelope) const {
    return nodes_.count(envelope.to) == 0 || isolated_.count(envelope.from) > 0 ||
           isolated_.count(envelope.to) > 0 ||
           blocked_links_.count({envelope.from, envelope.to}) > 0;
}

bool ServerCluster::deliver_one() {
    for (const auto& [id, node] : nodes_) collect(id);
    if (in_flight_.empty()) return false;
    raft::Envelope envelope = std::move(in_flight_.front());
    in_flight_.pop_front();
    if (blocked(envelope)) return true;
    SessionServer& to = server(envelope.to);
    to.set_time_ms(now_ms_);
    to.step(envelope);
    collect(envelope.to);
    return true;
}

void ServerCluster::run() {
    for (int delivered = 0; deliver_one(); ++delivered) {
        ASSERT_LT(delivered, 1'000'000) << "the cluster never went quiet";
    }
}

void ServerCluster::tick(int count) {
    for (int i = 0; i < count; ++i) {
        now_ms_ += tick_ms_;
        for (auto& [id, node] : nodes_) {
            node.server->set_time_ms(now_ms_);
            node.server->tick();
            collect(id);
        }
        run();
    }
}

void ServerCluster::elect(raft::NodeId id) {
    SessionServer& candidate = server(id);
    for (int ticks = 0; candidate.raft().role() != raft::Role::leader; ++ticks) {
        ASSERT_LT(ticks, 10'000) << "node " << id << " did not become leader";
        now_ms_ += tick_ms_;
        candidate.set_time_ms(now_ms_);
        candidate.tick();
        collect(id);
        run();
    }
}

raft::NodeId ServerCluster::fail_over(raft::NodeId not_this) {
    const raft::Term old_term = server(not_this).raft().term();
    for (int ticks = 0; ticks < 10'000; ++ticks) {
        for (const auto& [id, node] : nodes_) {
            const raft::Raft& raft = node.server->raft();
            if (id != not_this && raft.role() == raft::Role::leader && raft.term() > old_term) {
                return id;
            }
        }
        tick();
    }
    ADD_FAILURE() << "no leader other than node " << not_this << " within 10000 ticks";
    return 0;
}

std::optional<raft::NodeId> ServerCluster::leader() const {
    std::optional<raft::NodeId> leader;
    raft::Term term = 0;
    for (const auto& [id, node] : nodes_) {
        const raft::Raft& raft = node.server->raft();
        if (raft.role() == raft::Role::leader && raft.term() >= term) {
            leader = id;
            term = raft.term();
        }
    }
    return leader;
}

void ServerCluster::isolate(raft::NodeId id) { isolated_.insert(id); }

void ServerCluster::block(raft::NodeId from, raft::NodeId to) { blocked_links_.insert({from, to}); }

void ServerCluster::heal() {
    isolated_.clear();
    blocked_links_.clear();
}

// --- clients --------------------------------------------------------------------------------

uint64_t ServerCluster::submit(raft::NodeId node, ConnectionId connection, Request request) {
    const uint64_t request_id = next_request_id_++;
    server(node).set_time_ms(now_ms_);
    server(node).request(connection, request_id, std::move(request));
    collect(node);
    return request_id;
}

std::optional<Response> ServerCluster::call(raft::NodeId node, ConnectionId connection,
                                            Request request) {
    const uint64_t request_id = submit(node, connection, std::move(request));
    run();
    return take_response(node, connection, request_id);
}

std::optional<Response> ServerCluster::take_response(raft::NodeId node, ConnectionId connection,
                                                     uint64_t request_id) {
    std::vector<Response>& responses = nodes_.at(node).responses[connection];
    for (auto it = responses.begin(); it != responses.end(); ++it) {
        if (it->request_id != request_id) continue;
        Response response = std::move(*it);
        responses.erase(it);
        return response;
    }
    return std::nullopt;
}

std::vector<Response> ServerCluster::take_responses(raft::NodeId node, ConnectionId connection) {
    return std::exchange(nodes_.at(node).responses[connection], {});
}

std::vector<PublishRequest> ServerCluster::take_events(raft::NodeId node, ConnectionId connection) {
    return std::exchange(nodes_.at(node).events[connection], {});
}

void ServerCluster::close_connection(raft::NodeId node, ConnectionId connection) {
    server(node).connection_closed(connection);
    collect(node);
}

SessionId ServerCluster::open_session(raft::NodeId node, ConnectionId connection,
                                      uint64_t timeout_ms) {
    const std::optional<Response> response =
        call(node, connection, RegisterRequest{"client-" + std::to_string(connection), timeout_ms});
    if (!response || response->error != ErrorCode::ok) {
        ADD_FAILURE() << "register through node " << node
                      << " failed: " << (response ? response->message : "no response");
        return 0;
    }
    const auto* registered = std::get_if<RegisterResponse>(&response->body);
    if (registered == nullptr) {
        ADD_FAILURE() << "register answered without a RegisterResponse";
        return 0;
    }
    return registered->session;
}

// --- requests -------------------------------------------------------------------------------

CommandRequest add_command(SessionId session, uint64_t sequence, int64_t amount) {
    return CommandRequest{session, sequence, Operation{"add", encode_amount(amount)}};
}

QueryRequest get_query(SessionId session, uint64_t sequence, Index index, Consistency consistency) {
    return QueryRequest{session, sequence, index, consistency, Operation{"get", {}}};
}

KeepAliveRequest keep_alive(std::vector<KeepAliveItem> items) {
    return KeepAliveRequest{std::move(items)};
}

std::optional<int64_t> value_of(const Response& response) {
    if (response.error != ErrorCode::ok) return std::nullopt;
    const auto* operation = std::get_if<OperationResponse>(&response.body);
    if (operation == nullptr) return std::nullopt;
    return decode_amount(operation->value);
}

Index index_of(const Response& response) {
    const auto* operation = std::get_if<OperationResponse>(&response.body);
    return operation == nullptr ? 0 : operation->index;
}

}  // namespace copycat::session::testing
