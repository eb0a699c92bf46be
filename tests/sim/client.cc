#include "tests/sim/client.h"

#include "common/assert.h"

namespace copycat::sim {

Clients::Clients(ClientOptions options, std::vector<raft::NodeId> nodes, Rng rng, History& history)
    : options_(options), nodes_(std::move(nodes)), rng_(std::move(rng)), history_(history) {
    COPYCAT_ASSERT(!nodes_.empty(), "clients need a node to talk to");
}

void Clients::start(uint64_t now_us) {
    for (int slot = 0; slot < options_.processes; ++slot) {
        Process process;
        process.id = next_process_id_++;
        process.target = rng_.pick(nodes_);
        processes_.push_back(process);
        schedule(now_us + rng_.between(0, options_.think_max_us), Invoke{slot});
    }
}

void Clients::schedule(uint64_t at_us, Event event) {
    events_.emplace(std::make_pair(at_us, next_event_sequence_++), std::move(event));
}

std::optional<uint64_t> Clients::next_event_us() const {
    if (events_.empty()) return std::nullopt;
    return events_.begin()->first.first;
}

std::optional<ClientRequest> Clients::step(uint64_t now_us) {
    COPYCAT_ASSERT(!events_.empty(), "Clients::step() with no event");
    Event event = std::move(events_.begin()->second);
    events_.erase(events_.begin());
    if (ClientRequest* request = std::get_if<ClientRequest>(&event)) return std::move(*request);
    std::visit(
        [&](const auto& what) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(what)>, ClientRequest>) {
                handle(what, now_us);
            }
        },
        event);
    return std::nullopt;
}

void Clients::send_reply(const ClientReply& reply, uint64_t now_us) {
    if (rng_.chance(options_.loss)) return;
    schedule(now_us + rng_.between(options_.latency_min_us, options_.latency_max_us), reply);
}

bool Clients::idle() const {
    for (const Process& process : processes_) {
        if (process.busy) return false;
    }
    return true;
}

void Clients::handle(const Invoke& invoke, uint64_t now_us) {
    Process& process = processes_[invoke.slot];
    if (!invoking_ || process.busy) return;
    process.busy = true;
    process.op = next_op(process);
    process.sequence++;
    process.timeouts = 0;
    process.refusals = 0;
    process.maybe_proposed = false;
    process.read_mode =
        rng_.chance(options_.lease_read_chance) ? ReadMode::lease : ReadMode::read_index;
    process.operation = history_.invoke(process.id, process.op, now_us);
    ++stats_.operations;
    note(process, "invoke " + describe(history_.operation(process.operation)));
    send_attempt(invoke.slot, now_us);
}

void Clients::send_attempt(int slot, uint64_t now_us) {
    Process& process = processes_[slot];
    process.attempt = next_attempt_++;
    ++stats_.attempts;
    if (rng_.chance(options_.random_node_chance)) process.target = rng_.pick(nodes_);
    ClientRequest request{process.id,     process.sequence, process.attempt,
                          process.target, process.op,       process.read_mode};
    if (!rng_.chance(options_.loss)) {
        schedule(now_us + rng_.between(options_.latency_min_us, options_.latency_max_us),
                 std::move(request));
    }
    schedule(now_us + options_.attempt_timeout_us, Timeout{slot, process.attempt});
}

void Clients::handle(const Timeout& timeout, uint64_t now_us) {
    Process& process = processes_[timeout.slot];
    if (!process.busy || timeout.attempt != process.attempt) return;
    ++stats_.timeouts;
    process.timeouts++;
    process.maybe_proposed = true;
    note(process, "attempt timed out at node " + std::to_string(process.target));
    if (process.timeouts >= options_.max_timeouts) {
        // A read changes nothing, so "happened with an unknown output" and "did not happen"
        // say the same about the register: a read that timed out is a fail, and its process
        // goes on. Only commands are info, and retire their process.
        const bool read = process.op.kind == OpKind::read;
        finish(timeout.slot, read ? Outcome::fail : Outcome::info, {}, now_us);
        return;
    }
    process.target = other_node(process.target);
    send_attempt(timeout.slot, now_us);
}

void Clients::handle(const Resend& resend, uint64_t now_us) {
    Process& process = processes_[resend.slot];
    if (!process.busy || resend.attempt != process.attempt) return;
    send_attempt(resend.slot, now_us);
}

void Clients::handle(const ClientReply& reply, uint64_t now_us) {
    int slot = 0;
    while (slot < static_cast<int>(processes_.size()) && processes_[slot].id != reply.process) {
        ++slot;
    }
    if (slot == static_cast<int>(processes_.size())) return;  // a retired process
    Process& process = processes_[slot];
    if (!process.busy || reply.sequence != process.sequence) return;  // an old operation
    if (reply.status == ReplyStatus::ok) {
        process.target = reply.node;
        finish(slot, Outcome::ok, reply.output, now_us);
        return;
    }
    if (reply.attempt != process.attempt) return;  // a refusal of an attempt already retried
    ++stats_.refusals;
    process.refusals++;
    if (process.refusals >= options_.max_refusals) {
        const bool unknown = process.maybe_proposed && process.op.kind != OpKind::read;
        finish(slot, unknown ? Outcome::info : Outcome::fail, {}, now_us);
        return;
    }
    process.target = reply.leader_hint != 0 ? reply.leader_hint : other_node(reply.node);
    schedule(now_us + rng_.between(0, options_.retry_delay_max_us), Resend{slot, process.attempt});
}

void Clients::finish(int slot, Outcome outcome, OpOutput output, uint64_t now_us) {
    Process& process = processes_[slot];
    if (outcome == Outcome::ok) {
        if (process.op.kind == OpKind::read) process.last_seen = output.value;
        if (process.op.kind == OpKind::write ||
            (process.op.kind == OpKind::cas && output.swapped)) {
            process.last_seen = process.op.value;
        }
    }
    history_.complete(process.operation, outcome, std::move(output), now_us);
    note(process, describe(history_.operation(process.operation)));
    process.busy = false;
    switch (outcome) {
        case Outcome::ok: ++stats_.ok; break;
        case Outcome::fail: ++stats_.fail; break;
        case Outcome::info: ++stats_.info; break;
    }
    if (outcome == Outcome::info) {
        if (!keys_.empty() && process.op.key == keys_.back() &&
            ++infos_on_key_ >= options_.max_info_per_key) {
            ops_left_on_key_ = 0;
        }
        Process replacement;
        replacement.id = next_process_id_++;
        replacement.target = other_node(process.target);
        process = replacement;
    }
    schedule(now_us + rng_.between(0, options_.think_max_us), Invoke{slot});
}

Op Clients::next_op(Process& process) {
    const std::string key = current_key();
    const double choice = rng_.unit();
    if (choice < 0.35) return Op::read(key);
    if (choice < 0.9) {
        std::string value = "v" + std::to_string(next_value_++);
        if (choice < 0.65) {
            last_written_ = value;
            return Op::write(key, std::move(value));
        }
        std::optional<std::string> expected = rng_.chance(0.5) ? process.last_seen : last_written_;
        last_written_ = value;
        return Op::cas(key, std::move(expected), std::move(value));
    }
    return Op::remove(key);
}

const std::string& Clients::current_key() {
    if (ops_left_on_key_ == 0 || keys_.empty()) {
        keys_.push_back("k" + std::to_string(keys_.size()));
        ops_left_on_key_ = rng_.between(options_.ops_per_key_min, options_.ops_per_key_max);
        last_written_.reset();
        infos_on_key_ = 0;
        ++stats_.keys;
    }
    --ops_left_on_key_;
    return keys_.back();
}

raft::NodeId Clients::other_node(raft::NodeId besides) {
    if (nodes_.size() == 1) return nodes_.front();
    raft::NodeId node = besides;
    while (node == besides) node = rng_.pick(nodes_);
    return node;
}

void Clients::note(const Process& process, const std::string& what) {
    notes_.push_back("client p" + std::to_string(process.id) + " " + what);
}

}  // namespace copycat::sim
