// Schedule: which compaction job runs next (compactor/README.md, "How runs are chosen"). One
// job at a time, so minor and major runs never overlap; at most one job of each kind waits,
// and what asks for a kind that is already waiting joins that job (a CompactRequest is then
// answered by it). A request never joins a running job: "compact now" is answered by a run
// that started after it arrived. Waiting jobs start in the order they were first asked for.
// Pure: the process shell feeds it requests, timer ticks and job ends.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace copycat::compactor::plan {

// Who to answer when a job ends: a peer on the compactor's socket and its request id.
struct Waiter {
    std::string peer;
    uint64_t request_id = 0;

    bool operator==(const Waiter&) const = default;
};

class Schedule {
public:
    // A CompactRequest: major, or minor (snapshot compaction, then minor).
    void request(bool major, Waiter waiter);
    // A timer: a job of this kind, with nobody to answer, unless one is waiting already.
    void tick(bool major);
    // If no job runs and one waits, it runs from now on: returns its kind (true: major).
    std::optional<bool> start_next();
    // The running job ended: whom to answer.
    std::vector<Waiter> finish();
    // Shutting down: everyone still waiting for an answer, running job included.
    std::vector<Waiter> drain();

    bool running() const { return running_.has_value(); }
    size_t waiting_jobs() const { return waiting_.size(); }

private:
    struct Job {
        bool major = false;
        std::vector<Waiter> waiters;
    };
    Job& waiting_job(bool major);

    std::optional<Job> running_;
    std::deque<Job> waiting_;
};

}  // namespace copycat::compactor::plan
