// MapResource: the "map.*" operations (ops.h) over many named maps of keys to byte values.
// Part of CoordinationStateMachine; it registers its operations with the executor it is given
// and is called back by the state machine's session listener.
//
// Compaction (copycat.md §2.4) is incremental, through releases; the rule every choice below
// follows: whatever subset of the released entries a compacted log still holds, replaying it
// ends in the same state as the original (servers restart and new members catch up from it).
//  - A key's value is held by the writes it depends on: the last unconditional write (map.put,
//    or a map.cas that found the key absent) and every successful map.cas after it. A cas
//    keeps the write it compared against, because a replay without that write would see the
//    key absent or different and refuse the cas. A later put, a remove or the expiry releases
//    the whole chain.
//  - map.remove is TOMBSTONE and is released as soon as it has applied: it holds no state, and
//    the log keeps TOMBSTONE entries until every server has stored them, removing them only in
//    order (major compaction), so a replay never sees a write without the removal after it.
//  - TTL writes are EXPIRING (kept in order like tombstones: their expiry is a removal that no
//    entry records); the expiry, a task on log time, releases the key's chain.
//  - A failed cas changes nothing and is released at once. Known limit: if a failed cas
//    compared against a TTL write that later expired, and compaction then removes that write
//    but not the failed cas, a replay finds the key absent there; a cas that expected absence
//    then succeeds in the replay. Incremental compaction cannot express that dependency;
//    snapshots could.
//  - map.watch holds its Commit while the watch lasts; map.unwatch is TOMBSTONE (it undoes a
//    watch) and is released at once; a session's watches are released when it ends. Watches
//    are keyed by session, so a replayed duplicate watch is undone by the same unwatch.
// A map with no keys and no watches is dropped.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "consensus/statemachine/resources/ops.h"
#include "consensus/statemachine/resources/state_hash.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::resources {

class MapResource {
public:
    MapResource() = default;
    // Scheduled expiries point at this object: it never moves.
    MapResource(const MapResource&) = delete;
    MapResource& operator=(const MapResource&) = delete;

    // Registers map.*; the executor must outlive this object.
    void configure(statemachine::Executor& executor);
    // Ends the session's watches (at the index where the session ended).
    void on_close(statemachine::Session& session);

    void hash(StateHash& hash) const;
    size_t instance_count() const { return maps_.size(); }

private:
    struct Entry {
        Bytes value;
        // The writes the value depends on (see above), oldest first; back() set the value.
        std::vector<statemachine::Commit> writes;
        Index version() const { return writes.back().index(); }
        statemachine::ScheduledHandle expiry;
        uint64_t expires_at_ms = 0;  // log time; 0: never
    };
    struct WatchKey {
        SessionId session = 0;
        std::string key;
        bool prefix = false;
        auto operator<=>(const WatchKey&) const = default;
    };
    struct Instance {
        std::map<std::string, Entry> entries;
        std::map<WatchKey, statemachine::Commit> watches;
        bool idle() const { return entries.empty() && watches.empty(); }
    };

    Result<MapPut::Output> put(MapPut op, statemachine::Commit commit);
    Result<MapRemove::Output> remove(const MapRemove& op);
    Result<MapCas::Output> compare_and_set(MapCas op, statemachine::Commit commit);
    Result<MapWatch::Output> watch(const MapWatch& op, statemachine::Commit commit);
    Result<MapUnwatch::Output> unwatch(const MapUnwatch& op, SessionId session);
    Result<MapGet::Output> get(const MapGet& op) const;
    Result<MapList::Output> list(const MapList& op) const;
    Result<MapSize::Output> size(const MapSize& op) const;

    // Sets a key. `keep_chain`: a successful cas on a present key, which depends on the
    // writes before it.
    void write(const std::string& name, const std::string& key, Bytes value, uint64_t ttl_ms,
               statemachine::Commit commit, bool keep_chain);
    // The same on the key's entry, already found (or just created, empty).
    void write_entry(const std::string& name, const std::string& key, Entry& target, Bytes value,
                     uint64_t ttl_ms, statemachine::Commit commit, bool keep_chain);
    void expire(const std::string& name, const std::string& key, Index version);
    // Removes a key (cancelling its expiry) and tells the watchers.
    void erase(const std::string& name, std::map<std::string, Entry>::iterator entry,
               MapChange change);
    void cancel_expiry(Entry& entry);
    void tell_watchers(const std::string& name, const MapChanged& event);
    void drop_if_idle(const std::string& name);
    const Entry* find(const std::string& name, const std::string& key) const;

    statemachine::Executor* executor_ = nullptr;
    std::map<std::string, Instance> maps_;
};

}  // namespace copycat::resources
