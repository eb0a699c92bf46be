#include "compactor/plan/schedule.h"

#include <utility>

namespace copycat::compactor::plan {

Schedule::Job& Schedule::waiting_job(bool major) {
    for (Job& job : waiting_) {
        if (job.major == major) return job;
    }
    waiting_.push_back(Job{major, {}});
    return waiting_.back();
}

void Schedule::request(bool major, Waiter waiter) {
    waiting_job(major).waiters.push_back(std::move(waiter));
}

void Schedule::tick(bool major) { waiting_job(major); }

std::optional<bool> Schedule::start_next() {
    if (running_ || waiting_.empty()) return std::nullopt;
    running_ = std::move(waiting_.front());
    waiting_.pop_front();
    return running_->major;
}

std::vector<Waiter> Schedule::finish() {
    if (!running_) return {};
    std::vector<Waiter> waiters = std::move(running_->waiters);
    running_.reset();
    return waiters;
}

std::vector<Waiter> Schedule::drain() {
    std::vector<Waiter> waiters = finish();
    for (Job& job : waiting_) {
        for (Waiter& waiter : job.waiters) waiters.push_back(std::move(waiter));
    }
    waiting_.clear();
    return waiters;
}

}  // namespace copycat::compactor::plan
