// The whole copycat-gateway program: flags (environment and config file as every copycat
// binary, CONVENTIONS.md), the HTTP port, the gateway, the event loop. Exit codes 0 (stopped
// by SIGTERM/SIGINT), 1 (runtime failure), 2 (bad usage or configuration).
#pragma once

namespace copycat::gateway {

int gateway_main(int argc, const char* const argv[]);

}  // namespace copycat::gateway
