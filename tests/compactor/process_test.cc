// copycat-compactor as a real process beside a real copycat-logstore, on ipc sockets in a
// temporary data directory: "compact now" (minor, then major) shrinks the log and keeps every
// entry it must, metrics move, bad input is answered and counted, SIGTERM exits cleanly; and
// kill -9 at each of the compactor's crash points (copycat-compactor-failpoints) leaves an
// intact log whose leftovers the next compactor has removed before it compacts.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <optional>
#include <random>
#include <set>

#include "logstore/client.h"
#include "logstore/protocol.h"
#include "logstore/segment.h"
#include "tests/support/http_get.h"
#include "tests/support/subprocess.h"

namespace copycat::compactor {
namespace {

using namespace std::chrono_literals;
using copycat::testing::eventually;
using copycat::testing::Subprocess;
using copycat::testing::TempDir;
using logstore::Entry;
using logstore::Reply;
using logstore::StorageClient;
namespace fb = logstore::fb;

constexpr uint64_t kEntries = 240;
constexpr uint64_t kGlobalIndex = 200;

// 240 entries of 100-byte payloads, a new term every 40; every 10th a TOMBSTONE, the rest
// RELEASE. Released, as a consensus server would: below the global index (the rest is in the
// active segment or near it), never the first entry of a term (a leader's initialize entry),
// and not each 7th.
std::vector<Entry> log_entries() {
    std::mt19937_64 random(42);
    std::vector<Entry> entries;
    for (uint64_t index = 1; index <= kEntries; ++index) {
        auto mode = index % 10 == 0 ? fb::CompactionMode::Tombstone : fb::CompactionMode::Release;
        Entry e{index, 1 + (index - 1) / 40, static_cast<uint8_t>(mode), {}};
        e.payload.resize(100);
        for (auto& byte : e.payload) byte = static_cast<uint8_t>(random());
        entries.push_back(std::move(e));
    }
    return entries;
}

bool released(uint64_t index) {
    return index < kGlobalIndex && index % 7 != 0 && (index - 1) % 40 != 0;
}

class CompactorProcessTest : public ::testing::Test {
protected:
    std::string data_dir() const { return dir_.path() + "/data"; }
    std::string log_dir() const { return data_dir() + "/log"; }
    std::string compactor_endpoint() const { return "ipc://" + data_dir() + "/compactor.sock"; }

    void SetUp() override {
        std::filesystem::create_directories(data_dir());
        Result<Subprocess> logstore = Subprocess::start(
            {COPYCAT_LOGSTORE_BINARY, "--data-dir", data_dir(), "--http", "127.0.0.1:0",
             "--segment-max-bytes", "4096", "--log-format", "text"},
            dir_.path() + "/logstore.out");
        ASSERT_TRUE(logstore.is_ok());
        logstore_.emplace(std::move(*logstore));
        storage_.emplace(context_, "ipc://" + data_dir() + "/logstore.sock", 5s, "test-writer");
        fill_log();
    }

    // The defaults name the sockets in the data directory, as the logstore's do.
    Subprocess start_compactor(const std::string& binary, const std::string& crash_point = "",
                               const std::vector<std::string>& extra = {}) {
        std::vector<std::string> argv;
        if (!crash_point.empty()) {
            argv = {"/usr/bin/env", "COPYCAT_COMPACTOR_CRASH_POINT=" + crash_point};
        }
        argv.insert(argv.end(), {binary, "--data-dir", data_dir(), "--http", "127.0.0.1:0",
                                 "--segment-max-bytes", "4096", "--minor-interval", "1h",
                                 "--major-interval", "1h", "--log-format", "text"});
        argv.insert(argv.end(), extra.begin(), extra.end());
        std::string output = dir_.path() + "/compactor-" + std::to_string(++compactors_) + ".out";
        Result<Subprocess> process = Subprocess::start(argv, output);
        EXPECT_TRUE(process.is_ok());
        return std::move(*process);
    }

    Result<Reply> call(StorageClient& client, const std::vector<uint8_t>& request, uint64_t id,
                       std::chrono::milliseconds timeout = 10s) {
        return client.call(request, id, timeout);
    }

    Result<Reply> logstore_call(const std::vector<uint8_t>& request, uint64_t id) {
        Result<Reply> reply = call(*storage_, request, id);
        EXPECT_TRUE(reply.is_ok()) << reply.status().to_string() << "\n" << logstore_->output();
        return reply;
    }

    void fill_log() {
        uint64_t id = storage_->next_request_id();
        ASSERT_TRUE(logstore_call(logstore::make_append(id, entries_), id).is_ok());
        std::vector<uint64_t> indexes;
        for (uint64_t index = 1; index <= kEntries; ++index) {
            if (released(index)) indexes.push_back(index);
        }
        id = storage_->next_request_id();
        ASSERT_TRUE(logstore_call(logstore::make_release(id, indexes), id).is_ok());
        id = storage_->next_request_id();
        auto set = logstore::make_set_indexes(id, kEntries, kGlobalIndex, 0, kEntries);
        ASSERT_TRUE(logstore_call(set, id).is_ok());
    }

    uint64_t log_size_bytes() {
        uint64_t id = storage_->next_request_id();
        Result<Reply> reply = logstore_call(logstore::make_status(id), id);
        return reply.is_ok() ? reply->message()->body_as_StatusResponse()->size_bytes() : 0;
    }

    std::vector<logstore::SegmentSummary> segments() {
        uint64_t id = storage_->next_request_id();
        Result<Reply> reply = logstore_call(logstore::make_list_segments(id), id);
        std::vector<logstore::SegmentSummary> list;
        if (!reply.is_ok()) return list;
        for (const auto* info : *reply->message()->body_as_ListSegmentsResponse()->segments()) {
            list.push_back(logstore::summary_of(*info));
        }
        return list;
    }

    // Every entry the log holds is the entry written at its index, byte for byte, and every
    // entry never released is there. Returns how many it holds.
    size_t expect_log_intact() {
        uint64_t id = storage_->next_request_id();
        Result<Reply> reply = logstore_call(logstore::make_read(id, 1, kEntries, 32 << 20), id);
        if (!reply.is_ok()) return 0;
        std::vector<Entry> held =
            logstore::entries_of(reply->message()->body_as_ReadResponse()->entries());
        std::set<uint64_t> indexes;
        for (const Entry& e : held) {
            EXPECT_EQ(e, entries_.at(e.index - 1)) << "entry " << e.index << " changed";
            indexes.insert(e.index);
        }
        for (uint64_t index = 1; index <= kEntries; ++index) {
            if (released(index)) continue;
            EXPECT_TRUE(indexes.count(index)) << "unreleased " << index;
        }
        return held.size();
    }

    // Only what the manifest names (with bitmaps), MANIFEST, meta and LOCK are in the log.
    std::vector<std::string> files_not_live() {
        std::set<std::string> live = {"MANIFEST", "meta", "LOCK"};
        for (const auto& s : segments()) {
            live.insert(s.file_name);
            live.insert(logstore::release_file_name(s.id, s.version));
        }
        std::vector<std::string> others;
        for (const auto& item : std::filesystem::directory_iterator(log_dir())) {
            std::string name = item.path().filename().string();
            if (!live.count(name)) others.push_back(name);
        }
        return others;
    }

    // "Compact now" on the compactor's socket; the reply is a CompactResponse or an error.
    Result<Reply> compact(bool major, std::chrono::milliseconds timeout = 60s) {
        // A routing id per connection: a ROUTER hands an id over to its newest holder.
        StorageClient client(context_, compactor_endpoint(), 5s,
                             "test-ctl-" + std::to_string(++connections_));
        uint64_t id = client.next_request_id();
        return call(client, logstore::make_compact(id, major), id, timeout);
    }

    // The HTTP port the compactor logged it serves on.
    int http_port(const Subprocess& process) {
        int port = 0;
        EXPECT_TRUE(eventually(
            [&] {
                std::string out = process.output();
                size_t at = out.find("http=127.0.0.1:", out.find(" serving "));
                if (out.find(" serving ") == std::string::npos || at == std::string::npos) {
                    return false;
                }
                port = std::atoi(out.c_str() + at + 15);
                return port > 0;
            },
            10s))
            << process.output();
        return port;
    }

    TempDir dir_;
    const std::vector<Entry> entries_ = log_entries();
    zmq::context_t context_{1};
    std::optional<Subprocess> logstore_;
    std::optional<StorageClient> storage_;
    int compactors_ = 0;
    int connections_ = 0;
};

TEST_F(CompactorProcessTest, CompactNowShrinksTheLogAndKeepsWhatItMust) {
    Subprocess compactor = start_compactor(COPYCAT_COMPACTOR_BINARY);
    int port = http_port(compactor);
    ASSERT_TRUE(eventually([&] { return testing::http_get(port, "/readyz", 1s).has_value(); }, 10s))
        << "ready once the logstore answers\n"
        << compactor.output();
    uint64_t size_before = log_size_bytes();
    size_t segments_before = segments().size();

    Result<Reply> minor = compact(false);
    ASSERT_TRUE(minor.is_ok()) << minor.status().to_string() << "\n" << compactor.output();
    const fb::CompactResponse* done = minor->message()->body_as_CompactResponse();
    ASSERT_NE(done, nullptr);
    EXPECT_FALSE(done->major());
    EXPECT_GT(done->segments_rewritten(), 0u) << compactor.output();
    EXPECT_EQ(done->segments_replaced(), done->segments_rewritten()) << "minor never combines";
    EXPECT_GT(done->reclaimed_bytes(), 0u);
    uint64_t size_after_minor = log_size_bytes();
    EXPECT_EQ(size_after_minor, size_before - done->reclaimed_bytes());
    EXPECT_EQ(expect_log_intact(), kEntries - done->entries_removed());

    Result<Reply> major = compact(true);
    ASSERT_TRUE(major.is_ok()) << major.status().to_string() << "\n" << compactor.output();
    done = major->message()->body_as_CompactResponse();
    ASSERT_NE(done, nullptr);
    EXPECT_TRUE(done->major());
    EXPECT_GT(done->segments_replaced(), done->segments_rewritten()) << "major combines";
    EXPECT_LT(segments().size(), segments_before);
    EXPECT_LT(log_size_bytes(), size_after_minor);
    expect_log_intact();
    EXPECT_TRUE(files_not_live().empty());

    std::string metrics = testing::http_get(port, "/metrics", 5s).value_or("");
    using testing::metric_sum;
    EXPECT_EQ(metric_sum(metrics, "copycat_compactor_runs_total", {"kind=\"minor\""}), 1);
    EXPECT_EQ(metric_sum(metrics, "copycat_compactor_runs_total", {"kind=\"snapshot\""}), 1);
    EXPECT_EQ(metric_sum(metrics, "copycat_compactor_runs_total", {"kind=\"major\""}), 1);
    EXPECT_EQ(metric_sum(metrics, "copycat_compactor_duration_seconds_count"), 3);
    EXPECT_EQ(metric_sum(metrics, "copycat_compactor_reclaimed_bytes_total"),
              static_cast<double>(size_before - log_size_bytes()));
    EXPECT_EQ(metric_sum(metrics, "copycat_build_info"), 1);

    compactor.signal(SIGTERM);
    EXPECT_EQ(compactor.wait(10s), 0) << compactor.output();
}

TEST_F(CompactorProcessTest, BadInputGetsAnErrorAndTheProcessKeepsServing) {
    Subprocess compactor = start_compactor(COPYCAT_COMPACTOR_BINARY);
    int port = http_port(compactor);
    StorageClient client(context_, compactor_endpoint(), 5s, "test-bad");
    std::vector<uint8_t> garbage = {7, 7, 7, 7, 1, 2, 3};
    ASSERT_TRUE(client.send(garbage).is_ok());
    std::optional<Reply> reply = client.receive(10s);
    ASSERT_TRUE(reply.has_value());
    ASSERT_NE(reply->message(), nullptr);
    EXPECT_EQ(reply->message()->body_as_ErrorResponse()->code(), fb::ErrorCode::Malformed);

    uint64_t id = client.next_request_id();
    Result<Reply> refused = call(client, logstore::make_status(id), id);
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(refused.status().message().find("StatusRequest is not a request"), std::string::npos)
        << refused.status().message();

    Result<Reply> minor = compact(false);
    ASSERT_TRUE(minor.is_ok()) << minor.status().to_string();
    EXPECT_GT(minor->message()->body_as_CompactResponse()->segments_rewritten(), 0u);
    std::string metrics = testing::http_get(port, "/metrics", 5s).value_or("");
    using testing::metric_sum;
    EXPECT_EQ(metric_sum(metrics, "copycat_compactor_bad_requests_total", {"malformed"}), 1);
    EXPECT_EQ(metric_sum(metrics, "copycat_compactor_bad_requests_total", {"not_a_request"}), 1);
    EXPECT_TRUE(compactor.running());
}

TEST_F(CompactorProcessTest, WithoutItsLogstoreItIsNotReadyAndARunFailsWithTheReason) {
    Subprocess compactor =
        start_compactor(COPYCAT_COMPACTOR_BINARY, "", {"--logstore-timeout", "500ms"});
    int port = http_port(compactor);
    ASSERT_TRUE(
        eventually([&] { return testing::http_get(port, "/readyz", 1s).has_value(); }, 10s));
    storage_.reset();
    logstore_->kill_now();
    EXPECT_TRUE(
        eventually([&] { return !testing::http_get(port, "/readyz", 1s).has_value(); }, 10s));
    Result<Reply> failed = compact(false);
    ASSERT_FALSE(failed.is_ok());
    EXPECT_NE(failed.status().message().find("snapshot compaction stopped after 0 rewrites: "
                                             "cannot have compaction leftovers removed"),
              std::string::npos)
        << failed.status().to_string();
    std::string metrics = testing::http_get(port, "/metrics", 5s).value_or("");
    EXPECT_EQ(
        testing::metric_sum(metrics, "copycat_compactor_failures_total", {"kind=\"snapshot\""}), 1);
    EXPECT_TRUE(testing::http_get(port, "/livez", 1s).has_value()) << "alive all the same";
}

TEST_F(CompactorProcessTest, OneCompactorPerDataDirectory) {
    Subprocess first = start_compactor(COPYCAT_COMPACTOR_BINARY);
    http_port(first);
    Subprocess second = start_compactor(COPYCAT_COMPACTOR_BINARY);
    EXPECT_EQ(second.wait(10s), 1);
    EXPECT_NE(second.output().find("locked by another process"), std::string::npos)
        << second.output();
    EXPECT_TRUE(first.running());
}

TEST_F(CompactorProcessTest, TheProductionBinaryIgnoresTheCrashPointVariable) {
    Subprocess compactor = start_compactor(COPYCAT_COMPACTOR_BINARY, "replace.after_tmp_write");
    Result<Reply> minor = compact(false);
    ASSERT_TRUE(minor.is_ok()) << minor.status().to_string() << "\n" << compactor.output();
    EXPECT_GT(minor->message()->body_as_CompactResponse()->segments_rewritten(), 0u);
    EXPECT_TRUE(compactor.running());
}

class CompactorKillTest : public CompactorProcessTest,
                          public ::testing::WithParamInterface<const char*> {};

TEST_P(CompactorKillTest, KillNineAtACrashPointLeavesAnIntactLogAndALaterRunWorks) {
    Subprocess crashing = start_compactor(COPYCAT_COMPACTOR_FAILPOINTS_BINARY, GetParam());
    StorageClient client(context_, compactor_endpoint(), 5s, "test-crashing");
    ASSERT_TRUE(client.send(logstore::make_compact(client.next_request_id(), false)).is_ok());
    EXPECT_EQ(crashing.wait(30s), 128 + SIGKILL) << crashing.output();
    EXPECT_FALSE(client.receive(100ms).has_value()) << "no answer from a process killed in its run";
    EXPECT_NE(crashing.output().find("failpoint: SIGKILL"), std::string::npos);

    expect_log_intact();
    size_t leftovers = files_not_live().size();
    std::string point = GetParam();
    if (point == "compactor.after_install") {
        EXPECT_EQ(leftovers, 0u) << "installed";
    } else if (point != "compactor.install_sent") {  // there, either may be
        EXPECT_EQ(leftovers, 1u) << "the new version, never installed";
    }
    Subprocess compactor = start_compactor(COPYCAT_COMPACTOR_BINARY);
    Result<Reply> minor = compact(false);
    ASSERT_TRUE(minor.is_ok()) << minor.status().to_string() << "\n" << compactor.output();
    const fb::CompactResponse* done = minor->message()->body_as_CompactResponse();
    EXPECT_EQ(done->leftovers_removed(), leftovers);
    EXPECT_TRUE(files_not_live().empty());
    expect_log_intact();
    Result<Reply> major = compact(true);
    ASSERT_TRUE(major.is_ok()) << major.status().to_string();
    expect_log_intact();
}

INSTANTIATE_TEST_SUITE_P(CrashPoints, CompactorKillTest,
                         ::testing::Values("replace.after_tmp_write", "replace.after_rename",
                                           "compactor.before_install", "compactor.install_sent",
                                           "compactor.after_install"),
                         [](const auto& info) {
                             std::string name = info.param;
                             for (char& c : name) c = std::isalnum(c) ? c : '_';
                             return name;
                         });

}  // namespace
}  // namespace copycat::compactor
