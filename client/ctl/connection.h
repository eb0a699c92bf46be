// copycat-ctl's way into the cluster: one session (registered on first use) and the runtime
// that also carries administration calls. Errors come back as Status with messages for people
// ("cannot reach a gateway at tcp://127.0.0.1:7000: no answer within 5s").
#pragma once

#include <memory>
#include <string>

#include "client/client.h"
#include "client/ctl/command_line.h"

namespace copycat::ctl {

class Connection {
public:
    explicit Connection(const GlobalOptions& globals);
    // Closes the session if it is still open.
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // The session, registered on the first call.
    Result<client::Client*> session();
    // The runtime for administration: the session's if there is one, else one of its own.
    Result<client::Runtime*> runtime();
    // Unregisters the session (if any). The Client object stays until the Connection goes, so
    // that resource objects on it may still be destroyed after.
    Status close();

    const GlobalOptions& globals() const { return globals_; }
    // "cannot reach a gateway at ...: no answer within 5s" when no gateway answered, else the
    // status's message.
    std::string explain(const Status& status) const;

private:
    GlobalOptions globals_;
    client::ClientOptions options_;
    std::shared_ptr<client::Runtime> runtime_;
    std::unique_ptr<client::Client> client_;
    bool closed_ = false;
};

// The error of a failed operation as the user reads it: a timeout says the outcome is
// unknown, an expired session says so, the state machine's refusals come as they are.
Status reply_status(const client::Reply& reply, std::chrono::milliseconds command_timeout);
// "timeout" for an operation whose outcome is unknown (what `session` lines say), else the
// message.
std::string session_error_text(const Status& status);

}  // namespace copycat::ctl
