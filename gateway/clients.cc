#include "gateway/clients.h"

namespace copycat::gateway {

ClientDirectory::Ref ClientDirectory::touch(std::string_view routing_id, Time now) {
    Ref client = clients_.find(routing_id);
    if (client == clients_.end()) {
        client = clients_.emplace(std::string(routing_id), ClientState{}).first;
    }
    client->second.last_active = now;
    return client;
}

void ClientDirectory::route_session(session::SessionId session, Ref client, Time now) {
    if (session == 0) return;
    client->second.last_active = now;
    auto [route, added] = sessions_.try_emplace(session, SessionRoute{client, now});
    if (!added) route->second = SessionRoute{client, now};
}

std::optional<std::string_view> ClientDirectory::client_of(session::SessionId session) const {
    auto route = sessions_.find(session);
    if (route == sessions_.end()) return std::nullopt;
    return std::string_view(route->second.client->first);
}

void ClientDirectory::forget_session(session::SessionId session) { sessions_.erase(session); }

void ClientDirectory::forget_idle(Time now, Micros idle_after) {
    std::erase_if(sessions_,
                  [&](const auto& entry) { return now - entry.second.last_active >= idle_after; });
    std::erase_if(clients_, [&](const auto& entry) {
        return entry.second.pending == 0 && now - entry.second.last_active >= idle_after;
    });
}

}  // namespace copycat::gateway
