#include "consensus/server/logstore_link.h"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <thread>

#include "common/assert.h"
#include "common/log.h"
#include "consensus/server/log_codec.h"
#include "logstore/protocol.h"

namespace copycat::server {

namespace fb = logstore::fb;

namespace {

// A routing id of this process's own: replies to an earlier process's requests never reach it.
std::string own_routing_id() {
    std::random_device random;
    return "consensus-" + std::to_string(::getpid()) + "-" + std::to_string(random());
}

}  // namespace

LogstoreLink::LogstoreLink(zmq::context_t& context, const std::string& endpoint,
                           SnapshotHooks hooks, std::chrono::milliseconds op_timeout)
    : op_timeout_(op_timeout),
      client_(context, endpoint, std::chrono::seconds(2), own_routing_id()),
      hooks_(std::move(hooks)) {}

uint64_t LogstoreLink::next_id() {
    last_sent_id_ = client_.next_request_id();
    return last_sent_id_;
}

// Sends a request built for a fresh id and waits for its answer, again and again until the
// deadline while the logstore does not answer (not started yet, or still recovering).
Result<logstore::Reply> LogstoreLink::call(
    const std::function<std::vector<uint8_t>(uint64_t)>& build,
    std::chrono::steady_clock::time_point deadline) {
    Status last = Status(StatusCode::timeout, "the logstore did not answer in time");
    while (std::chrono::steady_clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        uint64_t id = next_id();
        Result<logstore::Reply> reply =
            client_.call(build(id), id, std::min(left, std::chrono::milliseconds(2000)));
        if (reply.is_ok()) {
            last_answer_ = std::chrono::steady_clock::now();
            return reply;
        }
        last = reply.status();
        if (last.code() != StatusCode::unavailable && last.code() != StatusCode::timeout) {
            return last;
        }
    }
    return last;
}

// Appends an earlier writer staged may still be on their way to disk: read only once the log
// is durable to its end, so that nothing read here can vanish.
Status LogstoreLink::wait_until_durable(std::chrono::steady_clock::time_point deadline) {
    while (true) {
        Result<logstore::Reply> status =
            call([](uint64_t id) { return logstore::make_status(id); }, deadline);
        if (!status.is_ok()) return status.status();
        const fb::StatusResponse* s = status->message()->body_as_StatusResponse();
        if (s == nullptr) return corruption("the logstore answered Status with something else");
        if (s->durable_index() >= s->last_index()) return Status::ok();
        if (std::chrono::steady_clock::now() >= deadline) {
            return Status(StatusCode::timeout, "the logstore's log did not become durable");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// tidy: long-function (the whole restore, in the order it must happen)
Result<raft::RestoredState> LogstoreLink::restore(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    raft::RestoredState restored;
    Result<logstore::Reply> meta = call(
        [](uint64_t id) { return logstore::make_load_meta(id, /*claim_writer=*/true); }, deadline);
    if (!meta.is_ok()) return meta.status();
    COPYCAT_RETURN_IF_ERROR(wait_until_durable(deadline));
    // Term, vote and configuration again: the claim fenced every other writer, so what is
    // read now is what stays.
    meta = call([](uint64_t id) { return logstore::make_load_meta(id); }, deadline);
    if (!meta.is_ok()) return meta.status();
    const fb::MetaResponse* m = meta->message()->body_as_MetaResponse();
    if (m == nullptr) return corruption("the logstore answered LoadMeta with something else");
    restored.hard_state = {m->term(), m->vote(), m->floor_term(), m->floor_index(),
                           m->holes_released_by()};
    if (m->configuration() != nullptr && m->configuration()->size() > 0) {
        Result<raft::Configuration> configuration =
            raft::decode_configuration({m->configuration()->data(), m->configuration()->size()});
        if (!configuration.is_ok()) {
            return corruption("stored configuration: " + configuration.status().message());
        }
        restored.configuration = std::move(configuration.value());
    }
    Result<logstore::Reply> status =
        call([](uint64_t id) { return logstore::make_status(id); }, deadline);
    if (!status.is_ok()) return status.status();
    const fb::StatusResponse* s = status->message()->body_as_StatusResponse();
    if (s == nullptr) return corruption("the logstore answered Status with something else");
    restored.first_index = s->first_index();
    durable_index_ = s->durable_index();
    const uint64_t last_index = s->last_index();
    log_last_index_ = last_index;
    for (uint64_t next = s->first_index(); next <= last_index;) {
        Result<logstore::Reply> read =
            call([&](uint64_t id) { return logstore::make_read(id, next, last_index, 4 << 20); },
                 deadline);
        if (!read.is_ok()) return read.status();
        const fb::ReadResponse* r = read->message()->body_as_ReadResponse();
        if (r == nullptr) return corruption("the logstore answered Read with something else");
        std::vector<logstore::Entry> entries = logstore::entries_of(r->entries());
        if (entries.empty()) break;  // only holes remain
        for (logstore::Entry& stored : entries) {
            Result<raft::Entry> entry = from_stored_entry(std::move(stored));
            if (!entry.is_ok()) return entry.status();
            restored.entries.push_back(std::move(entry.value()));
        }
        next = restored.entries.back().index + 1;
    }
    return restored;
}

void LogstoreLink::send(const std::vector<uint8_t>& bytes) {
    Status sent = client_.send(bytes);
    if (!sent.is_ok()) fail(sent);
}

Status LogstoreLink::reset_log(raft::Index next_index, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Result<logstore::Reply> reset =
        call([&](uint64_t id) { return logstore::make_reset(id, next_index); }, deadline);
    if (!reset.is_ok()) return reset.status();
    log_last_index_ = next_index - 1;
    durable_index_ = std::max(durable_index_, next_index - 1);
    return Status::ok();
}

void LogstoreLink::persist(const raft::PersistOp& op, raft::Index commit_index) {
    if (failed()) return;
    Op tracked{op.seq, {}, 0, false, false, 0, std::chrono::steady_clock::now()};
    if (op.snapshot) tracked.snapshot_index = op.snapshot->index;
    if (unsent_.empty() && !must_wait(op)) {  // the common case: everything goes out now
        if (op.hard_state) send_hard_state(tracked, *op.hard_state);
        send_log_changes(tracked, op, commit_index);
        ops_.push_back(std::move(tracked));
        return;
    }
    tracked.unsent = true;
    ops_.push_back(std::move(tracked));
    unsent_.push_back({op, commit_index, Step::hard_state});
    advance();
}

// Sends the parts of waiting ops in order, until one must wait (for a reset's hard state or the
// log reset to be durable, or for snapshot files) or none is left.
void LogstoreLink::advance() {
    while (!unsent_.empty() && wait_ == Wait::nothing && !failed()) {
        Unsent& unsent = unsent_.front();
        Op& tracked = op_with_seq(unsent.op.seq);
        if (!run_step(unsent, tracked)) return;
        if (unsent.step == Step::done) {
            tracked.unsent = false;
            unsent_.pop_front();
        }
    }
}

// Carries out the op's next step; false when the op must now wait (wait_ says for what).
bool LogstoreLink::run_step(Unsent& unsent, Op& tracked) {
    const raft::PersistOp& op = unsent.op;
    switch (unsent.step) {
        case Step::hard_state:
            unsent.step = Step::reset_log;
            if (!op.hard_state) return true;
            awaited_request_id_ = send_hard_state(tracked, *op.hard_state);
            if (!op.reset_log) return true;
            // Its floor durable before the log goes, known by its answer rather than by the
            // logstore's order alone: a refused SaveTerm must not be followed by the reset
            // (LogstoreLinkTest.AResetSavesItsFloorDurablyBeforeTheLogGoes).
            wait_ = Wait::hard_state_saved;
            return false;
        case Step::reset_log:
            unsent.step = Step::discard_snapshots;
            if (!op.reset_log) return true;
            awaited_request_id_ = next_id();
            tracked.waiting.insert(awaited_request_id_);
            send(logstore::make_reset(awaited_request_id_, 1));
            log_last_index_ = 0;
            // The log starts again from nothing: the compaction indexes of the old one no
            // longer say anything about it.
            sent_commit_index_ = sent_global_index_ = sent_snapshot_index_ = 0;
            sent_minor_index_ = 0;
            forget_sealed_part();
            tracked.resets_log = true;
            wait_ = Wait::log_reset;
            return false;
        case Step::discard_snapshots:
            unsent.step = Step::snapshot;
            if (!op.reset_log) return true;
            wait_ = Wait::snapshots_discarded;
            hooks_.discard_all();
            return false;
        case Step::snapshot:
            unsent.step = Step::log;
            if (!op.snapshot) return true;
            wait_ = Wait::snapshot_stored;
            awaited_snapshot_index_ = op.snapshot->index;
            hooks_.store(*op.snapshot);
            return false;
        case Step::log:
            unsent.step = Step::done;
            send_log_changes(tracked, op, unsent.commit_index);
            return true;
        case Step::done: return true;
    }
    return true;
}

uint64_t LogstoreLink::send_hard_state(Op& tracked, const raft::HardState& hard_state) {
    uint64_t id = next_id();
    tracked.waiting.insert(id);
    send(logstore::make_save_term(id, {hard_state.term, hard_state.vote, hard_state.floor_term,
                                       hard_state.floor_index, hard_state.holes_released_by}));
    return id;
}

// Truncate (or, for an op whose snapshot the log must restart after, ResetLog) and Append.
void LogstoreLink::send_log_changes(Op& tracked, const raft::PersistOp& op,
                                    raft::Index commit_index) {
    const raft::Index snapshot_index = op.snapshot ? op.snapshot->index : 0;
    const bool restart_after_snapshot =
        op.snapshot && (log_last_index_ < snapshot_index ||
                        (op.truncate_after && *op.truncate_after <= snapshot_index));
    if (restart_after_snapshot) {
        uint64_t id = next_id();
        tracked.waiting.insert(id);
        send(logstore::make_reset(id, snapshot_index + 1));
        log_last_index_ = snapshot_index;
        forget_sealed_part();
    } else if (op.truncate_after) {
        uint64_t id = next_id();
        tracked.waiting.insert(id);
        send(logstore::make_truncate(id, *op.truncate_after,
                                     std::min(commit_index, *op.truncate_after)));
        log_last_index_ = std::min(log_last_index_, *op.truncate_after);
    }
    if (!op.entries.empty()) {
        std::vector<logstore::Entry> stored;
        stored.reserve(op.entries.size());
        // Holes: entries compaction removed from the leader's log (raft/log.h), or from this
        // node's own after a restart.
        bool holes = op.entries.front().index != log_last_index_ + 1;
        for (const raft::Entry& entry : op.entries) {
            holes = holes || (!stored.empty() && entry.index != stored.back().index + 1);
            stored.push_back(to_stored_entry(entry));
        }
        tracked.append_id = next_id();
        last_append_id_ = tracked.append_id;
        send(logstore::make_append(tracked.append_id, stored, holes));
        log_last_index_ = op.entries.back().index;
    }
}

LogstoreLink::Op& LogstoreLink::op_with_seq(uint64_t seq) {
    auto found =
        std::find_if(ops_.begin(), ops_.end(), [&](const Op& op) { return op.seq == seq; });
    COPYCAT_ASSERT(found != ops_.end(), "an unsent PersistOp is not tracked: LogstoreLink lost it");
    return *found;
}

std::optional<uint64_t> LogstoreLink::snapshot_durable(raft::Index index) {
    COPYCAT_ASSERT(wait_ == Wait::snapshot_stored && awaited_snapshot_index_ == index,
                   "a snapshot reported durable that no PersistOp waits for");
    wait_ = Wait::nothing;
    advance();
    return pop_durable();
}

std::optional<uint64_t> LogstoreLink::snapshots_discarded() {
    COPYCAT_ASSERT(wait_ == Wait::snapshots_discarded,
                   "snapshots reported discarded that no PersistOp waits for");
    wait_ = Wait::nothing;
    advance();
    return pop_durable();
}

void LogstoreLink::save_configuration(const raft::Configuration& configuration) {
    uint64_t id = next_id();
    other_requests_.insert(id);
    send(logstore::make_save_configuration(id, configuration.index, configuration.term,
                                           raft::encode_configuration(configuration)));
}

void LogstoreLink::release(const session::DiskReleases::Batch& batch) {
    const std::span<const uint64_t> all(batch.indexes);
    size_t from = 0;
    do {
        const size_t count = std::min(release_chunk, all.size() - from);
        logstore::ReleaseBatch part{batch.reset && from == 0, from + count < all.size(),
                                    batch.global_cap};
        uint64_t id = next_id();
        other_requests_.insert(id);
        send(logstore::make_release(id, all.subspan(from, count), part));
        last_release_id_ = id;
        from += count;
    } while (from < all.size());
}

void LogstoreLink::set_indexes(raft::Index commit_index, raft::Index global_index,
                               raft::Index snapshot_index, raft::Index minor_index) {
    sent_commit_index_ = std::max(sent_commit_index_, commit_index);
    sent_global_index_ = std::max(sent_global_index_, global_index);
    sent_snapshot_index_ = std::max(sent_snapshot_index_, snapshot_index);
    sent_minor_index_ = std::max(sent_minor_index_, minor_index);
    flatbuffers::FlatBufferBuilder builder(128);
    uint64_t id = next_id();
    other_requests_.insert(id);
    send(logstore::finish_message(
        builder, id,
        fb::CreateSetIndexesRequest(builder, sent_commit_index_, sent_global_index_,
                                    sent_snapshot_index_, sent_minor_index_)));
}

void LogstoreLink::request_status() {
    // A gap between two calls far longer than their period means this process did not run
    // (SIGSTOP, a paused VM, swapped out): the logstore had no chance to answer in that time,
    // or its answers wait unread. The gap is not counted against the ops in flight.
    const auto now = std::chrono::steady_clock::now();
    const auto stalled_after =
        std::min<std::chrono::steady_clock::duration>(std::chrono::seconds(3), op_timeout_ / 2);
    if (last_status_request_ && now - *last_status_request_ > stalled_after) {
        const auto gap = now - *last_status_request_;
        for (Op& op : ops_) op.sent += gap;
    }
    last_status_request_ = now;
    if (!ops_.empty() && now - ops_.front().sent > op_timeout_) {
        fail(Status(StatusCode::timeout,
                    "a write was not made durable within " + std::to_string(op_timeout_.count()) +
                        " ms: the logstore restarted (its requests were lost) or hangs"));
        return;
    }
    // Probes a dead logstore never answers must not pile up: keep the newest.
    while (other_requests_.size() > 1000) other_requests_.erase(other_requests_.begin());
    uint64_t id = next_id();
    other_requests_.insert(id);
    send(logstore::make_status(id));
}

std::optional<uint64_t> LogstoreLink::on_readable() {
    while (std::optional<logstore::Reply> reply = client_.receive(std::chrono::milliseconds(0))) {
        handle(*reply);
    }
    advance();
    return pop_durable();
}

// Ops durable from the front: every request answered, nothing left to send.
std::optional<uint64_t> LogstoreLink::pop_durable() {
    uint64_t before = completed_seq_;
    while (!ops_.empty() && ops_.front().waiting.empty() && ops_.front().append_id == 0 &&
           !ops_.front().unsent) {
        const Op& op = ops_.front();
        completed_seq_ = op.seq;
        if (op.resets_log) durable_snapshot_index_ = 0;  // the snapshots were discarded
        durable_snapshot_index_ = std::max(durable_snapshot_index_, op.snapshot_index);
        ops_.pop_front();
    }
    if (completed_seq_ == before) return std::nullopt;
    return completed_seq_;
}

void LogstoreLink::handle(const logstore::Reply& reply) {
    last_answer_ = std::chrono::steady_clock::now();
    if (reply.message() == nullptr) {
        log::warn_once("logstore-garbage", "the logstore sent a message that does not verify");
        return;
    }
    uint64_t id = reply.request_id();
    if (id == 0 || id > last_sent_id_) {
        log::warn_once("logstore-unknown-reply", "ignored a logstore reply to no request of ours",
                       {{"request_id", id}});
        return;
    }
    if (other_requests_.erase(id) > 0) {
        Status error = reply.error();
        if (!error.is_ok()) log::warn("logstore refused a request", {{"error", error.to_string()}});
        if (const fb::StatusResponse* status = reply.message()->body_as_StatusResponse()) {
            note_status(id, *status);
        }
        return;
    }
    Status error = reply.error();
    if (!error.is_ok()) {
        fail(Status(error.code(), "the logstore refused a write: " + error.message()));
        return;
    }
    if (const fb::DurableAck* ack = reply.message()->body_as_DurableAck()) {
        if (id > last_append_id_) return;  // covers no append of ours
        durable_index_ = std::max(durable_index_, ack->durable_index());
        for (Op& op : ops_) {
            if (op.append_id != 0 && op.append_id <= id) op.append_id = 0;
        }
        return;
    }
    if ((wait_ == Wait::hard_state_saved || wait_ == Wait::log_reset) &&
        id == awaited_request_id_) {
        wait_ = Wait::nothing;
    }
    for (Op& op : ops_) {
        if (op.waiting.erase(id) > 0) return;
    }
}

// Status answers (to StatusRequest and SetIndexesRequest): the sealed part of the log, and
// whether the release bits are still those the batches sent before this request made.
void LogstoreLink::note_status(uint64_t id, const fb::StatusResponse& status) {
    if (id < statuses_valid_from_) return;  // of the log before a reset
    sealed_through_ = status.sealed_through();
    if (!status.releases_complete() && last_release_id_ != 0 && id > last_release_id_) {
        if (!releases_lost_) {
            log::warn("the logstore lost its release bits (it restarted): sending them again");
        }
        releases_lost_ = true;
    }
}

// The log is replaced: its sealed part is unknown until a status asked after the reset says.
void LogstoreLink::forget_sealed_part() {
    sealed_through_ = 0;
    statuses_valid_from_ = last_sent_id_ + 1;
}

void LogstoreLink::fail(Status status) {
    if (failed()) return;
    failure_ = std::move(status);
    log::error("logstore link failed: no further write can be made durable",
               {{"error", failure_.to_string()}});
}

}  // namespace copycat::server
