// ClientDirectory: the client connections the gateway has heard from (by their ZeroMQ routing
// id) and, for events, the connection each session last used. Events published to a session
// go to that connection; a session whose client moved (a new connection, through this gateway
// or another) is re-routed by its next request.
//
// Entries idle for a long time are forgotten (forget_idle), so the tables do not grow with
// every client that ever connected: a session first, then a client with nothing pending. A
// session's entry is touched whenever its client's is, so no session outlives its client.
//
// Pure; single-threaded. References (Ref) stay valid until forget_idle removes the client,
// which it never does while the client has requests pending.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "consensus/session/protocol.h"
#include "gateway/clock.h"

namespace copycat::gateway {

struct ClientState {
    size_t pending = 0;  // requests of this client the gateway has not answered yet
    Time last_active{};
};

class ClientDirectory {
public:
    using Map = std::map<std::string, ClientState, std::less<>>;
    using Ref = Map::iterator;

    // The client with this routing id, added if new; active now.
    Ref touch(std::string_view routing_id, Time now);
    // Events of `session` go to `client` from now on.
    void route_session(session::SessionId session, Ref client, Time now);
    // The routing id of the client that `session`'s events go to, if any.
    std::optional<std::string_view> client_of(session::SessionId session) const;
    void forget_session(session::SessionId session);
    // Forgets sessions, then clients without pending requests, idle for idle_after.
    void forget_idle(Time now, Micros idle_after);

    size_t clients() const { return clients_.size(); }
    size_t sessions() const { return sessions_.size(); }

private:
    struct SessionRoute {
        Ref client;
        Time last_active{};
    };

    Map clients_;
    std::map<session::SessionId, SessionRoute> sessions_;
};

}  // namespace copycat::gateway
