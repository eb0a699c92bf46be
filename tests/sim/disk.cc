#include "tests/sim/disk.h"

#include <algorithm>
#include <string>

#include "common/assert.h"

namespace copycat::sim {

Disk::Disk(raft::Configuration bootstrap, Rng rng, DiskTiming timing, uint64_t segment_entries)
    : bootstrap_(std::move(bootstrap)),
      rng_(std::move(rng)),
      timing_(timing),
      segment_entries_(std::max<uint64_t>(1, segment_entries)) {}

Status Disk::write(raft::PersistOp op, uint64_t now_us) {
    raft::Index last = op.reset_log ? 0 : written_last_index_;
    if (op.snapshot) last = std::max(last, op.snapshot->index);  // kept or replaced: see below
    if (op.truncate_after) last = std::min(last, *op.truncate_after);
    const raft::Index covered = snapshot_ ? snapshot_->index : 0;
    for (const raft::Entry& entry : op.entries) {
        if (entry.index <= covered) {  // written before the snapshot was taken: skipped
            last = std::max(last, entry.index);
            continue;
        }
        if (entry.index <= last) {  // holes are fine; going back is not
            return invalid_argument("persist op " + std::to_string(op.seq) + " appends index " +
                                    std::to_string(entry.index) + " after index " +
                                    std::to_string(last) + ": an overlap without truncation");
        }
        last = entry.index;
    }
    if (!pending_.empty() && op.seq <= pending_.back().op.seq) {
        return invalid_argument("persist op seq " + std::to_string(op.seq) + " not increasing");
    }
    uint64_t latency_us = rng_.between(timing_.sync_min_us, timing_.sync_max_us);
    if (rng_.chance(timing_.slow_sync_chance)) {
        latency_us += rng_.between(0, timing_.slow_sync_max_us);
    }
    last_sync_us_ = std::max(last_sync_us_, now_us + latency_us);
    written_last_index_ = last;
    ++stats_.writes;
    pending_.push_back({std::move(op), last_sync_us_});
    return Status::ok();
}

std::optional<uint64_t> Disk::next_sync_us() const {
    if (pending_.empty()) return std::nullopt;
    return pending_.front().sync_us;
}

uint64_t Disk::sync_due(uint64_t now_us) {
    uint64_t synced_seq = 0;
    while (!pending_.empty() && pending_.front().sync_us <= now_us) {
        apply(pending_.front().op);
        synced_seq = pending_.front().op.seq;
        pending_.pop_front();
        ++stats_.syncs;
    }
    return synced_seq;
}

Disk::CrashLoss Disk::crash(bool torn_tail) {
    CrashLoss loss;
    loss.lost_writes = pending_.size();
    if (torn_tail && !pending_.empty()) {
        size_t total = 0;
        for (const Pending& pending : pending_) total += parts_of(pending.op);
        size_t surviving = rng_.between(0, total);
        loss.surviving_parts = surviving;
        for (const Pending& pending : pending_) {
            if (surviving == 0) break;
            const size_t parts = std::min(surviving, parts_of(pending.op));
            apply(pending.op, parts);
            surviving -= parts;
        }
        if (loss.surviving_parts > 0) ++stats_.torn_tails;
    }
    stats_.lost_writes += pending_.size();
    pending_.clear();
    // The logstore's release bits are advisory: gone, and none counts until the next batch.
    released_.clear();
    releases_complete_ = false;
    release_cap_ = session::DiskReleases::no_cap;
    written_last_index_ = last_index();
    return loss;
}

void Disk::apply(const raft::PersistOp& op, size_t parts) {
    if (parts == 0) return;
    if (op.hard_state) set_hard_state(*op.hard_state);
    if (op.reset_log) {
        entries_.clear();
        released_.clear();
        snapshot_.reset();
        first_index_ = 1;
        sealed_through_ = 0;
    }
    if (parts == 1) return;
    if (op.snapshot) store_snapshot(*op.snapshot);
    if (parts == 2) return;
    if (op.truncate_after) truncate_after(*op.truncate_after);
    const size_t entry_count = std::min(op.entries.size(), parts - 3);
    for (size_t i = 0; i < entry_count; ++i) {
        const raft::Index index = op.entries[i].index;
        if (snapshot_ && index <= snapshot_->index) continue;
        COPYCAT_ASSERT(index > last_index(),
                       "disk: a durable append that does not continue the log (write() checks)");
        entries_.emplace_hint(entries_.end(), index, op.entries[i]);
        if (last_index() >= sealed_through_ + segment_entries_) sealed_through_ = last_index();
    }
}

void Disk::truncate_after(raft::Index index) {
    entries_.erase(entries_.upper_bound(index), entries_.end());
    released_.erase(released_.upper_bound(index), released_.end());
    sealed_through_ = std::min(sealed_through_, index);
}

// raft.h: store the snapshot and drop the whole log up to it; what follows it stays (Raft
// adds a truncation to the op when that must go too).
void Disk::store_snapshot(const raft::Snapshot& snapshot) {
    entries_.erase(entries_.begin(), entries_.upper_bound(snapshot.index));
    released_.erase(released_.begin(), released_.upper_bound(snapshot.index));
    sealed_through_ = std::max(sealed_through_, snapshot.index);
    first_index_ = std::max(first_index_, snapshot.index + 1);
    if (!snapshot_ || snapshot.index > snapshot_->index) snapshot_ = snapshot;
}

void Disk::set_hard_state(const raft::HardState& hard_state) {
    hard_state_ = hard_state;
    if (hard_state.vote != 0) durable_votes_.insert({hard_state.term, hard_state.vote});
}

raft::RestoredState Disk::restore() const {
    raft::RestoredState restored;
    restored.hard_state = hard_state_;
    restored.snapshot = snapshot_;
    restored.configuration = bootstrap_;
    for (const auto& [index, entry] : entries_) restored.entries.push_back(entry);
    restored.first_index = first_index_;
    // The log starts after an installed snapshot, or at 1 (a snapshot taken here keeps it).
    restored.term_before_first =
        snapshot_ && first_index_ == snapshot_->index + 1 ? snapshot_->term : 0;
    return restored;
}

raft::Configuration Disk::configuration() const {
    raft::Configuration best = bootstrap_;
    if (snapshot_ && snapshot_->configuration.index > best.index) best = snapshot_->configuration;
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
        const raft::Entry* entry = &it->second;
        if (entry->index <= best.index) break;
        if (entry->type != raft::EntryType::configuration) continue;
        Result<raft::Configuration> decoded = raft::decode_configuration(entry->payload);
        if (decoded.is_ok()) best = std::move(decoded.value());
        break;
    }
    return best;
}

void Disk::save_snapshot(const raft::Snapshot& snapshot) {
    if (snapshot_ && snapshot.index <= snapshot_->index) return;
    snapshot_ = snapshot;
    // A leader applies what a majority stored before its own writes are synced: a snapshot
    // may pass the durable log. The log then restarts after it (Raft's does, on restart),
    // and pending entries it covers are skipped when they sync.
    if (snapshot.index >= last_index()) {
        entries_.clear();
        released_.clear();
        first_index_ = snapshot.index + 1;
        sealed_through_ = snapshot.index;
    }
    written_last_index_ = std::max(written_last_index_, snapshot.index);
}

raft::Term Disk::last_term() const {
    if (!entries_.empty()) return entries_.rbegin()->second.term;
    return snapshot_ ? snapshot_->term : 0;
}

const raft::Entry* Disk::entry(raft::Index index) const {
    auto found = entries_.find(index);
    return found == entries_.end() ? nullptr : &found->second;
}

void Disk::release(const session::DiskReleases::Batch& batch,
                   const std::map<raft::Index, raft::Index>& applied_at) {
    if (batch.reset) released_.clear();
    for (const raft::Index index : batch.indexes) {
        if (!holds(index)) continue;
        auto at = applied_at.find(index);
        released_.emplace(index, at == applied_at.end() ? 0 : at->second);
    }
    release_cap_ = batch.global_cap;
    releases_complete_ = true;
}

// As copycat-compactor's compaction of every sealed segment, in one step.
std::vector<std::pair<raft::Index, raft::Index>> Disk::compact(const compaction::Indexes& indexes) {
    std::vector<std::pair<raft::Index, raft::Index>> removed;
    if (!releases_complete_) return removed;
    compaction::Indexes capped = indexes;
    capped.global = std::min(capped.global, release_cap_);
    const raft::Index last = last_index();
    auto going = released_.end();
    while (going != released_.begin()) {
        const raft::Index index = std::prev(going)->first;
        if (index > sealed_through_) break;  // the active segment is never compacted
        auto it = entries_.find(index);
        if (it == entries_.end()) {
            --going;  // gone already
            continue;
        }
        const raft::Entry& entry = it->second;
        // Before the first entry held: the snapshot's term, or none (the log starts at 1).
        const raft::Term before_log = snapshot_ ? snapshot_->term : 0;
        const raft::Term previous_term =
            it == entries_.begin() ? before_log : std::prev(it)->second.term;
        if (!compaction::may_remove_released(entry.compaction_mode, entry.index, entry.term,
                                             previous_term, last, capped)) {
            break;
        }
        --going;
    }
    // As the Raft log: a delete above a released entry that stays, stays.
    if (going != released_.begin()) {
        for (auto it = released_.end(); it != going;) {
            --it;
            const raft::Entry* held = entry(it->first);
            if (held != nullptr && compaction::is_delete(held->compaction_mode)) {
                going = std::next(it);
                break;
            }
        }
    }
    for (auto r = going; r != released_.end(); ++r) {
        if (entries_.erase(r->first) != 0) removed.push_back({r->first, r->second});
    }
    released_.erase(going, released_.end());
    return removed;
}

}  // namespace copycat::sim
