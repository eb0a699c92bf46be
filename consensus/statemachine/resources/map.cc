#include "consensus/statemachine/resources/map.h"

#include <iterator>
#include <set>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "consensus/statemachine/resources/session_events.h"

namespace copycat::resources {

using statemachine::Commit;
using statemachine::register_command;
using statemachine::register_query;

void MapResource::configure(statemachine::Executor& executor) {
    executor_ = &executor;
    register_command<MapPut>(executor, [this](MapPut op, Commit commit) {
        return put(std::move(op), std::move(commit));
    });
    register_command<MapRemove>(executor, [this](MapRemove op, Commit commit) {
        Result<MapRemove::Output> output = remove(op);
        commit.release();  // a tombstone holds no state: see the header
        return output;
    });
    register_command<MapCas>(executor, [this](MapCas op, Commit commit) {
        return compare_and_set(std::move(op), std::move(commit));
    });
    register_command<MapWatch>(
        executor, [this](MapWatch op, Commit commit) { return watch(op, std::move(commit)); });
    register_command<MapUnwatch>(executor, [this](MapUnwatch op, Commit commit) {
        Result<MapUnwatch::Output> output = unwatch(op, commit.session());
        commit.release();
        return output;
    });
    register_query<MapGet>(executor, [this](const MapGet& op, const Commit&) { return get(op); });
    register_query<MapList>(executor,
                            [this](const MapList& op, const Commit&) { return list(op); });
    register_query<MapSize>(executor,
                            [this](const MapSize& op, const Commit&) { return size(op); });
}

Result<MapPut::Output> MapResource::put(MapPut op, Commit commit) {
    MapPut::Output output;
    output.version = commit.index();
    // One lookup for both the previous value and the write: a put is the commonest command.
    auto [entry, created] = maps_[op.map].entries.try_emplace(op.key);
    if (!created) output.previous = entry->second.value;
    write_entry(op.map, op.key, entry->second, std::move(op.value), op.ttl_ms, std::move(commit),
                false);
    return output;
}

Result<MapRemove::Output> MapResource::remove(const MapRemove& op) {
    MapRemove::Output output;
    auto map = maps_.find(op.map);
    if (map == maps_.end()) return output;
    auto entry = map->second.entries.find(op.key);
    if (entry == map->second.entries.end()) return output;
    output.previous = entry->second.value;
    erase(op.map, entry, MapChange::removed);
    drop_if_idle(op.map);
    return output;
}

Result<MapCas::Output> MapResource::compare_and_set(MapCas op, Commit commit) {
    MapCas::Output output;
    const Entry* current = find(op.map, op.key);
    const bool matches = current == nullptr
                             ? !op.expected.has_value()
                             : op.expected.has_value() && *op.expected == current->value;
    if (!matches) {
        // Nothing changed: the commit (destroyed on return) contributes nothing.
        if (current != nullptr) {
            output.current = current->value;
            output.version = current->version();
        }
        return output;
    }
    output.succeeded = true;
    output.current = op.value;
    output.version = commit.index();
    const bool keep_chain = current != nullptr;
    write(op.map, op.key, std::move(op.value), op.ttl_ms, std::move(commit), keep_chain);
    return output;
}

Result<MapWatch::Output> MapResource::watch(const MapWatch& op, Commit commit) {
    Instance& map = maps_[op.map];
    WatchKey key{commit.session(), op.key, op.prefix};
    // try_emplace leaves `commit` alone when the watch exists: it is then released on return.
    const bool added = map.watches.try_emplace(std::move(key), std::move(commit)).second;
    return MapWatch::Output{added};
}

Result<MapUnwatch::Output> MapResource::unwatch(const MapUnwatch& op, SessionId session) {
    auto map = maps_.find(op.map);
    if (map == maps_.end()) return MapUnwatch::Output{false};
    const bool removed = map->second.watches.erase(WatchKey{session, op.key, op.prefix}) > 0;
    drop_if_idle(op.map);
    return MapUnwatch::Output{removed};
}

Result<MapGet::Output> MapResource::get(const MapGet& op) const {
    MapGet::Output output;
    if (const Entry* entry = find(op.map, op.key)) {
        output.value = entry->value;
        output.version = entry->version();
    }
    return output;
}

Result<MapList::Output> MapResource::list(const MapList& op) const {
    MapList::Output output;
    auto map = maps_.find(op.map);
    if (map == maps_.end()) return output;
    const auto& entries = map->second.entries;
    for (auto it = entries.lower_bound(op.prefix);
         it != entries.end() && it->first.starts_with(op.prefix); ++it) {
        if (op.limit != 0 && output.entries.size() == op.limit) {
            output.truncated = true;
            break;
        }
        output.entries.push_back(MapEntry{it->first, it->second.value, it->second.version()});
    }
    return output;
}

Result<MapSize::Output> MapResource::size(const MapSize& op) const {
    auto map = maps_.find(op.map);
    return MapSize::Output{map == maps_.end() ? 0 : map->second.entries.size()};
}

void MapResource::write(const std::string& name, const std::string& key, Bytes value,
                        uint64_t ttl_ms, Commit commit, bool keep_chain) {
    Entry& target = maps_[name].entries.try_emplace(key).first->second;
    write_entry(name, key, target, std::move(value), ttl_ms, std::move(commit), keep_chain);
}

void MapResource::write_entry(const std::string& name, const std::string& key, Entry& target,
                              Bytes value, uint64_t ttl_ms, Commit commit, bool keep_chain) {
    cancel_expiry(target);
    const Index version = commit.index();
    // Clearing the chain destroys the commits of the writes it replaces: they are released.
    if (!keep_chain) target.writes.clear();
    target.writes.push_back(std::move(commit));
    target.value = std::move(value);
    target.expires_at_ms = 0;
    if (ttl_ms > 0) {
        target.expires_at_ms = executor_->context().time_ms() + ttl_ms;
        target.expiry =
            executor_->schedule(ttl_ms, [this, name, key, version] { expire(name, key, version); });
    }
    // Most maps have no watchers: skip building the event (copies of the key and value).
    if (maps_.at(name).watches.empty()) return;
    tell_watchers(name, MapChanged{name, key, MapChange::written, target.value, version});
}

void MapResource::expire(const std::string& name, const std::string& key, Index version) {
    auto map = maps_.find(name);
    COPYCAT_ASSERT(map != maps_.end(),
                   "a key expired in a map that no longer exists: an "
                   "overwrite or remove did not cancel its expiry");
    auto entry = map->second.entries.find(key);
    COPYCAT_ASSERT(entry != map->second.entries.end() && entry->second.version() == version,
                   "an expiry ran for a write that was replaced: its task was not cancelled");
    entry->second.expiry = {};  // it is running now: nothing left to cancel
    erase(name, entry, MapChange::expired);
    drop_if_idle(name);
}

void MapResource::erase(const std::string& name, std::map<std::string, Entry>::iterator entry,
                        MapChange change) {
    cancel_expiry(entry->second);
    MapChanged event{name, entry->first, change, std::nullopt, executor_->context().index()};
    maps_.at(name).entries.erase(entry);  // destroys the chain's commits: released
    tell_watchers(name, event);
}

void MapResource::cancel_expiry(Entry& entry) {
    if (entry.expiry.id != 0) executor_->cancel(entry.expiry);
    entry.expiry = {};
}

void MapResource::tell_watchers(const std::string& name, const MapChanged& event) {
    const Instance& map = maps_.at(name);
    std::set<SessionId> sessions;  // once per session however many of its watches match
    for (const auto& [watch, commit] : map.watches) {
        const bool matches =
            watch.prefix ? event.key.starts_with(watch.key) : event.key == watch.key;
        if (matches) sessions.insert(watch.session);
    }
    for (SessionId session : sessions) notify(executor_->context(), session, event);
}

void MapResource::on_close(statemachine::Session& session) {
    for (auto map = maps_.begin(); map != maps_.end();) {
        std::erase_if(map->second.watches,
                      [&](const auto& watch) { return watch.first.session == session.id(); });
        map = map->second.idle() ? maps_.erase(map) : std::next(map);
    }
}

void MapResource::drop_if_idle(const std::string& name) {
    auto map = maps_.find(name);
    if (map != maps_.end() && map->second.idle()) maps_.erase(map);
}

const MapResource::Entry* MapResource::find(const std::string& name, const std::string& key) const {
    auto map = maps_.find(name);
    if (map == maps_.end()) return nullptr;
    auto entry = map->second.entries.find(key);
    return entry == map->second.entries.end() ? nullptr : &entry->second;
}

void MapResource::hash(StateHash& hash) const {
    hash.add(std::string_view("map"));
    hash.add(static_cast<uint64_t>(maps_.size()));
    for (const auto& [name, map] : maps_) {
        hash.add(std::string_view(name));
        hash.add(static_cast<uint64_t>(map.entries.size()));
        for (const auto& [key, entry] : map.entries) {
            hash.add(std::string_view(key));
            hash.add(std::span<const uint8_t>(entry.value));
            hash.add(static_cast<uint64_t>(entry.writes.size()));
            for (const Commit& write : entry.writes) hash.add(write.index());
            hash.add(entry.expires_at_ms);
        }
        hash.add(static_cast<uint64_t>(map.watches.size()));
        for (const auto& [watch, commit] : map.watches) {
            hash.add(watch.session);
            hash.add(std::string_view(watch.key));
            hash.add(watch.prefix);
            hash.add(commit.index());
        }
    }
}

}  // namespace copycat::resources
