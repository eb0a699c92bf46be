// SnapshotWriter: stores snapshots through a SnapshotStore on a thread of its own, so that the
// event loop keeps answering heartbeats and clients while a large snapshot goes to disk. The
// example ledger with a million accounts makes a 20 MB snapshot, which takes 60-70 ms to write
// and fdatasync on the project's 2-core machine: ten times the cluster's p99 write latency,
// and several times that on a slower disk, which the loop would otherwise spend blocked.
//
// Jobs run one at a time in the order submitted, so snapshots become durable in that order
// (the store keeps the newest two by index, and the consensus server relies on the order:
// an installed snapshot's op waits for its own file). Each finished job is reported back to
// the loop: notify_fd() turns readable, and take_done() hands the results over.
//
// Threads: submit(), take_done() and notify_fd() on the event loop's thread; the store is
// used only by the writer thread from construction to destruction.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"
#include "consensus/raft/raft.h"
#include "consensus/server/snapshot_store.h"

namespace copycat::server {

class SnapshotWriter {
public:
    // What a job does: store a snapshot taken by this server (ServerOutput::snapshot), or one
    // carried by a PersistOp (installed from the leader, or a restart's log behind its
    // snapshot), or remove every snapshot (PersistOp.reset_log; the job carries none).
    enum class Kind { taken, persist, discard };

    struct Done {
        Kind kind = Kind::taken;
        raft::Index index = 0;
        raft::Term term = 0;
        // What was written, or why it could not be (a discard: nothing written, or why not).
        Result<SnapshotStore::Saved> saved = SnapshotStore::Saved{};
        double seconds = 0;  // how long the job took
    };

    // The store must outlive the writer.
    explicit SnapshotWriter(SnapshotStore& store);
    // Finishes the write in progress; the jobs still queued are dropped (as by a crash:
    // nothing was told they were durable).
    ~SnapshotWriter();
    SnapshotWriter(const SnapshotWriter&) = delete;
    SnapshotWriter& operator=(const SnapshotWriter&) = delete;

    void submit(Kind kind, raft::Snapshot snapshot = {});
    // Readable (an eventfd) while finished jobs wait for take_done().
    int notify_fd() const { return event_fd_; }
    std::vector<Done> take_done();
    size_t pending() const;

private:
    struct Job {
        Kind kind;
        raft::Snapshot snapshot;
    };
    void run();
    Done store(const Job& job);

    SnapshotStore& store_;
    int event_fd_ = -1;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    std::vector<Done> done_;
    size_t in_progress_ = 0;
    bool stopping_ = false;
    std::thread thread_;  // last: starts once everything above is ready
};

}  // namespace copycat::server
