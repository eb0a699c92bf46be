// copycat-bench: load for a running cluster through its gateways, modelled on etcd's
// benchmark tool. Every client is one session; the sessions share one or a few client
// runtimes (one thread and one gateway connection each), and each keeps `--in-flight`
// operations going (closed loop), or takes its turn from a rate limiter with --rate.
//
//   copycat-bench put   [--clients 64] [--total 100000] [--key-size 8] [--val-size 100]
//   copycat-bench get   --consistency linearizable|lease|sequential   (fills the keys first)
//   copycat-bench mixed --read-ratio 0.9
//   copycat-bench watch --watchers 16 (sessions watching one key; --clients writers put to it)
//
// It prints throughput and latency percentiles; its last line is one JSON object with at least
// ops_per_s, p50_ms, p99_ms and errors. With --fsync-reference DIR it measures the raw
// fdatasync rate of DIR (the cluster's disk) before and after, and reports it beside.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "common/config.h"
#include "common/duration.h"
#include "common/latency.h"
#include "consensus/statemachine/resources/ops.h"

namespace copycat::bench {
namespace {

using Clock = std::chrono::steady_clock;
using client::Client;
using client::Reply;
using client::Runtime;
using session::Consistency;
using statemachine::Bytes;
using statemachine::Index;

struct Settings {
    std::string op;  // put, get, mixed, watch
    client::ClientOptions client;
    int clients = 1;
    int connections = 1;  // client runtimes the sessions are spread over
    int in_flight = 1;    // per client
    uint64_t total = 10'000;
    size_t key_size = 8;
    size_t val_size = 8;
    uint64_t key_space = 1;
    bool sequential_keys = false;
    double rate = 0;  // operations per second over all clients; 0: as fast as they go
    double read_ratio = 0.5;
    Consistency consistency = Consistency::linearizable;
    int watchers = 1;
    std::string map = "bench";
    std::string fsync_dir;
    std::string ack_log;  // keys and values of acknowledged puts, one "key value" per line
};

// What the runtime threads record, under one mutex (one lock per completed operation is
// cheap beside the operation itself).
struct Record {
    std::mutex mutex;
    std::vector<double> latencies_us;
    std::map<std::string, uint64_t> errors;  // by error code name
    std::vector<std::pair<std::string, std::string>> acknowledged;
};

std::string make_key(uint64_t number, size_t size) {
    std::string digits = std::to_string(number);
    if (digits.size() >= size) return digits;
    return std::string(size - digits.size(), '0') + digits;
}

// The load: which operation comes next for a client, and the pacing.
class Load {
public:
    Load(const Settings& settings, Record& record)
        : settings_(settings), record_(record), random_(std::random_device{}()) {}

    // Starts an operation on `client` if any is left; false when all are issued.
    bool issue(Client& client) {
        const uint64_t number = issued_.fetch_add(1);
        if (number >= settings_.total) return false;
        const bool read =
            settings_.op == "get" || (settings_.op == "mixed" && chance() < settings_.read_ratio);
        const std::string key = next_key(number);
        const auto started = Clock::now();
        if (read) {
            resources::MapGet get{settings_.map, key};
            client.submit_query(
                statemachine::make_operation(get), settings_.consistency,
                [this, &client, started](Reply reply) { finish(client, started, reply, {}, {}); });
            return true;
        }
        std::string value = unique_value(number);
        resources::MapPut put{settings_.map, key, Bytes(value.begin(), value.end()), 0};
        client.submit_command(statemachine::make_operation(put),
                              [this, &client, started, key, value](Reply reply) {
                                  finish(client, started, reply, key, value);
                              });
        return true;
    }

    bool done() const { return completed_.load() >= settings_.total; }
    uint64_t completed() const { return completed_.load(); }
    void wait_done() {
        std::unique_lock lock(done_mutex_);
        done_cv_.wait(lock, [this] { return done(); });
    }
    bool wait_done_for(std::chrono::milliseconds limit) {
        std::unique_lock lock(done_mutex_);
        return done_cv_.wait_for(lock, limit, [this] { return done(); });
    }

private:
    void finish(Client& client, Clock::time_point started, const Reply& reply,
                const std::string& key, const std::string& value) {
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - started).count();
        {
            std::lock_guard lock(record_.mutex);
            if (reply.ok()) {
                record_.latencies_us.push_back(us);
                if (!settings_.ack_log.empty() && !key.empty()) {
                    record_.acknowledged.emplace_back(key, value);
                }
            } else {
                ++record_.errors[session::error_code_name(reply.error)];
            }
        }
        if (completed_.fetch_add(1) + 1 >= settings_.total) {
            std::lock_guard lock(done_mutex_);
            done_cv_.notify_all();
            return;
        }
        if (settings_.rate > 0) {
            hand_to_pacer(client);
        } else {
            issue(client);  // on the runtime's thread: the session takes it at once
        }
    }

public:
    // With --rate: clients wait in line and a pacer thread starts one operation per turn, so
    // that the runtime threads never sleep (their other sessions' answers would wait).
    void run_pacer() {
        const auto step = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(1.0 / settings_.rate));
        auto turn = Clock::now();
        while (!done()) {
            Client* next = nullptr;
            {
                std::unique_lock lock(pace_mutex_);
                pace_cv_.wait_for(lock, std::chrono::milliseconds(100),
                                  [this] { return !ready_.empty(); });
                if (ready_.empty()) continue;
                next = ready_.front();
                ready_.erase(ready_.begin());
            }
            std::this_thread::sleep_until(turn);
            turn = std::max(turn + step, Clock::now() - 10 * step);
            if (!issue(*next)) return;
        }
    }
    void hand_to_pacer(Client& client) {
        std::lock_guard lock(pace_mutex_);
        ready_.push_back(&client);
        pace_cv_.notify_one();
    }

private:
    std::string next_key(uint64_t number) {
        uint64_t k = settings_.sequential_keys ? number % settings_.key_space
                                               : random_below(settings_.key_space);
        return make_key(k, settings_.key_size);
    }

    // A value of val_size bytes that names its put (for the ack log's read-back).
    std::string unique_value(uint64_t number) {
        std::string value = "v" + std::to_string(number) + "-";
        if (value.size() < settings_.val_size) value.append(settings_.val_size - value.size(), 'x');
        return value;
    }

    uint64_t random_below(uint64_t bound) {
        std::lock_guard lock(random_mutex_);
        return std::uniform_int_distribution<uint64_t>(0, bound - 1)(random_);
    }
    double chance() {
        std::lock_guard lock(random_mutex_);
        return std::uniform_real_distribution<double>(0, 1)(random_);
    }

    const Settings& settings_;
    Record& record_;
    std::atomic<uint64_t> issued_{0};
    std::atomic<uint64_t> completed_{0};
    std::mutex done_mutex_;
    std::condition_variable done_cv_;
    std::mutex pace_mutex_;
    std::condition_variable pace_cv_;
    std::vector<Client*> ready_;
    std::mutex random_mutex_;
    std::mt19937_64 random_;
};

struct Fleet {
    std::vector<std::shared_ptr<Runtime>> runtimes;
    std::vector<std::unique_ptr<Client>> clients;
};

Result<Fleet> connect_fleet(const Settings& settings, int sessions) {
    Fleet fleet;
    for (int i = 0; i < std::max(1, settings.connections); ++i) {
        Result<std::shared_ptr<Runtime>> runtime = Runtime::start(settings.client);
        if (!runtime.is_ok()) return runtime.status();
        fleet.runtimes.push_back(std::move(runtime).value());
    }
    for (int i = 0; i < sessions; ++i) {
        auto& runtime = fleet.runtimes[static_cast<size_t>(i) % fleet.runtimes.size()];
        Result<std::unique_ptr<Client>> client = Client::connect(runtime);
        if (!client.is_ok()) return client.status();
        fleet.clients.push_back(std::move(client).value());
    }
    return fleet;
}

// Writes every key of the key space once, so that gets find values.
Status fill_keys(const Settings& settings, Fleet& fleet) {
    std::vector<std::future<Reply>> pending;
    const std::string value(settings.val_size, 'v');
    for (uint64_t k = 0; k < settings.key_space; ++k) {
        Client& client = *fleet.clients[k % fleet.clients.size()];
        resources::MapPut put{settings.map, make_key(k, settings.key_size),
                              Bytes(value.begin(), value.end()), 0};
        pending.push_back(client.command(statemachine::make_operation(put)));
        if (pending.size() >= 256 || k + 1 == settings.key_space) {
            for (auto& reply : pending) {
                Reply done = reply.get();
                if (!done.ok()) return done.status();
            }
            pending.clear();
        }
    }
    return Status::ok();
}

void print_summary(const Settings& settings, LatencySummary& latency, double seconds,
                   const std::map<std::string, uint64_t>& errors,
                   const std::optional<LatencySummary>& fsync_before,
                   const std::optional<LatencySummary>& fsync_after) {
    uint64_t error_count = 0;
    for (const auto& [code, count] : errors) error_count += count;
    const double ops_per_s = seconds > 0 ? static_cast<double>(latency.count) / seconds : 0;
    std::printf("\nSummary (%s, %d clients, %llu operations):\n", settings.op.c_str(),
                settings.clients, static_cast<unsigned long long>(settings.total));
    std::printf("  Total:        %.4f s\n", seconds);
    std::printf("  Slowest:      %.4f ms\n", latency.max_us / 1000);
    std::printf("  Fastest:      %.4f ms\n", latency.min_us / 1000);
    std::printf("  Average:      %.4f ms\n", latency.mean_us / 1000);
    std::printf("  Requests/sec: %.1f\n", ops_per_s);
    std::printf("Latency:\n  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms\n",
                latency.p50_us / 1000, latency.p90_us / 1000, latency.p99_us / 1000,
                latency.p999_us / 1000);
    std::printf("Errors: %llu\n", static_cast<unsigned long long>(error_count));
    for (const auto& [code, count] : errors) {
        std::printf("  %s: %llu\n", code.c_str(), static_cast<unsigned long long>(count));
    }
    double fsync_rate = 0;
    double fsync_p50 = 0;
    if (fsync_before && fsync_after) {
        std::printf(
            "fdatasync reference: %.0f/s before (p50 %.0f us), %.0f/s after (p50 %.0f us)\n",
            fsync_before->per_second, fsync_before->p50_us, fsync_after->per_second,
            fsync_after->p50_us);
        fsync_rate = (fsync_before->per_second + fsync_after->per_second) / 2;
        fsync_p50 = (fsync_before->p50_us + fsync_after->p50_us) / 2;
    }
    std::printf(
        "{\"op\":\"%s\",\"clients\":%d,\"total\":%llu,\"ok\":%zu,\"errors\":%llu,"
        "\"seconds\":%.3f,\"ops_per_s\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
        "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"fdatasync_per_s\":%.0f,\"fdatasync_p50_us\":%.0f}\n",
        settings.op.c_str(), settings.clients, static_cast<unsigned long long>(settings.total),
        latency.count, static_cast<unsigned long long>(error_count), seconds, ops_per_s,
        latency.p50_us / 1000, latency.p90_us / 1000, latency.p99_us / 1000, latency.p999_us / 1000,
        latency.max_us / 1000, fsync_rate, fsync_p50);
}

std::optional<LatencySummary> measure_fsync(const Settings& settings, const char* when) {
    if (settings.fsync_dir.empty()) return std::nullopt;
    std::fprintf(stderr, "fdatasync reference (%s) in %s...\n", when, settings.fsync_dir.c_str());
    return fdatasync_reference(settings.fsync_dir, 2.0);
}

int write_ack_log(const Settings& settings, const Record& record) {
    if (settings.ack_log.empty()) return 0;
    std::ofstream out(settings.ack_log);
    for (const auto& [key, value] : record.acknowledged) out << key << ' ' << value << '\n';
    out.flush();
    if (!out) {
        std::fprintf(stderr, "copycat-bench: cannot write %s\n", settings.ack_log.c_str());
        return 1;
    }
    return 0;
}

// put, get, mixed: every client keeps in_flight operations going until total are done.
int run_operations(const Settings& settings) {
    const auto fsync_before = measure_fsync(settings, "before");
    Result<Fleet> fleet = connect_fleet(settings, settings.clients);
    if (!fleet.is_ok()) {
        std::fprintf(stderr, "copycat-bench: %s\n", fleet.status().to_string().c_str());
        return 1;
    }
    if (settings.op != "put") {
        Status filled = fill_keys(settings, *fleet);
        if (!filled.is_ok()) {
            std::fprintf(stderr, "copycat-bench: filling keys: %s\n", filled.to_string().c_str());
            return 1;
        }
    }
    Record record;
    Load load(settings, record);
    const auto start = Clock::now();
    std::thread pacer;
    for (auto& client : fleet->clients) {
        for (int i = 0; i < settings.in_flight; ++i) {
            if (settings.rate > 0) {
                load.hand_to_pacer(*client);
            } else {
                load.issue(*client);
            }
        }
    }
    if (settings.rate > 0) pacer = std::thread([&load] { load.run_pacer(); });
    while (!load.wait_done_for(std::chrono::seconds(5))) {
        std::fprintf(stderr, "... %llu of %llu done\n",
                     static_cast<unsigned long long>(load.completed()),
                     static_cast<unsigned long long>(settings.total));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (pacer.joinable()) pacer.join();
    for (auto& client : fleet->clients) [[maybe_unused]] Status closed = client->close();
    fleet->clients.clear();
    const auto fsync_after = measure_fsync(settings, "after");
    std::lock_guard lock(record.mutex);
    LatencySummary latency = summarize_latencies(record.latencies_us, seconds);
    if (write_ack_log(settings, record) != 0) return 1;
    print_summary(settings, latency, seconds, record.errors, fsync_before, fsync_after);
    return 0;
}

// watch: `watchers` sessions watch one key; `clients` writers put `total` values to it, each
// value carrying its send time; latency is from the put's start to each watcher's event.
int run_watch(const Settings& settings) {
    const auto fsync_before = measure_fsync(settings, "before");
    Result<Fleet> watchers = connect_fleet(settings, settings.watchers);
    Result<Fleet> writers =
        watchers.is_ok() ? connect_fleet(settings, settings.clients) : watchers.status();
    if (!writers.is_ok()) {
        std::fprintf(stderr, "copycat-bench: %s\n", writers.status().to_string().c_str());
        return 1;
    }
    const std::string key = make_key(0, settings.key_size);
    Record record;
    std::atomic<uint64_t> events{0};
    const uint64_t expected = settings.total * static_cast<uint64_t>(settings.watchers);
    const auto epoch = Clock::now();
    for (auto& watcher : watchers->clients) {
        watcher->on_event(
            std::string(resources::MapChanged::name), [&](const session::Event& event, Index) {
                auto changed = statemachine::decode_event<resources::MapChanged>(event.message);
                if (!changed.is_ok() || !changed->value) return;
                std::string text(changed->value->begin(), changed->value->end());
                const double sent_us = std::stod(text.substr(0, text.find('|')));
                const double now_us =
                    std::chrono::duration<double, std::micro>(Clock::now() - epoch).count();
                std::lock_guard lock(record.mutex);
                record.latencies_us.push_back(now_us - sent_us);
                ++events;
            });
        auto watched = watcher->command(resources::MapWatch{settings.map, key, false}).get();
        if (!watched.is_ok()) {
            std::fprintf(stderr, "copycat-bench: watch: %s\n",
                         watched.status().to_string().c_str());
            return 1;
        }
    }
    const auto start = Clock::now();
    std::atomic<uint64_t> next{0};
    std::vector<std::thread> threads;
    for (auto& writer : writers->clients) {
        threads.emplace_back([&, w = writer.get()] {
            while (next.fetch_add(1) < settings.total) {
                const double now_us =
                    std::chrono::duration<double, std::micro>(Clock::now() - epoch).count();
                std::string value = std::to_string(now_us) + "|";
                if (value.size() < settings.val_size) {
                    value.append(settings.val_size - value.size(), 'x');
                }
                Reply reply =
                    w->command(statemachine::make_operation(resources::MapPut{
                                   settings.map, key, Bytes(value.begin(), value.end()), 0}))
                        .get();
                if (!reply.ok()) {
                    std::lock_guard lock(record.mutex);
                    ++record.errors[session::error_code_name(reply.error)];
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    const auto deadline = Clock::now() + settings.client.command_timeout;
    while (events.load() < expected && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto* fleet : {&*watchers, &*writers}) {
        for (auto& client : fleet->clients) [[maybe_unused]] Status closed = client->close();
        fleet->clients.clear();
    }
    const auto fsync_after = measure_fsync(settings, "after");
    std::lock_guard lock(record.mutex);
    if (events.load() < expected) {
        record.errors["missing_event"] += expected - events.load();
    }
    LatencySummary latency = summarize_latencies(record.latencies_us, seconds);
    print_summary(settings, latency, seconds, record.errors, fsync_before, fsync_after);
    return 0;
}

po::options_description options_description() {
    po::options_description o("copycat-bench options");
    auto add = o.add_options();
    add("endpoints", po::value<std::string>()->default_value("tcp://127.0.0.1:7000"),
        "gateways, comma separated");
    add("dial-timeout", po::value<Duration>()->default_value(std::chrono::seconds(5)),
        "give up opening a session after this");
    add("command-timeout", po::value<Duration>()->default_value(std::chrono::seconds(10)),
        "an operation's timeout");
    add("clients", po::value<int>()->default_value(1), "sessions (writers for watch)");
    add("connections", po::value<int>()->default_value(1),
        "client runtimes (threads and gateway connections) the sessions share");
    add("in-flight", po::value<int>()->default_value(1), "operations in flight per client");
    add("total", po::value<uint64_t>()->default_value(10'000), "operations in all");
    add("key-size", po::value<size_t>()->default_value(8), "bytes per key");
    add("val-size", po::value<size_t>()->default_value(8), "bytes per value");
    add("key-space", po::value<uint64_t>()->default_value(1), "distinct keys");
    add("sequential-keys", po::bool_switch(), "keys in order rather than at random");
    add("rate", po::value<double>()->default_value(0), "operations per second (0: no limit)");
    add("consistency", po::value<std::string>()->default_value("linearizable"),
        "get and mixed reads: linearizable, lease or sequential");
    add("read-ratio", po::value<double>()->default_value(0.5), "mixed: share of reads");
    add("watchers", po::value<int>()->default_value(1), "watch: sessions watching the key");
    add("map", po::value<std::string>()->default_value("bench"), "the map to use");
    add("fsync-reference", po::value<std::string>(),
        "measure raw fdatasync in this directory (the cluster's disk) before and after");
    add("ack-log", po::value<std::string>(),
        "put: write each acknowledged key and value to this file");
    add("curve-key", po::value<std::string>(),
        "this client's CURVE key pair (copycat-ctl keygen NAME), with --curve-gateway-key");
    add("curve-gateway-key", po::value<std::string>(), "the gateways' public key (.pub file)");
    return o;
}

Result<Consistency> parse_consistency(const std::string& text) {
    if (text == "linearizable") return Consistency::linearizable;
    if (text == "lease" || text == "linearizable_lease") return Consistency::linearizable_lease;
    if (text == "sequential") return Consistency::sequential;
    return invalid_argument("--consistency must be linearizable, lease or sequential, not '" +
                            text + "'");
}

Result<Settings> settings_from(const std::string& op, const po::variables_map& vm) {
    Settings s;
    s.op = op;
    s.client.endpoints = split_list(vm["endpoints"].as<std::string>());
    s.client.dial_timeout =
        std::chrono::milliseconds(vm["dial-timeout"].as<Duration>().milliseconds());
    s.client.command_timeout =
        std::chrono::milliseconds(vm["command-timeout"].as<Duration>().milliseconds());
    s.clients = vm["clients"].as<int>();
    s.connections = vm["connections"].as<int>();
    s.in_flight = vm["in-flight"].as<int>();
    s.total = vm["total"].as<uint64_t>();
    s.key_size = vm["key-size"].as<size_t>();
    s.val_size = vm["val-size"].as<size_t>();
    s.key_space = vm["key-space"].as<uint64_t>();
    s.sequential_keys = vm["sequential-keys"].as<bool>();
    s.rate = vm["rate"].as<double>();
    s.read_ratio = vm["read-ratio"].as<double>();
    s.watchers = vm["watchers"].as<int>();
    s.map = vm["map"].as<std::string>();
    if (vm.count("fsync-reference")) s.fsync_dir = vm["fsync-reference"].as<std::string>();
    if (vm.count("ack-log")) s.ack_log = vm["ack-log"].as<std::string>();
    auto curve = load_client_curve_flags(text_or_empty(vm, "curve-key"),
                                         text_or_empty(vm, "curve-gateway-key"));
    if (!curve.is_ok()) return curve.status();
    s.client.curve = std::move(curve.value());
    Result<Consistency> consistency = parse_consistency(vm["consistency"].as<std::string>());
    if (!consistency.is_ok()) return consistency.status();
    s.consistency = *consistency;
    if (s.clients < 1 || s.connections < 1 || s.in_flight < 1 || s.watchers < 1) {
        return invalid_argument(
            "--clients, --connections, --in-flight and --watchers must be 1 or more");
    }
    if (s.total == 0 || s.key_space == 0) {
        return invalid_argument("--total and --key-space must be 1 or more");
    }
    if (s.read_ratio < 0 || s.read_ratio > 1) {
        return invalid_argument("--read-ratio must be between 0 and 1");
    }
    if (s.rate < 0) return invalid_argument("--rate must not be negative");
    if (s.client.endpoints.empty()) return invalid_argument("--endpoints names no gateway");
    return s;
}

constexpr const char* kUsage =
    "load for a running copycat cluster, through its gateways\n\n"
    "Usage: copycat-bench put|get|mixed|watch [options]\n"
    "  put    map.put of --val-size bytes to keys of --key-space\n"
    "  get    map.get at --consistency (the keys are written once first)\n"
    "  mixed  gets (--read-ratio) and puts\n"
    "  watch  --watchers sessions watch one key; --clients writers put --total values to it;\n"
    "         latency is put start to event arrival\n"
    "The last line printed is one JSON object (ops_per_s, p50_ms, p99_ms, errors, ...).";

}  // namespace
}  // namespace copycat::bench

int main(int argc, char* argv[]) {
    using namespace copycat;
    if (argc < 2 || std::string(argv[1]).rfind("-", 0) == 0) {
        // Only --help goes without an operation.
        po::options_description options = bench::options_description();
        ParseOutcome outcome = parse_config(argc, argv, options, "copycat-bench", bench::kUsage);
        if (!outcome.run) return outcome.exit_code;
        std::fprintf(stderr, "copycat-bench: name an operation: put, get, mixed or watch\n%s\n",
                     bench::kUsage);
        return 2;
    }
    const std::string op = argv[1];
    if (op != "put" && op != "get" && op != "mixed" && op != "watch") {
        std::fprintf(stderr, "copycat-bench: unknown operation '%s'\n%s\n", op.c_str(),
                     bench::kUsage);
        return 2;
    }
    po::options_description options = bench::options_description();
    ParseOutcome outcome =
        parse_config(argc - 1, argv + 1, options, "copycat-bench", bench::kUsage);
    if (!outcome.run) return outcome.exit_code;
    Result<bench::Settings> settings = bench::settings_from(op, outcome.variables);
    if (!settings.is_ok()) {
        std::fprintf(stderr, "copycat-bench: %s\n", settings.status().message().c_str());
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    return op == "watch" ? bench::run_watch(*settings) : bench::run_operations(*settings);
}
