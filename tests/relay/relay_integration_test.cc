// The real lockout-relay binary against a fake AWS (IMDSv2 + Secrets Manager GetSecretValue that
// verifies SigV4 with the credentials its IMDS handed out), driven exactly like the seed's
// enclave: a new connection per request, "$$$" framing. Every test checks at the end that the
// relay stopped cleanly on SIGTERM and that no canary (secret key, session token, secret value)
// ever reached its stderr log.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/aws/sigv4_verifier.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/http/http_server.h"
#include "src/net/socket.h"
#include "src/relay/relay_client.h"
#include "tests/testing/vectors.h"

extern char** environ;

namespace lockout::relay {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAccessKeyId[] = "ASIAIMDSFAKEEXAMPLE";
constexpr char kCanarySecretKey[] = "CANARYimdsSecretKey/wJalrXUtnFEMI+K7MDENG";
constexpr char kCanaryToken[] = "CANARYimdsSessionToken/IQoJb3JpZ2luX2VjEJr";
constexpr char kCanaryValue[] = "CANARY-ciphertext-of-the-signing-key";
constexpr char kImdsToken[] = "CANARYimdsApiToken";
constexpr char kRole[] = "lockout-instance-role";
constexpr char kSecretName[] = "lockout/signing-key";
constexpr absl::Duration kIo = absl::Seconds(20);

// Fake IMDSv2 and Secrets Manager on one HTTP server.
class FakeAws {
 public:
  FakeAws()
      : verifier_(
            [](std::string_view akid) -> std::optional<aws::VerifierCredential> {
              if (akid != kAccessKeyId) return std::nullopt;
              return aws::VerifierCredential{
                  .secret_access_key = SecretBytes::CopyFrom(std::string_view(kCanarySecretKey)),
                  .principal = "arn:aws:sts::111122223333:assumed-role/lockout-instance-role/i-1",
                  .session_token = std::string(kCanaryToken),
                  .expiration = std::nullopt};
            },
            aws::SigV4VerifierOptions{.region = "us-east-1", .services = {"secretsmanager"}},
            Clock::Real()) {
    http::HttpServerOptions options;
    options.threads = 2;
    server_ = std::make_unique<http::HttpServer>(options);
    EXPECT_TRUE(server_->Start([this](const aws::HttpRequest& r) { return Handle(r); }).ok());
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  int credential_fetches() const { return credential_fetches_.load(); }
  int secret_calls() const { return secret_calls_.load(); }
  int signature_failures() const { return signature_failures_.load(); }

 private:
  http::HttpResponse Handle(const aws::HttpRequest& r) {
    const std::string path(r.Path());
    if (path.starts_with("/latest/")) return Imds(r, path);
    return SecretsManager(r);
  }

  http::HttpResponse Imds(const aws::HttpRequest& r, const std::string& path) {
    if (r.method == "PUT" && path == "/latest/api/token") {
      if (!r.FindHeader("X-aws-ec2-metadata-token-ttl-seconds")) {
        return http::HttpResponse::Text(400, "missing ttl");
      }
      return http::HttpResponse::Text(200, kImdsToken);
    }
    if (r.FindHeader("X-aws-ec2-metadata-token") != std::optional<std::string_view>(kImdsToken)) {
      return http::HttpResponse::Text(401, "");
    }
    const std::string prefix = "/latest/meta-data/iam/security-credentials/";
    if (path == prefix) return http::HttpResponse::Text(200, kRole);
    if (path == prefix + kRole) {
      ++credential_fetches_;
      nlohmann::json doc = {{"Code", "Success"},
                            {"LastUpdated", FormatRfc3339(absl::Now())},
                            {"Type", "AWS-HMAC"},
                            {"AccessKeyId", kAccessKeyId},
                            {"SecretAccessKey", kCanarySecretKey},
                            {"Token", kCanaryToken},
                            {"Expiration", FormatRfc3339(absl::Now() + absl::Hours(6))}};
      return http::HttpResponse::Text(200, doc.dump());
    }
    return http::HttpResponse::Text(404, "");
  }

  http::HttpResponse SecretsManager(const aws::HttpRequest& r) {
    aws::VerifyResult verified = verifier_.Verify(r);
    if (!verified.ok()) {
      ++signature_failures_;
      return http::HttpResponse::Json(verified.error().HttpStatus(),
                                      nlohmann::json{{"__type", verified.error().TypeName()},
                                                     {"message", verified.error().message}}
                                          .dump());
    }
    if (r.FindHeader("X-Amz-Target") !=
        std::optional<std::string_view>("secretsmanager.GetSecretValue")) {
      return http::HttpResponse::Json(400, R"({"__type":"UnknownOperationException"})");
    }
    ++secret_calls_;
    nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
    if (!body.is_object() || body.value("SecretId", "") != kSecretName) {
      return http::HttpResponse::Json(
          400,
          R"({"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."})");
    }
    nlohmann::json reply = {
        {"ARN", "arn:aws:secretsmanager:us-east-1:111122223333:secret:lockout/signing-key-AbCdEf"},
        {"Name", kSecretName},
        {"VersionId", "11111111-2222-3333-4444-555555555555"},
        {"SecretBinary", Base64Encode(AsBytes(kCanaryValue))},
        {"VersionStages", {"AWSCURRENT"}},
        {"CreatedDate", 1700000000.5}};
    return http::HttpResponse::Json(200, reply.dump());
  }

  aws::SigV4Verifier verifier_;
  std::unique_ptr<http::HttpServer> server_;
  std::atomic<int> credential_fetches_{0};
  std::atomic<int> secret_calls_{0};
  std::atomic<int> signature_failures_{0};
};

std::string ReadWholeFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// One seed-style exchange: connect, send `bytes`, optionally half-close, read to "$$$" or EOF.
std::string SeedExchange(const net::Endpoint& relay, std::string_view bytes,
                         bool half_close = false) {
  absl::StatusOr<UniqueFd> fd = net::Connect(relay, kIo);
  if (!fd.ok()) return "connect failed: " + std::string(fd.status().message());
  if (!net::WriteAll(fd->get(), bytes, kIo).ok()) return "write failed";
  if (half_close) (void)net::ShutdownWrite(fd->get());
  std::string out;
  char buf[4096];
  const absl::Time deadline = absl::Now() + kIo;
  while (absl::Now() < deadline && !out.ends_with("$$$")) {
    const ssize_t n = recv(fd->get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  return out;
}

class RelayIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = ::lockout::testing::BinaryDir() + "/lockout-relay";
    ASSERT_EQ(access(binary_.c_str(), X_OK), 0) << binary_ << " is not built";
    char dir_template[] = "/tmp/relay-it-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    ready_path_ = dir_ + "/ready.json";
    stderr_path_ = dir_ + "/stderr.log";

    std::vector<std::string> args = {binary_,        "--listen",          "tcp://127.0.0.1:0",
                                     "--metrics",    "tcp://127.0.0.1:0", "--allow-secret",
                                     kSecretName,    "--allow-secret",    "allowed/but-missing",
                                     "--ready-file", ready_path_,         "--log-level",
                                     "debug"};
    // A clean environment: the fake's endpoints, nothing inherited that could point elsewhere.
    std::vector<std::string> env = {
        "PATH=/usr/bin:/bin",
        "AWS_REGION=us-east-1",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT=" + aws_.url(),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + aws_.url(),
    };
    for (const char* keep : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
      if (const char* v = getenv(keep)) env.push_back(std::string(keep) + "=" + v);
    }
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    ASSERT_EQ(posix_spawn(&pid_, binary_.c_str(), &actions, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);

    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (ReadWholeFile(ready_path_).empty()) {
      int status = 0;
      ASSERT_EQ(waitpid(pid_, &status, WNOHANG), 0) << "lockout-relay exited early:\n"
                                                    << ReadWholeFile(stderr_path_);
      ASSERT_LT(absl::Now(), deadline) << "no ready file:\n" << ReadWholeFile(stderr_path_);
      absl::SleepFor(absl::Milliseconds(20));
    }
    nlohmann::json ready = nlohmann::json::parse(ReadWholeFile(ready_path_));
    listen_ = *net::Endpoint::Parse(ready.at("listen").get<std::string>());
    metrics_ = *net::Endpoint::Parse(ready.at("metrics").get<std::string>());
    EXPECT_EQ(ready.at("pid"), pid_);
  }

  // Stops the relay with SIGTERM and checks exit status and log hygiene.
  void TearDown() override {
    if (pid_ <= 0) return;
    ASSERT_EQ(kill(pid_, SIGTERM), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
    const std::string log = ReadWholeFile(stderr_path_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                               << log;
    EXPECT_THAT(log, HasSubstr("\"event\":\"relay_stopped\""));
    EXPECT_THAT(log, Not(HasSubstr("CANARY")));
    EXPECT_THAT(log, Not(HasSubstr(Base64Encode(AsBytes(kCanaryValue)))));
    EXPECT_EQ(aws_.signature_failures(), 0);
    std::remove(ready_path_.c_str());
    std::remove(stderr_path_.c_str());
    rmdir(dir_.c_str());
  }

  std::string Log() const { return ReadWholeFile(stderr_path_); }

  std::string Metrics() {
    return SeedExchangeHttp("GET /metrics HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n");
  }
  std::string SeedExchangeHttp(std::string_view request) {
    absl::StatusOr<UniqueFd> fd = net::Connect(metrics_, kIo);
    if (!fd.ok()) return "";
    (void)net::WriteAll(fd->get(), request, kIo);
    std::string out;
    char buf[4096];
    const absl::Time deadline = absl::Now() + kIo;
    while (absl::Now() < deadline) {
      const ssize_t n = recv(fd->get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else {
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
    return out;
  }

  FakeAws aws_;
  std::string binary_, dir_, ready_path_, stderr_path_;
  pid_t pid_ = -1;
  net::Endpoint listen_ = net::Endpoint::Vsock(1, 1);
  net::Endpoint metrics_ = net::Endpoint::Vsock(1, 1);
};

const char kSeedRequest[] =
    R"({"request_type": "get_secret", "payload": {"secret_name": "lockout/signing-key"}}$$$)";

TEST_F(RelayIntegrationTest, AllowedSecretComesBackWithTheInstanceCredentialsLikeTheSeed) {
  const std::string reply = SeedExchange(listen_, kSeedRequest);
  ASSERT_TRUE(reply.ends_with("$$$")) << reply.size();
  nlohmann::json j = nlohmann::json::parse(reply.substr(0, reply.size() - 3));
  EXPECT_EQ(j["result"]["secret"], Base64Encode(AsBytes(kCanaryValue)));
  EXPECT_EQ(j["result"]["credentials"]["access_key_id"], kAccessKeyId);
  EXPECT_EQ(j["result"]["credentials"]["secret_access_key"], kCanarySecretKey);
  EXPECT_EQ(j["result"]["credentials"]["token"], kCanaryToken);
  EXPECT_EQ(aws_.secret_calls(), 1);
}

TEST_F(RelayIntegrationTest, RelayClientDecodesTheReply) {
  RelayClientOptions options;
  options.endpoint = listen_;
  absl::StatusOr<GetSecretReply> reply = RelayClient(options).GetSecret(kSecretName);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ToString(reply->secret), kCanaryValue);
  EXPECT_EQ(reply->credentials.session_token.RevealAsString(), kCanaryToken);
  ASSERT_TRUE(reply->expiration.has_value());
  EXPECT_GT(*reply->expiration, absl::Now() + absl::Hours(5));
}

TEST_F(RelayIntegrationTest, CredentialsAreFetchedOnceAndSecretsOnEveryRequest) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(SeedExchange(listen_, kSeedRequest), HasSubstr("\"result\""));
  }
  EXPECT_EQ(aws_.credential_fetches(), 1);  // the start-up warm-up; then the cache
  EXPECT_EQ(aws_.secret_calls(), 5);
}

TEST_F(RelayIntegrationTest, DeniedSecretIsRefusedLoggedAndNeverFetched) {
  EXPECT_EQ(
      SeedExchange(listen_,
                   R"({"request_type": "get_secret", "payload": {"secret_name": "other"}}$$$)"),
      R"({"error":"secret not allowed"}$$$)");
  EXPECT_EQ(aws_.secret_calls(), 0);
  EXPECT_THAT(Log(), HasSubstr("\"status\":\"denied\""));
}

TEST_F(RelayIntegrationTest, AllowedButMissingSecretIsUnavailable) {
  EXPECT_EQ(
      SeedExchange(
          listen_,
          R"({"request_type": "get_secret", "payload": {"secret_name": "allowed/but-missing"}}$$$)"),
      R"({"error":"secret unavailable"}$$$)");
  EXPECT_THAT(Log(), HasSubstr("ResourceNotFoundException"));
}

TEST_F(RelayIntegrationTest, BadRequestsGetErrorsAndTheRelayKeepsServing) {
  EXPECT_EQ(SeedExchange(listen_, "{this is not json}$$$"), R"({"error":"bad request"}$$$)");
  EXPECT_EQ(SeedExchange(listen_, R"({"request_type": "get_secret", "payl)", /*half_close=*/true),
            R"({"error":"bad request"}$$$)");
  EXPECT_EQ(SeedExchange(listen_, "{\"x\":\"" + std::string(100 << 10, 'x') + "\"}$$$"),
            R"({"error":"request too large"}$$$)");
  EXPECT_EQ(SeedExchange(listen_, R"({"request_type": "sign", "payload": {}}$$$)"),
            R"({"error":"unknown request_type"}$$$)");
  EXPECT_EQ(SeedExchange(listen_, "\x16\x03\x01\x02\x00"), R"({"error":"bad request"}$$$)");
  EXPECT_THAT(SeedExchange(listen_, kSeedRequest), HasSubstr("\"result\""));
}

TEST_F(RelayIntegrationTest, MetricsEndpointServesPrometheusText) {
  ASSERT_THAT(SeedExchange(listen_, kSeedRequest), HasSubstr("\"result\""));
  ASSERT_THAT(SeedExchange(listen_, "garbage"), HasSubstr("error"));
  const std::string response = Metrics();
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(response, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(response,
              HasSubstr("lockout_relay_requests_total{type=\"get_secret\",result=\"ok\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("lockout_relay_errors_total{kind=\"framing\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("lockout_relay_upstream_latency_seconds_count{operation="
                                  "\"get_secret_value\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("lockout_relay_upstream_latency_seconds_count{operation="
                                  "\"imds_credentials\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("\nlockout_relay_credentials_expiry_seconds 2"));  // ~6 h
  EXPECT_THAT(SeedExchangeHttp("GET / HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n"),
              HasSubstr("HTTP/1.1 404"));
}

}  // namespace
}  // namespace lockout::relay
