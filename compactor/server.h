// The copycat-compactor process: the compaction thread running Compactor jobs one at a time
// against the node's copycat-logstore, timers for minor and major runs, a ROUTER answering
// CompactRequest ("compact now"), and the HTTP port (/metrics, /livez, /readyz).
#pragma once

#include <cstdint>
#include <string>

#include "common/duration.h"
#include "compactor/compactor.h"

namespace copycat::compactor {

struct ServerOptions {
    uint32_t node_id = 1;
    std::string data_dir;
    std::string logstore_endpoint;  // the node's copycat-logstore
    std::string listen_endpoint;    // where CompactRequest is served
    std::string http_address;       // host:port
    Duration minor_interval = std::chrono::minutes(1);
    Duration major_interval = std::chrono::hours(1);
    // How long one request to the logstore may take (an install verifies a whole segment).
    Duration logstore_timeout = std::chrono::seconds(30);
    CompactorOptions compactor;
};

// Runs until SIGTERM/SIGINT. Returns the exit code: 0 after a clean shutdown, 1 when a port
// cannot be bound or another copycat-compactor holds the data directory.
int serve(const ServerOptions& options);

}  // namespace copycat::compactor
