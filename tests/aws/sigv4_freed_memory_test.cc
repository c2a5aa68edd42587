// SignRequest leaves no copy of the session token in freed heap memory.
//
// FreedMemoryWatch (tests/testing/freed_memory_watch.h) scans each heap block freed through
// operator delete for the token. If the
// canonical request (which holds the signed X-Amz-Security-Token) went back to a std::string, its
// buffer - and those of the pieces it was assembled from - would be freed holding the token and
// the watch would count them.

#include <string>

#include "gtest/gtest.h"
#include "src/aws/sigv4.h"
#include "tests/testing/freed_memory_watch.h"

namespace lockout::aws {
namespace {

using ::lockout::testing::FreedMemoryWatch;

constexpr std::string_view kToken =
    "IQoJb3JpZ2luX2VjEFREEDTOKENCANARYxyzzy0123456789abcdefghijklmnopqrstuvwxyz";

HttpRequest KmsRequest() {
  HttpRequest r;
  r.method = "POST";
  r.target = "/";
  r.headers = {{"Host", "kms.us-east-1.amazonaws.com"},
               {"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "TrentService.Decrypt"}};
  r.body = R"({"CiphertextBlob":"AQID"})";
  return r;
}

AwsCredentials Credentials() {
  AwsCredentials c;
  c.access_key_id = "ASIAEXAMPLEEXAMPLE";
  c.secret_access_key = SecretBytes::CopyFrom(std::string_view("secret/key/EXAMPLEKEYEXAMPLEKEY"));
  c.session_token = SecretBytes::CopyFrom(kToken);
  return c;
}

TEST(SigV4FreedMemoryTest, TheWatchSeesAStringFreedWithTheToken) {
  // The control: without it a broken hook would make the real test pass vacuously.
  FreedMemoryWatch watch(kToken.substr(0, 20));
  { std::string copy = "x-amz-security-token:" + std::string(kToken); }
  EXPECT_GE(watch.hits(), 1);
}

TEST(SigV4FreedMemoryTest, SigningFreesNoCopyOfTheSessionToken) {
  HttpRequest request = KmsRequest();
  const AwsCredentials credentials = Credentials();
  int hits = 0;
  {
    FreedMemoryWatch watch(kToken.substr(0, 20));
    {
      absl::StatusOr<SigningResult> signed_request =
          SignRequest(request, credentials, "us-east-1", "kms", absl::FromUnixSeconds(1700000000));
      ASSERT_TRUE(signed_request.ok()) << signed_request.status();
      // The token is signed, so the canonical request holds it ...
      EXPECT_NE(signed_request->canonical_request.RevealAsString().find(kToken),
                std::string_view::npos);
    }  // ... and dropping the result frees nothing that still does.
    // Signing again replaces the X-Amz-Security-Token header (RemoveHeader wipes the old value).
    ASSERT_TRUE(
        SignRequest(request, credentials, "us-east-1", "kms", absl::FromUnixSeconds(1700000060))
            .ok());
    hits = watch.hits();
  }
  EXPECT_EQ(hits, 0) << hits << " freed heap block(s) still held the session token";
  request.Wipe();
}

}  // namespace
}  // namespace lockout::aws
