#include "common/serve.h"

#include "common/log.h"

namespace copycat {

int serve_until_stopped(EventLoop& loop, std::unique_ptr<HttpServer>& http,
                        const std::function<void()>& shutdown) {
    Status ran = loop.run();
    http.reset();
    if (shutdown) shutdown();
    if (!ran.is_ok()) {
        log::fatal("event loop failed", {{"error", ran}});
        return 1;
    }
    log::info("stopped");
    return 0;
}

}  // namespace copycat
