// Interop with botocore, the signer inside the AWS CLI and boto3: requests it signed
// (tests/testdata/aws/, made by generate_botocore_requests.py there) must verify, and our signer
// must produce the same Authorization header for them.

#include <string>

#include "gtest/gtest.h"
#include "src/aws/sigv4.h"
#include "src/aws/sigv4_verifier.h"
#include "tests/aws/sigv4_suite.h"
#include "tests/testing/vectors.h"

namespace lockout::aws {
namespace {

using ::lockout::aws::testing::kSuiteAccessKeyId;
using ::lockout::aws::testing::kSuiteSecret;
using ::lockout::aws::testing::SuiteCredentials;
using ::lockout::aws::testing::SuiteTime;

// The made-up session token generate_botocore_requests.py signs with.
constexpr char kBotocoreToken[] =
    "FwoGZXIvYXdzEXAMPLEsessiontokenforlockouttests//////////wEaDEXAMPLE==";

struct InteropCase {
  const char* file;
  const char* service;
  UriPathRules rules;
  bool token;
  bool content_sha256;
};

constexpr InteropCase kCases[] = {
    {"botocore-kms-decrypt-token.sreq", "kms", UriPathRules::kNormalizeAndEncode, true, false},
    {"botocore-get-encoded-path-query.sreq", "service", UriPathRules::kNormalizeAndEncode, false,
     false},
    {"botocore-s3-put.sreq", "s3", UriPathRules::kS3, false, true},
};

HttpRequest Load(const char* file) {
  std::string text = ToString(::lockout::testing::ReadTestFile(
      ::lockout::testing::TestDataPath(std::string("aws/") + file)));
  absl::StatusOr<HttpRequest> r = ParseHttpRequestText(text);
  EXPECT_TRUE(r.ok()) << file << ": " << r.status();
  return r.ok() ? *std::move(r) : HttpRequest{};
}

TEST(BotocoreInteropTest, VerifierAcceptsRequestsSignedByBotocore) {
  FakeClock clock(SuiteTime());
  for (const InteropCase& c : kCases) {
    SCOPED_TRACE(c.file);
    SigV4Verifier verifier(
        [&](std::string_view id) -> std::optional<VerifierCredential> {
          if (id != kSuiteAccessKeyId) return std::nullopt;
          return VerifierCredential{
              SecretBytes::CopyFrom(std::string_view(kSuiteSecret)), "principal",
              c.token ? std::optional<std::string>(kBotocoreToken) : std::nullopt, std::nullopt};
        },
        SigV4VerifierOptions{.region = "us-east-1", .services = {c.service}, .path_rules = c.rules},
        clock);
    HttpRequest r = Load(c.file);
    VerifyResult v = verifier.Verify(r);
    EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().detail);
    // The same request with one body byte changed does not verify.
    if (!r.body.empty()) {
      r.body[0] ^= 1;
      EXPECT_FALSE(verifier.Verify(r).ok());
    }
  }
}

TEST(BotocoreInteropTest, SignerReproducesBotocoreAuthorization) {
  for (const InteropCase& c : kCases) {
    SCOPED_TRACE(c.file);
    HttpRequest r = Load(c.file);
    const std::string expected(r.FindHeader("authorization").value_or(""));
    ASSERT_FALSE(expected.empty());
    SigningOptions options;
    options.path_rules = c.rules;
    options.add_content_sha256_header = c.content_sha256;
    absl::StatusOr<SigningResult> s =
        SignRequest(r, SuiteCredentials(c.token ? kBotocoreToken : ""), "us-east-1", c.service,
                    SuiteTime(), options);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->authorization, expected);
  }
}

}  // namespace
}  // namespace lockout::aws
