// The `meta` file: two alternating slots (FORMAT.md, "Metadata").
#include "logstore/meta_store.h"

#include <gtest/gtest.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "logstore/inspect.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

class MetaStoreTest : public LogstoreTest {
protected:
    std::string meta_path() const { return root_ + "/meta"; }

    MetaStore open_ok() {
        Result<MetaStore> store = MetaStore::open(meta_path());
        require_ok(store.status(), "open meta");
        return std::move(*store);
    }

    // The term stored in the slot at slot_offset, read straight from the file.
    uint64_t term_in_slot(size_t slot_offset) {
        std::vector<uint8_t> bytes = read_file_bytes(meta_path());
        uint64_t term = 0;
        if (bytes.size() >= slot_offset + 24) std::memcpy(&term, &bytes[slot_offset + 16], 8);
        return term;
    }
};

Meta meta_with(uint64_t term, uint64_t vote, uint64_t config_index, size_t config_bytes) {
    return Meta{term, vote, config_index, term, test_payload(config_index, term, config_bytes)};
}

// A slot in format 01, as saves wrote it before the log floor existed (FORMAT.md, "Metadata":
// magic CCMETA01, sequence, term, vote, configuration index and term, length, configuration,
// CRC-32C), encoded here by hand because the library only writes format 02 now.
std::vector<uint8_t> format_01_slot(uint64_t sequence, const Meta& meta) {
    const uint32_t length = static_cast<uint32_t>(meta.configuration.size());
    std::vector<uint8_t> bytes(52 + length + 4);
    std::memcpy(bytes.data(), "CCMETA01", 8);
    const uint64_t fields[5] = {sequence, meta.term, meta.vote, meta.configuration_index,
                                meta.configuration_term};
    std::memcpy(bytes.data() + 8, fields, sizeof fields);
    std::memcpy(bytes.data() + 48, &length, 4);
    if (length > 0) std::memcpy(bytes.data() + 52, meta.configuration.data(), length);
    const uint32_t crc = crc32c(bytes.data(), 52 + length);
    std::memcpy(bytes.data() + 52 + length, &crc, 4);
    return bytes;
}

TEST_F(MetaStoreTest, NewFileHoldsTermZeroAndNoVote) {
    MetaStore store = open_ok();
    EXPECT_EQ(store.meta(), Meta{});
    EXPECT_EQ(open_ok().meta(), Meta{});
}

TEST_F(MetaStoreTest, SavedValuesComeBackAfterReopen) {
    Meta saved = meta_with(5, 3, 120, 300);
    {
        MetaStore store = open_ok();
        ASSERT_OK(store.save(saved));
        EXPECT_EQ(store.meta(), saved);
    }
    EXPECT_EQ(open_ok().meta(), saved);
}

TEST_F(MetaStoreTest, SavesAlternateBetweenTheTwoSlots) {
    MetaStore store = open_ok();
    for (uint64_t term = 1; term <= 6; ++term) {
        ASSERT_OK(store.save(meta_with(term, 1, 0, 0)));
        size_t written = term % 2 == 1 ? kMetaSlotBytes : 0;  // the first save goes to slot 1
        size_t other = term % 2 == 1 ? 0 : kMetaSlotBytes;
        EXPECT_EQ(term_in_slot(written), term);
        EXPECT_EQ(term_in_slot(other), term - 1) << "the previous state stays whole";
    }
    EXPECT_EQ(open_ok().meta().term, 6u);
}

TEST_F(MetaStoreTest, TornNewestSlotFallsBackToTheOlderOne) {
    Meta older = meta_with(4, 2, 10, 50);
    {
        MetaStore store = open_ok();
        ASSERT_OK(store.save(older));                    // slot 1
        ASSERT_OK(store.save(meta_with(5, 1, 20, 50)));  // slot 0, newest
    }
    flip_bit(meta_path(), 30, 2);  // inside the newest slot's vote
    MetaStore store = open_ok();
    EXPECT_EQ(store.meta(), older);
    // The next save goes over the torn slot and wins from then on.
    Meta next = meta_with(6, 3, 30, 70);
    ASSERT_OK(store.save(next));
    EXPECT_EQ(open_ok().meta(), next);
}

TEST_F(MetaStoreTest, SlotCutShortFallsBackToTheOlderOne) {
    Meta older = meta_with(2, 1, 0, 0);
    {
        MetaStore store = open_ok();
        ASSERT_OK(store.save(meta_with(1, 1, 0, 0)));
        ASSERT_OK(store.save(older));                    // slot 0
        ASSERT_OK(store.save(meta_with(3, 1, 5, 400)));  // slot 1, at the end of the file
    }
    resize_file(meta_path(), kMetaSlotBytes + 200);  // a save torn halfway
    EXPECT_EQ(open_ok().meta(), older);
}

TEST_F(MetaStoreTest, BothSlotsCorruptIsCorruptionNamingTheFile) {
    {
        MetaStore store = open_ok();
        ASSERT_OK(store.save(meta_with(1, 1, 0, 0)));
        ASSERT_OK(store.save(meta_with(2, 1, 0, 0)));
    }
    flip_bit(meta_path(), 20, 0);
    flip_bit(meta_path(), kMetaSlotBytes + 20, 0);
    Result<MetaStore> store = MetaStore::open(meta_path());
    ASSERT_FALSE(store.is_ok());
    EXPECT_EQ(store.status().code(), StatusCode::corruption);
    EXPECT_NE(store.status().message().find(meta_path()), std::string::npos)
        << store.status().message();
}

TEST_F(MetaStoreTest, LowerTermIsRefusedAndChangesNothing) {
    Meta stored = meta_with(7, 2, 40, 20);
    MetaStore store = open_ok();
    ASSERT_OK(store.save(stored));
    std::vector<uint8_t> before = read_file_bytes(meta_path());
    Status refused = store.save(meta_with(6, 3, 41, 20));
    EXPECT_EQ(refused.code(), StatusCode::conflict) << refused.to_string();
    EXPECT_EQ(store.meta(), stored);
    EXPECT_EQ(read_file_bytes(meta_path()), before);
    EXPECT_EQ(open_ok().meta(), stored);
}

TEST_F(MetaStoreTest, LargestConfigurationFitsAndOneByteMoreIsRefused) {
    Meta largest = meta_with(1, 1, 9, kMetaConfigurationMaxBytes);
    MetaStore store = open_ok();
    ASSERT_OK(store.save(largest));  // slot 1
    Meta second = meta_with(2, 1, 10, kMetaConfigurationMaxBytes);
    ASSERT_OK(store.save(second));  // slot 0, filling it to the last byte
    Status refused = store.save(meta_with(3, 1, 11, kMetaConfigurationMaxBytes + 1));
    EXPECT_EQ(refused.code(), StatusCode::invalid_argument) << refused.to_string();
    EXPECT_EQ(store.meta(), second);
    EXPECT_EQ(open_ok().meta(), second);
}

TEST_F(MetaStoreTest, TheFloorComesBackAfterReopen) {
    Meta saved = meta_with(9, 2, 40, 30);
    saved.floor_term = 8;
    saved.floor_index = 1234;
    saved.holes_released_by = 4321;
    {
        MetaStore store = open_ok();
        ASSERT_OK(store.save(saved));
    }
    EXPECT_EQ(open_ok().meta(), saved);
    EXPECT_EQ(MetaStore::read(meta_path()).value(), saved);
}

// A node upgraded from a version without the floor finds its term, vote and configuration, and
// floor 0/0 (it never reset, or reset before floors were kept: nothing to vote by). Its next
// save is in format 02; until the one after, the other slot stays in format 01 and is still
// what a torn save falls back to.
TEST_F(MetaStoreTest, AFileFromBeforeTheFloorLoadsWithFloorZero) {
    Meta old = meta_with(4, 2, 17, 60);
    write_file_bytes(meta_path(), format_01_slot(3, old));
    MetaStore store = open_ok();
    EXPECT_EQ(store.meta(), old);
    EXPECT_EQ(store.meta().floor_term, 0u);
    EXPECT_EQ(store.meta().floor_index, 0u);
    EXPECT_EQ(store.meta().holes_released_by, 0u);

    Meta next = old;
    next.term = 5;
    next.floor_term = 4;
    next.floor_index = 99;
    ASSERT_OK(store.save(next));  // slot 1: the sequence goes on from the old slot's
    std::vector<uint8_t> bytes = read_file_bytes(meta_path());
    ASSERT_GE(bytes.size(), kMetaSlotBytes + 8);
    EXPECT_EQ(std::string(bytes.begin() + kMetaSlotBytes, bytes.begin() + kMetaSlotBytes + 8),
              "CCMETA02");
    EXPECT_EQ(open_ok().meta(), next);

    flip_bit(meta_path(), kMetaSlotBytes + 50, 1);  // inside the new slot's floor term
    EXPECT_EQ(open_ok().meta(), old);
}

class LogMetaTest : public LogstoreTest {};

TEST_F(LogMetaTest, TermVoteAndConfigurationSurviveReopen) {
    std::vector<uint8_t> config = test_payload(1, 1, 100);
    {
        auto log = open_log(options());
        ASSERT_OK(log->save_term({3, 2}));
        ASSERT_OK(log->save_configuration(17, 3, config));
        EXPECT_EQ(log->meta().vote, 2u);
    }
    auto log = open_log(options());
    EXPECT_EQ(log->meta(), (Meta{3, 2, 17, 3, config}));
    EXPECT_EQ(log->save_term({2, 1}).code(), StatusCode::conflict);
    EXPECT_FALSE(log->failed()) << "a refused term is not an I/O failure";
    log.reset();
    EXPECT_EQ(open_log(options())->meta().term, 3u);
}

// The floor a reset leaves (raft::HardState::floor_*) is saved with the term, survives a
// restart, and is kept by a later configuration save; `inspect` shows it once there is one.
TEST_F(LogMetaTest, TheFloorSurvivesReopenAndIsShownByInspect) {
    auto inspect_text = [&] {
        std::ostringstream out, err;
        EXPECT_EQ(inspect(root_, /*json=*/false, out, err), 0) << err.str();
        return out.str();
    };
    {
        auto log = open_log(options());
        ASSERT_OK(log->save_term({3, 2}));
    }
    EXPECT_EQ(inspect_text().find("floor"), std::string::npos) << "0/0: nothing to show";
    {
        auto log = open_log(options());
        ASSERT_OK(log->save_term({6, 0, 5, 310, 0}));
        ASSERT_OK(log->save_configuration(17, 6, test_payload(1, 1, 40)));
    }
    auto log = open_log(options());
    EXPECT_EQ(log->meta().term, 6u);
    EXPECT_EQ(log->meta().floor_term, 5u);
    EXPECT_EQ(log->meta().floor_index, 310u);
    log.reset();
    EXPECT_NE(inspect_text().find("term 6, vote 0, floor index 310 (term 5)"), std::string::npos)
        << inspect_text();
}

}  // namespace
}  // namespace copycat::logstore
