#include "src/aws/http_request.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::aws {
namespace {

constexpr std::string_view kRequest =
    "POST /a/b?x=1&y=2 HTTP/1.1\n"
    "Host:example.amazonaws.com\n"
    "My-Header1:value1\n"
    "  value2\n"
    "My-Header1: again\n"
    "X-Amz-Date:20150830T123600Z\n"
    "\n"
    "body\nwith lines\n";

TEST(HttpRequestTest, ParsesRequestLineHeadersContinuationsAndBody) {
  absl::StatusOr<HttpRequest> r = ParseHttpRequestText(kRequest);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->target, "/a/b?x=1&y=2");
  EXPECT_EQ(r->Path(), "/a/b");
  EXPECT_EQ(r->Query(), "x=1&y=2");
  ASSERT_EQ(r->headers.size(), 4u);
  EXPECT_EQ(r->headers[0].name, "Host");
  EXPECT_EQ(r->headers[0].value, "example.amazonaws.com");
  EXPECT_EQ(r->headers[1].value, "value1\n  value2");
  EXPECT_EQ(r->headers[2].value, " again");
  EXPECT_EQ(r->body, "body\nwith lines\n");
}

TEST(HttpRequestTest, AcceptsCrlfAndTargetsWithSpaces) {
  absl::StatusOr<HttpRequest> r =
      ParseHttpRequestText("GET /example space/ HTTP/1.1\r\nHost:h\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->target, "/example space/");
  EXPECT_EQ(r->headers.at(0).value, "h");
  EXPECT_EQ(r->body, "");
}

TEST(HttpRequestTest, WithoutBlankLineThereIsNoBody) {
  absl::StatusOr<HttpRequest> r = ParseHttpRequestText("GET / HTTP/1.1\nHost:h");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(r->Query(), "");
}

TEST(HttpRequestTest, HeaderLookupIsCaseInsensitiveAndKeepsOrder) {
  absl::StatusOr<HttpRequest> r = ParseHttpRequestText(kRequest);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->HeaderValues("my-header1"), ::testing::ElementsAre("value1\n  value2", " again"));
  EXPECT_EQ(r->CountHeader("MY-HEADER1"), 2u);
  EXPECT_EQ(r->FindHeader("HOST").value_or(""), "example.amazonaws.com");
  EXPECT_FALSE(r->FindHeader("absent").has_value());
  r->SetHeader("my-header1", "one");
  EXPECT_THAT(r->HeaderValues("My-Header1"), ::testing::ElementsAre("one"));
  r->RemoveHeader("MY-header1");
  EXPECT_EQ(r->CountHeader("my-header1"), 0u);
  EXPECT_TRUE(HeaderNameEquals("X-Amz-Date", "x-amz-date"));
  EXPECT_FALSE(HeaderNameEquals("X-Amz-Date", "x-amz-dat"));
}

TEST(HttpRequestTest, RejectsMalformedRequests) {
  for (std::string_view bad : {
           std::string_view(""),
           std::string_view("GET\n"),
           std::string_view("GET /\n"),
           std::string_view(" / HTTP/1.1\n"),
           std::string_view("GET / HTTP/2\n"),
           std::string_view("GET  HTTP/1.1\n"),
           std::string_view("G(T / HTTP/1.1\n"),
           std::string_view("GET / HTTP/1.1\nNoColon\n"),
           std::string_view("GET / HTTP/1.1\n:empty-name\n"),
           std::string_view("GET / HTTP/1.1\nBad Name:x\n"),
           std::string_view("GET / HTTP/1.1\n folded-first\n"),
           std::string_view("GET / HTTP/1.1\nA:b\rc\n"),
           std::string_view("GET / HTTP/1.1\nA:b\0c\n", 22),
       }) {
    EXPECT_FALSE(ParseHttpRequestText(bad).ok()) << ::testing::PrintToString(std::string(bad));
  }
}

TEST(HttpRequestTest, EnforcesSizeAndHeaderLimits) {
  EXPECT_FALSE(ParseHttpRequestText(kRequest, /*max_size=*/kRequest.size() - 1).ok());
  EXPECT_TRUE(ParseHttpRequestText(kRequest, /*max_size=*/kRequest.size()).ok());
  EXPECT_FALSE(ParseHttpRequestText(kRequest, 1 << 20, /*max_headers=*/3).ok());
  EXPECT_TRUE(ParseHttpRequestText(kRequest, 1 << 20, /*max_headers=*/4).ok());
}

TEST(HttpRequestTest, TruncationAtEveryOffsetNeverCrashesAndKeepsAPrefix) {
  for (size_t n = 0; n <= kRequest.size(); ++n) {
    absl::StatusOr<HttpRequest> r = ParseHttpRequestText(kRequest.substr(0, n));
    if (r.ok()) {
      EXPECT_LE(r->headers.size(), 4u);
      EXPECT_LE(r->body.size(), n);
    }
  }
}

TEST(HttpRequestTest, BitFlipsNeverCrash) {
  std::string text(kRequest);
  for (size_t i = 0; i < text.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string mutated = text;
      mutated[i] = static_cast<char>(static_cast<unsigned char>(mutated[i]) ^ (1u << bit));
      absl::StatusOr<HttpRequest> r = ParseHttpRequestText(mutated);
      if (r.ok()) {
        EXPECT_LE(r->headers.size(), 5u);
      }
    }
  }
}

TEST(HttpRequestTest, WipeEmptiesTheBodyAndEveryHeaderValueButKeepsTheNames) {
  HttpRequest r;
  r.method = "POST";
  r.body = R"({"Plaintext":"c2VjcmV0"})";
  r.SetHeader("X-Amz-Security-Token", "token-canary");
  r.SetHeader("Host", "kms.us-east-1.amazonaws.com");
  r.Wipe();
  EXPECT_TRUE(r.body.empty());
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].name, "X-Amz-Security-Token");
  EXPECT_TRUE(r.headers[0].value.empty());
  EXPECT_TRUE(r.headers[1].value.empty());
}

TEST(HttpRequestTest, SetHeaderReplacesEveryValueOfThatName) {
  HttpRequest r;
  r.headers.push_back({"x-amz-security-token", "old-1"});
  r.headers.push_back({"Host", "h"});
  r.headers.push_back({"X-Amz-Security-Token", "old-2"});
  r.SetHeader("X-Amz-Security-Token", "new");
  EXPECT_EQ(r.HeaderValues("x-amz-security-token"), std::vector<std::string_view>{"new"});
  EXPECT_EQ(r.FindHeader("host"), "h");
}

}  // namespace
}  // namespace lockout::aws
