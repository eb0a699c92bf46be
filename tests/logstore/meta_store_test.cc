// The `meta` file: two alternating slots (FORMAT.md, "Metadata").
#include "logstore/meta_store.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

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

class LogMetaTest : public LogstoreTest {};

TEST_F(LogMetaTest, TermVoteAndConfigurationSurviveReopen) {
    std::vector<uint8_t> config = test_payload(1, 1, 100);
    {
        auto log = open_log(options());
        ASSERT_OK(log->save_term(3, 2));
        ASSERT_OK(log->save_configuration(17, 3, config));
        EXPECT_EQ(log->meta().vote, 2u);
    }
    auto log = open_log(options());
    EXPECT_EQ(log->meta(), (Meta{3, 2, 17, 3, config}));
    EXPECT_EQ(log->save_term(2, 1).code(), StatusCode::conflict);
    EXPECT_FALSE(log->failed()) << "a refused term is not an I/O failure";
    log.reset();
    EXPECT_EQ(open_log(options())->meta().term, 3u);
}

}  // namespace
}  // namespace copycat::logstore
