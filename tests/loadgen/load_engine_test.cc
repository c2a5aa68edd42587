#include "src/loadgen/load_engine.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/json.h"
#include "src/net/socket.h"

namespace lockout::loadgen {
namespace {

constexpr absl::Duration kIo = absl::Seconds(10);
constexpr char kFakeSignature[] = "3006020101020101";

// A v2 server on loopback for one connection: answers every sign request with kFakeSignature and
// its id, counts the requests that carry the "client_auth" field, until the client closes.
class OneConnectionServer {
 public:
  OneConnectionServer() {
    absl::StatusOr<net::Listener> l = net::Listen(*net::Endpoint::Parse("tcp://127.0.0.1:0"));
    EXPECT_TRUE(l.ok()) << l.status();
    listener_.emplace(*std::move(l));
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneConnectionServer() { thread_.join(); }

  net::Endpoint endpoint() const { return listener_->local_endpoint(); }
  int requests() const { return requests_.load(); }
  int authenticated() const { return authenticated_.load(); }

 private:
  void Serve() {
    absl::StatusOr<UniqueFd> fd = net::Accept(*listener_, kIo);
    if (!fd.ok()) return;
    net::FrameDecoder decoder;
    while (true) {
      absl::StatusOr<std::optional<net::Frame>> frame = net::ReadFrame(fd->get(), decoder, kIo);
      if (!frame.ok() || !frame->has_value()) return;
      absl::StatusOr<nlohmann::json> request = ParseJson((*frame)->payload);
      if (!request.ok()) return;
      ++requests_;
      if (request->contains("client_auth")) ++authenticated_;
      nlohmann::json reply = {
          {"id", (*request)["id"]}, {"ok", true}, {"signature", kFakeSignature}};
      if (!net::WriteFrame(fd->get(), net::FrameKind::kV2, reply.dump(), kIo).ok()) return;
    }
  }

  std::optional<net::Listener> listener_;
  std::thread thread_;
  std::atomic<int> requests_{0};
  std::atomic<int> authenticated_{0};
};

class CountingAuthenticator final : public RequestAuthenticator {
 public:
  explicit CountingAuthenticator(absl::Status result) : result_(std::move(result)) {}
  absl::Status Decorate(nlohmann::json& request) override {
    ++calls;
    if (!request.contains("id") || request["op"] != "sign" || !request.contains("message")) {
      return absl::InternalError("not a sign request");
    }
    request["client_auth"] = "test";
    return result_;
  }
  std::atomic<int> calls{0};

 private:
  absl::Status result_;
};

LoadOptions ShortRun(const net::Endpoint& endpoint) {
  LoadOptions o;
  o.endpoint = endpoint;
  o.pipeline = 8;
  o.duration = absl::Milliseconds(300);
  o.warmup = absl::ZeroDuration();
  o.verify_sample = 5;
  return o;
}

TEST(LoadEngineTest, EveryV2RequestIsDecoratedAndSampledSignaturesAreVerified) {
  OneConnectionServer server;
  CountingAuthenticator auth(absl::OkStatus());
  std::atomic<int> verifications{0};
  LoadHooks hooks;
  hooks.authenticator = &auth;
  hooks.verify = [&](ByteView message, ByteView signature) {
    ++verifications;
    EXPECT_EQ(message.size(), 32u);
    EXPECT_EQ(signature.size(), 8u);  // kFakeSignature decoded
    return absl::OkStatus();
  };
  absl::StatusOr<LoadReport> report = RunLoad(ShortRun(server.endpoint()), hooks, 1);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->sent, 0u);
  EXPECT_EQ(report->signatures_ok, report->sent);
  EXPECT_EQ(report->error_count(), 0u);
  EXPECT_EQ(report->latency.count(), report->signatures_ok);
  EXPECT_EQ(report->verified, 5u);
  EXPECT_EQ(verifications.load(), 5);
  EXPECT_TRUE(report->ok());
  // Warm-up 0: every request the server saw was counted, and every one was decorated.
  EXPECT_EQ(static_cast<uint64_t>(auth.calls.load()), report->sent);
  EXPECT_EQ(server.authenticated(), server.requests());
  EXPECT_EQ(static_cast<uint64_t>(server.requests()), report->sent);
}

TEST(LoadEngineTest, AnAuthenticatorFailureFailsThatRequestOnly) {
  OneConnectionServer server;  // accepts, sees no request, then EOF
  CountingAuthenticator auth(absl::PermissionDeniedError("no client key"));
  LoadHooks hooks;
  hooks.authenticator = &auth;
  LoadOptions o = ShortRun(server.endpoint());
  o.duration = absl::Milliseconds(50);
  absl::StatusOr<LoadReport> report = RunLoad(o, hooks, 1);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->errors["authenticator"], 0u);
  EXPECT_EQ(report->signatures_ok, 0u);
  EXPECT_EQ(server.requests(), 0);
  EXPECT_FALSE(report->ok());
}

TEST(LoadEngineTest, SignaturesThatDoNotVerifyFailTheRun) {
  OneConnectionServer server;
  LoadHooks hooks;
  hooks.verify = [](ByteView, ByteView) {
    return absl::UnauthenticatedError("signature does not verify");
  };
  absl::StatusOr<LoadReport> report = RunLoad(ShortRun(server.endpoint()), hooks, 1);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->verify_failures, 5u);
  EXPECT_EQ(report->verified, 0u);
  EXPECT_EQ(report->first_verify_failure, "signature does not verify");
  EXPECT_FALSE(report->ok());
}

TEST(LoadEngineTest, InvalidOptionsAreRejectedBeforeAnyConnection) {
  LoadOptions o;
  EXPECT_TRUE(absl::IsInvalidArgument(RunLoad(o, LoadHooks{}, 1).status()));
}

}  // namespace
}  // namespace lockout::loadgen
