// The end of every server process's main: run the event loop until a signal stops it, then
// stop the HTTP server before anything its threads read (readiness checks look into the
// process's state) goes, then the process's own shutdown.
#pragma once

#include <functional>
#include <memory>

#include "common/event_loop.h"
#include "common/http_server.h"

namespace copycat {

// The process's exit code: 0 after a clean stop (logged "stopped"), 1 if the loop failed
// (logged). `shutdown` runs after the HTTP server stopped, whatever the outcome.
int serve_until_stopped(EventLoop& loop, std::unique_ptr<HttpServer>& http,
                        const std::function<void()>& shutdown = {});

}  // namespace copycat
