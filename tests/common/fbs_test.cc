#include "common/fbs.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "schemas/storage_generated.h"

namespace copycat {
namespace {

namespace storage = copycat::storage;

// A StorageMessage carrying a TermAtRequest, as a sender would build it.
std::vector<uint8_t> term_at_message(uint64_t request_id, uint64_t index) {
    flatbuffers::FlatBufferBuilder builder;
    auto body = storage::CreateTermAtRequest(builder, index);
    auto message = storage::CreateStorageMessage(builder, request_id, storage::Body::TermAtRequest,
                                                 body.Union());
    storage::FinishStorageMessageBuffer(builder, message);
    return {builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize()};
}

const storage::StorageMessage* verify(const std::vector<uint8_t>& bytes) {
    return verify_flatbuffer<storage::StorageMessage>(bytes.data(), bytes.size(),
                                                      storage::StorageMessageIdentifier());
}

TEST(VerifyFlatbuffer, AcceptsAWellFormedBuffer) {
    const std::vector<uint8_t> bytes = term_at_message(7, 42);
    const storage::StorageMessage* message = verify(bytes);
    ASSERT_NE(message, nullptr);
    EXPECT_EQ(message->request_id(), 7u);
    ASSERT_NE(message->body_as_TermAtRequest(), nullptr);
    EXPECT_EQ(message->body_as_TermAtRequest()->index(), 42u);
}

TEST(VerifyFlatbuffer, RefusesEveryTruncation) {
    const std::vector<uint8_t> bytes = term_at_message(7, 42);
    for (size_t size = 0; size < bytes.size(); ++size) {
        const std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + size);
        EXPECT_EQ(verify(truncated), nullptr) << "size " << size;
    }
}

TEST(VerifyFlatbuffer, RefusesTheWrongIdentifier) {
    const std::vector<uint8_t> bytes = term_at_message(7, 42);
    EXPECT_EQ(verify_flatbuffer<storage::StorageMessage>(bytes.data(), bytes.size(), "XXXX"),
              nullptr);
}

TEST(VerifyFlatbuffer, RefusesGarbageAndNull) {
    std::vector<uint8_t> garbage(64, 0xff);
    std::memcpy(garbage.data() + 4, "CCST", 4);  // right identifier, nonsense offsets
    EXPECT_EQ(verify(garbage), nullptr);
    EXPECT_EQ(verify_flatbuffer<storage::StorageMessage>(nullptr, 0, "CCST"), nullptr);
}

TEST(VerifyFlatbuffer, RefusesBuffersPastTheTableLimit) {
    const std::vector<uint8_t> bytes = term_at_message(7, 42);
    FlatbufferLimits limits;
    limits.max_tables = 1;  // the message and its body are two tables
    EXPECT_EQ(
        verify_flatbuffer<storage::StorageMessage>(bytes.data(), bytes.size(), "CCST", limits),
        nullptr);
}

}  // namespace
}  // namespace copycat
