// Arbitrary bytes (TESTING.md, layer 5, in its deterministic form): every message the logstore
// receives and every segment image it reads may be garbage. Nothing may crash, every request
// gets an answer, and the log is left as it was or changed only by a valid request.
#include <gtest/gtest.h>

#include <random>

#include "logstore/protocol.h"
#include "logstore/segment.h"
#include "logstore/service.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

using Bytes = std::vector<uint8_t>;

// Valid messages of every request type, to mutate.
std::vector<Bytes> valid_requests() {
    std::vector<Entry> entries = test_entries(1, 3, 1);
    std::vector<uint64_t> indexes = {1, 2};
    std::vector<uint8_t> config = {1, 2, 3};
    return {make_append(1, entries),
            make_read(2, 1, 3, 1 << 20),
            make_truncate(3, 2, 0),
            make_reset(4, 10),
            make_save_term(5, {3, 2, 2, 40, 0}),
            make_save_configuration(6, 1, 1, config),
            make_load_meta(7),
            make_release(8, indexes),
            make_status(9),
            make_term_at(10, 2),
            make_list_segments(11),
            make_install_segment(12, indexes, "nope.log"),
            make_release_bits(13, indexes),
            make_remove_leftovers(14),
            make_compact(15, true)};
}

Bytes mutate(Bytes bytes, std::mt19937_64& random) {
    switch (random() % 4) {
        case 0:  // flip a few bits
            for (int k = 0; k < 1 + static_cast<int>(random() % 4); ++k) {
                if (!bytes.empty()) bytes[random() % bytes.size()] ^= 1u << (random() % 8);
            }
            break;
        case 1: bytes.resize(random() % (bytes.size() + 1)); break;  // cut
        case 2:                                                      // overwrite a word
            for (size_t k = 0; k < 4 && !bytes.empty(); ++k) {
                bytes[random() % bytes.size()] = static_cast<uint8_t>(random());
            }
            break;
        default:  // random bytes of a similar length
            for (auto& byte : bytes) byte = static_cast<uint8_t>(random());
    }
    return bytes;
}

class RobustnessTest : public LogstoreTest {};

TEST_F(RobustnessTest, GarbageMessagesAreAnsweredAndNeverCrashTheService) {
    auto log = open_log(options(8, 4096));
    StorageService service(*log, nullptr);
    std::mt19937_64 random(99);
    std::vector<Bytes> seeds = valid_requests();
    size_t answered = 0, sent = 0;
    for (int round = 0; round < 20000; ++round) {
        Bytes message = mutate(seeds[random() % seeds.size()], random);
        std::vector<Outgoing> out;
        service.handle("peer", message, &out);
        service.commit(&out);
        sent++;
        for (const Outgoing& reply : out) {
            ASSERT_NE(parse_message(reply.bytes), nullptr) << "every reply is a valid message";
        }
        answered += out.empty() ? 0 : 1;
    }
    EXPECT_EQ(answered, sent) << "every message, valid or not, gets an answer";
    EXPECT_FALSE(log->failed());
    std::string before = describe_log(*log);
    log.reset();
    EXPECT_EQ(describe_log(*open_log(options(8, 4096))), before) << "the log survives a restart";
}

TEST_F(RobustnessTest, GarbageSegmentImagesAreRefusedOrReadNeverCrash) {
    {
        auto log = open_log(options(1 << 20, 1 << 20));
        append_and_sync(*log, test_entries(1, 40, 1, 30));
    }
    Bytes image = read_file_bytes(log_path("segment-00000001-v1.log"));
    std::optional<SegmentHeader> header = decode_segment_header(image);
    ASSERT_TRUE(header.has_value());
    image.resize(scan_segment(image, *header, 1 << 20, nullptr).valid_end + 64);  // + some zeros
    std::mt19937_64 random(7);
    for (int round = 0; round < 3000; ++round) {
        Bytes mutated = mutate(image, random);
        ScanOutcome outcome = scan_segment(mutated, *header, 1 << 20, nullptr);
        EXPECT_LE(outcome.valid_end, mutated.size() + kSegmentHeaderBytes);
        std::optional<SegmentHeader> decoded = decode_segment_header(mutated);
        if (decoded) (void)scan_segment(mutated, *decoded, 1 << 20, nullptr);
    }
}

}  // namespace
}  // namespace copycat::logstore
