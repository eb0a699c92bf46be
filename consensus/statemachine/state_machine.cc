#include "consensus/statemachine/state_machine.h"

#include <utility>

namespace copycat::statemachine {

const char* compaction_mode_name(CompactionMode mode) {
    switch (mode) {
        case CompactionMode::default_mode: return "default";
        case CompactionMode::unknown: return "unknown";
        case CompactionMode::snapshot: return "snapshot";
        case CompactionMode::release: return "release";
        case CompactionMode::quorum: return "quorum";
        case CompactionMode::full: return "full";
        case CompactionMode::sequential: return "sequential";
        case CompactionMode::expiring: return "expiring";
        case CompactionMode::tombstone: return "tombstone";
    }
    return "invalid";
}

std::optional<CompactionMode> compaction_mode_from_byte(uint8_t value) {
    if (value > static_cast<uint8_t>(CompactionMode::tombstone)) return std::nullopt;
    return static_cast<CompactionMode>(value);
}

const char* session_state_name(SessionState state) {
    switch (state) {
        case SessionState::open: return "open";
        case SessionState::unstable: return "unstable";
        case SessionState::expired: return "expired";
        case SessionState::closed: return "closed";
    }
    return "invalid";
}

Commit::Commit(Index index, uint64_t time_ms, SessionId session, Operation operation,
               Releaser* releaser)
    : index_(index),
      time_ms_(time_ms),
      session_(session),
      operation_(std::move(operation)),
      releaser_(releaser) {}

// A moved-from commit holds nothing: only the destination releases the entry.
Commit::Commit(Commit&& other) noexcept
    : index_(other.index_),
      time_ms_(other.time_ms_),
      session_(other.session_),
      operation_(std::move(other.operation_)),
      releaser_(std::exchange(other.releaser_, nullptr)) {}

Commit& Commit::operator=(Commit&& other) noexcept {
    if (this == &other) return *this;
    release();  // the entry this commit held no longer contributes to state
    index_ = other.index_;
    time_ms_ = other.time_ms_;
    session_ = other.session_;
    operation_ = std::move(other.operation_);
    releaser_ = std::exchange(other.releaser_, nullptr);
    return *this;
}

Commit::~Commit() { release(); }

void Commit::release() {
    Releaser* releaser = std::exchange(releaser_, nullptr);
    if (releaser != nullptr) releaser->release(index_);
}

}  // namespace copycat::statemachine
