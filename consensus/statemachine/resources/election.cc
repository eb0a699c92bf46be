#include "consensus/statemachine/resources/election.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "consensus/statemachine/resources/session_events.h"

namespace copycat::resources {

using statemachine::Commit;

void ElectionResource::configure(statemachine::Executor& executor) {
    executor_ = &executor;
    statemachine::register_command<ElectionEnter>(
        executor, [this](ElectionEnter op, Commit commit) { return enter(op, std::move(commit)); });
    statemachine::register_command<ElectionLeave>(
        executor, [this](ElectionLeave op, Commit commit) -> Result<ElectionLeave::Output> {
            ElectionLeave::Output output;
            auto election = elections_.find(op.election);
            if (election != elections_.end()) {
                output = withdraw(op.election, election->second, commit.session());
                if (election->second.candidates.empty()) elections_.erase(election);
            }
            commit.release();  // a tombstone holds no state
            return output;
        });
    statemachine::register_query<ElectionLeader>(
        executor, [this](const ElectionLeader& op, const Commit&) { return leader(op); });
}

Result<ElectionEnter::Output> ElectionResource::enter(const ElectionEnter& op, Commit commit) {
    Instance& election = elections_[op.election];
    const SessionId session = commit.session();
    const bool already = std::any_of(election.candidates.begin(), election.candidates.end(),
                                     [&](const Commit& c) { return c.session() == session; });
    // A repeated enter changes nothing: its commit is released on return.
    if (!already) election.candidates.push_back(std::move(commit));
    // Elected on entry: told like every other election, so clients can rely on the events.
    if (!already && election.candidates.size() == 1) announce(op.election, election);
    const Commit& leader = election.candidates.front();
    return ElectionEnter::Output{!already, leader.session() == session, leader.index(),
                                 leader.session()};
}

Result<ElectionLeader::Output> ElectionResource::leader(const ElectionLeader& op) const {
    ElectionLeader::Output output;
    auto election = elections_.find(op.election);
    if (election == elections_.end()) return output;
    const auto& candidates = election->second.candidates;
    output.leader = candidates.front().session();
    output.term = candidates.front().index();
    for (const Commit& candidate : candidates) output.candidates.push_back(candidate.session());
    return output;
}

ElectionLeave::Output ElectionResource::withdraw(const std::string& name, Instance& election,
                                                 SessionId session) {
    auto& candidates = election.candidates;
    auto candidate = std::find_if(candidates.begin(), candidates.end(),
                                  [&](const Commit& c) { return c.session() == session; });
    if (candidate == candidates.end()) return ElectionLeave::Output{false, false};
    const bool was_leader = candidate == candidates.begin();
    candidates.erase(candidate);  // destroys its enter: released
    if (was_leader && !candidates.empty()) announce(name, election);
    return ElectionLeave::Output{true, was_leader};
}

void ElectionResource::announce(const std::string& name, const Instance& election) {
    const Commit& leader = election.candidates.front();
    const ElectionElected event{name, leader.index(), leader.session()};
    for (const Commit& candidate : election.candidates) {
        notify(executor_->context(), candidate.session(), event);
    }
}

void ElectionResource::on_close(statemachine::Session& session) {
    for (auto election = elections_.begin(); election != elections_.end();) {
        withdraw(election->first, election->second, session.id());
        election =
            election->second.candidates.empty() ? elections_.erase(election) : std::next(election);
    }
}

void ElectionResource::hash(StateHash& hash) const {
    hash.add(std::string_view("election"));
    hash.add(static_cast<uint64_t>(elections_.size()));
    for (const auto& [name, election] : elections_) {
        hash.add(std::string_view(name));
        hash.add(static_cast<uint64_t>(election.candidates.size()));
        for (const Commit& candidate : election.candidates) {
            hash.add(candidate.session());
            hash.add(candidate.index());
        }
    }
}

}  // namespace copycat::resources
