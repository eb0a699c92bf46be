// copycat-logstore: the durable segmented log of one node (serve), and `inspect`.
#include <iostream>

#include "common/config.h"
#include "common/duration.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/log_options.h"
#include "common/zmq_socket.h"
#include "logstore/inspect.h"
#include "logstore/server.h"

namespace po = boost::program_options;
using namespace copycat;

namespace {

constexpr const char* kUsage =
    "the durable segmented log of one copycat node.\n"
    "Serves the log over ZeroMQ; `copycat-logstore inspect --help` checks one offline.";

po::options_description serve_options() {
    po::options_description options("copycat-logstore options");
    options.add_options()("node-id", po::value<uint32_t>()->default_value(1),
                          "this node's id (names the "
                          "defaults below)")("data-dir", po::value<std::string>(),
                                             "data directory; the log is <data-dir>/log "
                                             "(default data/node-<node-id>)")(
        "listen", po::value<std::string>(),
        "ZeroMQ endpoint to serve on, ipc:// or tcp:// "
        "(default ipc://<data-dir>/logstore.sock)")("http", po::value<std::string>(),
                                                    "host:port for /metrics, /livez, /readyz "
                                                    "(default 127.0.0.1:<9200+node-id>)")(
        "segment-max-bytes", po::value<uint64_t>()->default_value(32ull << 20),
        "roll over to a new segment past this size")(
        "segment-max-entries", po::value<uint64_t>()->default_value(1ull << 20),
        "roll over to a new segment at this many entries")(
        "entry-max-bytes", po::value<uint32_t>()->default_value(16u << 20),
        "refuse entries with a larger payload")(
        "fsync-warn", po::value<Duration>()->default_value(Duration(std::chrono::milliseconds(50))),
        "log a warning when an fdatasync takes longer")(
        "max-batch-messages", po::value<size_t>()->default_value(4096),
        "requests taken into one group commit at most");
    options.add(logging_options());
    return options;
}

po::options_description inspect_options() {
    po::options_description options("copycat-logstore inspect options");
    options.add_options()("data-dir", po::value<std::string>()->required(),
                          "data directory to check")(
        "write-out,w", po::value<std::string>()->default_value("simple"), "simple or json");
    return options;
}

int run_inspect(int argc, const char* const argv[]) {
    ConfigSources sources = process_config_sources(argc, argv);
    sources.arguments.erase(sources.arguments.begin());  // "inspect"
    ParseOutcome outcome =
        parse_config(sources, inspect_options(), "copycat-logstore inspect",
                     "check a log directory offline, read-only", std::cout, std::cerr);
    if (!outcome.run) return outcome.exit_code;
    std::string format = outcome.variables["write-out"].as<std::string>();
    if (format != "simple" && format != "json") {
        std::cerr << "copycat-logstore inspect: -w takes simple or json, not '" << format << "'\n";
        return 2;
    }
    return logstore::inspect(outcome.variables["data-dir"].as<std::string>(), format == "json",
                             std::cout, std::cerr);
}

Result<logstore::ServerOptions> server_options(const po::variables_map& vm) {
    logstore::ServerOptions options;
    uint32_t node_id = vm["node-id"].as<uint32_t>();
    options.data_dir = vm.count("data-dir") ? vm["data-dir"].as<std::string>()
                                            : "data/node-" + std::to_string(node_id);
    if (vm.count("listen")) {
        options.listen_endpoint = vm["listen"].as<std::string>();
    } else {
        Result<std::string> ipc = ipc_endpoint_for(options.data_dir + "/logstore.sock");
        if (!ipc.is_ok()) return ipc.status();
        options.listen_endpoint = *ipc;
    }
    options.http_address = vm.count("http") ? vm["http"].as<std::string>()
                                            : "127.0.0.1:" + std::to_string(9200 + node_id);
    options.log.directory = options.data_dir + "/log";
    options.log.segment_max_bytes = vm["segment-max-bytes"].as<uint64_t>();
    options.log.segment_max_entries = vm["segment-max-entries"].as<uint64_t>();
    options.log.entry_max_bytes = vm["entry-max-bytes"].as<uint32_t>();
    options.fsync_warn = vm["fsync-warn"].as<Duration>();
    options.max_batch_messages = std::max<size_t>(1, vm["max-batch-messages"].as<size_t>());
    COPYCAT_RETURN_IF_ERROR(logstore::validate(options.log));
    COPYCAT_RETURN_IF_ERROR(check_listen_address(options.http_address));
    return options;
}

int run_serve(int argc, const char* const argv[]) {
    ParseOutcome outcome = parse_config(argc, argv, serve_options(), "copycat-logstore", kUsage);
    if (!outcome.run) return outcome.exit_code;
    const po::variables_map& vm = outcome.variables;
    apply_logging_options(vm, "logstore-" + std::to_string(vm["node-id"].as<uint32_t>()));
    Result<logstore::ServerOptions> options = server_options(vm);
    if (!options.is_ok()) {
        std::cerr << "copycat-logstore: " << options.status().message() << "\n";
        return 2;
    }
    log_effective_configuration(vm, {{"listen", options->listen_endpoint},
                                     {"http", options->http_address},
                                     {"data-dir", options->data_dir}});
    return logstore::serve(*options);
}

}  // namespace

int main(int argc, char* argv[]) {
    if (argc > 1 && std::string(argv[1]) == "inspect") return run_inspect(argc, argv);
    return run_serve(argc, argv);
}
