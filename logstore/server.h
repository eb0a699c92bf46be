// The copycat-logstore process: a ZeroMQ ROUTER in front of the StorageService, on one
// event loop, with the HTTP port for /metrics, /livez and /readyz.
#pragma once

#include <cstddef>
#include <string>

#include "common/duration.h"
#include "logstore/log.h"

namespace copycat::logstore {

struct ServerOptions {
    std::string data_dir;
    std::string listen_endpoint;  // ipc://... or tcp://...
    std::string http_address;     // host:port
    LogOptions log;
    Duration fsync_warn = std::chrono::milliseconds(50);
    // Messages taken from the socket before one group commit (bounds commit latency).
    size_t max_batch_messages = 4096;
    Duration release_save_interval = std::chrono::seconds(5);
};

// Runs until SIGTERM/SIGINT. Returns the process exit code: 0 after a clean shutdown,
// 1 when the log cannot be opened (corruption, I/O) or a port cannot be bound.
int serve(const ServerOptions& options);

}  // namespace copycat::logstore
