// One writer per log (LoadMetaRequest.claim_writer): once the consensus process of a node has
// claimed its log, writes from any other connection — an earlier consensus process's requests
// still queued in the logstore — are refused and change nothing.
#include <gtest/gtest.h>

#include "logstore/protocol.h"
#include "logstore/service.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

class FencingTest : public LogstoreTest {
protected:
    // Handles one message from `peer` and commits; the replies to it.
    std::vector<Outgoing> handle(StorageService& service, const std::string& peer,
                                 const std::vector<uint8_t>& message) {
        std::vector<Outgoing> out;
        service.handle(peer, message, &out);
        service.commit(&out);
        return out;
    }

    static bool refused_as_fenced(const std::vector<Outgoing>& out) {
        if (out.size() != 1) return false;
        const fb::StorageMessage* reply = parse_message(out[0].bytes);
        const fb::ErrorResponse* error = reply ? reply->body_as_ErrorResponse() : nullptr;
        return error != nullptr && error->code() == fb::ErrorCode::Stopped &&
               error->message()->str().find("fenced") != std::string::npos;
    }
};

TEST_F(FencingTest, BeforeAnyClaimEveryConnectionMayWrite) {
    auto log = open_log(options());
    StorageService service(*log, nullptr);
    EXPECT_FALSE(refused_as_fenced(handle(service, "a", make_append(1, test_entries(1, 2, 1)))));
    EXPECT_FALSE(refused_as_fenced(handle(service, "b", make_append(1, test_entries(3, 4, 1)))));
    EXPECT_EQ(log->last_index(), 4u);
}

TEST_F(FencingTest, AfterAClaimOnlyTheWriterWrites) {
    auto log = open_log(options());
    StorageService service(*log, nullptr);
    ASSERT_FALSE(refused_as_fenced(handle(service, "old", make_append(1, test_entries(1, 2, 1)))));
    handle(service, "new", make_load_meta(1, /*claim_writer=*/true));

    // Everything the old writer still had queued is refused...
    EXPECT_TRUE(refused_as_fenced(handle(service, "old", make_append(2, test_entries(3, 4, 1)))));
    EXPECT_TRUE(refused_as_fenced(handle(service, "old", make_save_term(3, {9, 1}))));
    EXPECT_TRUE(refused_as_fenced(handle(service, "old", make_truncate(4, 1, 0))));
    EXPECT_TRUE(refused_as_fenced(handle(service, "old", make_reset(5, 100))));
    std::vector<uint8_t> configuration = {1, 2, 3};
    EXPECT_TRUE(
        refused_as_fenced(handle(service, "old", make_save_configuration(6, 1, 1, configuration))));
    // ...and changed nothing.
    EXPECT_EQ(log->last_index(), 2u);
    EXPECT_EQ(log->meta().term, 0u);

    // Reads and advisory requests stay open to everyone (the compactor, tools).
    EXPECT_FALSE(refused_as_fenced(handle(service, "old", make_status(7))));
    EXPECT_FALSE(refused_as_fenced(handle(service, "old", make_read(8, 1, 2, 1 << 20))));
    // The writer writes.
    EXPECT_FALSE(refused_as_fenced(handle(service, "new", make_append(2, test_entries(3, 4, 1)))));
    EXPECT_FALSE(refused_as_fenced(handle(service, "new", make_save_term(3, {9, 1}))));
    EXPECT_EQ(log->last_index(), 4u);
    EXPECT_EQ(log->meta().term, 9u);
}

TEST_F(FencingTest, ALaterClaimMovesTheWriter) {
    auto log = open_log(options());
    StorageService service(*log, nullptr);
    handle(service, "first", make_load_meta(1, true));
    handle(service, "second", make_load_meta(1, true));
    EXPECT_TRUE(refused_as_fenced(handle(service, "first", make_append(2, test_entries(1, 1, 1)))));
    EXPECT_FALSE(
        refused_as_fenced(handle(service, "second", make_append(2, test_entries(1, 1, 1)))));
}

}  // namespace
}  // namespace copycat::logstore
