#include "tests/sim/session_checks.h"

#include <algorithm>

#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/ops.h"

namespace copycat::sim {
namespace {

std::string str(uint64_t value) { return std::to_string(value); }

std::string text(const std::optional<Bytes>& value) {
    if (!value) return "absent";
    return "\"" + std::string(value->begin(), value->end()) + "\"";
}

}  // namespace

void SessionChecks::add(std::string invariant, std::string detail) {
    violations_.push_back({std::move(invariant), std::move(detail)});
}

void SessionChecks::observe_applied(const IndexEffects& effects) {
    if (effects.index != applied_ + 1) {
        add("shell contract",
            "the session checks got index " + str(effects.index) + " after index " + str(applied_));
    }
    applied_ = std::max(applied_, effects.index);
    for (const Execution& execution : effects.executions) {
        track_execution(effects.index, execution);
        if (execution.ok) track_map(effects.index, execution);
    }
    for (const Publication& publication : effects.publications) {
        std::vector<Batch>& published = sessions_[publication.session].published;
        if (published.empty() || published.back().index != effects.index) {
            published.push_back({effects.index, {}});
            ++batches_published_;
        }
        published.back().events.push_back(publication.event);
    }
    for (const LockGrant& grant : effects.grants) {
        granted_[{grant.lock, grant.token}] = grant.session;
        ++grants_;
        if (!effects.closed.empty()) ++grants_on_close_;
    }
    sessions_closed_ += effects.closed.size();
}

// Read your writes: a read answered at index X promised that the session's commands up to the
// read's sequence had executed by X; one executing later breaks that promise.
void SessionChecks::track_execution(raft::Index index, const Execution& execution) {
    SessionTrack& track = sessions_[execution.session];
    for (const auto& [sequence, read_index] : track.reads) {
        if (execution.sequence > sequence || index <= read_index) continue;
        add("read your writes", "session " + str(execution.session) + "'s command " +
                                    str(execution.sequence) + " executed at index " + str(index) +
                                    ", after a read of sequence " + str(sequence) +
                                    " was answered at index " + str(read_index));
    }
    // Sequences only grow: reads of lower sequences can no longer be overtaken.
    std::erase_if(track.reads, [&](const auto& read) { return read.first < execution.sequence; });
    track.executed.emplace_back(execution.sequence, index);
}

void SessionChecks::track_map(raft::Index index, const Execution& execution) {
    using namespace resources;
    if (execution.type == MapPut::type) {
        const Result<MapPut> put = statemachine::decode_argument<MapPut>(execution.argument);
        if (!put.is_ok()) return;
        const MapKey key{put->map, put->key};
        if (put->ttl_ms > 0) untracked_[key] = true;
        changes_[key].push_back({index, put->value});
    } else if (execution.type == MapCas::type) {
        const Result<MapCas> cas = statemachine::decode_argument<MapCas>(execution.argument);
        const Result<MapCas::Output> output = statemachine::decode_output<MapCas>(execution.output);
        if (!cas.is_ok() || !output.is_ok() || !output->succeeded) return;
        const MapKey key{cas->map, cas->key};
        if (cas->ttl_ms > 0) untracked_[key] = true;
        changes_[key].push_back({index, cas->value});
    } else if (execution.type == MapRemove::type) {
        const Result<MapRemove> remove =
            statemachine::decode_argument<MapRemove>(execution.argument);
        const Result<MapRemove::Output> output =
            statemachine::decode_output<MapRemove>(execution.output);
        if (!remove.is_ok() || !output.is_ok() || !output->previous) return;
        changes_[{remove->map, remove->key}].push_back({index, std::nullopt});
    }
}

void SessionChecks::observe_delivery(const session::PublishRequest& batch) {
    SessionTrack& track = sessions_[batch.session];
    ++batches_delivered_;
    const std::string session = "session " + str(batch.session);
    if (track.delivered >= track.published.size()) {
        add("events", session + " received a batch at index " + str(batch.event_index) +
                          " after all " + str(track.published.size()) +
                          " batches published to it: a duplicate or an invented batch");
        return;
    }
    const Batch& expected = track.published[track.delivered];
    if (expected.index != batch.event_index) {
        add("events", session + " received the batch of index " + str(batch.event_index) +
                          " where the next one published to it is index " + str(expected.index) +
                          (batch.event_index < expected.index ? ": a duplicate" : ": a gap"));
        return;
    }
    if (expected.events != batch.events) {
        add("events", session + " received the batch of index " + str(batch.event_index) +
                          " with other events than were published at that index");
    }
    ++track.delivered;
}

void SessionChecks::observe_lock_held(SessionId session, const std::string& lock,
                                      raft::Index token) {
    const auto granted = granted_.find({lock, token});
    if (granted == granted_.end() || granted->second != session) {
        add("lock safety",
            "the client of session " + str(session) + " believes it holds lock " + lock +
                " with token " + str(token) + ", which the log " +
                (granted == granted_.end() ? std::string("never granted")
                                           : "granted to session " + str(granted->second)));
        return;
    }
    raft::Index& last = sessions_[session].lock_tokens[lock];
    if (token <= last) {
        add("lock safety", "the client of session " + str(session) + " learned it holds lock " +
                               lock + " with token " + str(token) + " after token " + str(last));
    }
    last = std::max(last, token);
}

void SessionChecks::observe_read(const ReadSeen& read) {
    ++reads_checked_;
    const std::string what = "session " + str(read.session) + "'s " +
                             session::consistency_name(read.consistency) + " read of " + read.key;
    if (read.index < read.floor) {
        add("monotonic reads", what + " was answered at index " + str(read.index) +
                                   ", below index " + str(read.floor) + " the session had seen");
    }
    if (read.index > applied_) {
        add("read values",
            what + " was answered at index " + str(read.index) + ", which no node has applied");
        return;
    }
    SessionTrack& track = sessions_[read.session];
    for (auto executed = track.executed.rbegin(); executed != track.executed.rend(); ++executed) {
        if (executed->first > read.sequence) continue;
        if (executed->second > read.index) {
            add("read your writes", what + " of sequence " + str(read.sequence) +
                                        " was answered at index " + str(read.index) +
                                        ", before the session's command " + str(executed->first) +
                                        " executed at index " + str(executed->second));
        }
        break;
    }
    track.reads.emplace_back(read.sequence, read.index);
    check_read_value(read);
}

// The value and version at index X: the last change of the key at or before X.
void SessionChecks::check_read_value(const ReadSeen& read) {
    const MapKey key{read.map, read.key};
    if (untracked_.contains(key)) return;
    std::optional<Bytes> value;
    raft::Index version = 0;
    if (const auto found = changes_.find(key); found != changes_.end()) {
        const std::vector<Change>& changes = found->second;
        auto after = std::upper_bound(
            changes.begin(), changes.end(), read.index,
            [](raft::Index index, const Change& change) { return index < change.index; });
        if (after != changes.begin()) {
            const Change& last = *std::prev(after);
            value = last.value;
            version = last.value ? last.index : 0;
        }
    }
    if (value != read.value || version != read.version) {
        add("read values",
            "session " + str(read.session) + "'s " + session::consistency_name(read.consistency) +
                " read of " + read.key + " at index " + str(read.index) + " returned " +
                text(read.value) + " (version " + str(read.version) + "), but the log has " +
                text(value) + " (version " + str(version) + ") there");
    }
}

void SessionChecks::check_complete(const std::vector<SessionId>& live_sessions) {
    for (const SessionId session : live_sessions) {
        const SessionTrack& track = sessions_[session];
        if (track.delivered == track.published.size()) continue;
        add("events", "session " + str(session) + " is live and received " + str(track.delivered) +
                          " of the " + str(track.published.size()) +
                          " batches published to it (next: index " +
                          str(track.published[track.delivered].index) + ")");
    }
}

raft::Index SessionChecks::last_published(SessionId session) const {
    const auto found = sessions_.find(session);
    if (found == sessions_.end() || found->second.published.empty()) return session;
    return found->second.published.back().index;
}

raft::Index SessionChecks::last_delivered(SessionId session) const {
    const auto found = sessions_.find(session);
    if (found == sessions_.end() || found->second.delivered == 0) return session;
    return found->second.published[found->second.delivered - 1].index;
}

}  // namespace copycat::sim
