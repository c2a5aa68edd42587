#include "src/awsclient/imds_client.h"

#include <atomic>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/clock.h"
#include "src/http/http_server.h"

namespace lockout::awsclient {
namespace {

constexpr char kRole[] = "lockout-instance-role";
constexpr char kSecret[] = "imds-secret-key-canary";
constexpr char kToken[] = "imds-session-token-canary";

std::string CredentialsDocument(std::string expiration = "2030-01-01T00:00:00Z") {
  return nlohmann::json{{"Code", "Success"},          {"LastUpdated", "2029-12-31T18:00:00Z"},
                        {"Type", "AWS-HMAC"},         {"AccessKeyId", "ASIAIMDSEXAMPLE"},
                        {"SecretAccessKey", kSecret}, {"Token", kToken},
                        {"Expiration", expiration}}
      .dump();
}

// IMDSv2 as EC2 serves it, with switches for the failure cases.
class FakeImds {
 public:
  static http::HttpServerOptions Options() {
    http::HttpServerOptions options;
    options.threads = 2;
    return options;
  }

  FakeImds() : server_(Options()) {
    EXPECT_TRUE(server_.Start([this](const aws::HttpRequest& r) { return Handle(r); }).ok());
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", server_.port()); }
  int token_requests() const { return token_requests_.load(); }
  int credential_requests() const { return credential_requests_.load(); }
  std::string last_ttl() {
    absl::MutexLock lock(&mu_);
    return last_ttl_;
  }
  void ForgetTokens() {
    absl::MutexLock lock(&mu_);
    tokens_.clear();
  }
  std::atomic<bool> no_role{false};
  std::atomic<bool> failing{false};
  std::atomic<bool> refuse_tokens{false};
  std::string expiration = "2030-01-01T00:00:00Z";

 private:
  http::HttpResponse Handle(const aws::HttpRequest& r) {
    if (r.method == "PUT" && r.target == "/latest/api/token") {
      ++token_requests_;
      if (refuse_tokens) return http::HttpResponse::Text(403, "Forbidden");
      absl::MutexLock lock(&mu_);
      last_ttl_ = std::string(r.FindHeader("X-aws-ec2-metadata-token-ttl-seconds").value_or(""));
      if (last_ttl_.empty()) return http::HttpResponse::Text(400, "Missing TTL");
      std::string token = absl::StrCat("token-", tokens_.size() + 1, "-", token_requests_.load());
      tokens_.insert(token);
      return http::HttpResponse::Text(200, token);
    }
    {
      absl::MutexLock lock(&mu_);
      if (!tokens_.contains(std::string(r.FindHeader("X-aws-ec2-metadata-token").value_or("")))) {
        return http::HttpResponse::Text(401, "Unauthorized");
      }
    }
    if (failing) return http::HttpResponse::Text(500, "Internal Error");
    const std::string prefix = "/latest/meta-data/iam/security-credentials/";
    if (r.target == prefix) {
      if (no_role) return http::HttpResponse::Text(404, "Not Found");
      return http::HttpResponse::Text(200, absl::StrCat(kRole, "\n"));
    }
    if (r.target == prefix + kRole) {
      ++credential_requests_;
      return http::HttpResponse::Text(200, CredentialsDocument(expiration));
    }
    if (r.target == "/latest/meta-data/placement/region") {
      return http::HttpResponse::Text(200, "us-east-1");
    }
    return http::HttpResponse::Text(404, "Not Found");
  }

  http::HttpServer server_;
  std::atomic<int> token_requests_{0};
  std::atomic<int> credential_requests_{0};
  absl::Mutex mu_;
  std::set<std::string> tokens_ ABSL_GUARDED_BY(mu_);
  std::string last_ttl_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<ImdsClient> MakeClient(const FakeImds& imds, const Clock* clock = nullptr) {
  ImdsOptions options;
  options.environment.sleep = [](absl::Duration) {};
  if (clock != nullptr) options.environment.clock = clock;
  absl::StatusOr<std::unique_ptr<ImdsClient>> client =
      ImdsClient::Create(*EndpointConfig::FromUrl(imds.url()), options);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

TEST(ImdsClientTest, FetchesTokenThenRoleThenCredentials) {
  FakeImds imds;
  auto client = MakeClient(imds);
  absl::StatusOr<RoleCredentials> c = client->GetCredentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "ASIAIMDSEXAMPLE");
  EXPECT_EQ(c->secret_access_key.RevealAsString(), kSecret);
  EXPECT_EQ(c->session_token.RevealAsString(), kToken);
  EXPECT_EQ(c->expiration,
            absl::FromCivil(absl::CivilSecond(2030, 1, 1, 0, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(imds.token_requests(), 1);
  EXPECT_EQ(imds.last_ttl(), "21600");
  aws::AwsCredentials signing = c->ToAwsCredentials();
  EXPECT_EQ(signing.session_token.RevealAsString(), kToken);
  EXPECT_EQ(signing.secret_access_key.RevealAsString(), kSecret);
}

TEST(ImdsClientTest, ReusesTheTokenAcrossCalls) {
  FakeImds imds;
  auto client = MakeClient(imds);
  ASSERT_TRUE(client->GetCredentials().ok());
  ASSERT_TRUE(client->GetCredentials().ok());
  EXPECT_EQ(*client->GetMetadata("placement/region"), "us-east-1");
  EXPECT_EQ(imds.token_requests(), 1);
  EXPECT_EQ(client->tokens_fetched(), 1);
}

TEST(ImdsClientTest, RefetchesTheTokenWhenImdsRejectsIt) {
  FakeImds imds;
  auto client = MakeClient(imds);
  ASSERT_TRUE(client->GetRoleName().ok());
  imds.ForgetTokens();
  absl::StatusOr<std::string> role = client->GetRoleName();
  ASSERT_TRUE(role.ok()) << role.status();
  EXPECT_EQ(*role, kRole);
  EXPECT_EQ(imds.token_requests(), 2);
}

TEST(ImdsClientTest, RefetchesTheTokenBeforeItsTtlEnds) {
  FakeImds imds;
  FakeClock clock(absl::Now());
  auto client = MakeClient(imds, &clock);
  ASSERT_TRUE(client->GetRoleName().ok());
  clock.Advance(absl::Hours(6) - absl::Seconds(30));
  ASSERT_TRUE(client->GetRoleName().ok());
  EXPECT_EQ(imds.token_requests(), 2);
}

TEST(ImdsClientTest, InstanceWithoutRoleIsNotFound) {
  FakeImds imds;
  imds.no_role = true;
  auto client = MakeClient(imds);
  EXPECT_EQ(client->GetCredentials().status().code(), absl::StatusCode::kNotFound);
}

TEST(ImdsClientTest, RefusedTokenIsPermissionDenied) {
  FakeImds imds;
  imds.refuse_tokens = true;
  auto client = MakeClient(imds);
  EXPECT_EQ(client->GetCredentials().status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(imds.token_requests(), 1);  // not retried
}

TEST(ImdsClientTest, ServerErrorsAreRetriedUpToTheBudget) {
  FakeImds imds;
  imds.failing = true;
  auto client = MakeClient(imds);
  absl::StatusOr<std::string> role = client->GetRoleName();
  EXPECT_EQ(role.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(role.status().message()).find("after 4 attempts"), std::string::npos)
      << role.status();
}

TEST(ImdsClientTest, RejectsPathsAndRoleNamesThatCouldEscapeTheMetadataTree) {
  FakeImds imds;
  auto client = MakeClient(imds);
  EXPECT_EQ(client->GetMetadata("../../latest/api/token").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->GetMetadata("a b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->GetRoleCredentials("role/../x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->GetRoleCredentials("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseRoleCredentialsTest, EveryTruncationIsRejectedWithoutQuotingSecrets) {
  const std::string doc = CredentialsDocument();
  ASSERT_TRUE(ParseRoleCredentials(doc).ok());
  for (size_t n = 0; n < doc.size(); ++n) {
    absl::StatusOr<RoleCredentials> c = ParseRoleCredentials(doc.substr(0, n));
    ASSERT_FALSE(c.ok()) << n;
    const std::string message(c.status().message());
    EXPECT_EQ(message.find(kSecret), std::string::npos);
    EXPECT_EQ(message.find(kToken), std::string::npos);
  }
}

TEST(ParseRoleCredentialsTest, RejectsWrongShapes) {
  using nlohmann::json;
  json good = json::parse(CredentialsDocument());
  std::vector<json> bad;
  bad.push_back(json::array());
  bad.push_back(json("string"));
  for (const char* field : {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}) {
    json missing = good;
    missing.erase(field);
    bad.push_back(missing);
    json wrong_type = good;
    wrong_type[field] = 12;
    bad.push_back(wrong_type);
    json empty = good;
    empty[field] = "";
    bad.push_back(empty);
  }
  json failed = good;
  failed["Code"] = "Failure";
  bad.push_back(failed);
  json bad_time = good;
  bad_time["Expiration"] = "tomorrow";
  bad.push_back(bad_time);
  for (const json& doc : bad) {
    absl::StatusOr<RoleCredentials> c = ParseRoleCredentials(doc.dump());
    EXPECT_FALSE(c.ok()) << doc.dump();
    EXPECT_EQ(std::string(c.status().message()).find(kSecret), std::string::npos);
  }
}

TEST(ParseRoleCredentialsTest, BitFlipsNeverCrashOrLeakSecrets) {
  const std::string doc = CredentialsDocument();
  for (size_t i = 0; i < doc.size(); ++i) {
    std::string flipped = doc;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x20);
    absl::StatusOr<RoleCredentials> c = ParseRoleCredentials(flipped);
    if (!c.ok()) {
      EXPECT_EQ(std::string(c.status().message()).find(kSecret), std::string::npos);
    }
  }
}

TEST(ImdsCredentialsProviderTest, CachesUntilShortlyBeforeExpiry) {
  FakeImds imds;
  const absl::Time start = absl::Now();
  imds.expiration = FormatRfc3339(start + absl::Hours(1));
  FakeClock clock(start);
  auto provider = std::make_shared<ImdsCredentialsProvider>(
      std::shared_ptr<ImdsClient>(MakeClient(imds)), absl::Minutes(5), &clock);
  EXPECT_FALSE(provider->expiration().has_value());
  ASSERT_TRUE(provider->GetCredentials().ok());
  clock.Advance(absl::Minutes(30));
  ASSERT_TRUE(provider->GetCredentials().ok());
  EXPECT_EQ(imds.credential_requests(), 1);
  clock.Advance(absl::Minutes(26));  // 4 minutes before expiry: inside the refresh margin
  absl::StatusOr<aws::AwsCredentials> c = provider->GetCredentials();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->secret_access_key.RevealAsString(), kSecret);
  EXPECT_EQ(imds.credential_requests(), 2);
  ASSERT_TRUE(provider->expiration().has_value());
}

TEST(ImdsCredentialsProviderTest, KeepsUnexpiredCredentialsWhenRefreshFails) {
  FakeImds imds;
  const absl::Time start = absl::Now();
  imds.expiration = FormatRfc3339(start + absl::Hours(1));
  FakeClock clock(start);
  ImdsCredentialsProvider provider(std::shared_ptr<ImdsClient>(MakeClient(imds)), absl::Minutes(5),
                                   &clock);
  ASSERT_TRUE(provider.GetCredentials().ok());
  imds.failing = true;
  clock.Advance(absl::Minutes(57));  // refresh due, but the old credentials are still valid
  EXPECT_TRUE(provider.GetCredentials().ok());
  clock.Advance(absl::Minutes(4));  // now expired
  EXPECT_EQ(provider.GetCredentials().status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace lockout::awsclient
