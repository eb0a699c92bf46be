// copycat-logstore as a real process: appends streamed over ZeroMQ, kill -9 at a random
// moment, restart, and every acknowledged entry must be there byte for byte. Also the
// process's answers to bad input and to a corrupt log.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>

#include "logstore/client.h"
#include "logstore/protocol.h"
#include "tests/support/subprocess.h"

namespace copycat::logstore {
namespace {

using namespace std::chrono_literals;
using copycat::testing::failing_fdatasync_wrapper;
using copycat::testing::Subprocess;
using copycat::testing::TempDir;

class LogstoreProcessTest : public ::testing::Test {
protected:
    std::string data_dir() const { return dir_.path() + "/data"; }
    std::string endpoint() const { return "ipc://" + dir_.path() + "/logstore.sock"; }

    Subprocess launch(std::vector<std::string> extra = {}, std::string listen = "") {
        std::vector<std::string> argv = {COPYCAT_LOGSTORE_BINARY,
                                         "--data-dir",
                                         data_dir(),
                                         "--listen",
                                         listen.empty() ? endpoint() : listen,
                                         "--http",
                                         "127.0.0.1:0",
                                         "--log-format",
                                         "text"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        Result<Subprocess> process = Subprocess::start(argv, dir_.path() + "/logstore.out");
        EXPECT_TRUE(process.is_ok());
        return std::move(*process);
    }

    void start(std::vector<std::string> extra = {}) {
        process_.emplace(launch(std::move(extra)));
        context_.emplace(1);
        client_.emplace(*context_, endpoint());
    }

    void stop_hard() {
        client_.reset();
        context_.reset();
        process_->kill_now();
    }

    StorageClient& client() { return *client_; }

    const fb::StatusResponse* status(std::optional<Reply>* holder) {
        uint64_t id = client().next_request_id();
        Result<Reply> reply = client().call(make_status(id), id);
        EXPECT_TRUE(reply.is_ok()) << reply.status().to_string() << "\n" << process_->output();
        if (!reply.is_ok()) return nullptr;
        holder->emplace(std::move(*reply));
        return (*holder)->message()->body_as_StatusResponse();
    }

    std::vector<Entry> read_all(uint64_t last_index) {
        std::vector<Entry> entries;
        uint64_t next = 1;
        while (next <= last_index) {
            uint64_t id = client().next_request_id();
            Result<Reply> reply = client().call(make_read(id, next, last_index, 1 << 20), id);
            EXPECT_TRUE(reply.is_ok()) << reply.status().to_string();
            if (!reply.is_ok()) break;
            auto chunk = entries_of(reply->message()->body_as_ReadResponse()->entries());
            if (chunk.empty()) break;
            next = chunk.back().index + 1;
            entries.insert(entries.end(), chunk.begin(), chunk.end());
        }
        return entries;
    }

    // Starts a logstore rolling over every 10 entries, appends 25 (three segments), kills it.
    void write_three_segments_and_stop(uint64_t seed);

    TempDir dir_;
    std::optional<Subprocess> process_;
    std::optional<zmq::context_t> context_;
    std::optional<StorageClient> client_;
};

Entry random_entry(std::mt19937_64& random, uint64_t index, uint64_t term) {
    Entry entry{index, term, static_cast<uint8_t>(random() % 9), {}};
    entry.payload.resize(1 + random() % 300);
    for (auto& byte : entry.payload) byte = static_cast<uint8_t>(random());
    return entry;
}

void LogstoreProcessTest::write_three_segments_and_stop(uint64_t seed) {
    start({"--segment-max-entries", "10"});
    std::mt19937_64 random(seed);
    std::vector<Entry> entries;
    for (uint64_t i = 1; i <= 25; ++i) entries.push_back(random_entry(random, i, 1));
    uint64_t id = client().next_request_id();
    ASSERT_TRUE(client().call(make_append(id, entries), id).is_ok());
    stop_hard();
}

void flip_byte(const std::string& path, std::streamoff offset, char mask) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(offset);
    char byte = 0;
    file.read(&byte, 1);
    file.seekp(offset);
    byte = static_cast<char>(byte ^ mask);
    file.write(&byte, 1);
}

// Streams appends with up to 32 in flight until `acks_before_kill` DurableAcks arrived,
// then kills the process with SIGKILL. Returns the highest acknowledged durable index.
uint64_t stream_then_kill(StorageClient& client, Subprocess& process, std::vector<Entry>& sent,
                          std::mt19937_64& random, int acks_before_kill) {
    uint64_t acknowledged = 0;
    uint64_t last_sent_request = client.next_request_id(), last_acked_request = last_sent_request;
    uint64_t term = 1 + sent.size() / 500;
    for (int acks = 0; acks < acks_before_kill; ++acks) {
        while (last_sent_request - last_acked_request < 32) {
            std::vector<Entry> batch;
            for (uint64_t k = 0, n = 1 + random() % 4; k < n; ++k) {
                batch.push_back(random_entry(random, sent.size() + 1, term));
                sent.push_back(batch.back());
            }
            last_sent_request = client.next_request_id();
            EXPECT_TRUE(client.send(make_append(last_sent_request, batch)).is_ok());
        }
        std::optional<Reply> reply = client.receive(10s);
        if (!reply) {
            ADD_FAILURE() << "no acknowledgement within 10 s";
            break;
        }
        const fb::DurableAck* ack = reply->message()->body_as_DurableAck();
        if (ack == nullptr) {
            ADD_FAILURE() << "unexpected reply: " << reply->error().to_string();
            break;
        }
        acknowledged = std::max(acknowledged, ack->durable_index());
        last_acked_request = std::max(last_acked_request, reply->request_id());
    }
    process.kill_now();
    return acknowledged;
}

TEST_F(LogstoreProcessTest, KillNineNeverLosesAnAcknowledgedEntry) {
    std::mt19937_64 random(20261127);
    std::vector<Entry> sent;
    uint64_t acknowledged = 0;
    for (int round = 0; round < 5; ++round) {
        start({"--segment-max-bytes", "65536"});
        std::optional<Reply> holder;
        const fb::StatusResponse* s = status(&holder);
        ASSERT_NE(s, nullptr);
        ASSERT_GE(s->last_index(), acknowledged) << "acknowledged entries lost in round " << round;
        std::vector<Entry> stored = read_all(s->last_index());
        ASSERT_EQ(stored.size(), s->last_index());
        for (size_t i = 0; i < stored.size(); ++i) {
            ASSERT_EQ(stored[i], sent[i]) << "entry " << i + 1 << " differs after restart";
        }
        sent.resize(s->last_index());  // what was never acknowledged may be gone
        int acks_before_kill = 20 + static_cast<int>(random() % 400);
        acknowledged = stream_then_kill(client(), *process_, sent, random, acks_before_kill);
        client_.reset();
        context_.reset();
    }
}

TEST_F(LogstoreProcessTest, BadInputGetsAnErrorAndTheProcessKeepsServing) {
    start();
    std::vector<uint8_t> garbage = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    ASSERT_TRUE(client().send(garbage).is_ok());
    std::optional<Reply> reply = client().receive(5s);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->message()->body_as_ErrorResponse()->code(), fb::ErrorCode::Malformed);

    std::mt19937_64 random(1);
    std::vector<Entry> first = {random_entry(random, 1, 1), random_entry(random, 2, 1)};
    uint64_t id = client().next_request_id();
    ASSERT_TRUE(client().call(make_append(id, first), id).is_ok());

    std::vector<Entry> gap = {random_entry(random, 4, 1)};
    id = client().next_request_id();
    Result<Reply> refused = client().call(make_append(id, gap), id);
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(refused.status().message().find("gap"), std::string::npos);

    id = client().next_request_id();
    refused = client().call(make_truncate(id, 0, 2), id);
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument);

    std::vector<Entry> backwards = {random_entry(random, 3, 0)};
    id = client().next_request_id();
    refused = client().call(make_append(id, backwards), id);
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument);

    std::optional<Reply> holder;
    const fb::StatusResponse* s = status(&holder);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->last_index(), 2u);
    EXPECT_EQ(read_all(2), first);
}

TEST_F(LogstoreProcessTest, CleanShutdownOnSigtermAndOneProcessPerDataDir) {
    start();
    std::optional<Reply> holder;
    ASSERT_NE(status(&holder), nullptr);
    Subprocess second = launch({}, "ipc://" + dir_.path() + "/second.sock");
    EXPECT_EQ(second.wait(10s), 1);
    EXPECT_NE(second.output().find("locked by another process"), std::string::npos);
    process_->signal(SIGTERM);
    EXPECT_EQ(process_->wait(10s), 0) << process_->output();
}

// A bad flag is refused before anything is opened or created: exit 2, the flag named, no log
// directory left behind.
TEST_F(LogstoreProcessTest, ABadHttpAddressExitsTwoBeforeCreatingALog) {
    Result<Subprocess> process =
        Subprocess::start({COPYCAT_LOGSTORE_BINARY, "--data-dir", data_dir(), "--listen",
                           endpoint(), "--http", "0.0.0.0:99999", "--log-format", "text"},
                          dir_.path() + "/logstore.out");
    ASSERT_TRUE(process.is_ok());
    EXPECT_EQ(process->wait(10s), 2);
    EXPECT_NE(process->output().find("0.0.0.0:99999"), std::string::npos) << process->output();
    EXPECT_FALSE(std::filesystem::exists(data_dir() + "/log"));
}

TEST_F(LogstoreProcessTest, RefusesToStartOnACorruptSealedSegmentNamingFileAndOffset) {
    write_three_segments_and_stop(3);
    std::string segment = data_dir() + "/log/segment-00000001-v1.log";
    ASSERT_TRUE(std::filesystem::exists(segment));
    flip_byte(segment, 200, 0x10);
    Subprocess restarted = launch();
    EXPECT_EQ(restarted.wait(10s), 1);
    std::string output = restarted.output();
    EXPECT_NE(output.find("segment-00000001-v1.log"), std::string::npos) << output;
    EXPECT_NE(output.find("offset"), std::string::npos) << output;
}

// `copycat-logstore inspect` (offline, read-only): exit 0 on a healthy log with its segments
// listed (version, entries, released and the released ratio), exit 1 on a corrupt one naming
// file and offset, and it changes nothing.
TEST_F(LogstoreProcessTest, InspectChecksEveryRecordAndNamesCorruption) {
    write_three_segments_and_stop(4);
    start();  // releases 3 of the 10 entries of segment 1; SIGTERM saves the bitmap
    std::vector<uint64_t> released = {2, 5, 7};
    uint64_t id = client().next_request_id();
    ASSERT_TRUE(client().call(make_release(id, released), id).is_ok());
    process_->signal(SIGTERM);
    ASSERT_EQ(process_->wait(10s), 0);
    auto inspect = [&](const std::string& name, const std::string& format) {
        Result<Subprocess> run = Subprocess::start(
            {COPYCAT_LOGSTORE_BINARY, "inspect", "--data-dir", data_dir(), "-w", format},
            dir_.path() + "/" + name);
        EXPECT_TRUE(run.is_ok());
        int code = run->wait(10s);
        return std::make_pair(code, run->output());
    };
    auto [text_code, text] = inspect("inspect-text.out", "simple");
    EXPECT_EQ(text_code, 0) << text;
    EXPECT_NE(text.find("segment-00000001-v1.log  sealed  version 1  index 1..10  entries 10  "
                        "released 3 (30.0%)"),
              std::string::npos)
        << text;
    auto [healthy_code, healthy] = inspect("inspect-healthy.out", "json");
    EXPECT_EQ(healthy_code, 0) << healthy;
    EXPECT_NE(healthy.find("\"ok\":true"), std::string::npos) << healthy;
    EXPECT_NE(healthy.find("segment-00000003-v1.log"), std::string::npos) << healthy;
    EXPECT_NE(healthy.find("\"version\":1,"), std::string::npos) << healthy;
    EXPECT_NE(healthy.find("\"released\":3,\"released_ratio\":0.3"), std::string::npos) << healthy;
    std::string segment = data_dir() + "/log/segment-00000002-v1.log";
    flip_byte(segment, 300, 0x01);
    auto size_before = std::filesystem::file_size(segment);
    auto [corrupt_code, corrupt] = inspect("inspect-corrupt.out", "json");
    EXPECT_EQ(corrupt_code, 1) << corrupt;
    EXPECT_NE(corrupt.find("\"ok\":false"), std::string::npos) << corrupt;
    EXPECT_NE(corrupt.find("segment-00000002-v1.log at offset"), std::string::npos) << corrupt;
    EXPECT_EQ(std::filesystem::file_size(segment), size_before) << "inspect changes nothing";
}

// PostgreSQL's fsyncgate (TESTING.md, #12): after a failed fdatasync the logstore must not
// acknowledge anything more, nor pretend a retry made it durable. strace makes the 30th
// fdatasync of the process, and every one after it, fail with EIO.
TEST_F(LogstoreProcessTest, AfterAFailedFdatasyncNothingMoreIsAcknowledged) {
    std::vector<std::string> argv = failing_fdatasync_wrapper(30);
    argv.insert(argv.end(), {COPYCAT_LOGSTORE_BINARY, "--data-dir", data_dir(), "--listen",
                             endpoint(), "--http", "127.0.0.1:0"});
    if (!std::filesystem::exists(argv[0])) GTEST_SKIP() << "strace missing: run ops/install-deps";
    Result<Subprocess> traced = Subprocess::start(argv, dir_.path() + "/traced.out");
    ASSERT_TRUE(traced.is_ok());
    process_.emplace(std::move(*traced));
    context_.emplace(1);
    client_.emplace(*context_, endpoint());
    std::mt19937_64 random(12);
    std::vector<Entry> sent;
    uint64_t acknowledged = 0;
    bool refused = false;
    for (uint64_t index = 1; index <= 200 && !refused; ++index) {
        sent.push_back(random_entry(random, index, 1));
        uint64_t id = client().next_request_id();
        Result<Reply> reply = client().call(make_append(id, std::span(&sent.back(), 1)), id);
        if (reply.is_ok()) {
            acknowledged = reply->message()->body_as_DurableAck()->durable_index();
        } else {
            EXPECT_EQ(reply.status().code(), StatusCode::io_error) << reply.status().to_string();
            refused = true;
        }
    }
    ASSERT_TRUE(refused) << "the injected EIO never surfaced";
    for (int k = 0; k < 3; ++k) {  // and it stays refused: no retry pretends success
        uint64_t id = client().next_request_id();
        std::vector<Entry> next = {random_entry(random, acknowledged + 2 + k, 1)};
        EXPECT_FALSE(client().call(make_append(id, next), id).is_ok());
    }
    // Killing strace would leave the traced logstore running: kill it first, by its pid.
    for (pid_t child : process_->children()) ::kill(child, SIGKILL);
    stop_hard();
    start();
    std::optional<Reply> holder;
    const fb::StatusResponse* s = status(&holder);
    ASSERT_NE(s, nullptr);
    ASSERT_GE(s->last_index(), acknowledged);
    std::vector<Entry> stored = read_all(acknowledged);
    EXPECT_EQ(stored, std::vector<Entry>(sent.begin(), sent.begin() + acknowledged));
}

}  // namespace
}  // namespace copycat::logstore
