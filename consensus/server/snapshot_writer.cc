#include "consensus/server/snapshot_writer.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <utility>

#include "common/assert.h"

namespace copycat::server {

SnapshotWriter::SnapshotWriter(SnapshotStore& store)
    : store_(store), event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    COPYCAT_ASSERT(event_fd_ >= 0, "cannot create an eventfd: out of file descriptors?");
    thread_ = std::thread([this] { run(); });
}

SnapshotWriter::~SnapshotWriter() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        jobs_.clear();
    }
    wake_.notify_one();
    thread_.join();
    ::close(event_fd_);
}

void SnapshotWriter::submit(Kind kind, raft::Snapshot snapshot) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        jobs_.push_back({kind, std::move(snapshot)});
    }
    wake_.notify_one();
}

std::vector<SnapshotWriter::Done> SnapshotWriter::take_done() {
    uint64_t count = 0;
    // Clears the eventfd's counter: EAGAIN when it was already clear, which is fine.
    if (::read(event_fd_, &count, sizeof(count)) < 0 && errno != EAGAIN) {
        COPYCAT_ASSERT(false, "reading the snapshot writer's eventfd failed");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(done_, {});
}

size_t SnapshotWriter::pending() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return jobs_.size() + in_progress_;
}

void SnapshotWriter::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        ++in_progress_;
        lock.unlock();
        Done done = store(job);
        lock.lock();
        --in_progress_;
        done_.push_back(std::move(done));
        const uint64_t one = 1;
        const ssize_t written = ::write(event_fd_, &one, sizeof(one));
        COPYCAT_ASSERT(written == sizeof(one), "writing the snapshot writer's eventfd failed");
    }
}

SnapshotWriter::Done SnapshotWriter::store(const Job& job) {
    const auto started = std::chrono::steady_clock::now();
    Done done{job.kind, job.snapshot.index, job.snapshot.term, SnapshotStore::Saved{}, 0};
    if (job.kind == Kind::discard) {
        Status discarded = store_.discard_all();
        if (!discarded.is_ok()) done.saved = discarded;
    } else {
        done.saved = store_.save(job.snapshot);
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
    done.seconds = elapsed.count();
    return done;
}

}  // namespace copycat::server
