#include "consensus/raft/raft.h"

#include <algorithm>
#include <cstdint>

#include "common/assert.h"
#include "consensus/raft/plants.h"

namespace copycat::raft {

// What the leader knows of one other member.
struct Raft::Progress {
    NodeId id = 0;
    Index next_index = 1;
    Index match_index = 0;
    uint32_t inflight = 0;         // AppendRequests sent and not answered
    Index match_at_heartbeat = 0;  // match_index at the previous heartbeat
    uint64_t last_response_tick = 0;
    uint64_t acked_round = 0;
    uint64_t snapshot_offset = 0;  // next chunk to send while installing a snapshot
    // A chunk is out and unanswered. Not counted in inflight, which late answers to earlier
    // AppendRequests decrement: that sent a second chunk while one was out
    // (RaftSnapshot.LeaderContinuesWithAppendsAfterTheSnapshotAndTheFollowerCommitsTheRest).
    bool chunk_in_flight = false;
    // It may hold writes whose deletes this log no longer has: the global index did not count
    // it at some time (it was suspended or a reserve), or this leader does not know its past
    // (a new leader). It is sent the global index, and resets if it would take holes below it
    // (must_reset). Once it reset, or holds the log up to that bound (lacking_deletes_bound:
    // the global index and the end of this log's holes, so that it took every hole there or
    // reset), it is sent min(global index, match + 1) instead, and this leader's compaction
    // keeps the sequential entries above its match (removal_global_index): a member catching
    // up is not reset again and again by deletes removed ahead of it. Up to the global index
    // alone is not enough: a new leader's global index may lie below its holes, and a member
    // holding a write this log removed would then take, as holes, the removed writes and
    // deletes that undid it (FINDINGS.md 11, seed 22966).
    bool may_lack_deletes = true;
};

struct Raft::PendingRead {
    uint64_t id = 0;
    Index index = 0;
    uint64_t round = 0;
};

const char* role_name(Role role) {
    switch (role) {
        case Role::follower: return "follower";
        case Role::candidate: return "candidate";
        case Role::leader: return "leader";
    }
    return "unknown";
}

Status validate(const Options& options) {
    if (options.id == 0) return invalid_argument("node id 0 is reserved for \"none\"");
    if (options.heartbeat_interval_ticks == 0 ||
        options.heartbeat_interval_ticks >= options.election_timeout_ticks) {
        return invalid_argument(
            "the heartbeat interval must be above 0 and below the "
            "election timeout");
    }
    if (options.max_inflight_appends == 0) return invalid_argument("max inflight appends is 0");
    if (options.lease_fraction <= 0 || options.lease_fraction >= 1) {
        return invalid_argument("the lease fraction must be between 0 and 1");
    }
    return Status::ok();
}

Raft::Raft(const Options& options, Random& random, RestoredState restored)
    : options_(options),
      random_(random),
      hard_state_(restored.hard_state),
      log_(restored.first_index, restored.term_before_first),
      configuration_(restored.configuration),
      committed_configuration_(restored.configuration),
      snapshot_(restored.snapshot) {
    COPYCAT_ASSERT(validate(options).is_ok(), "invalid Raft options: validate() them first");
    if (snapshot_) {
        COPYCAT_ASSERT(restored.first_index <= snapshot_->index + 1,
                       "the log must continue the snapshot without a gap");
        if (snapshot_->configuration.index > committed_configuration_.index) {
            committed_configuration_ = configuration_ = snapshot_->configuration;
        }
    }
    Index expected = restored.first_index;
    bool holes = false;
    for (Entry& entry : restored.entries) {
        if (entry.type == EntryType::configuration) note_configuration_entry(entry);
        holes = holes ||
                (entry.index != expected && (!snapshot_ || entry.index > snapshot_->index + 1));
        expected = entry.index + 1;
        log_.append(std::move(entry));
    }
    // Holes its own compaction made were released by entries it had stored durably
    // (ServerStateMachine::take_released), so by its last index its state is whole again;
    // holes taken from leaders came with their bound (HardState::holes_released_by).
    hole_horizon_ = std::max(hard_state_.holes_released_by, holes ? log_.last_index() : 0);
    bool log_behind_snapshot = snapshot_ && log_.last_index() < snapshot_->index;
    if (snapshot_ && log_.first_index() <= snapshot_->index) {
        log_.compact_to(snapshot_->index, snapshot_->term);  // entries the snapshot covers
        forget_configurations_before(snapshot_->index);
    }
    if (log_behind_snapshot) {
        // The snapshot was taken past the durable log (a server applies before its own
        // fsync) and a crash lost the rest: the stored log must restart after the snapshot,
        // or the next append would leave a gap in it (copycat-sim seed 16639).
        persist(std::nullopt, std::nullopt, {});
        ready_.persist.back().snapshot = *snapshot_;
    }
    apply_configuration_from_log();
    commit_index_ = snapshot_ ? snapshot_->index : log_.first_index() - 1;
    applied_index_ = commit_index_;
    durable_index_ = log_.last_index();
    reset_election_timer();
}

Raft::~Raft() = default;

MemberType Raft::member_type() const {
    const Member* self = configuration_.find(options_.id);
    return self != nullptr ? self->type : MemberType::inactive;
}

Ready Raft::take_ready() {
    if (role_ == Role::leader && replicate_pending_) {
        replicate_pending_ = false;
        for (auto& progress : progress_) replicate(progress->id, false);
    }
    return std::exchange(ready_, Ready{});
}

// --- output -----------------------------------------------------------------------------------

void Raft::send(NodeId to, Message message, bool needs_durable_log) {
    uint64_t required = needs_durable_log ? next_persist_seq_ - 1 : hard_state_seq_;
    Envelope envelope{options_.id, to, std::move(message)};
    if (required <= persisted_seq_) {
        ready_.messages.push_back(std::move(envelope));
    } else {
        held_.push_back({required, std::move(envelope)});
    }
}

uint64_t Raft::persist(std::optional<HardState> hard_state, std::optional<Index> truncate_after,
                       std::vector<Entry> entries) {
    uint64_t seq = next_persist_seq_++;
    if (hard_state) hard_state_seq_ = seq;
    if (truncate_after) {
        // Entries after the cut are no longer durable, whatever earlier acks say.
        durable_index_ = std::min(durable_index_, *truncate_after);
        for (auto& [pending_seq, last] : unpersisted_) last = std::min(last, *truncate_after);
    }
    unpersisted_.push_back({seq, log_.last_index()});
    ready_.persist.push_back(
        PersistOp{seq, hard_state, std::nullopt, truncate_after, std::move(entries)});
    return seq;
}

void Raft::save_hard_state() { persist(hard_state_, std::nullopt, {}); }

void Raft::persisted(uint64_t seq) {
    if (seq <= persisted_seq_) return;
    COPYCAT_ASSERT(seq < next_persist_seq_, "persisted() for an operation never handed out");
    persisted_seq_ = seq;
    while (!unpersisted_.empty() && unpersisted_.front().first <= seq) {
        durable_index_ = std::max(durable_index_, unpersisted_.front().second);
        unpersisted_.erase(unpersisted_.begin());
    }
    durable_index_ = std::min(durable_index_, log_.last_index());
    auto ready_end = std::stable_partition(held_.begin(), held_.end(),
                                           [&](const auto& held) { return held.first <= seq; });
    for (auto it = held_.begin(); it != ready_end; ++it) {
        ready_.messages.push_back(std::move(it->second));
    }
    held_.erase(held_.begin(), ready_end);
    if (role_ == Role::candidate && persisted_seq_ >= hard_state_seq_ &&
        granted_by_voters() >= configuration_.quorum()) {
        become_leader();  // the only voter: its own vote, now durable, elects it
    }
    if (role_ == Role::leader) advance_commit();
}

// --- roles and timers -------------------------------------------------------------------------

void Raft::reset_election_timer() {
    uint64_t timeout = options_.election_timeout_ticks;
    election_deadline_ = ticks_ + timeout + random_.uniform(timeout);
}

// Also true in the quiet period after a start (Options::quiet_ticks_after_start).
bool Raft::heard_from_leader_recently() const {
    if (role_ == Role::leader) return true;
    if (ticks_ < options_.quiet_ticks_after_start) return true;
    return leader_ != 0 && ticks_ - last_leader_contact_ < options_.election_timeout_ticks;
}

void Raft::tick() {
    ticks_++;
    if (role_ == Role::leader) {
        tick_leader();
    } else {
        tick_follower();
    }
}

void Raft::tick_follower() {
    if (ticks_ < election_deadline_) return;
    if (!may_campaign()) {
        reset_election_timer();
        return;
    }
    if (options_.pre_vote) {
        start_poll();
    } else {
        become_candidate();
    }
}

// A voter of the configuration in force campaigns; so does one whose own removal or demotion is
// the latest configuration of its log, not known committed: the voters left may lack that
// entry and need its log to elect anyone. It then leads without counting itself, commits the
// change and steps down (commit_configurations). Without this, copycat-sim seeds 87, 155, 169,
// 303 and 332 stalled for good: the leader removed itself and crashed before the change
// committed, and the only other voter, behind, could win no vote
// (RaftMembership.LeaderThatRemovedItselfAndRestartedCampaignsUntilTheRemovalCommits).
bool Raft::may_campaign() const {
    // Since a reset, not until it holds the log it dropped again: it may have acknowledged
    // entries there, and its configuration may be older than the one it had (its own vote and
    // an old configuration could elect it without them).
    if (!log_up_to_date(log_.last_index(), log_.last_term())) return false;
    if (member_type() == MemberType::active) return true;
    if (configuration_.index <= commit_index_ || log_configurations_.empty() ||
        log_configurations_.rbegin()->first != configuration_.index) {
        return false;
    }
    auto latest = std::prev(log_configurations_.end());
    const Configuration& previous = latest == log_configurations_.begin()
                                        ? committed_configuration_
                                        : std::prev(latest)->second;
    return previous.index < configuration_.index && previous.is_voter(options_.id);
}

// Votes count for the configuration in force: a candidate outside it does not count its own.
size_t Raft::granted_by_voters() const {
    size_t granted = 0;
    for (NodeId id : votes_granted_) granted += configuration_.is_voter(id) ? 1 : 0;
    return granted;
}

void Raft::become_follower(Term term, NodeId leader) {
    bool was_leader = role_ == Role::leader;
    if (term > hard_state_.term) {
        hard_state_.term = term;
        hard_state_.vote = 0;
        save_hard_state();
    }
    role_ = Role::follower;
    leader_ = leader;
    polling_ = false;
    transfer_election_ = false;
    if (was_leader) {
        fail_reads(ReadStatus::lost_leadership);
        progress_.clear();
        progress_index_.clear();
        transfer_target_.reset();
    }
    reset_election_timer();
}

void Raft::start_poll() {
    leader_ = 0;
    reset_election_timer();
    if (sole_voter()) {
        become_candidate();
        return;
    }
    polling_ = true;
    votes_granted_ = {options_.id};
    votes_refused_.clear();
    PollRequest poll{hard_state_.term + 1, options_.id, log_.last_index(), log_.last_term()};
    for (NodeId voter : configuration_.voters()) {
        if (voter != options_.id) send(voter, poll, false);
    }
}

void Raft::become_candidate() {
    role_ = Role::candidate;
    polling_ = false;
    leader_ = 0;
    hard_state_.term += 1;
    hard_state_.vote = options_.id;
    save_hard_state();
    votes_granted_ = {options_.id};
    votes_refused_.clear();
    reset_election_timer();
    // The only voter of its configuration wins by its own vote, but only once the vote (and
    // the term) is durable, in persisted(): leading at once let a crash lose the term, and the
    // restarted server led the same term again with a different entry at the same index
    // (copycat-sim seeds 293 and 394: log matching; RaftElection.
    // OnlyVoterLeadsOnceItsOwnVoteIsDurable). Vote requests are held until then anyway.
    VoteRequest request{hard_state_.term, options_.id, log_.last_index(), log_.last_term(),
                        transfer_election_};
    for (NodeId voter : configuration_.voters()) {
        if (voter != options_.id) send(voter, request, false);
    }
}

void Raft::become_leader() {
    role_ = Role::leader;
    leader_ = options_.id;
    transfer_election_ = false;
    progress_.clear();
    progress_index_.clear();
    for (const Member& member : configuration_.members) add_progress(member.id);
    lease_round_start_tick_ = 0;
    lease_valid_ = false;
    lease_forfeited_ = false;
    round_ = 0;
    round_start_tick_.clear();
    Entry initialize{
        hard_state_.term,    log_.last_index() + 1, EntryType::initialize, stamp(), 0, {},
        previous_timestamp()};
    first_index_of_term_ = initialize.index;
    append_local({std::move(initialize)});
    last_heartbeat_ = ticks_;
    start_round();
    broadcast();
}

void Raft::add_progress(NodeId id) {
    if (id == options_.id || progress_index_.count(id) > 0) return;
    const Member* member = configuration_.find(id);
    if (member == nullptr || member->type == MemberType::inactive) return;
    auto progress = std::make_unique<Progress>();
    progress->id = id;
    progress->next_index = log_.last_index() + 1;
    progress->last_response_tick = ticks_;
    progress_index_[id] = progress.get();
    progress_.push_back(std::move(progress));
}

void Raft::tick_leader() {
    if (ticks_ - last_heartbeat_ >= options_.heartbeat_interval_ticks) {
        last_heartbeat_ = ticks_;
        // Only answers free the window, so lost requests (heartbeats too) would shut it for
        // good: a window still full after a whole interval without progress is presumed
        // lost, and the next request probes from next_index (RaftReplication.
        // LeaderRetriesUntilAFollowerThatLostHeartbeatsStoresEveryEntry).
        for (auto& p : progress_) {
            bool stalled = p->match_index == p->match_at_heartbeat;
            if (stalled && p->inflight >= options_.max_inflight_appends) p->inflight = 0;
            // A snapshot goes one chunk at a time, so a lost chunk would stop it for good: one
            // unanswered for a whole interval is presumed lost and sent again
            // (RaftSnapshot.LeaderSendsALostChunkAgain).
            if (ticks_ - p->last_response_tick >= options_.heartbeat_interval_ticks) {
                p->chunk_in_flight = false;
            }
            p->match_at_heartbeat = p->match_index;
        }
        start_round();
        broadcast();
    }
    if (transfer_target_ && ticks_ >= transfer_deadline_) transfer_target_.reset();
    // Step down when a majority has not answered for two election timeouts (copycat.md 4.2).
    std::vector<uint64_t> heard = {ticks_};
    for (const auto& progress : progress_) {
        if (configuration_.is_voter(progress->id)) heard.push_back(progress->last_response_tick);
    }
    std::sort(heard.rbegin(), heard.rend());
    uint64_t majority_heard = heard[std::min(heard.size(), configuration_.quorum()) - 1];
    if (ticks_ - majority_heard > 2ull * options_.election_timeout_ticks) {
        become_follower(hard_state_.term, 0);
        return;
    }
    check_availability();
}

// --- elections --------------------------------------------------------------------------------

void Raft::step(const Envelope& envelope) {
    if (envelope.to != options_.id || envelope.from == options_.id) return;
    std::visit([&](const auto& message) { handle(envelope.from, message); }, envelope.message);
}

bool Raft::log_up_to_date(Index last_index, Term last_term) const {
    if (COPYCAT_PLANT(vote_without_log_check)) return true;
    const auto at_least = [&](Term term, Index index) {
        return last_term > term || (last_term == term && last_index >= index);
    };
    // After a reset, also the log it dropped: it may have acknowledged entries there.
    return at_least(log_.last_term(), log_.last_index()) &&
           at_least(hard_state_.floor_term, hard_state_.floor_index);
}

// Polls and votes do not consult this server's configuration: a voter whose log is behind may
// not know yet that the candidate was made a voter, and its vote may be the one the candidate
// needs (Raft dissertation §4.1: "a server also grants its vote to a candidate that is not part
// of its latest configuration"). Refusing it stalled copycat-sim seeds 51 and 71 for good: n3,
// the leader's last voter besides n4 (just promoted, behind), could not be elected because
// n4's stale configuration still listed n3 as passive. Safety rests on the log check and the
// candidate's own quorum; a member that is not a voter of its own configuration never
// campaigns (RaftVote.VoteIsGrantedToACandidateTheVotersStaleConfigurationDoesNotListAsVoter).
void Raft::handle(NodeId from, const PollRequest& request) {
    bool accepted = request.term > hard_state_.term && role_ != Role::leader &&
                    !heard_from_leader_recently() &&
                    log_up_to_date(request.last_index, request.last_term);
    send(from, PollResponse{hard_state_.term, accepted}, false);
}

void Raft::handle(NodeId from, const PollResponse& response) {
    if (!polling_) return;
    if (response.term > hard_state_.term && !response.accepted) {
        become_follower(response.term, 0);
        return;
    }
    (response.accepted ? votes_granted_ : votes_refused_).insert(from);
    if (granted_by_voters() >= configuration_.quorum()) {
        become_candidate();
    } else if (votes_refused_.size() >= configuration_.quorum()) {
        polling_ = false;
    }
}

void Raft::handle(NodeId from, const VoteRequest& request) {
    if (request.term < hard_state_.term || (!request.transfer && heard_from_leader_recently())) {
        send(from, VoteResponse{hard_state_.term, false}, false);
        return;
    }
    if (request.term > hard_state_.term) become_follower(request.term, 0);
    bool grant = (hard_state_.vote == 0 || hard_state_.vote == request.candidate) &&
                 role_ == Role::follower && log_up_to_date(request.last_index, request.last_term);
    if (grant && hard_state_.vote != request.candidate) {
        hard_state_.vote = request.candidate;
        save_hard_state();
    }
    if (grant) reset_election_timer();
    VoteResponse response{hard_state_.term, grant};
    if (COPYCAT_PLANT(vote_before_term_durable)) {
        ready_.messages.push_back({options_.id, from, response});
    } else {
        send(from, response, false);
    }
}

void Raft::handle(NodeId from, const VoteResponse& response) {
    if (response.term > hard_state_.term) {
        become_follower(response.term, 0);
        return;
    }
    if (role_ != Role::candidate || response.term != hard_state_.term) return;
    (response.granted ? votes_granted_ : votes_refused_).insert(from);
    if (granted_by_voters() >= configuration_.quorum()) {
        become_leader();
    } else if (votes_refused_.size() >= configuration_.quorum()) {
        become_follower(hard_state_.term, 0);
    }
}

void Raft::handle(NodeId from, const TimeoutNow& request) {
    if (request.term != hard_state_.term || from != leader_) return;
    if (member_type() != MemberType::active) return;
    transfer_election_ = true;
    become_candidate();
}

// --- replication: follower side ---------------------------------------------------------------

void Raft::accept_leader(Term term, NodeId leader) {
    if (term > hard_state_.term || role_ != Role::follower || leader_ != leader) {
        become_follower(term, leader);
    }
    last_leader_contact_ = ticks_;
    reset_election_timer();
}

namespace {

// What a leader never sends: entries out of order, at or before prev_index, or with terms going
// back or past the request's term.
bool well_formed(const AppendRequest& request) {
    Index previous = request.prev_index;
    Term previous_term = request.prev_term;
    for (const Entry& entry : request.entries) {
        if (entry.index <= previous || entry.term < previous_term || entry.term > request.term) {
            return false;
        }
        previous = entry.index;
        previous_term = entry.term;
    }
    return true;
}

}  // namespace

void Raft::handle(NodeId from, const AppendRequest& request) {
    if (request.term < hard_state_.term) {
        send(from, AppendResponse{hard_state_.term, false, log_.last_index(), request.round},
             false);
        return;
    }
    accept_leader(request.term, request.leader);
    if (!well_formed(request)) return;
    global_index_ = std::max(global_index_, request.global_index);
    std::optional<Term> prev_term = log_.term_at(request.prev_index);
    if (request.prev_index > log_.last_index() || !prev_term) {
        send(from, AppendResponse{hard_state_.term, false, log_.last_index(), request.round},
             false);
        return;
    }
    if (*prev_term != request.prev_term) {
        Index hint = log_.first_index_of_term_at(request.prev_index) - 1;
        send(from, AppendResponse{hard_state_.term, false, hint, request.round}, false);
        return;
    }
    AppendOutcome outcome = append_from_leader(request);
    if (outcome == AppendOutcome::reset) {
        send(from, AppendResponse{hard_state_.term, false, 0, request.round, true}, true);
        return;
    }
    if (outcome == AppendOutcome::refused) {
        send(from, AppendResponse{hard_state_.term, false, commit_index_, request.round}, false);
        return;
    }
    Index verified = request.entries.empty() ? request.prev_index : request.entries.back().index;
    Index commit_to = std::min(request.commit_index, verified);
    if (COPYCAT_PLANT(follower_commits_past_verified)) {
        commit_to = std::min(request.commit_index, log_.last_index());
    }
    if (commit_to > commit_index_) set_commit(commit_to);
    send(from, AppendResponse{hard_state_.term, true, verified, request.round}, true);
}

// Appends what is new in the request, cutting a conflicting suffix first. The leader's log over
// (prev_index, last entry] is its entries and the holes between them, each hole of the term of
// the entry before it (log.h); the first index where this log differs from that is where the
// suffix is cut. Refused if that reaches a committed entry (the leader is wrong; nothing is
// changed); reset if taking the rest could miss deletes (must_reset).
Raft::AppendOutcome Raft::append_from_leader(const AppendRequest& request) {
    const std::vector<Entry>& entries = request.entries;
    Index previous = request.prev_index;
    Term previous_term = request.prev_term;
    size_t first_new = entries.size();
    std::optional<Index> conflict;
    for (size_t i = 0; i < entries.size(); ++i) {
        const Entry& entry = entries[i];
        // Entries a snapshot already covers are committed: nothing to compare or keep
        // (a delayed request after compaction; FINDINGS.md, seed 2834).
        bool covered = entry.index < log_.first_index();
        if (!covered) {
            Index gap_end = std::min(entry.index - 1, log_.last_index());
            conflict = log_.first_term_other_than(previous + 1, gap_end, previous_term);
            if (!conflict && entry.index <= log_.last_index() &&
                log_.term_at(entry.index) != entry.term) {
                conflict = entry.index;
            }
            if (conflict || entry.index > log_.last_index()) {
                first_new = i;
                break;
            }
        }
        previous = entry.index;
        previous_term = entry.term;
    }
    if (conflict && *conflict <= commit_index_) return AppendOutcome::refused;
    if (first_new == entries.size()) return AppendOutcome::appended;
    Index take_from = conflict ? *conflict : log_.last_index() + 1;
    if (must_reset(request, take_from)) {
        reset_log_and_state();
        return AppendOutcome::reset;
    }
    if (conflict) {
        log_.truncate_after(*conflict - 1);
        forget_configurations_after(*conflict - 1);
    }
    std::vector<Entry> fresh(entries.begin() + static_cast<long>(first_new), entries.end());
    // Holes: entries the leader's log no longer has, released by entries at or below
    // holes_released_by. Until this node applies that far, its state is not the state of any
    // prefix of the log (hole_horizon()).
    Index expected = take_from;
    bool raise_bound = false;
    for (const Entry& entry : fresh) {
        if (entry.index != expected && request.holes_released_by > hard_state_.holes_released_by) {
            hard_state_.holes_released_by = request.holes_released_by;
            raise_bound = true;
        }
        expected = entry.index + 1;
    }
    hole_horizon_ = std::max(hole_horizon_, hard_state_.holes_released_by);
    for (const Entry& entry : fresh) {
        if (entry.type == EntryType::configuration) note_configuration_entry(entry);
        log_.append(entry);
    }
    apply_configuration_from_log();
    persist(raise_bound ? std::optional<HardState>(hard_state_) : std::nullopt,
            conflict ? std::optional<Index>(*conflict - 1) : std::nullopt, std::move(fresh));
    return AppendOutcome::appended;
}

// A follower that would take holes below the global index from the leader, while it holds
// state of its own, may lack deletes the leader's log no longer has (they were removed once
// every member that counted had them; this one did not count: copycat.md §4.12). Its state
// could then keep writes those deletes undid: it must start again from nothing. Members the
// global index counts have the log up to it, so they never take holes below it.
bool Raft::must_reset(const AppendRequest& request, Index take_from) const {
    bool holds_state = !log_.empty() || applied_index_ > 0 || snapshot_.has_value();
    if (!holds_state || take_from >= request.global_index) return false;
    Index end = std::min(request.global_index, request.entries.back().index + 1);
    Index held = 0;
    for (const Entry& entry : request.entries) {
        if (entry.index >= take_from && entry.index < end) ++held;
    }
    return held < end - take_from;
}

void Raft::reset_log_and_state() {
    hole_horizon_ = 0;
    hard_state_.holes_released_by = 0;
    // Votes keep counting what it drops (HardState::floor_*), durably with the reset.
    const Term last_term = log_.last_term();
    const Index last_index = log_.last_index();
    if (last_term > hard_state_.floor_term ||
        (last_term == hard_state_.floor_term && last_index > hard_state_.floor_index)) {
        hard_state_.floor_term = last_term;
        hard_state_.floor_index = last_index;
    }
    log_ = RaftLog(1, 0);
    log_configurations_.clear();
    commit_index_ = 0;
    applied_index_ = 0;
    durable_index_ = 0;
    snapshot_.reset();
    receiving_.reset();
    received_bytes_.clear();
    for (auto& [seq, last] : unpersisted_) last = 0;
    ready_.committed.clear();
    ready_.install.reset();
    ready_.reset = true;
    persist(hard_state_, std::nullopt, {});
    ready_.persist.back().reset_log = true;
}

void Raft::handle(NodeId from, const ConfigureRequest& request) {
    if (request.term < hard_state_.term) {
        send(from, ConfigureResponse{hard_state_.term}, false);
        return;
    }
    accept_leader(request.term, request.leader);
    if (request.configuration.index >= configuration_.index) {
        configuration_ = request.configuration;
        committed_configuration_ = request.configuration;
    }
    send(from, ConfigureResponse{hard_state_.term}, false);
}

// --- replication: leader side -----------------------------------------------------------------

void Raft::start_round() {
    round_++;
    round_start_tick_[round_] = ticks_;
    for (PendingRead& read : reads_waiting_) {
        read.round = round_;
        reads_in_round_.push_back(read);
    }
    reads_waiting_.clear();
}

void Raft::broadcast() {
    for (auto& progress : progress_) replicate(progress->id, true);
}

// Sends what `to` needs: entries within the pipelining window, else (with heartbeat) an
// empty AppendRequest from its next index that still carries the round and commit index.
void Raft::replicate(NodeId to, bool heartbeat) {
    Progress& p = *progress_index_.at(to);
    const Member* member = configuration_.find(to);
    if (member == nullptr) return;
    if (member->type == MemberType::reserve) {
        if (heartbeat) {
            send(to, ConfigureRequest{hard_state_.term, options_.id, commit_index_, configuration_},
                 false);
        }
        return;
    }
    if (p.next_index < log_.first_index()) {
        if (send_snapshot_chunk(p) || !heartbeat) return;
    }
    // A passive member gets committed entries only; the limit is held (never a hole), so a
    // request always carries an entry.
    Index limit = member->type == MemberType::passive ? log_.held_at_or_before(commit_index_)
                                                      : log_.last_index();
    bool window_open = p.inflight < options_.max_inflight_appends;
    if (window_open && p.next_index <= limit) {
        AppendRequest request = make_append(p.next_index - 1, p);
        request.entries = log_.slice(p.next_index, limit, options_.max_append_bytes);
        p.next_index = request.entries.back().index + 1;
        p.inflight++;
        send(to, std::move(request), false);
    } else if (heartbeat) {
        // From next_index, not match_index: a probe from the match index always succeeds, so
        // a follower whose next_index ran ahead of its log (a member just added, lost
        // requests) would never be backed off to and never get its missing entries
        // (RaftMembership.AddedVoterIsBroughtUpToDateAndItsAdditionCommits).
        p.inflight++;
        Index prev =
            std::max(std::min(p.next_index - 1, log_.last_index()), log_.first_index() - 1);
        send(to, make_append(prev, p), false);
    }
}

AppendRequest Raft::make_append(Index prev_index, const Progress& to) const {
    std::optional<Term> prev_term = log_.term_at(prev_index);
    COPYCAT_ASSERT(prev_term.has_value(), "replicating from before the log (needs a snapshot)");
    // A member that may lack deletes is sent at least the end of this log's holes: the global
    // index is not stored, so after a restart or a change of leader it may lie below deletes
    // compaction removed (here or on an earlier leader), and a member holding the writes they
    // undid must reset rather than take those holes (FINDINGS.md 9, seed 1248).
    const Index global =
        to.may_lack_deletes ? lacking_deletes_bound() : std::min(global_index_, to.match_index + 1);
    // Its own compaction removes only entries released by applied (so committed) entries; holes
    // it took from a leader or found in its stored log came with their own bound.
    return AppendRequest{hard_state_.term,
                         options_.id,
                         prev_index,
                         *prev_term,
                         commit_index_,
                         global,
                         round_,
                         {},
                         std::max(commit_index_, hole_horizon_)};
}

// The leader's record of `from` for a response of `term`, with the time it answered
// noted; null when the response is not for this leader. A higher term ends leadership.
Raft::Progress* Raft::answering_progress(NodeId from, Term term) {
    if (term > hard_state_.term) {
        become_follower(term, 0);
        return nullptr;
    }
    if (role_ != Role::leader || term != hard_state_.term) return nullptr;
    auto found = progress_index_.find(from);
    if (found == progress_index_.end()) return nullptr;
    found->second->last_response_tick = ticks_;
    return found->second;
}

void Raft::handle(NodeId from, const AppendResponse& response) {
    Progress* answering = answering_progress(from, response.term);
    if (answering == nullptr) return;
    Progress& p = *answering;
    p.inflight = p.inflight > 0 ? p.inflight - 1 : 0;
    confirm_round(p, response.round);
    if (response.reset) {
        p.match_index = 0;  // it dropped its log: everything goes again, from index 1
        p.next_index = 1;
        p.inflight = 0;
        p.may_lack_deletes = false;
    } else if (response.success) {
        p.match_index = std::max(p.match_index, response.index);
        p.next_index = std::max(p.next_index, p.match_index + 1);
        if (p.match_index >= lacking_deletes_bound()) p.may_lack_deletes = false;
        advance_commit();
    } else {
        // A follower that reset answers with less than it once matched; so may a late success
        // from before its reset have raised match_index again. Believe the lower figure, or
        // its missing entries would never be sent.
        p.match_index = std::min(p.match_index, response.index);
        p.next_index = std::max(p.match_index + 1, std::min(p.next_index, response.index + 1));
        p.inflight = 0;
    }
    if (role_ != Role::leader) return;
    if (transfer_target_ == from && p.match_index == log_.last_index()) {
        lease_forfeited_ = true;
        send(from, TimeoutNow{hard_state_.term}, false);
    }
    replicate(from, false);
}

void Raft::handle(NodeId from, const ConfigureResponse& response) {
    answering_progress(from, response.term);  // a sign of life, for availability
}

void Raft::advance_commit() {
    Index own = COPYCAT_PLANT(leader_counts_own_unpersisted) ? log_.last_index() : durable_index_;
    std::vector<Index> matches;
    if (configuration_.is_voter(options_.id)) matches.push_back(own);
    for (const auto& progress : progress_) {
        if (configuration_.is_voter(progress->id)) matches.push_back(progress->match_index);
    }
    update_global_index(own);
    size_t quorum = configuration_.quorum();
    if (matches.size() < quorum) return;
    std::sort(matches.rbegin(), matches.rend());
    Index candidate = matches[quorum - 1];
    if (candidate <= commit_index_) return;
    // Only entries of the current term commit by counting (Raft paper, Figure 8).
    bool of_current_term = log_.term_at(candidate) == hard_state_.term;
    if (!of_current_term && !COPYCAT_PLANT(commit_old_term_by_counting)) return;
    set_commit(candidate);
}

// The lowest index every member that keeps a log has stored (copycat.md §4.12). A member marked
// unavailable still counts until it has been silent for global_suspend_ticks: deletes below the
// global index may be compacted away, and a member that lacks them must not be caught up from
// such a log (must_reset).
void Raft::update_global_index(Index own) {
    Index lowest = own;
    for (const auto& progress : progress_) {
        const Member* member = configuration_.find(progress->id);
        if (member == nullptr || member->type == MemberType::reserve || suspended(*progress)) {
            progress->may_lack_deletes = true;
            continue;
        }
        lowest = std::min(lowest, progress->match_index);
    }
    global_index_ = std::max(global_index_, lowest);
}

// The global index sent to a member that may lack deletes: below it, it resets rather than
// take a hole (must_reset). Every hole of this log lies below it.
Index Raft::lacking_deletes_bound() const { return std::max(global_index_, log_.hole_end()); }

Index Raft::compaction_global_index() const {
    if (!snapshot_) return global_index_;
    return std::min(global_index_, snapshot_->index + 1);
}

// Below what this node's compaction may remove sequential entries from its in-memory log:
// compaction_global_index(), and on a leader, no higher than any member that is caught up from
// this log without a reset (may_lack_deletes): a delete above its match could go while it
// already holds the write the delete undid.
Index Raft::removal_global_index() const {
    Index bound = compaction_global_index();
    if (role_ != Role::leader) return bound;
    for (const auto& progress : progress_) {
        const Member* member = configuration_.find(progress->id);
        if (member == nullptr || member->type == MemberType::reserve ||
            progress->may_lack_deletes) {
            continue;
        }
        bound = std::min(bound, progress->match_index + 1);
    }
    return bound;
}

bool Raft::suspended(const Progress& progress) const {
    const Member* member = configuration_.find(progress.id);
    return member != nullptr && !member->available &&
           ticks_ - progress.last_response_tick > options_.global_suspend_ticks;
}

void Raft::set_commit(Index index) {
    index = std::min(index, log_.last_index());
    if (index <= commit_index_) return;
    commit_index_ = index;
    for (Entry& entry : log_.slice(applied_index_ + 1, commit_index_, SIZE_MAX)) {
        ready_.committed.push_back(std::move(entry));
    }
    applied_index_ = commit_index_;
    commit_configurations(commit_index_);
    if (role_ == Role::leader) {
        replicate_pending_ = true;
        if (commit_index_ >= first_index_of_term_) release_reads_for_commit();
    }
}

void Raft::append_local(std::vector<Entry> entries) {
    for (const Entry& entry : entries) {
        if (entry.type == EntryType::configuration) note_configuration_entry(entry);
        log_.append(entry);
    }
    apply_configuration_from_log();
    persist(std::nullopt, std::nullopt, std::move(entries));
    replicate_pending_ = true;
}

// The timestamp of a new entry: this leader's clock, but never below the entry before it, so
// that timestamps never go back along the log. Log time (the session layer's clock: the highest
// timestamp applied) is then the timestamp of the last entry applied, and a replay that skips
// entries compaction removed has the same log time at every entry it applies.
uint64_t Raft::stamp() const { return std::max(now_ms_, previous_timestamp()); }

// The timestamp of the last entry: the entry before a new one (the last entry is never
// compacted away); 0 after a snapshot with nothing after it.
uint64_t Raft::previous_timestamp() const {
    const Entry* last = log_.find(log_.last_index());
    return last != nullptr ? last->timestamp_ms : 0;
}

// --- reads ------------------------------------------------------------------------------------

void Raft::read_index(uint64_t read_id) {
    if (role_ != Role::leader) {
        ready_.reads.push_back({read_id, ReadStatus::not_leader, 0});
        return;
    }
    if (commit_index_ < first_index_of_term_) {
        reads_for_commit_.push_back({read_id, 0, 0});  // the read index is not known yet
        return;
    }
    PendingRead read{read_id, commit_index_, 0};
    if (sole_voter() || COPYCAT_PLANT(read_without_confirmation)) {
        ready_.reads.push_back({read_id, ReadStatus::ready, read.index});
        return;
    }
    reads_waiting_.push_back(read);
    if (reads_in_round_.empty()) {
        start_round();  // confirmed by a round that starts after the index was fixed
        broadcast();
    }
}

void Raft::lease_read(uint64_t read_id) {
    if (role_ == Role::leader && commit_index_ >= first_index_of_term_ && lease_holds()) {
        ready_.reads.push_back({read_id, ReadStatus::ready, commit_index_});
        return;
    }
    read_index(read_id);
}

// Followers that heard from this leader will not vote for anyone else for an election
// timeout after (heard_from_leader_recently); the lease is a fraction of that, counted from
// the start of the last round a majority confirmed.
//
// A transfer election ignores stickiness, so once a TimeoutNow is out a new leader can be
// elected and commit while the lease still runs, however late its vote requests arrive: the
// lease is given up for the rest of the term
// (RaftLease.LeaseReadIsNotServedOnceALeadershipTransferStarted).
// This server alone is a quorum. Not so for a leader that appended its own removal or demotion:
// the voters left may elect another leader without it, and it must confirm its reads with
// them (copycat-sim seed 274: the removed leader answered a read at once while the only voter
// left had elected itself and committed past it; RaftRead.
// LeaderThatAppendedItsOwnRemovalConfirmsReadsWithTheVotersLeft).
bool Raft::sole_voter() const {
    return configuration_.quorum() <= 1 && configuration_.is_voter(options_.id);
}

bool Raft::lease_holds() const {
    if (lease_forfeited_) return false;
    if (sole_voter()) return true;
    if (!lease_valid_) return false;
    double lease_ticks = options_.election_timeout_ticks * options_.lease_fraction;
    return static_cast<double>(ticks_ - lease_round_start_tick_) < lease_ticks;
}

void Raft::release_reads_for_commit() {
    for (PendingRead& read : reads_for_commit_) {
        read.index = commit_index_;
        reads_waiting_.push_back(read);
    }
    bool any = !reads_for_commit_.empty();
    reads_for_commit_.clear();
    if (any && reads_in_round_.empty()) {
        start_round();
        broadcast();
    }
}

void Raft::confirm_round(Progress& progress, uint64_t round) {
    if (round <= progress.acked_round) return;
    progress.acked_round = round;
    // This leader is in every round it starts, but counts only while it is a voter: once its
    // own removal or demotion is appended, the voters left elect without it.
    std::vector<uint64_t> acked;
    if (configuration_.is_voter(options_.id)) acked.push_back(round_);
    for (const auto& p : progress_) {
        if (configuration_.is_voter(p->id)) acked.push_back(p->acked_round);
    }
    size_t quorum = configuration_.quorum();
    if (acked.size() < quorum) return;
    std::sort(acked.rbegin(), acked.rend());
    uint64_t confirmed = acked[quorum - 1];
    auto started = round_start_tick_.find(confirmed);
    if (started != round_start_tick_.end()) {
        lease_round_start_tick_ = std::max(lease_round_start_tick_, started->second);
        lease_valid_ = true;
    }
    while (!reads_in_round_.empty() && reads_in_round_.front().round <= confirmed) {
        ready_.reads.push_back(
            {reads_in_round_.front().id, ReadStatus::ready, reads_in_round_.front().index});
        reads_in_round_.pop_front();
    }
    round_start_tick_.erase(round_start_tick_.begin(), round_start_tick_.lower_bound(confirmed));
    if (reads_in_round_.empty() && !reads_waiting_.empty()) {
        start_round();
        broadcast();
    }
}

void Raft::fail_reads(ReadStatus status) {
    for (auto* queue : {&reads_for_commit_, &reads_waiting_, &reads_in_round_}) {
        for (const PendingRead& read : *queue) ready_.reads.push_back({read.id, status, 0});
        queue->clear();
    }
}

// --- proposals, configuration, transfer -------------------------------------------------------

Result<Index> Raft::propose(std::vector<uint8_t> payload, uint8_t compaction_mode) {
    if (role_ != Role::leader) {
        return Status(StatusCode::unavailable,
                      "not the leader (leader hint " + std::to_string(leader_) + ")");
    }
    if (transfer_target_) return Status(StatusCode::unavailable, "leadership transfer under way");
    Entry entry{hard_state_.term, log_.last_index() + 1, EntryType::command,  stamp(),
                compaction_mode,  std::move(payload),    previous_timestamp()};
    Index index = entry.index;
    append_local({std::move(entry)});
    return index;
}

Result<Index> Raft::propose_configuration(std::vector<Member> members,
                                          Index expected_configuration_index,
                                          std::optional<Term> expected_configuration_term) {
    if (role_ != Role::leader) return Status(StatusCode::unavailable, "not the leader");
    if (commit_index_ < first_index_of_term_ || configuration_.index > commit_index_) {
        return Status(StatusCode::unavailable, "a configuration change is in progress");
    }
    bool same_term =
        !expected_configuration_term || *expected_configuration_term == configuration_.term;
    if (expected_configuration_index != configuration_.index || !same_term) {
        return conflict("the configuration changed: expected index " +
                        std::to_string(expected_configuration_index) + ", current " +
                        std::to_string(configuration_.index) + " (term " +
                        std::to_string(configuration_.term) + ")");
    }
    std::sort(members.begin(), members.end(),
              [](const Member& a, const Member& b) { return a.id < b.id; });
    Configuration next{log_.last_index() + 1, hard_state_.term, std::move(members)};
    size_t changed_voters = 0;
    for (NodeId id : configuration_.voters()) changed_voters += next.is_voter(id) ? 0 : 1;
    for (NodeId id : next.voters()) changed_voters += configuration_.is_voter(id) ? 0 : 1;
    if (changed_voters > 1) {
        return invalid_argument("one voter at a time: this change adds or removes " +
                                std::to_string(changed_voters));
    }
    if (next.voters().empty()) return invalid_argument("a configuration needs a voter");
    Entry entry{
        hard_state_.term,           next.index,          EntryType::configuration, stamp(), 0,
        encode_configuration(next), previous_timestamp()};
    append_local({std::move(entry)});
    return next.index;
}

Status Raft::transfer_leadership(NodeId target) {
    if (role_ != Role::leader) return Status(StatusCode::unavailable, "not the leader");
    if (target == options_.id) return Status::ok();
    if (!configuration_.is_voter(target) || progress_index_.count(target) == 0) {
        return invalid_argument("node " + std::to_string(target) + " is not a voter");
    }
    transfer_target_ = target;
    transfer_deadline_ = ticks_ + options_.election_timeout_ticks;
    const Progress& p = *progress_index_.at(target);
    if (p.match_index == log_.last_index()) {
        lease_forfeited_ = true;
        send(target, TimeoutNow{hard_state_.term}, false);
    } else {
        replicate(target, false);
    }
    return Status::ok();
}

void Raft::note_configuration_entry(const Entry& entry) {
    Result<Configuration> decoded = decode_configuration(entry.payload);
    COPYCAT_ASSERT(decoded.is_ok(), "a configuration entry that does not decode");
    log_configurations_[entry.index] = *decoded;
}

void Raft::forget_configurations_before(Index index) {
    auto end = log_configurations_.lower_bound(index);
    if (end != log_configurations_.begin()) {
        committed_configuration_ = std::prev(end)->second;
        log_configurations_.erase(log_configurations_.begin(), end);
    }
}

void Raft::forget_configurations_after(Index index) {
    log_configurations_.erase(log_configurations_.upper_bound(index), log_configurations_.end());
}

// The configuration in force is the latest in the log, committed or not (single-server
// changes take effect when appended), else the last committed one.
void Raft::apply_configuration_from_log() {
    const Configuration& latest = log_configurations_.empty()
                                      ? committed_configuration_
                                      : log_configurations_.rbegin()->second;
    if (latest == configuration_) return;
    configuration_ = latest;
    if (role_ != Role::leader) return;
    for (const Member& member : configuration_.members) add_progress(member.id);
    std::erase_if(progress_, [&](const auto& p) {
        const Member* member = configuration_.find(p->id);
        bool gone = member == nullptr || member->type == MemberType::inactive;
        if (gone) progress_index_.erase(p->id);
        return gone;
    });
}

void Raft::commit_configurations(Index commit_index) {
    auto end = log_configurations_.upper_bound(commit_index);
    if (end == log_configurations_.begin()) return;
    committed_configuration_ = std::prev(end)->second;
    log_configurations_.erase(log_configurations_.begin(), std::prev(end));
    if (role_ == Role::leader && !configuration_.is_voter(options_.id) &&
        committed_configuration_.index == configuration_.index) {
        become_follower(hard_state_.term, 0);  // removed or demoted: hand over
    }
}

// Marks members that stopped answering UNAVAILABLE, and back, by a committed change
// (copycat.md 4.11); one change at a time, never while another is in flight.
void Raft::check_availability() {
    if (commit_index_ < first_index_of_term_ || configuration_.index > commit_index_) return;
    uint64_t limit =
        uint64_t{options_.heartbeat_interval_ticks} * options_.unavailable_after_heartbeats;
    for (const auto& progress : progress_) {
        const Member* member = configuration_.find(progress->id);
        bool silent = ticks_ - progress->last_response_tick > limit;
        if (member == nullptr || member->available != silent) continue;
        std::vector<Member> members = configuration_.members;
        for (Member& m : members) {
            if (m.id == progress->id) m.available = !silent;
        }
        (void)propose_configuration(std::move(members), configuration_.index, configuration_.term);
        return;
    }
}

// --- snapshots and compaction -------------------------------------------------------------------

std::vector<Index> Raft::compact_log(Index minor_index, Index pending_release) {
    compaction::Indexes indexes;
    indexes.commit = applied_index_;
    indexes.minor = minor_index;
    indexes.global = std::min(removal_global_index(), pending_release);
    // Not the snapshot: the entries before it that the log keeps (snapshot_trailing_entries)
    // are there to catch followers up without a snapshot, and a follower that applies them must
    // get every one that matters; only compact_to() drops what the snapshot covers.
    indexes.snapshot = 0;
    return log_.compact(indexes);
}

void Raft::snapshot_taken(Snapshot snapshot) {
    COPYCAT_ASSERT(snapshot.index <= applied_index_, "a snapshot beyond the applied index");
    if (snapshot_ && snapshot.index <= snapshot_->index) return;
    snapshot_ = std::move(snapshot);
    Index keep_from = snapshot_->index > options_.snapshot_trailing_entries
                          ? snapshot_->index - options_.snapshot_trailing_entries
                          : 0;
    if (keep_from >= log_.first_index()) {
        std::optional<Term> term = log_.term_at(keep_from);
        if (term) log_.compact_to(keep_from, *term);
    }
}

// Sends the next chunk of the snapshot to a follower that is behind the log; false when
// there is no snapshot to send (the follower then cannot be caught up: a bug upstream).
bool Raft::send_snapshot_chunk(Progress& p) {
    if (!snapshot_ || snapshot_->data == nullptr) return false;
    if (p.chunk_in_flight) return true;  // one chunk at a time
    const std::vector<uint8_t>& data = *snapshot_->data;
    uint64_t offset = std::min<uint64_t>(p.snapshot_offset, data.size());
    uint64_t end = std::min<uint64_t>(data.size(), offset + options_.snapshot_chunk_bytes);
    InstallSnapshotRequest request{
        hard_state_.term,         options_.id, snapshot_->index, snapshot_->term,
        snapshot_->configuration, offset,      data.size(),      {},
        end == data.size()};
    request.data.assign(data.begin() + static_cast<long>(offset),
                        data.begin() + static_cast<long>(end));
    p.chunk_in_flight = true;
    send(p.id, std::move(request), false);
    return true;
}

void Raft::handle(NodeId from, const InstallSnapshotRequest& request) {
    if (request.term < hard_state_.term) {
        send(from, InstallSnapshotResponse{hard_state_.term, request.snapshot_index, 0, false},
             false);
        return;
    }
    accept_leader(request.term, request.leader);
    if (request.snapshot_index <= commit_index_) {  // already have everything it holds
        send(from,
             InstallSnapshotResponse{hard_state_.term, request.snapshot_index, request.total_bytes,
                                     true},
             false);
        return;
    }
    if (request.offset == 0 || !receiving_ || receiving_->index != request.snapshot_index) {
        receiving_ =
            Snapshot{request.snapshot_index, request.snapshot_term, request.configuration, nullptr};
        received_bytes_.clear();
    }
    if (request.offset == received_bytes_.size()) {
        received_bytes_.insert(received_bytes_.end(), request.data.begin(), request.data.end());
    }
    bool complete = request.done && received_bytes_.size() == request.total_bytes;
    if (!complete) {
        send(from,
             InstallSnapshotResponse{hard_state_.term, request.snapshot_index,
                                     received_bytes_.size(), false},
             false);
        return;
    }
    receiving_->data = std::make_shared<const std::vector<uint8_t>>(std::move(received_bytes_));
    received_bytes_.clear();
    Snapshot snapshot = std::move(*receiving_);
    receiving_.reset();
    install_snapshot(std::move(snapshot));
    send(from,
         InstallSnapshotResponse{hard_state_.term, request.snapshot_index, request.total_bytes,
                                 true},
         true);
}

void Raft::install_snapshot(Snapshot snapshot) {
    std::optional<Index> truncate_after;
    if (log_.term_at(snapshot.index) == snapshot.term) {
        log_.compact_to(snapshot.index, snapshot.term);  // what follows it is still valid
    } else {
        log_ = RaftLog(snapshot.index + 1, snapshot.term);
        // The shell keeps what follows a stored snapshot (PersistOp): drop it there too, or a
        // restart reads back entries that conflict with the snapshot
        // (RaftSnapshot.FollowerDropsItsLogAfterTheSnapshotWhenTheTermAtItsIndexDiffers).
        truncate_after = snapshot.index;
    }
    forget_configurations_before(snapshot.index + 1);
    forget_configurations_after(log_.last_index());
    committed_configuration_ = snapshot.configuration;
    apply_configuration_from_log();
    commit_index_ = snapshot.index;
    applied_index_ = snapshot.index;
    snapshot_ = snapshot;
    ready_.install = snapshot;
    ready_.committed.clear();  // anything before the snapshot is superseded by it
    persist(std::nullopt, truncate_after, {});
    ready_.persist.back().snapshot = std::move(snapshot);
    // The log after the snapshot (if kept) is already durable; nothing else to write.
}

void Raft::handle(NodeId from, const InstallSnapshotResponse& response) {
    Progress* answering = answering_progress(from, response.term);
    if (answering == nullptr) return;
    Progress& p = *answering;
    p.inflight = 0;
    p.chunk_in_flight = false;
    if (response.installed) {
        p.match_index = std::max(p.match_index, response.snapshot_index);
        p.next_index = std::max(p.next_index, p.match_index + 1);
        p.snapshot_offset = 0;
        advance_commit();
    } else {
        p.snapshot_offset = response.next_offset;
    }
    if (role_ == Role::leader) replicate(from, false);
}

}  // namespace copycat::raft
