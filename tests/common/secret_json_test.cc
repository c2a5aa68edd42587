#include "src/common/secret_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace lockout {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string StringOf(const SecretJson& j) { return std::string(j.RevealString()); }

TEST(SecretJsonTest, ParsesEveryKindOfValue) {
  absl::StatusOr<SecretJson> j = SecretJson::Parse(
      R"( {"s": "text", "n": -12.5e+3, "z": 0, "t": true, "f": false, "null": null,
           "a": [1, "two", [], {}], "o": {"k": "v"}} )");
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_TRUE(j->is_object());
  EXPECT_EQ(j->members().size(), 8u);
  EXPECT_EQ(StringOf(*j->Find("s")), "text");
  EXPECT_TRUE(j->Find("n")->is_number());
  EXPECT_TRUE(j->Find("z")->is_number());
  EXPECT_TRUE(j->Find("t")->is_bool());
  EXPECT_TRUE(j->Find("t")->boolean());
  EXPECT_FALSE(j->Find("f")->boolean());
  EXPECT_TRUE(j->Find("null")->is_null());
  const SecretJson& a = *j->Find("a");
  ASSERT_TRUE(a.is_array());
  ASSERT_EQ(a.elements().size(), 4u);
  EXPECT_EQ(StringOf(a.elements()[1]), "two");
  EXPECT_TRUE(a.elements()[2].is_array());
  EXPECT_TRUE(a.elements()[3].is_object());
  EXPECT_EQ(StringOf(*j->Find("o")->Find("k")), "v");
  EXPECT_EQ(j->Find("missing"), nullptr);
  EXPECT_EQ(j->Find("s")->Find("s"), nullptr);  // not an object
}

TEST(SecretJsonTest, DecodesEscapesLikeNlohmann) {
  const std::string text =
      R"(["a\"b\\c\/d\b\f\n\r\t", "\u0041\u00e9\u20ac\ud83d\ude00", "caf\u00e9 ok", "ü€😀"])";
  absl::StatusOr<SecretJson> j = SecretJson::Parse(text);
  ASSERT_TRUE(j.ok()) << j.status();
  const nlohmann::json reference = nlohmann::json::parse(text);
  ASSERT_EQ(j->elements().size(), reference.size());
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_EQ(StringOf(j->elements()[i]), reference[i].get<std::string>()) << i;
  }
}

TEST(SecretJsonTest, StringsSurviveMovingTheDocument) {
  absl::StatusOr<SecretJson> j =
      SecretJson::Parse(R"({"token": "FwoGZXIvYXdzE\u0041", "n": [""]})");
  ASSERT_TRUE(j.ok()) << j.status();
  SecretJson moved = *std::move(j);
  EXPECT_EQ(moved.Find("token")->RevealString(), "FwoGZXIvYXdzEA");
  EXPECT_EQ(moved.Find("n")->elements()[0].RevealString(), "");
  EXPECT_EQ(moved.Find("n")->RevealString(), "");  // not a string
}

TEST(SecretJsonTest, ManyShortStringsCostNoMoreThanTheText) {
  // One arena for every string: 60k strings of one byte must not take a page each (240 MB).
  std::string text = "[";
  for (int i = 0; i < 60000; ++i) text += i == 0 ? "\"a\"" : ",\"a\"";
  text += "]";
  absl::StatusOr<SecretJson> j = SecretJson::Parse(text);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->elements().size(), 60000u);
  EXPECT_EQ(j->elements()[59999].RevealString(), "a");
}

TEST(SecretJsonTest, AcceptsTopLevelScalarsAndWhitespace) {
  EXPECT_TRUE(SecretJson::Parse(" \t\r\n\"x\" \n").ok());
  EXPECT_TRUE(SecretJson::Parse("1").ok());
  EXPECT_TRUE(SecretJson::Parse("null").ok());
  EXPECT_TRUE(SecretJson::Parse("\"\"").ok());
}

TEST(SecretJsonTest, RejectsMalformedDocuments) {
  const char* kBad[] = {
      "",          "   ",         "{",     "[1,]",        "{\"a\":1,}", "{\"a\" 1}",
      "{a:1}",     "[1 2]",       "tru",   "nul",         "01",         "-",
      "1.",        "1e",          "+1",    ".5",          "\"abc",      "\"a\\x\"",
      "\"\\u12\"", "\"\\u12g4\"", "[] []", "{} trailing", "'a'",        "[\"a\"",
      "{\"a\"}",   "{\"a\":}",    "\"a\\", "NaN",         "[-]",
  };
  for (const char* text : kBad) {
    absl::StatusOr<SecretJson> j = SecretJson::Parse(text);
    EXPECT_FALSE(j.ok()) << "accepted: " << text;
    if (!j.ok()) {
      EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(SecretJsonTest, RejectsNulAndControlCharacters) {
  EXPECT_FALSE(SecretJson::Parse(std::string("\"a\0b\"", 5)).ok());
  EXPECT_FALSE(SecretJson::Parse(std::string("{\"a\":1}\0", 8)).ok());
  EXPECT_FALSE(SecretJson::Parse(std::string("\0{}", 3)).ok());
  EXPECT_FALSE(SecretJson::Parse("\"tab\there\"").ok());
  EXPECT_FALSE(SecretJson::Parse("\"new\nline\"").ok());
  // An escaped NUL is valid JSON; the caller decides whether it may appear in a field.
  absl::StatusOr<SecretJson> j = SecretJson::Parse(R"("a\u0000b")");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(StringOf(*j), std::string("a\0b", 3));
}

TEST(SecretJsonTest, RejectsInvalidUtf8AndLoneSurrogates) {
  for (const std::string& text : {
           std::string("\"\xff\""),              // not a lead byte
           std::string("\"\xc3\""),              // truncated sequence
           std::string("\"\xc0\xaf\""),          // overlong '/'
           std::string("\"\xe0\x80\xaf\""),      // overlong
           std::string("\"\xed\xa0\x80\""),      // encoded surrogate
           std::string("\"\xf4\x90\x80\x80\""),  // above U+10FFFF
           std::string(R"("\ud83d")"),           // high surrogate alone
           std::string(R"("\ud83dx")"),          // high surrogate then text
           std::string(R"("\ud83d\u0041")"),     // high surrogate then a BMP escape
           std::string(R"("\ude00")"),           // low surrogate alone
       }) {
    EXPECT_FALSE(SecretJson::Parse(text).ok()) << "accepted: " << text;
  }
}

TEST(SecretJsonTest, RejectsDuplicateMemberNames) {
  absl::StatusOr<SecretJson> j = SecretJson::Parse(R"({"a": 1, "b": 2, "a": 3})");
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(j.status().message(), HasSubstr("duplicate"));
  EXPECT_FALSE(SecretJson::Parse(R"({"o": {"k": 1, "k": 1}})").ok());
  EXPECT_TRUE(SecretJson::Parse(R"({"o": {"k": 1}, "p": {"k": 1}})").ok());
}

TEST(SecretJsonTest, EnforcesSizeAndDepthLimits) {
  EXPECT_FALSE(SecretJson::Parse(std::string(100, ' ') + "{}", 50).ok());
  EXPECT_TRUE(SecretJson::Parse(std::string(48, ' ') + "{}", 50).ok());
  const std::string ok = std::string(32, '[') + std::string(32, ']');
  EXPECT_TRUE(SecretJson::Parse(ok).ok());
  EXPECT_FALSE(SecretJson::Parse("[" + ok + "]").ok());
  // Far deeper than the stack could take, refused at the limit.
  EXPECT_FALSE(SecretJson::Parse(std::string(100000, '[')).ok());
  EXPECT_FALSE(SecretJson::Parse(std::string(100000, '{')).ok());
}

TEST(SecretJsonTest, ErrorsNeverQuoteTheText) {
  const std::string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
  for (const std::string& text : {
           R"({"secret_access_key": ")" + secret + "\\q\"}",
           R"({"secret_access_key": ")" + secret,
           R"({"secret_access_key": ")" + secret + "\"" + secret + "}",
           R"({")" + secret + R"(": 1, ")" + secret + R"(": 2})",
       }) {
    absl::StatusOr<SecretJson> j = SecretJson::Parse(text);
    ASSERT_FALSE(j.ok());
    EXPECT_THAT(std::string(j.status().message()), Not(HasSubstr("wJalr")));
    EXPECT_THAT(std::string(j.status().message()), HasSubstr("offset"));
  }
}

TEST(SecretJsonTest, LargeObjectWithUniqueNamesParsesQuickly) {
  std::string text = "{";
  for (int i = 0; i < 20000; ++i) {
    if (i > 0) text += ",";
    text += "\"k" + std::to_string(i) + "\":" + std::to_string(i);
  }
  text += "}";
  absl::StatusOr<SecretJson> j = SecretJson::Parse(text);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->members().size(), 20000u);
}

}  // namespace
}  // namespace lockout
