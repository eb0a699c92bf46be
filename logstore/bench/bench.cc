// copycat-logstore-bench: durable appends per second and acknowledgement latency of a
// running copycat-logstore over ipc, with 1, 16 and 256 appends in flight, beside a plain
// write+fdatasync loop on the same disk in the same run (the reference).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/json.h"
#include "logstore/client.h"
#include "logstore/protocol.h"
#include "tests/support/subprocess.h"

namespace po = boost::program_options;
using namespace copycat;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string logstore_binary;
    std::string data_dir;
    std::vector<int> inflight;
    double seconds = 5;
    size_t entry_bytes = 100;
    bool keep = false;
};

struct Figures {
    double entries_per_s = 0, mb_per_s = 0, p50_us = 0, p99_us = 0, entries_per_fsync = 0;
    uint64_t entries = 0;
};

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    size_t rank = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(rank, values.size() - 1)];
}

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// A plain write+fdatasync loop of one record-sized write each, on a file in dir; appends
// each call's latency to *latencies and returns the calls per second.
// With preallocate, the file is first allocated (fallocate) as the logstore does with its
// segments, so the loop writes inside the file instead of growing it.
double reference_fdatasync(const std::string& dir, size_t record_bytes, double seconds,
                           bool preallocate, std::vector<double>* latencies) {
    std::string path = dir + "/fdatasync-reference";
    int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (preallocate) {
        (void)::fallocate(fd, 0, 0, 256ll << 20);
        (void)::fdatasync(fd);
    }
    std::vector<char> record(record_bytes, 'x');
    size_t calls = 0;
    auto start = Clock::now();
    auto end = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        auto t0 = Clock::now();
        if (::write(fd, record.data(), record.size()) < 0 || ::fdatasync(fd) != 0) break;
        latencies->push_back(micros(Clock::now() - t0));
        calls++;
    }
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    ::close(fd);
    ::unlink(path.c_str());
    return static_cast<double>(calls) / elapsed;
}

class AppendRun {
public:
    AppendRun(logstore::StorageClient& client, uint64_t next_index, size_t entry_bytes)
        : client_(client), next_index_(next_index), payload_(entry_bytes, 0x5a) {}

    Figures run(int inflight, double seconds) {
        auto end = Clock::now() + std::chrono::duration<double>(seconds);
        auto start = Clock::now();
        while (Clock::now() < end) {
            while (static_cast<int>(sent_at_.size()) < inflight) send_one();
            if (!receive_acks()) break;
        }
        double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        while (!sent_at_.empty() && receive_acks()) {
        }
        Figures f;
        f.entries = completed_;
        f.entries_per_s = static_cast<double>(completed_) / elapsed;
        f.mb_per_s = f.entries_per_s * static_cast<double>(payload_.size()) / 1e6;
        f.p50_us = percentile(latencies_, 0.5);
        f.p99_us = percentile(latencies_, 0.99);
        f.entries_per_fsync = acks_ ? static_cast<double>(completed_) / acks_ : 0;
        return f;
    }

    uint64_t next_index() const { return next_index_; }

private:
    void send_one() {
        uint64_t id = client_.next_request_id();
        std::vector<logstore::Entry> entry = {{next_index_++, 1, 3, payload_}};
        Status sent = client_.send(logstore::make_append(id, entry));
        if (!sent.is_ok()) throw std::runtime_error(sent.to_string());
        sent_at_[id] = Clock::now();
    }

    bool receive_acks() {
        for (auto timeout = std::chrono::milliseconds(10000);; timeout = {}) {
            std::optional<logstore::Reply> reply = client_.receive(timeout);
            if (!reply) return timeout == std::chrono::milliseconds(0);
            if (reply->message() == nullptr || !reply->message()->body_as_DurableAck()) {
                std::cerr << "unexpected reply: " << reply->error().to_string() << "\n";
                return false;
            }
            auto now = Clock::now();
            acks_++;
            auto covered = sent_at_.upper_bound(reply->request_id());
            for (auto it = sent_at_.begin(); it != covered; ++it) {
                latencies_.push_back(micros(now - it->second));
                completed_++;
            }
            sent_at_.erase(sent_at_.begin(), covered);
        }
    }

    logstore::StorageClient& client_;
    uint64_t next_index_;
    std::vector<uint8_t> payload_;
    std::map<uint64_t, Clock::time_point> sent_at_;
    std::vector<double> latencies_;
    uint64_t completed_ = 0, acks_ = 0;
};

std::string sibling_binary(const char* name) {
    std::error_code error;
    auto self = std::filesystem::read_symlink("/proc/self/exe", error);
    return (self.parent_path() / name).string();
}

Result<Options> parse_options(int argc, char** argv, int* exit_code) {
    po::options_description described("copycat-logstore-bench options");
    described.add_options()("logstore", po::value<std::string>(),
                            "copycat-logstore binary (default: the one built "
                            "beside this benchmark)")(
        "data-dir", po::value<std::string>(),
        "where the log and the reference file go "
        "(default: a new folder in the working directory, removed afterwards)")(
        "inflight", po::value<std::string>()->default_value("1,16,256"),
        "appends in flight, one phase per value")("seconds", po::value<double>()->default_value(5),
                                                  "measured seconds per phase")(
        "entry-bytes", po::value<size_t>()->default_value(100), "payload bytes per entry")(
        "keep", po::bool_switch(), "keep the data directory");
    ParseOutcome outcome = parse_config(argc, argv, described, "copycat-logstore-bench",
                                        "durable appends/s and ack latency of copycat-logstore "
                                        "beside a plain write+fdatasync loop");
    *exit_code = outcome.exit_code;
    if (!outcome.run) return invalid_argument("");
    const po::variables_map& vm = outcome.variables;
    Options options;
    options.logstore_binary = vm.count("logstore") ? vm["logstore"].as<std::string>()
                                                   : sibling_binary("copycat-logstore");
    options.data_dir = vm.count("data-dir") ? vm["data-dir"].as<std::string>()
                                            : "logstore-bench-" + std::to_string(::getpid());
    std::stringstream list(vm["inflight"].as<std::string>());
    for (std::string item; std::getline(list, item, ',');)
        options.inflight.push_back(std::stoi(item));
    options.seconds = vm["seconds"].as<double>();
    options.entry_bytes = vm["entry-bytes"].as<size_t>();
    options.keep = vm["keep"].as<bool>();
    return options;
}

void print_figures(const std::string& name, const Figures& f) {
    std::printf(
        "%-22s %10.0f entries/s %8.2f MB/s  ack p50 %8.1f us  p99 %8.1f us  "
        "%7.1f entries/fdatasync\n",
        name.c_str(), f.entries_per_s, f.mb_per_s, f.p50_us, f.p99_us, f.entries_per_fsync);
}

// The plain write+fdatasync loop, appending to a growing file, and the same loop into a
// fallocated file (what the logstore's preallocated segments do).
struct Reference {
    std::vector<double> appending, preallocated;
    std::vector<double> appending_per_s;

    void print() const {
        std::printf("%-22s p50 %8.1f us  p99 %8.1f us  (%.0f and %.0f calls/s)\n",
                    "write+fdatasync", percentile(appending, 0.5), percentile(appending, 0.99),
                    appending_per_s.front(), appending_per_s.back());
        std::printf("%-22s p50 %8.1f us  p99 %8.1f us\n", "  into fallocated file",
                    percentile(preallocated, 0.5), percentile(preallocated, 0.99));
    }
};

void run_reference(const Options& options, Reference* reference) {
    size_t record_bytes = options.entry_bytes + logstore::kRecordHeaderBytes;
    reference->appending_per_s.push_back(reference_fdatasync(
        options.data_dir, record_bytes, options.seconds / 2, false, &reference->appending));
    reference_fdatasync(options.data_dir, record_bytes, options.seconds / 4, true,
                        &reference->preallocated);
}

void print_json(const Options& options, const std::map<int, Figures>& phases,
                const Reference& reference) {
    JsonWriter json;
    json.begin_object().field("entry_bytes", options.entry_bytes);
    for (const auto& [inflight, f] : phases) {
        std::string p = "inflight_" + std::to_string(inflight) + "_";
        json.field(p + "entries_per_s", f.entries_per_s).field(p + "mb_per_s", f.mb_per_s);
        json.field(p + "ack_p50_us", f.p50_us).field(p + "ack_p99_us", f.p99_us);
        json.field(p + "entries_per_fdatasync", f.entries_per_fsync);
    }
    double fdatasync_p50 = percentile(reference.appending, 0.5);
    json.field("fdatasync_p50_us", fdatasync_p50);
    json.field("fdatasync_p99_us", percentile(reference.appending, 0.99));
    json.field("fdatasync_per_s_before", reference.appending_per_s.front());
    json.field("fdatasync_per_s_after", reference.appending_per_s.back());
    json.field("fdatasync_preallocated_p50_us", percentile(reference.preallocated, 0.5));
    if (phases.count(1) && fdatasync_p50 > 0) {
        json.field("inflight_1_ack_p50_over_fdatasync_p50", phases.at(1).p50_us / fdatasync_p50);
    }
    json.end_object();
    std::cout << json.str() << std::endl;
}

int run(const Options& options) {
    std::filesystem::create_directories(options.data_dir);
    std::string socket = "ipc://" + options.data_dir + "/bench.sock";
    Result<testing::Subprocess> logstore = testing::Subprocess::start(
        {options.logstore_binary, "--data-dir", options.data_dir, "--listen", socket, "--http",
         "127.0.0.1:0", "--log-level", "warn"},
        options.data_dir + "/logstore.out");
    if (!logstore.is_ok()) {
        std::cerr << "cannot start " << options.logstore_binary << "\n";
        return 1;
    }
    zmq::context_t context(1);
    logstore::StorageClient client(context, socket);
    uint64_t id = client.next_request_id();
    Result<logstore::Reply> status = client.call(logstore::make_status(id), id);
    if (!status.is_ok()) {
        std::cerr << "logstore not answering: " << status.status().to_string() << "\n"
                  << logstore->output();
        return 1;
    }
    uint64_t next_index = status->message()->body_as_StatusResponse()->last_index() + 1;
    Reference reference;
    run_reference(options, &reference);  // before and after the phases, on the same disk
    std::map<int, Figures> phases;
    for (int inflight : options.inflight) {
        AppendRun warmup(client, next_index, options.entry_bytes);
        warmup.run(inflight, 0.5);
        AppendRun measured(client, warmup.next_index(), options.entry_bytes);
        phases[inflight] = measured.run(inflight, options.seconds);
        next_index = measured.next_index();
        print_figures("inflight " + std::to_string(inflight), phases[inflight]);
    }
    run_reference(options, &reference);
    reference.print();
    logstore->signal(SIGTERM);
    logstore->wait(std::chrono::seconds(10));
    print_json(options, phases, reference);
    if (!options.keep) std::filesystem::remove_all(options.data_dir);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    Result<Options> options = parse_options(argc, argv, &exit_code);
    if (!options.is_ok()) return exit_code;
    return run(*options);
}
