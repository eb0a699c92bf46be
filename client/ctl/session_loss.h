// Waiting on a session without blocking signals out: whether the session has been lost (told
// by the client's state listener), and waiting for a future while watching for SIGINT/SIGTERM.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "client/client.h"
#include "client/ctl/signals.h"

namespace copycat::ctl {

class SessionLoss {
public:
    // Listens to the client's state changes for as long as the client lives.
    static std::shared_ptr<SessionLoss> watch(client::Client& client) {
        auto loss = std::make_shared<SessionLoss>();
        std::weak_ptr<SessionLoss> weak = loss;
        client.on_state_change([weak](client::SessionState state, const std::string& reason) {
            auto alive = weak.lock();
            if (!alive) return;
            if (state == client::SessionState::expired || state == client::SessionState::closed) {
                std::lock_guard lock(alive->mutex_);
                alive->reason_ = std::string(client::session_state_name(state)) +
                                 (reason.empty() ? "" : " (" + reason + ")");
            }
        });
        return loss;
    }

    // Why the session is gone ("expired (...)"), or nothing while it lives.
    std::optional<std::string> reason() const {
        std::lock_guard lock(mutex_);
        return reason_;
    }

private:
    mutable std::mutex mutex_;
    std::optional<std::string> reason_;
};

// The future's value, or nothing if SIGINT/SIGTERM came first.
template <typename T>
std::optional<T> wait_interruptibly(std::future<T>& future, SignalWatch& signals) {
    while (future.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
        if (is_interrupt(signals.wait(std::chrono::milliseconds(50)))) return std::nullopt;
    }
    return future.get();
}

}  // namespace copycat::ctl
