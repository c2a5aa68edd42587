// A canary secret pushed through every awsclient path (as secret access key, session token, KMS
// plaintext, KMS reply plaintext, secret value, IMDS credentials) never appears in any error
// message or log line, whatever goes wrong.

#include <atomic>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/awsclient/imds_client.h"
#include "src/awsclient/kms_client.h"
#include "src/awsclient/secrets_client.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/net/socket.h"
#include "tests/awsclient/test_servers.h"

namespace lockout::awsclient {
namespace {

using nlohmann::json;
using testing::AwsErrorReply;
using testing::FakeAwsServer;
using testing::FakeReply;

constexpr char kCanary[] = "CANARY-d41d8cd98f00b204e9800998ecf8427e";

std::string CanaryB64() { return Base64Encode(AsBytes(kCanary)); }

class CanaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Logger::Default().SetStream(&log_);
    Logger::Default().SetLevel(LogLevel::kDebug);
  }
  void TearDown() override {
    Logger::Default().SetStream(nullptr);
    Logger::Default().SetLevel(LogLevel::kInfo);
    const std::string log = log_.str();
    EXPECT_EQ(log.find(kCanary), std::string::npos);
    EXPECT_EQ(log.find(CanaryB64()), std::string::npos);
    for (const std::string& e : errors_) {
      EXPECT_EQ(e.find(kCanary), std::string::npos) << e;
      EXPECT_EQ(e.find(CanaryB64()), std::string::npos) << e;
    }
    EXPECT_FALSE(errors_.empty());
  }

  void Check(const absl::Status& s) {
    EXPECT_FALSE(s.ok());
    errors_.push_back(std::string(s.message()));
    std::ostringstream streamed;
    streamed << s;  // includes payloads
    errors_.push_back(streamed.str());
  }

  // Credentials whose secret key and session token are the canary.
  static std::shared_ptr<CredentialsProvider> CanaryCredentials(bool valid_secret) {
    aws::AwsCredentials c = testing::TestCredentials();
    if (!valid_secret) c.secret_access_key = SecretBytes::CopyFrom(kCanary);
    c.session_token = SecretBytes::CopyFrom(
        valid_secret ? std::string_view(testing::kTestSessionToken) : std::string_view(kCanary));
    return std::make_shared<StaticCredentialsProvider>(std::move(c));
  }

  std::unique_ptr<KmsClient> Kms(const std::string& url, bool valid_secret = true) {
    RetryPolicy retry;
    retry.max_attempts = 2;
    retry.attempt_timeout = absl::Seconds(5);
    RetryEnvironment env;
    env.sleep = [](absl::Duration) {};
    auto kms = KmsClient::Create(*EndpointConfig::FromUrl(url), CanaryCredentials(valid_secret),
                                 testing::kTestRegion, retry, env);
    EXPECT_TRUE(kms.ok());
    return *std::move(kms);
  }

  std::ostringstream log_;
  std::vector<std::string> errors_;
};

TEST_F(CanaryTest, KmsFailuresNeverQuoteThePlaintextOrCredentials) {
  std::atomic<int> mode{0};
  FakeAwsServer server;
  server.Start([&mode](const std::string&, const json&) {
    switch (mode.load()) {
      case 0:
        return AwsErrorReply(400, "AccessDeniedException", "denied");
      case 1:
        return AwsErrorReply(500, "KMSInternalException", "boom");
      case 2: {
        FakeReply r;  // a success reply that is not JSON but carries the canary
        r.raw_body = absl::StrCat("<html>", kCanary, "</html>");
        return r;
      }
      case 3: {
        FakeReply r;  // an error reply that is not JSON but carries the canary
        r.status = 502;
        r.raw_body = absl::StrCat("<html>", kCanary, CanaryB64(), "</html>");
        return r;
      }
      case 4:  // a reply whose fields are mistyped next to the canary
        return FakeReply{200, {{"Plaintext", 5}, {"KeyId", CanaryB64()}}, {}, {}};
      default:  // a reply whose plaintext is the canary but another field is malformed
        return FakeReply{200, {{"Plaintext", CanaryB64()}, {"KeyId", 12}}, {}, {}};
    }
  });
  auto kms = Kms(server.url());
  const SecretBytes plaintext = SecretBytes::CopyFrom(kCanary);
  for (mode = 0; mode.load() <= 5; ++mode) {
    Check(kms->Encrypt("alias/k", plaintext).status());
    DecryptRequest request;
    request.ciphertext_blob = ToBytes("blob");
    Check(kms->Decrypt(request).status());
  }
  // Wrong secret key and session token: the verifier rejects the signature.
  auto bad_creds = Kms(server.url(), /*valid_secret=*/false);
  Check(bad_creds->Encrypt("alias/k", plaintext).status());
}

TEST_F(CanaryTest, TransportFailuresNeverQuoteTheRequest) {
  uint16_t port;
  {
    absl::StatusOr<net::Listener> l = net::Listen(*net::Endpoint::Tcp("127.0.0.1", 0));
    ASSERT_TRUE(l.ok());
    port = static_cast<uint16_t>(l->local_endpoint().port());
  }
  auto kms = Kms(absl::StrCat("http://127.0.0.1:", port));
  Check(kms->Encrypt("alias/k", SecretBytes::CopyFrom(kCanary)).status());
}

TEST_F(CanaryTest, SecretsManagerFailuresNeverQuoteTheSecret) {
  FakeAwsServer server;
  server.Start([](const std::string& op, const json&) {
    if (op == "GetSecretValue") {
      return FakeReply{200, {{"ARN", 3}, {"SecretBinary", CanaryB64()}}, {}, {}};
    }
    return AwsErrorReply(400, "InvalidRequestException", "nope");
  });
  RetryEnvironment env;
  env.sleep = [](absl::Duration) {};
  auto sm = SecretsClient::Create(*EndpointConfig::FromUrl(server.url()), CanaryCredentials(true),
                                  testing::kTestRegion, RetryPolicy{}, env);
  ASSERT_TRUE(sm.ok());
  Check((*sm)->CreateSecret("s", SecretBytes::CopyFrom(kCanary)).status());
  Check((*sm)->PutSecretValue("s", SecretBytes::CopyFrom(kCanary), SecretKind::kString).status());
  Check((*sm)->GetSecretValue("s").status());
  std::string not_utf8 = absl::StrCat(kCanary, "\xff");
  Check((*sm)->CreateSecret("s", SecretBytes::CopyFrom(not_utf8), SecretKind::kString).status());
}

TEST_F(CanaryTest, ImdsFailuresNeverQuoteCredentials) {
  for (const std::string& doc :
       {absl::StrCat(R"({"Code":"Success","AccessKeyId":"A","SecretAccessKey":")", kCanary,
                     R"(","Token":")", kCanary, R"(","Expiration":"never"})"),
        absl::StrCat(R"({"Code":"Success","AccessKeyId":"A","SecretAccessKey":")", kCanary,
                     R"("})"),
        absl::StrCat(R"({"Code":")", kCanary, R"("})"), absl::StrCat("{", kCanary)}) {
    Check(ParseRoleCredentials(doc).status());
  }
}

}  // namespace
}  // namespace lockout::awsclient
