// The snapshot store of copycat-consensus (consensus/server/SNAPSHOTS.md): the file format and
// its checks, a crash at each step of a save, which snapshot start-up chooses (and when it must
// refuse), how the log must continue it, and the writer thread. Real files in a temporary
// directory; crashes are simulated by a crash point handler that throws at the k-th step, which
// leaves exactly the files that step leaves.
#include <gtest/gtest.h>

#include <poll.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "consensus/server/snapshot_store.h"
#include "consensus/server/snapshot_writer.h"
#include "logstore/file.h"
#include "tests/support/subprocess.h"

namespace copycat::server {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

raft::Configuration three_members(raft::Index index) {
    raft::Configuration configuration{index, 1, {}};
    for (raft::NodeId id = 1; id <= 3; ++id) {
        configuration.members.push_back(
            {id, raft::MemberType::active, true, "tcp://127.0.0.1:" + std::to_string(7100 + id)});
    }
    return configuration;
}

// A snapshot whose data says which index it was taken at.
raft::Snapshot snapshot_at(raft::Index index, raft::Term term = 2, size_t bytes = 300) {
    std::vector<uint8_t> data(bytes);
    for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<uint8_t>(index * 31 + i);
    return raft::Snapshot{index, term, three_members(1),
                          std::make_shared<const std::vector<uint8_t>>(std::move(data))};
}

void expect_same(const raft::Snapshot& actual, const raft::Snapshot& expected) {
    EXPECT_EQ(actual.index, expected.index);
    EXPECT_EQ(actual.term, expected.term);
    EXPECT_EQ(actual.configuration, expected.configuration);
    ASSERT_NE(actual.data, nullptr);
    EXPECT_EQ(*actual.data, *expected.data);
}

// Entries [first, last] of one term, as the logstore hands them back.
std::vector<raft::Entry> log_of(raft::Index first, raft::Index last, raft::Term term = 2) {
    std::vector<raft::Entry> entries;
    for (raft::Index i = first; i <= last; ++i) {
        entries.push_back({term, i, raft::EntryType::command, 0, 0, {1, 2, 3}});
    }
    return entries;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

class SnapshotStoreTest : public ::testing::Test {
protected:
    std::string folder() const { return temp_.path() + "/snapshots"; }
    std::unique_ptr<SnapshotStore> open_store() {
        Result<std::unique_ptr<SnapshotStore>> store = SnapshotStore::open(folder());
        EXPECT_TRUE(store.is_ok()) << store.status().to_string();
        return store.is_ok() ? std::move(store.value()) : nullptr;
    }
    void save(SnapshotStore& store, const raft::Snapshot& snapshot) {
        Result<SnapshotStore::Saved> saved = store.save(snapshot);
        ASSERT_TRUE(saved.is_ok()) << saved.status().to_string();
    }
    std::vector<std::string> files() const {
        std::vector<std::string> names;
        for (const auto& item : fs::directory_iterator(folder())) {
            names.push_back(item.path().filename().string());
        }
        std::sort(names.begin(), names.end());
        return names;
    }
    std::string path(raft::Index index, raft::Term term = 2) const {
        return folder() + "/" + SnapshotName{index, term}.file_name();
    }
    // Flips one bit of a stored snapshot file.
    void damage(raft::Index index, size_t offset) {
        std::vector<uint8_t> bytes = file_bytes(path(index));
        ASSERT_LT(offset, bytes.size());
        bytes[offset] ^= 0x10;
        write_bytes(path(index), bytes);
    }

    TempDir temp_;
};

TEST(SnapshotNameTest, NamesSortByIndexAndParseBack) {
    EXPECT_EQ(SnapshotName({42, 7}).file_name(), "snapshot-00000000000000000042-7.snap");
    EXPECT_EQ(parse_snapshot_name("snapshot-00000000000000000042-7.snap"), SnapshotName({42, 7}));
    for (const char* other : {"snapshot-00000000000000000042-7.snap.tmp",
                              "snapshot-00000000000000000042-7.snap.corrupt", "snapshot-42-7.snap",
                              "snapshot-00000000000000000000-7.snap",
                              "snapshot-0000000000000000004x-7.snap", "notes.txt"}) {
        EXPECT_FALSE(parse_snapshot_name(other).has_value()) << other;
    }
}

TEST(SnapshotFormatTest, EncodedBytesDecodeToTheSameSnapshot) {
    const raft::Snapshot snapshot = snapshot_at(1234, 5);
    SnapshotFraming framing = frame_snapshot(snapshot);
    std::vector<uint8_t> bytes = framing.head;
    bytes.insert(bytes.end(), snapshot.data->begin(), snapshot.data->end());
    bytes.insert(bytes.end(), framing.tail.begin(), framing.tail.end());
    Result<raft::Snapshot> decoded = decode_snapshot(bytes);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    expect_same(*decoded, snapshot);
}

// LevelDB's way: a flipped bit anywhere, or a file cut anywhere, is caught.
TEST(SnapshotFormatTest, EveryFlippedBitAndEveryCutIsDetected) {
    const raft::Snapshot snapshot = snapshot_at(9, 1, 64);
    SnapshotFraming framing = frame_snapshot(snapshot);
    std::vector<uint8_t> bytes = framing.head;
    bytes.insert(bytes.end(), snapshot.data->begin(), snapshot.data->end());
    bytes.insert(bytes.end(), framing.tail.begin(), framing.tail.end());
    for (size_t at = 0; at < bytes.size(); ++at) {
        for (uint8_t bit : {0x01, 0x80}) {
            std::vector<uint8_t> flipped = bytes;
            flipped[at] ^= bit;
            Result<raft::Snapshot> decoded = decode_snapshot(flipped);
            ASSERT_FALSE(decoded.is_ok()) << "bit " << int(bit) << " at offset " << at;
            EXPECT_EQ(decoded.status().code(), StatusCode::corruption);
        }
    }
    for (size_t length = 0; length < bytes.size(); ++length) {
        std::span<const uint8_t> cut(bytes.data(), length);
        EXPECT_FALSE(decode_snapshot(cut).is_ok()) << "cut at " << length;
    }
    bytes.push_back(0);
    EXPECT_FALSE(decode_snapshot(bytes).is_ok()) << "a byte appended";
}

TEST_F(SnapshotStoreTest, ASavedSnapshotIsLoadedBackWhole) {
    auto store = open_store();
    const raft::Snapshot snapshot = snapshot_at(100, 3, 100'000);
    Result<SnapshotStore::Saved> saved = store->save(snapshot);
    ASSERT_TRUE(saved.is_ok()) << saved.status().to_string();
    EXPECT_TRUE(saved->written);
    EXPECT_EQ(saved->bytes, fs::file_size(path(100, 3)));
    // Saving it again (a restart storing what it loaded) writes nothing.
    Result<SnapshotStore::Saved> again = store->save(snapshot);
    ASSERT_TRUE(again.is_ok());
    EXPECT_FALSE(again->written);

    auto reopened = open_store();
    Result<std::optional<raft::Snapshot>> loaded = reopened->load(log_of(90, 120, 3));
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    ASSERT_TRUE(loaded->has_value());
    expect_same(**loaded, snapshot);
}

TEST_F(SnapshotStoreTest, AnEmptyFolderHasNoSnapshot) {
    auto store = open_store();
    Result<std::optional<raft::Snapshot>> loaded = store->load(log_of(1, 10));
    ASSERT_TRUE(loaded.is_ok());
    EXPECT_FALSE(loaded->has_value());
}

TEST_F(SnapshotStoreTest, OnlyTheNewestTwoAreKept) {
    auto store = open_store();
    for (raft::Index index : {10, 20, 30, 40}) save(*store, snapshot_at(index));
    EXPECT_EQ(files(), (std::vector<std::string>{SnapshotName{30, 2}.file_name(),
                                                 SnapshotName{40, 2}.file_name()}));
}

TEST_F(SnapshotStoreTest, LeftoverTmpFilesAreRemovedAtStartAndNeverRead) {
    {
        auto store = open_store();
        save(*store, snapshot_at(10));
    }
    // A newer snapshot half-written when the process died, and a whole one never renamed.
    write_bytes(path(30) + ".tmp", {1, 2, 3});
    fs::copy_file(path(10), path(20) + ".tmp");
    auto store = open_store();
    EXPECT_EQ(files(), (std::vector<std::string>{SnapshotName{10, 2}.file_name()}));
    Result<std::optional<raft::Snapshot>> loaded = store->load(log_of(1, 40));
    ASSERT_TRUE(loaded.is_ok());
    ASSERT_TRUE(loaded->has_value());
    EXPECT_EQ((*loaded)->index, 10u);
}

TEST_F(SnapshotStoreTest, DiscardingRemovesEverySnapshot) {
    auto store = open_store();
    for (raft::Index index : {10, 20}) save(*store, snapshot_at(index));
    ASSERT_TRUE(store->discard_all().is_ok());
    EXPECT_TRUE(files().empty());
    Result<std::optional<raft::Snapshot>> loaded = open_store()->load(log_of(1, 5));
    ASSERT_TRUE(loaded.is_ok());
    EXPECT_FALSE(loaded->has_value());
}

// --- a crash at each step of a save ---------------------------------------------------------

struct SimulatedCrash {
    std::string point;
};

TEST_F(SnapshotStoreTest, ACrashAtEveryStepOfASaveLeavesTheOldOrTheNewSnapshot) {
    const std::vector<std::string> steps = {
        "snapshot.after_tmp_write", "snapshot.after_tmp_sync", "snapshot.after_rename",
        "snapshot.after_directory_sync", "snapshot.after_cleanup"};
    std::vector<std::string> passed;
    {
        auto store = open_store();
        save(*store, snapshot_at(10));
        save(*store, snapshot_at(20));
        logstore::set_crash_point_handler([&](const char* name) { passed.push_back(name); });
        save(*store, snapshot_at(30));
        logstore::set_crash_point_handler(nullptr);
    }
    ASSERT_EQ(passed, steps);
    for (size_t k = 0; k < steps.size(); ++k) {
        SCOPED_TRACE("crash after " + steps[k]);
        fs::remove_all(folder());
        {
            auto store = open_store();
            save(*store, snapshot_at(10));
            save(*store, snapshot_at(20));
            size_t seen = 0;
            logstore::set_crash_point_handler([&](const char* name) {
                if (seen++ == k) throw SimulatedCrash{name};
            });
            EXPECT_THROW((void)store->save(snapshot_at(30)), SimulatedCrash);
            logstore::set_crash_point_handler(nullptr);
        }
        // The restart: before the rename the old snapshot; from the rename on the new one.
        auto restarted = open_store();
        Result<std::optional<raft::Snapshot>> loaded = restarted->load(log_of(1, 40));
        ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
        ASSERT_TRUE(loaded->has_value());
        const raft::Index expected = k < 2 ? 20 : 30;
        expect_same(**loaded, snapshot_at(expected));
        const std::vector<std::string> kept = files();
        ASSERT_EQ(kept.size(), 2u);
        EXPECT_EQ(kept.back(), SnapshotName({expected, 2}).file_name());
    }
}

// --- start-up choosing ----------------------------------------------------------------------

TEST_F(SnapshotStoreTest, ACorruptNewestFallsBackWhenTheLogRebuildsIt) {
    {
        auto store = open_store();
        save(*store, snapshot_at(10));
        save(*store, snapshot_at(20));
    }
    damage(20, 100);
    auto store = open_store();
    Result<std::optional<raft::Snapshot>> loaded = store->load(log_of(1, 25));
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    ASSERT_TRUE(loaded->has_value());
    expect_same(**loaded, snapshot_at(10));
    EXPECT_EQ(files(), (std::vector<std::string>{SnapshotName{10, 2}.file_name(),
                                                 SnapshotName{20, 2}.file_name() + ".corrupt"}));
}

TEST_F(SnapshotStoreTest, ACorruptNewestWhoseEntriesAreGoneStopsTheStart) {
    {
        auto store = open_store();
        save(*store, snapshot_at(10));
        save(*store, snapshot_at(20));
    }
    damage(20, 3);
    struct Case {
        std::string what;
        std::vector<raft::Entry> log;
    };
    std::vector<raft::Entry> with_hole = log_of(1, 14);
    const std::vector<raft::Entry> after_hole = log_of(16, 25);
    with_hole.insert(with_hole.end(), after_hole.begin(), after_hole.end());
    const std::vector<Case> cases = {
        {"compacted: a hole between the two snapshots", with_hole},
        {"reset by an install: the log starts after the corrupt snapshot", log_of(21, 30)},
        {"taken past the durable log: the log ends before it", log_of(1, 18)},
        {"another history: its entry at 20 has another term", log_of(1, 25, 1)},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        auto store = open_store();
        Result<std::optional<raft::Snapshot>> loaded = store->load(c.log);
        ASSERT_FALSE(loaded.is_ok());
        EXPECT_EQ(loaded.status().code(), StatusCode::corruption);
        EXPECT_NE(loaded.status().message().find(SnapshotName{20, 2}.file_name()),
                  std::string::npos)
            << loaded.status().message();
        EXPECT_NE(loaded.status().message().find("join it again under a new id"),
                  std::string::npos);
        // Nothing is touched: the operator finds the files as they were.
        EXPECT_EQ(files(), (std::vector<std::string>{SnapshotName{10, 2}.file_name(),
                                                     SnapshotName{20, 2}.file_name()}));
    }
}

TEST_F(SnapshotStoreTest, AnOnlySnapshotCorruptFallsBackToTheWholeLog) {
    {
        auto store = open_store();
        save(*store, snapshot_at(20));
    }
    damage(20, 50);
    Result<std::optional<raft::Snapshot>> from_start = open_store()->load(log_of(1, 30));
    ASSERT_TRUE(from_start.is_ok()) << from_start.status().to_string();
    EXPECT_FALSE(from_start->has_value());
}

TEST_F(SnapshotStoreTest, AFileWhoseContentDoesNotMatchItsNameIsCorrupt) {
    {
        auto store = open_store();
        save(*store, snapshot_at(10));
        save(*store, snapshot_at(20));
    }
    fs::rename(path(20), path(30));  // whole and valid, but named for another index
    Result<std::optional<raft::Snapshot>> loaded = open_store()->load(log_of(1, 40));
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    ASSERT_TRUE(loaded->has_value());
    EXPECT_EQ((*loaded)->index, 10u);
}

TEST(FallbackCheckTest, NeedsEveryIndexUpToTheCorruptOneWithItsTerm) {
    const SnapshotName corrupt{20, 2};
    EXPECT_TRUE(fallback_check(10, corrupt, log_of(11, 20)).is_ok());
    EXPECT_TRUE(fallback_check(10, corrupt, log_of(1, 40)).is_ok());
    EXPECT_TRUE(fallback_check(0, corrupt, log_of(1, 20)).is_ok());
    EXPECT_FALSE(fallback_check(10, corrupt, log_of(12, 30)).is_ok());  // lacks 11
    EXPECT_FALSE(fallback_check(10, corrupt, log_of(11, 19)).is_ok());  // lacks 20
    EXPECT_FALSE(fallback_check(0, corrupt, log_of(2, 30)).is_ok());    // lacks 1
    EXPECT_FALSE(fallback_check(10, corrupt, log_of(1, 30, 3)).is_ok());
    EXPECT_FALSE(fallback_check(10, corrupt, {}).is_ok());
}

// --- the log after the snapshot -------------------------------------------------------------

raft::RestoredState restored_log(raft::Index first, raft::Index last, raft::Term term = 2) {
    raft::RestoredState restored;
    restored.first_index = first;
    if (last >= first) restored.entries = log_of(first, last, term);
    return restored;
}

TEST(AttachSnapshotTest, ALogThatContinuesTheSnapshotIsKept) {
    raft::RestoredState overlapping = restored_log(1, 30);
    Result<bool> reset = attach_snapshot(overlapping, snapshot_at(20));
    ASSERT_TRUE(reset.is_ok()) << reset.status().to_string();
    EXPECT_FALSE(*reset);
    ASSERT_TRUE(overlapping.snapshot.has_value());
    EXPECT_EQ(overlapping.entries.size(), 30u);

    raft::RestoredState after_install = restored_log(21, 30);
    reset = attach_snapshot(after_install, snapshot_at(20, 4));
    ASSERT_TRUE(reset.is_ok());
    EXPECT_FALSE(*reset);
    EXPECT_EQ(after_install.term_before_first, 4u);  // the term at 20: the snapshot's

    raft::RestoredState behind = restored_log(1, 5);  // Raft's restart op resets this one
    reset = attach_snapshot(behind, snapshot_at(20));
    ASSERT_TRUE(reset.is_ok());
    EXPECT_FALSE(*reset);
}

TEST(AttachSnapshotTest, ALogConflictingAtTheSnapshotIsAnInterruptedInstall) {
    raft::RestoredState conflicting = restored_log(1, 30, 1);
    Result<bool> reset = attach_snapshot(conflicting, snapshot_at(20, 2));
    ASSERT_TRUE(reset.is_ok()) << reset.status().to_string();
    EXPECT_TRUE(*reset);
    EXPECT_TRUE(conflicting.entries.empty());
    EXPECT_EQ(conflicting.first_index, 21u);
    EXPECT_EQ(conflicting.term_before_first, 2u);
}

TEST(AttachSnapshotTest, MissingEntriesBetweenSnapshotAndLogStopTheStart) {
    raft::RestoredState gap = restored_log(31, 40);
    Result<bool> reset = attach_snapshot(gap, snapshot_at(20));
    ASSERT_FALSE(reset.is_ok());
    EXPECT_NE(reset.status().message().find("entries 21..30 are missing"), std::string::npos)
        << reset.status().message();

    raft::RestoredState no_snapshot = restored_log(21, 30);
    reset = attach_snapshot(no_snapshot, std::nullopt);
    ASSERT_FALSE(reset.is_ok());
    EXPECT_NE(reset.status().message().find("no snapshot is stored"), std::string::npos);

    raft::RestoredState fresh = restored_log(1, 0);
    EXPECT_TRUE(attach_snapshot(fresh, std::nullopt).is_ok());
}

// --- the writer thread ----------------------------------------------------------------------

std::vector<SnapshotWriter::Done> wait_for_done(SnapshotWriter& writer, size_t count) {
    std::vector<SnapshotWriter::Done> all;
    for (int attempts = 0; attempts < 100 && all.size() < count; ++attempts) {
        pollfd readable{writer.notify_fd(), POLLIN, 0};
        if (::poll(&readable, 1, 100) <= 0) continue;
        for (SnapshotWriter::Done& done : writer.take_done()) all.push_back(std::move(done));
    }
    return all;
}

TEST_F(SnapshotStoreTest, TheWriterStoresInOrderAndReportsEachJob) {
    auto store = open_store();
    SnapshotWriter writer(*store);
    writer.submit(SnapshotWriter::Kind::taken, snapshot_at(10));
    writer.submit(SnapshotWriter::Kind::persist, snapshot_at(20));
    writer.submit(SnapshotWriter::Kind::persist, snapshot_at(20));
    writer.submit(SnapshotWriter::Kind::taken, snapshot_at(30));
    std::vector<SnapshotWriter::Done> done = wait_for_done(writer, 4);
    ASSERT_EQ(done.size(), 4u);
    const std::vector<raft::Index> indexes = {10, 20, 20, 30};
    for (size_t i = 0; i < done.size(); ++i) {
        EXPECT_EQ(done[i].index, indexes[i]);
        ASSERT_TRUE(done[i].saved.is_ok()) << done[i].saved.status().to_string();
        EXPECT_EQ(done[i].saved->written, i != 2) << "job " << i;
    }
    EXPECT_EQ(done[1].kind, SnapshotWriter::Kind::persist);
    EXPECT_EQ(writer.pending(), 0u);
    EXPECT_EQ(files(), (std::vector<std::string>{SnapshotName{20, 2}.file_name(),
                                                 SnapshotName{30, 2}.file_name()}));

    writer.submit(SnapshotWriter::Kind::discard);
    done = wait_for_done(writer, 1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].kind, SnapshotWriter::Kind::discard);
    EXPECT_TRUE(done[0].saved.is_ok());
    EXPECT_TRUE(files().empty());
}

TEST_F(SnapshotStoreTest, TheWriterReportsAFailedWrite) {
    auto store = open_store();
    SnapshotWriter writer(*store);
    fs::remove_all(folder());  // the folder is gone: nothing can be written there
    writer.submit(SnapshotWriter::Kind::taken, snapshot_at(10));
    std::vector<SnapshotWriter::Done> done = wait_for_done(writer, 1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_FALSE(done[0].saved.is_ok());
    EXPECT_EQ(done[0].saved.status().code(), StatusCode::io_error);
}

}  // namespace
}  // namespace copycat::server
