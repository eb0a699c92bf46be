// The MANIFEST text format (FORMAT.md, "The manifest").
#include "logstore/manifest.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "common/crc32c.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

Manifest three_segments(std::optional<uint64_t> truncate_intent) {
    Manifest manifest;
    manifest.sequence = 7;
    manifest.segments = {{1, 2, 1, true, 4096, 3977, 409622},
                         {2, 1, 4097, true, 5000, 904, 90000},
                         {3, 1, 5001, false, 0, 0, 0}};
    manifest.truncate_intent = truncate_intent;
    return manifest;
}

// A manifest body with a correct checksum line, so that only the body can be at fault.
std::string with_crc(const std::string& body) {
    char line[32];
    std::snprintf(line, sizeof line, "crc32c %08x\n", crc32c(body.data(), body.size()));
    return body + line;
}

void expect_corruption_naming(const std::string& text, const std::string& what) {
    Result<Manifest> decoded = decode_manifest(text, "/data/log/MANIFEST");
    ASSERT_FALSE(decoded.is_ok()) << what;
    EXPECT_EQ(decoded.status().code(), StatusCode::corruption) << what;
    EXPECT_NE(decoded.status().message().find("/data/log/MANIFEST"), std::string::npos)
        << decoded.status().message();
}

TEST(Manifest, RoundTripsWithoutTruncateIntent) {
    Manifest manifest = three_segments(std::nullopt);
    Result<Manifest> decoded = decode_manifest(encode_manifest(manifest), "MANIFEST");
    ASSERT_OK(decoded);
    EXPECT_EQ(*decoded, manifest);
}

TEST(Manifest, RoundTripsTruncateIntent) {
    for (uint64_t intent : {0ull, 4500ull, (1ull << 63) + 5}) {
        Manifest manifest = three_segments(intent);
        Result<Manifest> decoded = decode_manifest(encode_manifest(manifest), "MANIFEST");
        ASSERT_OK(decoded);
        EXPECT_EQ(*decoded, manifest);
        EXPECT_EQ(decoded->truncate_intent, intent);
    }
}

TEST(Manifest, TextIsTheDocumentedLines) {
    std::string text = encode_manifest(three_segments(12));
    std::string body =
        "copycat-manifest 1\nsequence 7\nsegment 1 2 1 sealed 4096 3977 409622\n"
        "segment 2 1 4097 sealed 5000 904 90000\nsegment 3 1 5001 active\n"
        "truncate-intent 12\n";
    EXPECT_EQ(text, with_crc(body));
}

class ManifestFile : public LogstoreTest {};

TEST_F(ManifestFile, WriteThenReadGivesItBack) {
    Manifest manifest = three_segments(4999);
    ASSERT_OK(write_manifest(root_, manifest));
    Result<Manifest> read = read_manifest(root_);
    ASSERT_OK(read);
    EXPECT_EQ(*read, manifest);
    EXPECT_EQ(directory_names(root_), std::vector<std::string>{"MANIFEST"});
}

TEST_F(ManifestFile, RewriteReplacesTheWholeFile) {
    ASSERT_OK(write_manifest(root_, three_segments(4999)));
    Manifest shorter;
    shorter.sequence = 8;
    shorter.segments = {{4, 1, 9000, false, 0, 0, 0}};
    ASSERT_OK(write_manifest(root_, shorter));
    Result<Manifest> read = read_manifest(root_);
    ASSERT_OK(read);
    EXPECT_EQ(*read, shorter);
}

TEST(Manifest, EveryChangedByteIsCorruptionNamingTheFile) {
    const std::string good = encode_manifest(three_segments(std::nullopt));
    // The newline that ends the checksum line carries nothing, so it is left out.
    for (size_t position = 0; position + 1 < good.size(); ++position) {
        std::string text = good;
        text[position] = static_cast<char>(text[position] ^ 0x04);
        expect_corruption_naming(text, "byte " + std::to_string(position));
    }
}

TEST(Manifest, MissingChecksumLineIsCorruption) {
    std::string text = encode_manifest(three_segments(std::nullopt));
    expect_corruption_naming(text.substr(0, text.rfind("crc32c")), "no crc line");
    expect_corruption_naming("", "empty");
}

TEST(Manifest, MalformedBodiesWithGoodChecksumAreCorruption) {
    const char* bodies[] = {
        "copycat-manifest 2\nsequence 1\nsegment 1 1 1 active\ntruncate-intent none\n",
        "copycat-manifest 1\nsequence 1\ntruncate-intent none\n",
        "copycat-manifest 1\nsequence 1\nsegment 1 1 1 active\nsegment 2 1 5 active\n",
        "copycat-manifest 1\nsequence 1\nsegment 1 1 1 sealed 9 9 300\nsegment 2 1 5 active\n",
        "copycat-manifest 1\nsequence 1\nsegment 2 1 1 sealed 4 4 300\nsegment 1 1 5 active\n",
        "copycat-manifest 1\nsequence 1\nsegment 1 1 1 sealed 4 4 300\n",
        "copycat-manifest 1\nsequence 1\nsegment 1 1 1 frozen\n",
        "copycat-manifest 1\nsequence 1\nsegment 1 1 1 active\ntruncate-intent x\n",
        "copycat-manifest 1\nsequence 1\nsegment 1 1 1 active\nsnapshot 5\n",
    };
    for (const char* body : bodies) expect_corruption_naming(with_crc(body), body);
}

}  // namespace
}  // namespace copycat::logstore
