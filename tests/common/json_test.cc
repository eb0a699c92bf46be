#include "common/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace copycat {
namespace {

TEST(JsonEscape, EscapesQuotesBackslashesAndControlCharacters) {
    EXPECT_EQ(json_escape("say \"hi\"\\"), "say \\\"hi\\\"\\\\");
    EXPECT_EQ(json_escape("a\nb\tc\rd"), "a\\nb\\tc\\rd");
    EXPECT_EQ(json_escape(std::string_view("\x01\x1f", 2)), "\\u0001\\u001f");
    EXPECT_EQ(json_escape(std::string_view("nul\0byte", 8)), "nul\\u0000byte");
}

TEST(JsonEscape, KeepsValidUtf8) {
    EXPECT_EQ(json_escape("naïve 日本 🙂"), "naïve 日本 🙂");
}

TEST(JsonEscape, ReplacesInvalidUtf8SoTheLineStaysValidJson) {
    EXPECT_EQ(json_escape("a\xff"
                          "b"),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(json_escape("\xC3"), "\xEF\xBF\xBD");                  // truncated sequence
    EXPECT_EQ(json_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
    EXPECT_EQ(json_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST(JsonWriter, BuildsNestedObjectsAndArraysWithCommas) {
    JsonWriter json;
    json.begin_object().field("index", 42).field("name", "seg \"1\"");
    json.key("nodes").begin_array().value("n1").value(uint64_t{2}).begin_object().end_object();
    json.end_array().field("ok", true).key("none").null_value().end_object();
    EXPECT_EQ(json.str(),
              R"({"index":42,"name":"seg \"1\"","nodes":["n1",2,{}],"ok":true,"none":null})");
    EXPECT_TRUE(json.complete());
}

TEST(JsonWriter, WritesNumbersExactly) {
    JsonWriter json;
    json.begin_array().value(int64_t{-9007199254740993}).value(uint64_t{18446744073709551615u});
    json.value(0.25)
        .value(1e-7)
        .value(std::nan(""))
        .value(-std::numeric_limits<double>::infinity());
    json.end_array();
    EXPECT_EQ(json.str(), "[-9007199254740993,18446744073709551615,0.25,1e-07,null,null]");
}

TEST(JsonWriter, IsIncompleteUntilEveryScopeIsClosed) {
    JsonWriter json;
    json.begin_object().key("a").begin_array();
    EXPECT_FALSE(json.complete());
    json.end_array().end_object();
    EXPECT_TRUE(json.complete());
}

TEST(JsonWriterDeathTest, RefusesAValueWithoutAKey) {
    JsonWriter json;
    json.begin_object();
    EXPECT_DEATH(json.value(1), "needs key");
}

}  // namespace
}  // namespace copycat
