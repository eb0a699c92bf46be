#include "tests/sim/node.h"

#include <algorithm>

#include "common/assert.h"
#include "tests/sim/disk.h"

namespace copycat::sim {

Node::Node(raft::NodeId id, raft::Options options, NodeClock clock, Disk& disk, uint64_t seed,
           uint64_t snapshot_every_entries)
    : id_(id),
      options_(options),
      clock_(clock),
      disk_(disk),
      seed_(seed),
      snapshot_every_entries_(snapshot_every_entries) {
    options_.id = id;
    COPYCAT_ASSERT(clock_.rate_ppm > 0, "a node clock must run forward");
}

uint64_t Node::local_time_us(uint64_t now_us) const {
    const uint64_t since_us = now_us > clock_.base_us ? now_us - clock_.base_us : 0;
    return clock_.phase_us + since_us * static_cast<uint64_t>(clock_.rate_ppm) / 1'000'000;
}

void Node::set_clock_rate(int64_t rate_ppm, uint64_t now_us) {
    COPYCAT_ASSERT(rate_ppm > 0, "a node clock must run forward");
    clock_.phase_us = local_time_us(now_us);
    clock_.base_us = now_us;
    clock_.rate_ppm = rate_ppm;
    schedule_tick(next_local_tick_);
}

uint64_t Node::catch_up_ticks(uint64_t now_us) {
    uint64_t ticks = 0;
    while (up() && next_tick_us_ <= now_us) {
        tick(now_us);
        ++ticks;
    }
    return ticks;
}

void Node::schedule_tick(uint64_t local_tick) {
    next_local_tick_ = local_tick;
    const uint64_t local_us = local_tick * options_.tick_ms * 1000;
    const uint64_t rate = static_cast<uint64_t>(clock_.rate_ppm);
    if (local_us <= clock_.phase_us) {
        next_tick_us_ = clock_.base_us;
        return;
    }
    // The first virtual time whose local time reaches local_us.
    next_tick_us_ = clock_.base_us + ((local_us - clock_.phase_us) * 1'000'000 + rate - 1) / rate;
}

void Node::set_time(uint64_t now_us) { raft_->set_time_ms(local_time_us(now_us) / 1000); }

void Node::start(uint64_t now_us) {
    COPYCAT_ASSERT(!up(), "start() of a node that is up: crash it first");
    ++incarnation_;
    random_ = std::make_unique<Rng>(seed_, "raft incarnation", incarnation_);
    raft::RestoredState restored = disk_.restore();
    kv_ = KvStore{};
    applied_index_ = 0;
    last_snapshot_index_ = 0;
    applied_configuration_ = restored.configuration;
    const std::optional<raft::Snapshot> snapshot = restored.snapshot;
    raft_ = std::make_unique<raft::Raft>(options_, *random_, std::move(restored));
    if (snapshot) install(*snapshot);  // Raft continues after it
    schedule_tick(local_time_us(now_us) / (options_.tick_ms * 1000) + 1);
    effects_.log_changed_from = 1;
    set_time(now_us);
    drain();
}

void Node::crash() {
    raft_.reset();
    random_.reset();
    kv_ = KvStore{};
    applied_index_ = 0;
    writes_waiting_.clear();
    reads_waiting_state_.clear();
    reads_waiting_apply_.clear();
    effects_ = Effects{};
}

void Node::tick(uint64_t now_us) {
    if (!up()) return;
    set_time(now_us);
    raft_->tick();
    schedule_tick(next_local_tick_ + 1);
    drain();
}

void Node::receive(const raft::Envelope& envelope, uint64_t now_us) {
    if (!up()) return;
    set_time(now_us);
    raft_->step(envelope);
    drain();
}

void Node::persisted(uint64_t seq, uint64_t now_us) {
    if (!up()) return;
    set_time(now_us);
    raft_->persisted(seq);
    drain();
}

void Node::request(const ClientRequest& request, uint64_t now_us) {
    if (!up()) return;
    set_time(now_us);
    if (request.op.kind == OpKind::read) {
        start_read(request);
    } else {
        propose(request);
    }
    drain();
}

Result<raft::Index> Node::configure(std::vector<raft::Member> members,
                                    raft::Index expected_configuration_index,
                                    raft::Term expected_configuration_term, uint64_t now_us) {
    if (!up()) return Status(StatusCode::unavailable, "down");
    set_time(now_us);
    Result<raft::Index> result = raft_->propose_configuration(
        std::move(members), expected_configuration_index, expected_configuration_term);
    drain();
    return result;
}

Status Node::transfer_leadership(raft::NodeId target, uint64_t now_us) {
    if (!up()) return Status(StatusCode::unavailable, "down");
    set_time(now_us);
    Status status = raft_->transfer_leadership(target);
    drain();
    return status;
}

void Node::drain() {
    while (true) {
        raft::Ready ready = raft_->take_ready();
        if (ready.empty()) break;
        for (raft::PersistOp& op : ready.persist) {
            note_persist(op);
            effects_.persist.push_back(std::move(op));
        }
        for (raft::Envelope& envelope : ready.messages) {
            effects_.messages.push_back(std::move(envelope));
        }
        if (ready.install) {
            install(*ready.install);
            ++snapshots_installed_;
        }
        for (const raft::Entry& entry : ready.committed) apply(entry);
        for (const raft::ReadState& read : ready.reads) on_read(read);
        answer_reads();
        maybe_take_snapshot();
    }
}

void Node::maybe_take_snapshot() {
    if (snapshot_every_entries_ == 0 ||
        applied_index_ < last_snapshot_index_ + snapshot_every_entries_) {
        return;
    }
    const std::optional<raft::Term> term = raft_->log().term_at(applied_index_);
    if (!term) return;
    raft::Snapshot snapshot{applied_index_, *term, applied_configuration_,
                            std::make_shared<const std::vector<uint8_t>>(kv_.encode())};
    disk_.save_snapshot(snapshot);  // durable before Raft hears of it
    raft_->snapshot_taken(std::move(snapshot));
    last_snapshot_index_ = applied_index_;
    ++snapshots_taken_;
    effects_.took_snapshot = applied_index_;
}

void Node::note_persist(const raft::PersistOp& op) {
    raft::Index from = op.snapshot ? 1 : 0;  // an installed snapshot may replace the whole log
    if (op.truncate_after && from == 0) from = *op.truncate_after + 1;
    if (!op.entries.empty()) {
        from = from == 0 ? op.entries.front().index : std::min(from, op.entries.front().index);
    }
    if (from == 0) return;
    raft::Index& changed = effects_.log_changed_from;
    changed = changed == 0 ? from : std::min(changed, from);
}

void Node::apply(const raft::Entry& entry) {
    applied_index_ = entry.index;
    if (entry.type == raft::EntryType::configuration) {
        if (Result<raft::Configuration> configuration = raft::decode_configuration(entry.payload);
            configuration.is_ok()) {
            applied_configuration_ = std::move(configuration.value());
        }
    }
    if (entry.type == raft::EntryType::command) {
        if (const std::optional<Command> command = decode_command(entry.payload)) {
            const CommandResult result = kv_.apply(*command);
            const auto waiting = writes_waiting_.find({command->process, command->sequence});
            if (result.kind != CommandResult::Kind::stale && waiting != writes_waiting_.end()) {
                reply(waiting->second, result.output);
                writes_waiting_.erase(waiting);
            }
        }
    }
    effects_.applied.push_back({entry, kv_.state_hash()});
}

void Node::install(const raft::Snapshot& snapshot) {
    std::optional<KvStore> state;
    if (snapshot.data != nullptr) state = KvStore::decode(*snapshot.data);
    if (!state) {
        effects_.problems.push_back("node " + std::to_string(id_) + ": the snapshot at index " +
                                    std::to_string(snapshot.index) + " does not decode");
        return;
    }
    kv_ = std::move(*state);
    applied_index_ = snapshot.index;
    last_snapshot_index_ = snapshot.index;
    applied_configuration_ = snapshot.configuration;
    effects_.installed_snapshot = snapshot.index;
}

void Node::on_read(const raft::ReadState& read) {
    const auto waiting = reads_waiting_state_.find(read.id);
    if (waiting == reads_waiting_state_.end()) return;
    const ClientRequest request = waiting->second;
    reads_waiting_state_.erase(waiting);
    if (read.status != raft::ReadStatus::ready) {
        refuse(request);
        return;
    }
    effects_.reads_ready.push_back({read.id, read.index});
    if (read.index <= applied_index_) {
        reply(request, OpOutput::read(kv_.get(request.op.key)));
    } else {
        reads_waiting_apply_.emplace(read.index, request);
    }
}

void Node::answer_reads() {
    while (!reads_waiting_apply_.empty() && reads_waiting_apply_.begin()->first <= applied_index_) {
        const ClientRequest& request = reads_waiting_apply_.begin()->second;
        reply(request, OpOutput::read(kv_.get(request.op.key)));
        reads_waiting_apply_.erase(reads_waiting_apply_.begin());
    }
}

void Node::propose(const ClientRequest& request) {
    if (raft_->role() != raft::Role::leader) return refuse(request);
    const Command command{request.process, request.sequence, request.op};
    const Result<raft::Index> index = raft_->propose(encode_command(command));
    if (!index.is_ok()) return refuse(request);
    writes_waiting_[{request.process, request.sequence}] = request;
}

void Node::start_read(const ClientRequest& request) {
    if (raft_->role() != raft::Role::leader) return refuse(request);
    const uint64_t read_id = next_read_id_++;
    reads_waiting_state_[read_id] = request;
    effects_.reads_started.push_back(read_id);
    if (request.read_mode == ReadMode::lease) {
        raft_->lease_read(read_id);
    } else {
        raft_->read_index(read_id);
    }
}

void Node::refuse(const ClientRequest& request) {
    ClientReply reply{request.process,
                      request.sequence,
                      request.attempt,
                      id_,
                      ReplyStatus::not_leader,
                      raft_->leader(),
                      {}};
    if (reply.leader_hint == id_) reply.leader_hint = 0;
    effects_.replies.push_back(std::move(reply));
}

void Node::reply(const ClientRequest& request, OpOutput output) {
    effects_.replies.push_back({request.process, request.sequence, request.attempt, id_,
                                ReplyStatus::ok, 0, std::move(output)});
}

}  // namespace copycat::sim
