// SnapshotStore: the snapshots of this node's state machine, one file each, in
// <data-dir>/snapshots/ (SNAPSHOTS.md is the format and every crash point). The consensus
// server owns their content (DESIGN.md, Processes); the logstore never sees them.
//
// What it promises:
//  - save() returns only once the snapshot is durable (file fdatasync'd, renamed, folder
//    fsync'd), so that nothing that depends on it (Raft compacting, the logstore dropping
//    covered entries, a log reset after an install) can run ahead of it; then it removes every
//    snapshot but the newest two;
//  - load() picks the newest valid snapshot, and falls back past a corrupt newer one only when
//    the log proves that safe (fallback_check()); otherwise it refuses with what to do.
//
// Threads: open() and load() at start-up on the main thread; after that save() on the snapshot
// writer's thread only (snapshot_writer.h). Never two callers at once.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "consensus/raft/raft.h"

namespace copycat::server {

// A snapshot's file name: snapshot-<index, 20 digits>-<term>.snap.
struct SnapshotName {
    raft::Index index = 0;
    raft::Term term = 0;

    std::string file_name() const;
    bool operator==(const SnapshotName&) const = default;
    auto operator<=>(const SnapshotName&) const = default;
};
// The name of a snapshot file; nullopt for any other name (.tmp and .corrupt included).
std::optional<SnapshotName> parse_snapshot_name(std::string_view file_name);

// A snapshot file around its data: the header and configuration before it, the CRC after it
// (the CRC covers the data too). Written head, data, tail, the data is never copied.
struct SnapshotFraming {
    std::vector<uint8_t> head;
    std::array<uint8_t, 4> tail{};
};
SnapshotFraming frame_snapshot(const raft::Snapshot& snapshot);
// The bytes of a whole file checked (length, magic, format, CRC, configuration) and decoded.
Result<raft::Snapshot> decode_snapshot(std::span<const uint8_t> bytes);

// Whether start-up may go back from the corrupt snapshot `corrupt` to the state at
// `older_index` (an older valid snapshot, or 0 for the empty state) with `log` (the entries the
// logstore holds, in index order): only if the log holds every index from older_index + 1 to
// corrupt.index without a hole, and its entry at corrupt.index has corrupt.term. Then the
// entries rebuild exactly the corrupt snapshot's state (SNAPSHOTS.md, "A corrupt snapshot").
Status fallback_check(raft::Index older_index, const SnapshotName& corrupt,
                      const std::vector<raft::Entry>& log);

// Puts the chosen snapshot (if any) into the state restored from the logstore and checks that
// the log continues it (SNAPSHOTS.md, "Start-up", step 4). An error when entries between them
// are missing (the log starts after index + 1, or after 1 with no snapshot). True when the log
// holds an entry at the snapshot's index with another term: an install that a crash interrupted
// before its log reset; `restored` then holds no entries and the caller must reset the stored
// log to start at index + 1 before the server starts.
Result<bool> attach_snapshot(raft::RestoredState& restored, std::optional<raft::Snapshot> snapshot);

class SnapshotStore {
public:
    struct Saved {
        bool written = false;  // false: that snapshot was already stored
        uint64_t bytes = 0;    // the file's size
    };

    // Creates the folder if needed, removes *.tmp leftovers, fsyncs it (what is found is then
    // durable, even if a crash came before a save's folder fsync).
    static Result<std::unique_ptr<SnapshotStore>> open(std::string directory);

    // The snapshot to restore from, given the entries the logstore holds (for fallback_check),
    // or nullopt if there is none. Corrupt snapshots it may do without are renamed *.corrupt;
    // then every snapshot older than the chosen one's predecessor is removed. An error (exit 1)
    // when a corrupt snapshot cannot be done without.
    Result<std::optional<raft::Snapshot>> load(const std::vector<raft::Entry>& log);

    // Stores durably (SNAPSHOTS.md, "Writing one"), then keeps only the newest two.
    Result<Saved> save(const raft::Snapshot& snapshot);
    // Removes every snapshot, durably: a follower dropping its log and state
    // (PersistOp.reset_log) must never restart from one beside its new log.
    Status discard_all();

    const std::string& directory() const { return directory_; }
    std::string path_of(const SnapshotName& name) const;
    // The snapshot files present, newest first.
    Result<std::vector<SnapshotName>> list() const;

private:
    explicit SnapshotStore(std::string directory) : directory_(std::move(directory)) {}
    Result<raft::Snapshot> read(const SnapshotName& name) const;
    Result<uint64_t> write_durably(const raft::Snapshot& snapshot, const std::string& path);
    Status set_aside_corrupt(const std::vector<SnapshotName>& corrupt);
    // Removes every snapshot file older than the `keep` newest.
    Status keep_newest(size_t keep);

    std::string directory_;
};

}  // namespace copycat::server
