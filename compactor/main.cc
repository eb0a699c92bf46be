// copycat-compactor: log compaction for one node, beside its copycat-logstore
// (compactor/README.md).
//
// Built a second time, with COPYCAT_COMPACTOR_FAILPOINTS, as the test-only executable
// copycat-compactor-failpoints (tests/compactor/CMakeLists.txt): that one kills itself
// (SIGKILL) at the crash point named by COPYCAT_COMPACTOR_CRASH_POINT. The production binary
// has no such code and reads no such variable.
#include <iostream>

#include "common/config.h"
#include "common/duration.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/log_options.h"
#include "common/zmq_socket.h"
#include "compactor/server.h"
#include "logstore/log.h"

#ifdef COPYCAT_COMPACTOR_FAILPOINTS
#include <signal.h>

#include <cstdlib>
#include <cstring>

#include "logstore/file.h"
#endif

namespace po = boost::program_options;
using namespace copycat;

namespace {

constexpr const char* kProgram = "copycat-compactor";
constexpr const char* kUsage =
    "log compaction for one copycat node, beside its copycat-logstore: rewrites sealed\n"
    "segments without the entries the state machine released (minor, every --minor-interval),\n"
    "without those a snapshot covers (with minor), and combines neighbours dropping deletes\n"
    "every server has stored (major, every --major-interval); the logstore swaps them in.\n"
    "A CompactRequest on --listen runs one now.";

po::options_description options_description() {
    po::options_description o("copycat-compactor options");
    auto add = o.add_options();
    add("node-id", po::value<uint32_t>()->default_value(1),
        "this node's id (names the defaults below)");
    add("data-dir", po::value<std::string>(),
        "data directory of the node; the log is <data-dir>/log (default data/node-<node-id>)");
    add("logstore", po::value<std::string>(),
        "the node's copycat-logstore (default ipc://<data-dir>/logstore.sock)");
    add("listen", po::value<std::string>(),
        "ZeroMQ endpoint for CompactRequest (default ipc://<data-dir>/compactor.sock)");
    add("http", po::value<std::string>(),
        "host:port for /metrics, /livez, /readyz (default 127.0.0.1:<9300+node-id>)");
    add("minor-interval", po::value<Duration>()->default_value(Duration(std::chrono::minutes(1))),
        "how often snapshot and minor compaction run");
    add("major-interval", po::value<Duration>()->default_value(Duration(std::chrono::hours(1))),
        "how often major compaction runs");
    add("threshold", po::value<double>()->default_value(0.5),
        "minor compaction rewrites a segment once (released / entries) x version reaches this");
    add("segment-max-bytes", po::value<uint64_t>()->default_value(32ull << 20),
        "major compaction combines neighbours up to this size (as the logstore's flag)");
    add("segment-max-entries", po::value<uint64_t>()->default_value(1ull << 20),
        "major compaction combines neighbours up to this many entries (as the logstore's flag)");
    add("logstore-timeout",
        po::value<Duration>()->default_value(Duration(std::chrono::seconds(30))),
        "the longest one request to the logstore may take");
    o.add(logging_options());
    return o;
}

Status validate(const compactor::ServerOptions& options) {
    for (auto [name, value] : {std::pair{"--minor-interval", options.minor_interval},
                               std::pair{"--major-interval", options.major_interval},
                               std::pair{"--logstore-timeout", options.logstore_timeout}}) {
        if (value < std::chrono::milliseconds(1)) {
            return invalid_argument(std::string(name) + " must be at least 1ms");
        }
    }
    double threshold = options.compactor.threshold;
    if (!(threshold >= 0 && threshold <= 1)) {
        return invalid_argument("--threshold must be between 0 and 1");
    }
    logstore::LogOptions limits;  // the logstore's own bounds for the two flags
    limits.directory = options.compactor.log_directory;
    limits.segment_max_bytes = options.compactor.limits.segment_max_bytes;
    limits.segment_max_entries = options.compactor.limits.segment_max_entries;
    COPYCAT_RETURN_IF_ERROR(logstore::validate(limits));
    return check_listen_address(options.http_address);
}

Result<std::string> endpoint_or_ipc(const po::variables_map& vm, const char* name,
                                    const std::string& socket_path) {
    if (vm.count(name)) return vm[name].as<std::string>();
    return ipc_endpoint_for(socket_path);
}

Result<compactor::ServerOptions> server_options(const po::variables_map& vm) {
    compactor::ServerOptions options;
    options.node_id = vm["node-id"].as<uint32_t>();
    options.data_dir = vm.count("data-dir") ? vm["data-dir"].as<std::string>()
                                            : "data/node-" + std::to_string(options.node_id);
    Result<std::string> logstore =
        endpoint_or_ipc(vm, "logstore", options.data_dir + "/logstore.sock");
    if (!logstore.is_ok()) return logstore.status();
    options.logstore_endpoint = *logstore;
    Result<std::string> listen =
        endpoint_or_ipc(vm, "listen", options.data_dir + "/compactor.sock");
    if (!listen.is_ok()) return listen.status();
    options.listen_endpoint = *listen;
    options.http_address = vm.count("http") ? vm["http"].as<std::string>()
                                            : "127.0.0.1:" + std::to_string(9300 + options.node_id);
    options.minor_interval = vm["minor-interval"].as<Duration>();
    options.major_interval = vm["major-interval"].as<Duration>();
    options.logstore_timeout = vm["logstore-timeout"].as<Duration>();
    options.compactor.log_directory = options.data_dir + "/log";
    options.compactor.threshold = vm["threshold"].as<double>();
    options.compactor.limits.segment_max_bytes = vm["segment-max-bytes"].as<uint64_t>();
    options.compactor.limits.segment_max_entries = vm["segment-max-entries"].as<uint64_t>();
    COPYCAT_RETURN_IF_ERROR(validate(options));
    return options;
}

#ifdef COPYCAT_COMPACTOR_FAILPOINTS
// COPYCAT_COMPACTOR_CRASH_POINT=<name>[@<n>]: SIGKILL at the n-th time (default the first) this
// process passes crash point <name> (compactor/compactor.h lists them).
void install_failpoint() {
    const char* spec = std::getenv("COPYCAT_COMPACTOR_CRASH_POINT");
    if (spec == nullptr || *spec == '\0') return;
    static std::string name = spec;
    static int remaining = 1;
    if (size_t at = name.find('@'); at != std::string::npos) {
        remaining = std::atoi(name.c_str() + at + 1);
        name.resize(at);
    }
    log::warn("failpoint armed: this process kills itself at a crash point",
              {{"crash_point", name}, {"at_pass", remaining}});
    logstore::set_crash_point_handler([](const char* point) {
        if (name != point || --remaining > 0) return;
        log::warn("failpoint: SIGKILL", {{"crash_point", point}});
        ::raise(SIGKILL);
    });
}
#endif

}  // namespace

int main(int argc, char* argv[]) {
    ParseOutcome outcome = parse_config(argc, argv, options_description(), kProgram, kUsage);
    if (!outcome.run) return outcome.exit_code;
    const po::variables_map& vm = outcome.variables;
    apply_logging_options(vm, "compactor-" + std::to_string(vm["node-id"].as<uint32_t>()));
    Result<compactor::ServerOptions> options = server_options(vm);
    if (!options.is_ok()) {
        std::cerr << kProgram << ": " << options.status().message() << "\n";
        return 2;
    }
    log_effective_configuration(vm, {{"data-dir", options->data_dir},
                                     {"logstore", options->logstore_endpoint},
                                     {"listen", options->listen_endpoint},
                                     {"http", options->http_address}});
#ifdef COPYCAT_COMPACTOR_FAILPOINTS
    install_failpoint();
#endif
    return compactor::serve(*options);
}
