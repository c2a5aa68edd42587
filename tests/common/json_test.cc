#include "src/common/json.h"

#include <string>

#include "gtest/gtest.h"

namespace lockout {
namespace {

TEST(JsonTest, ParsesObjects) {
  auto j = ParseJson(R"({"a": [1, "x{["], "b": {"c": null}})");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["a"][1], "x{[");
}

TEST(JsonTest, RejectsMalformedAndOversized) {
  EXPECT_FALSE(ParseJson("{\"a\":").ok());
  EXPECT_FALSE(ParseJson("").ok());
  EXPECT_FALSE(ParseJson("{} trailing").ok());
  EXPECT_FALSE(ParseJson(std::string(100, ' ') + "{}", 50).ok());
}

// Regression (found by fuzzing): nlohmann stops at a NUL byte as if the input ended there, so
// "{...}\0garbage" parsed as "{...}" and the bytes after the NUL were silently ignored.
TEST(JsonTest, RejectsNulBytesAnywhere) {
  using namespace std::string_literals;
  EXPECT_TRUE(ParseJson(R"({"a": 1})").ok());
  for (const std::string& text :
       {R"({"a": 1})"s + "\0"s, R"({"a": 1})"s + "\0garbage"s, R"({"a": 1}  )"s + "\0{\"b\": 2}"s,
        "\0"s, "[1,\0 2]"s, "\"a\0b\""s, "{\"a\": 1}\0\0\0"s}) {
    absl::StatusOr<nlohmann::json> j = ParseJson(text);
    ASSERT_FALSE(j.ok()) << "accepted " << text.size() << " bytes with a NUL";
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(j.status().message()).find("NUL byte at offset"), std::string::npos);
  }
  EXPECT_TRUE(RejectNulBytes("{}").ok());
  const absl::Status nul = RejectNulBytes("{}\0"s);
  EXPECT_EQ(std::string(nul.message()), "json: NUL byte at offset 2");
}

TEST(JsonTest, RejectsDeepNestingBeforeParsing) {
  std::string deep(100000, '[');
  EXPECT_FALSE(ParseJson(deep).ok());
  std::string ok = std::string(32, '[') + std::string(32, ']');
  EXPECT_TRUE(ParseJson(ok).ok());
  EXPECT_FALSE(ParseJson("[" + ok + "]").ok());
}

TEST(JsonTest, BracketsInsideStringsDoNotCount) {
  std::string s = "\"" + std::string(100, '[') + "\\\"" + "\"";
  EXPECT_TRUE(ParseJson(s).ok());
}

TEST(JsonStrictTest, RefusesADuplicateMemberInAnyObject) {
  for (const char* text : {R"({"a": 1, "a": 2})", R"({"x": {"b": true, "b": true}})",
                           R"([{"c": 1}, {"d": 1, "e": 2, "d": 3}])"}) {
    absl::StatusOr<nlohmann::json> j = ParseJsonStrict(text);
    ASSERT_FALSE(j.ok()) << text;
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(j.status().message()).find("duplicate member name"), std::string::npos);
    EXPECT_TRUE(ParseJson(text).ok()) << "the lax parser accepts " << text;
  }
}

TEST(JsonStrictTest, SameNameInSiblingOrNestedObjectsIsFine) {
  absl::StatusOr<nlohmann::json> j =
      ParseJsonStrict(R"({"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]})");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["b"][1]["a"], 3);
}

TEST(JsonStrictTest, KeepsParseJsonsBounds) {
  EXPECT_FALSE(ParseJsonStrict("{\"a\":").ok());
  EXPECT_FALSE(ParseJsonStrict(std::string(100, ' ') + "{}", 50).ok());
  EXPECT_FALSE(ParseJsonStrict(std::string(40, '[') + std::string(40, ']')).ok());
  using namespace std::string_literals;
  EXPECT_FALSE(ParseJsonStrict("{}\0"s).ok());
}

TEST(WipeJsonStringsTest, ZeroesEveryStringValueInPlace) {
  nlohmann::json j = {{"Plaintext", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
                      {"Nested", {{"a", "b"}, {"n", 1}}},
                      {"L", {"x", "y"}}};
  std::string& plaintext = j["Plaintext"].get_ref<std::string&>();
  const char* storage = plaintext.data();
  const size_t size = plaintext.size();
  WipeJsonStrings(j);
  // The bytes were overwritten where they lay, not just dropped: the string's own buffer (still
  // allocated, as clear() keeps the capacity) holds zeros.
  EXPECT_EQ(std::string(storage, size), std::string(size, '\0'));
  EXPECT_EQ(j["Plaintext"], "");
  EXPECT_EQ(j["Nested"]["a"], "");
  EXPECT_EQ(j["Nested"]["n"], 1);
  EXPECT_EQ(j["L"][0], "");
  EXPECT_EQ(j["L"][1], "");
}

}  // namespace
}  // namespace lockout
