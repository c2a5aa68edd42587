#include "src/awsclient/aws_json_client.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/net/socket.h"
#include "tests/awsclient/test_servers.h"

namespace lockout::awsclient {
namespace {

using nlohmann::json;
using testing::AwsErrorReply;
using testing::FakeAwsServer;
using testing::FakeReply;
using testing::TestCredentials;

// Sleeps advance a fake clock that starts at the real time (signatures stay within the
// verifier's clock-skew window): no test waits for a backoff.
struct FakeTime {
  FakeClock clock{absl::Now()};
  std::atomic<int> sleeps{0};
  RetryEnvironment Env() {
    RetryEnvironment env;
    env.clock = &clock;
    env.sleep = [this](absl::Duration d) {
      ++sleeps;
      clock.Advance(d);
    };
    env.uniform01 = [] { return 1.0; };
    return env;
  }
};

class AwsJsonClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<AwsJsonClient> MakeClient(RetryPolicy retry = {},
                                            aws::AwsCredentials credentials = TestCredentials()) {
    AwsJsonClientOptions options;
    options.service = kKmsService;
    options.region = testing::kTestRegion;
    options.retry = retry;
    options.environment = time_.Env();
    absl::StatusOr<EndpointConfig> endpoint = EndpointConfig::FromUrl(server_.url());
    EXPECT_TRUE(endpoint.ok());
    absl::StatusOr<std::unique_ptr<AwsJsonClient>> client = AwsJsonClient::Create(
        *endpoint, std::make_shared<StaticCredentialsProvider>(std::move(credentials)), options);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  FakeTime time_;
  FakeAwsServer server_;
};

TEST_F(AwsJsonClientTest, SendsASignedJson11PostWithTargetAndSessionToken) {
  server_.Start([](const std::string& op, const json& req) {
    return FakeReply{200, {{"Echo", op}, {"KeyId", req.value("KeyId", "")}}, {}, {}};
  });
  auto client = MakeClient();
  absl::StatusOr<json> reply = client->Call("DescribeKey", {{"KeyId", "alias/test"}});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ((*reply)["Echo"], "DescribeKey");
  EXPECT_EQ((*reply)["KeyId"], "alias/test");

  ASSERT_EQ(server_.call_count(), 1);
  const testing::RecordedCall call = server_.calls()[0];
  EXPECT_EQ(server_.auth_failures(), 0);  // the real SigV4 verifier accepted it
  EXPECT_EQ(call.request.method, "POST");
  EXPECT_EQ(call.request.target, "/");
  EXPECT_EQ(call.target, "TrentService.DescribeKey");
  EXPECT_EQ(call.request.FindHeader("Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(call.request.FindHeader("X-Amz-Security-Token"), testing::kTestSessionToken);
  const std::string auth(call.request.FindHeader("Authorization").value_or(""));
  EXPECT_NE(auth.find("/us-east-1/kms/aws4_request"), std::string::npos) << auth;
  EXPECT_NE(auth.find("x-amz-security-token"), std::string::npos) << auth;
  EXPECT_NE(auth.find("x-amz-target"), std::string::npos) << auth;
  EXPECT_EQ(call.body, json({{"KeyId", "alias/test"}}));
}

TEST_F(AwsJsonClientTest, AccessDeniedIsPermissionDeniedAndNotRetried) {
  server_.Start([](const std::string&, const json&) {
    return AwsErrorReply(400, "com.amazonaws.kms#AccessDeniedException",
                         "User is not authorized to perform: kms:Decrypt");
  });
  auto client = MakeClient();
  absl::StatusOr<json> reply = client->Call("Decrypt", {{"CiphertextBlob", "AAAA"}});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(IsAwsErrorType(reply.status(), "AccessDeniedException")) << reply.status();
  EXPECT_NE(std::string(reply.status().message()).find("kms.Decrypt"), std::string::npos);
  EXPECT_EQ(server_.call_count(), 1);
  EXPECT_EQ(time_.sleeps.load(), 0);
}

TEST_F(AwsJsonClientTest, OtherClientErrorsAreNotRetried) {
  server_.Start([](const std::string&, const json&) {
    return AwsErrorReply(400, "ValidationException", "bad field");
  });
  auto client = MakeClient();
  EXPECT_EQ(client->Call("Encrypt", json::object()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server_.call_count(), 1);
}

TEST_F(AwsJsonClientTest, RetriesServerErrorsAndSucceedsAfterwards) {
  std::atomic<int> n{0};
  server_.Start([&n](const std::string&, const json&) {
    if (++n <= 2) return AwsErrorReply(500, "KMSInternalException", "try again");
    return FakeReply{200, {{"ok", true}}, {}, {}};
  });
  auto client = MakeClient();
  absl::StatusOr<json> reply = client->Call("Decrypt", json::object());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(server_.call_count(), 3);
  EXPECT_EQ(time_.sleeps.load(), 2);
  EXPECT_EQ(server_.auth_failures(), 0);  // each attempt was signed afresh and verified
}

TEST_F(AwsJsonClientTest, RetriesThrottlingAndSucceedsAfterwards) {
  std::atomic<int> n{0};
  server_.Start([&n](const std::string&, const json&) {
    if (++n == 1) return AwsErrorReply(400, "ThrottlingException", "Rate exceeded");
    return FakeReply{200, {{"ok", true}}, {}, {}};
  });
  auto client = MakeClient();
  EXPECT_TRUE(client->Call("Decrypt", json::object()).ok());
  EXPECT_EQ(server_.call_count(), 2);
}

TEST_F(AwsJsonClientTest, PersistentThrottlingStopsAfterTheAttemptBudget) {
  server_.Start([](const std::string&, const json&) {
    return AwsErrorReply(400, "ThrottlingException", "Rate exceeded");
  });
  RetryPolicy retry;
  retry.max_attempts = 3;
  auto client = MakeClient(retry);
  absl::StatusOr<json> reply = client->Call("Decrypt", json::object());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsAwsErrorType(reply.status(), "ThrottlingException"));
  EXPECT_EQ(server_.call_count(), 3);
}

TEST_F(AwsJsonClientTest, RetriesStopAtTheDeadline) {
  server_.Start([](const std::string&, const json&) {
    return AwsErrorReply(503, "ServiceUnavailableException", "down");
  });
  RetryPolicy retry;
  retry.max_attempts = 1000;
  retry.initial_backoff = absl::Seconds(1);
  retry.max_backoff = absl::Seconds(8);
  retry.total_timeout = absl::Seconds(20);
  auto client = MakeClient(retry);
  absl::StatusOr<json> reply = client->Call("Decrypt", json::object());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  // Full-jitter ceilings 1, 2, 4, 8 s (u = 1): attempts at 0, 1, 3, 7 s; the next sleep (8 s)
  // would end at 15 s < 20 s: attempt at 15 s; the next (8 s) would pass 20 s.
  EXPECT_EQ(server_.call_count(), 5);
}

TEST_F(AwsJsonClientTest, ConnectionFailuresAreRetriedThenReported) {
  uint16_t port;  // a port nothing listens on
  {
    absl::StatusOr<net::Listener> l = net::Listen(*net::Endpoint::Tcp("127.0.0.1", 0));
    ASSERT_TRUE(l.ok());
    port = static_cast<uint16_t>(l->local_endpoint().port());
  }
  AwsJsonClientOptions options;
  options.region = testing::kTestRegion;
  options.retry.max_attempts = 3;
  options.environment = time_.Env();
  auto client = AwsJsonClient::Create(
      *EndpointConfig::FromUrl(absl::StrCat("http://127.0.0.1:", port)),
      std::make_shared<StaticCredentialsProvider>(TestCredentials()), options);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<json> reply = (*client)->Call("Decrypt", json::object());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_FALSE(GetAwsCallError(reply.status()).has_value());
  EXPECT_EQ(time_.sleeps.load(), 2);
  EXPECT_NE(std::string(reply.status().message()).find("after 3 attempts"), std::string::npos)
      << reply.status();
}

TEST_F(AwsJsonClientTest, WrongSecretKeyIsUnauthenticatedAndNotRetried) {
  server_.Start([](const std::string&, const json&) { return FakeReply{}; });
  aws::AwsCredentials wrong = TestCredentials();
  wrong.secret_access_key = SecretBytes::CopyFrom(std::string_view("not-the-secret"));
  auto client = MakeClient({}, std::move(wrong));
  absl::StatusOr<json> reply = client->Call("Decrypt", json::object());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnauthenticated) << reply.status();
  EXPECT_TRUE(IsAwsErrorType(reply.status(), "InvalidSignatureException")) << reply.status();
  EXPECT_EQ(server_.auth_failures(), 1);
}

TEST_F(AwsJsonClientTest, EmptySuccessBodyIsAnEmptyObject) {
  server_.Start([](const std::string&, const json&) {
    FakeReply r;
    r.raw_body = "";
    return r;
  });
  auto client = MakeClient();
  absl::StatusOr<json> reply = client->Call("PutKeyPolicy", json::object());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, json::object());
}

TEST_F(AwsJsonClientTest, MalformedSuccessBodyIsInternalAndNotRetried) {
  for (const char* body : {"not json", "[1,2]", "{\"a\":", "\"str\""}) {
    FakeAwsServer server;
    server.Start([body](const std::string&, const json&) {
      FakeReply r;
      r.raw_body = body;
      return r;
    });
    AwsJsonClientOptions options;
    options.region = testing::kTestRegion;
    options.environment = time_.Env();
    auto client = AwsJsonClient::Create(
        *EndpointConfig::FromUrl(server.url()),
        std::make_shared<StaticCredentialsProvider>(TestCredentials()), options);
    ASSERT_TRUE(client.ok());
    absl::StatusOr<json> reply = (*client)->Call("Decrypt", json::object());
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal) << body;
    EXPECT_EQ(server.call_count(), 1);
  }
}

TEST_F(AwsJsonClientTest, RequestWithInvalidUtf8IsRejectedBeforeSending) {
  server_.Start([](const std::string&, const json&) { return FakeReply{}; });
  auto client = MakeClient();
  absl::StatusOr<json> reply = client->Call("Encrypt", {{"KeyId", std::string("\xff\xfe")}});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server_.call_count(), 0);
}

TEST_F(AwsJsonClientTest, CreateRejectsMissingRegionOrCredentials) {
  auto endpoint = *EndpointConfig::FromUrl("http://127.0.0.1:1");
  AwsJsonClientOptions no_region;
  EXPECT_EQ(AwsJsonClient::Create(
                endpoint, std::make_shared<StaticCredentialsProvider>(TestCredentials()), no_region)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  AwsJsonClientOptions options;
  options.region = "us-east-1";
  EXPECT_EQ(AwsJsonClient::Create(endpoint, nullptr, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockout::awsclient
