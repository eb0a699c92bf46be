#include "common/crc32c.h"

#include <gtest/gtest.h>
#include <boost/crc.hpp>

#include <random>
#include <string>
#include <vector>

namespace copycat {
namespace {

using BoostCrc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

TEST(Crc32c, StandardCheckValue) {
    const std::string check = "123456789";
    EXPECT_EQ(crc32c(check.data(), check.size()), 0xe3069283u);
}

TEST(Crc32c, MatchesBoostOnRandomInputsOfEveryLength) {
    std::mt19937 random(7);
    for (size_t size = 0; size < 300; ++size) {
        std::vector<uint8_t> data(size);
        for (auto& byte : data) byte = static_cast<uint8_t>(random());
        BoostCrc32c reference;
        reference.process_bytes(data.data(), data.size());
        EXPECT_EQ(crc32c(data.data(), data.size()), reference.checksum()) << "size " << size;
    }
}

TEST(Crc32c, ExtendEqualsWholeChecksum) {
    const std::string text = "the quick brown fox jumps over the lazy dog";
    for (size_t split = 0; split <= text.size(); ++split) {
        uint32_t first = crc32c(text.data(), split);
        uint32_t whole = crc32c_extend(first, text.data() + split, text.size() - split);
        EXPECT_EQ(whole, crc32c(text.data(), text.size()));
    }
}

}  // namespace
}  // namespace copycat
