// The request handler under a signing policy (docs/PROTOCOL.md §2, "Authenticated requests"):
// every request is verified before anything happens; refusals are "unauthorized" with the rule
// in the log and never the message; requests that block are checked before they take a pool
// slot and admitted where they run.

#include <memory>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/auth/client_key.h"
#include "src/auth/request_auth.h"
#include "src/auth/request_verifier.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/request_handler.h"
#include "src/signer/signer.h"
#include "tests/enclave/enclave_test_util.h"

namespace lockout::enclave {
namespace {

constexpr char kKeyName[] = "lockout/signing-key";
// A message no log line may contain.
constexpr char kCanary[] = "canary-7f3a-message-never-logged";

class AuthHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Logger::Default().SetStream(&logs_);
    signer_key_ = *signer::Signer::Generate(signer::KeyType::kEd25519);
    spki_ = signer_key_->public_key_der();
    keys_ = KeyManager::WithSigner(std::move(signer_key_));
    gateway_ = *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "gateway");
    auditor_ = *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEcdsaP256, "auditor");
    policy_ = std::make_shared<signpolicy::SigningPolicy>();
    policy_->clients.push_back(Entry(*auditor_, {"health"}));
    policy_->clients.push_back(Entry(*gateway_, {"attest", "health", "public_key", "sign"}));
    policy_->max_request_bytes = 2048;
  }
  void TearDown() override { Logger::Default().SetStream(nullptr); }

  static signpolicy::AuthorizedClient Entry(const auth::ClientKey& key,
                                            std::vector<std::string> ops) {
    return {.name = key.name(),
            .algorithm = key.algorithm(),
            .public_key = ToString(key.public_key()),
            .ops = std::move(ops),
            .keys = {"*"}};
  }

  // A handler with the policy as it is now (null: no policy).
  std::unique_ptr<RequestHandler> Handler(bool with_policy = true, nsm::NsmDevice* nsm = nullptr) {
    HandlerOptions o;
    o.key_name = kKeyName;
    if (with_policy) o.signing_policy = std::make_shared<signpolicy::SigningPolicy>(*policy_);
    o.clock = &clock_;
    return std::make_unique<RequestHandler>(*keys_, nsm, o);
  }

  nlohmann::json Signed(const auth::ClientKey& key, nlohmann::json request) {
    EXPECT_TRUE(auth::SignRequest(key, clock_.Now(), request).ok());
    return request;
  }

  static nlohmann::json SignOp(std::string_view message = kCanary) {
    return {{"id", 1}, {"op", "sign"}, {"message", Base64Encode(AsBytes(message))}};
  }

  static nlohmann::json Call(RequestHandler& h, const nlohmann::json& request) {
    WorkerState state;
    std::string out;
    EXPECT_FALSE(
        h.Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = request.dump()}, state, out));
    return nlohmann::json::parse(out.substr(4));
  }

  std::ostringstream logs_;
  FakeClock clock_{absl::FromUnixMillis(1765000000000)};
  std::unique_ptr<signer::Signer> signer_key_;
  Bytes spki_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<auth::ClientKey> gateway_, auditor_;
  std::shared_ptr<signpolicy::SigningPolicy> policy_;
};

TEST_F(AuthHandlerTest, AnAuthorizedClientsRequestIsSignedAndTheSignatureVerifies) {
  auto h = Handler();
  const nlohmann::json reply = Call(*h, Signed(*gateway_, SignOp("tx 1")));
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  const Bytes sig = *HexDecode(reply["signature"].get<std::string>());
  EXPECT_TRUE(testing::VerifySignature(spki_, /*ed25519=*/true, AsBytes("tx 1"), sig));
}

TEST_F(AuthHandlerTest, EveryRefusalIsOneGenericErrorAndTheHandlerKeepsServing) {
  auto h = Handler();
  std::vector<std::pair<nlohmann::json, std::string>> cases;
  cases.emplace_back(SignOp(), "unauthenticated");
  nlohmann::json bad_sig = Signed(*gateway_, SignOp());
  bad_sig["auth"]["signature"] = Base64Encode(Bytes(64, 1));
  cases.emplace_back(bad_sig, "bad_signature");
  nlohmann::json tampered = Signed(*gateway_, SignOp());
  tampered["message"] = Base64Encode(AsBytes("tx 2: pay the attacker"));
  cases.emplace_back(tampered, "bad_signature");
  cases.emplace_back(Signed(*auditor_, SignOp()), "op_not_allowed");
  auto stranger = *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "stranger");
  cases.emplace_back(Signed(*stranger, SignOp()), "unknown_client");
  clock_.Advance(absl::Minutes(-6));
  cases.emplace_back(Signed(*gateway_, SignOp()), "stale_timestamp");
  clock_.Advance(absl::Minutes(6));
  const nlohmann::json good = Signed(*gateway_, SignOp("tx 3"));
  ASSERT_EQ(Call(*h, good)["ok"], true);
  cases.emplace_back(good, "replayed_nonce");

  for (const auto& [request, rule] : cases) {
    logs_.str("");
    const nlohmann::json reply = Call(*h, request);
    EXPECT_EQ(reply, nlohmann::json({{"id", 1}, {"ok", false}, {"error", "unauthorized"}})) << rule;
    EXPECT_NE(logs_.str().find("\"event\":\"request_refused\""), std::string::npos) << rule;
    EXPECT_NE(logs_.str().find("\"rule\":\"" + rule + "\""), std::string::npos) << logs_.str();
    EXPECT_EQ(logs_.str().find(kCanary), std::string::npos) << logs_.str();
    EXPECT_EQ(logs_.str().find(Base64Encode(AsBytes(kCanary))), std::string::npos);
    // ... and a good request right after is served.
    EXPECT_EQ(Call(*h, Signed(*gateway_, SignOp("next")))["ok"], true) << rule;
  }
  const nlohmann::json health = Call(*h, Signed(*gateway_, {{"id", "h"}, {"op", "health"}}));
  ASSERT_EQ(health["ok"], true) << health.dump();
  EXPECT_EQ(health["auth"], "policy");
  EXPECT_EQ(health["refusals"]["bad_signature"], 2);
  EXPECT_EQ(health["refusals"]["unauthenticated"], 1);
  EXPECT_EQ(health["refusals"]["replayed_nonce"], 1);
  EXPECT_EQ(health["refusals"]["request_too_large"], 0);
}

TEST_F(AuthHandlerTest, HashAndFormatAreCoveredByTheRequestSignature) {
  // They are members like any other: the canonical encoding covers them, so a forwarder can
  // neither add, change nor remove one (docs/PROTOCOL.md §2, "Authenticated requests").
  auto h = Handler();
  nlohmann::json with = SignOp("tx f");
  with["hash"] = "none";
  with["format"] = "raw";
  const nlohmann::json good = Signed(*gateway_, with);
  std::vector<nlohmann::json> tampered;
  nlohmann::json changed = good;
  changed["format"] = "der";
  tampered.push_back(changed);
  nlohmann::json removed = good;
  removed.erase("hash");
  tampered.push_back(removed);
  nlohmann::json added = Signed(*gateway_, SignOp("tx g"));
  added["hash"] = "none";
  tampered.push_back(added);
  for (const nlohmann::json& request : tampered) {
    logs_.str("");
    EXPECT_EQ(Call(*h, request)["error"], "unauthorized") << request.dump();
    EXPECT_NE(logs_.str().find("\"rule\":\"bad_signature\""), std::string::npos) << logs_.str();
  }
  const nlohmann::json reply = Call(*h, good);
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_TRUE(testing::VerifySignature(spki_, /*ed25519=*/true, AsBytes("tx f"),
                                       *HexDecode(reply["signature"].get<std::string>())));
}

TEST_F(AuthHandlerTest, ThePlainSignShapeTakesNoShortcutPastVerification) {
  auto h = Handler();
  WorkerState state;
  std::string out;
  h->Handle(net::Frame{.kind = net::FrameKind::kV2,
                       .payload = R"({"id":1,"op":"sign","message":"aGk="})"},
            state, out);
  EXPECT_NE(out.find(R"("error":"unauthorized")"), std::string::npos) << out;
}

TEST_F(AuthHandlerTest, V1IsRefusedUnlessThePolicyAllowsIt) {
  const net::Frame v1{.kind = net::FrameKind::kV1, .payload = R"({"bytes": "aGk="})"};
  WorkerState state;
  std::string out;
  EXPECT_TRUE(Handler()->Handle(v1, state, out));
  EXPECT_EQ(out, "{\"success\": \"False\", \"error\": \"Error: unauthorized\"}$$$");
  EXPECT_NE(logs_.str().find("\"protocol\":\"v1\""), std::string::npos);

  policy_->allow_unauthenticated_v1 = true;
  auto open = Handler();
  out.clear();
  EXPECT_TRUE(open->Handle(v1, state, out));
  EXPECT_NE(out.find("\"success\": \"True\""), std::string::npos) << out;
  // Unauthenticated v2 is allowed too, but a request that carries auth must still verify.
  EXPECT_EQ(Call(*open, SignOp())["ok"], true);
  nlohmann::json tampered = Signed(*gateway_, SignOp());
  tampered["message"] = "aGk=";
  EXPECT_EQ(Call(*open, tampered)["error"], "unauthorized");
}

TEST_F(AuthHandlerTest, AnOversizedFrameIsRefusedBeforeItIsParsed) {
  auto h = Handler();
  nlohmann::json big = Signed(*gateway_, SignOp(std::string(3000, 'x')));
  EXPECT_EQ(Call(*h, big)["error"], "unauthorized");
  EXPECT_NE(logs_.str().find("request_too_large"), std::string::npos);
}

TEST_F(AuthHandlerTest, AKeyTheEnclaveDoesNotServeIsUnknownAfterVerification) {
  auto h = Handler();
  nlohmann::json other = SignOp("x");
  other["key"] = "lockout/other-key";
  EXPECT_EQ(Call(*h, Signed(*gateway_, other))["error"], "unknown key");
  nlohmann::json mine = SignOp("x");
  mine["key"] = kKeyName;
  EXPECT_EQ(Call(*h, Signed(*gateway_, mine))["ok"], true);
}

TEST_F(AuthHandlerTest, DuplicateMembersAreABadRequestUnderAPolicy) {
  auto h = Handler();
  const nlohmann::json r = Signed(*gateway_, SignOp("x"));
  std::string text = r.dump();
  text.insert(1, R"("message":"aGk=",)");
  WorkerState state;
  std::string out;
  h->Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = text}, state, out);
  EXPECT_NE(out.find(R"("error":"bad request")"), std::string::npos) << out;
}

TEST_F(AuthHandlerTest, ABlockingRequestIsCheckedBeforeThePoolAndAdmittedOnceWhereItRuns) {
  testing::FakeNsmDevice nsm;
  auto h = Handler(/*with_policy=*/true, &nsm);
  const nlohmann::json attest = Signed(*gateway_, {{"id", 5}, {"op", "attest"}});
  const net::Frame frame{.kind = net::FrameKind::kV2, .payload = attest.dump()};
  WorkerState state;
  std::string out;
  // Authorized: left to the blocking pool, nonce not yet recorded.
  EXPECT_EQ(h->HandleWithoutBlocking(frame, state, out), RequestHandler::Outcome::kWouldBlock);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(h->HandleWithoutBlocking(frame, state, out), RequestHandler::Outcome::kWouldBlock);
  // Where it runs it is admitted once; the same request again is a replay.
  EXPECT_FALSE(h->Handle(frame, state, out));
  EXPECT_NE(out.find(R"("ok":true)"), std::string::npos) << out;
  out.clear();
  EXPECT_FALSE(h->Handle(frame, state, out));
  EXPECT_NE(out.find(R"("error":"unauthorized")"), std::string::npos) << out;
  // Unauthorized: answered at once, never given a pool slot.
  out.clear();
  const nlohmann::json forged = {{"id", 6}, {"op", "attest"}};
  EXPECT_EQ(h->HandleWithoutBlocking(
                net::Frame{.kind = net::FrameKind::kV2, .payload = forged.dump()}, state, out),
            RequestHandler::Outcome::kKeepOpen);
  EXPECT_NE(out.find(R"("error":"unauthorized")"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(h->HandleWithoutBlocking(frame, state, out), RequestHandler::Outcome::kKeepOpen);
  EXPECT_NE(out.find(R"("error":"unauthorized")"), std::string::npos) << out;  // the replay
}

TEST_F(AuthHandlerTest, WithoutAPolicyHealthSaysSoAndNothingIsVerified) {
  auto h = Handler(/*with_policy=*/false);
  const nlohmann::json health = Call(*h, {{"id", 1}, {"op", "health"}});
  EXPECT_EQ(health["auth"], "none");
  EXPECT_FALSE(health.contains("refusals"));
  EXPECT_EQ(Call(*h, SignOp())["ok"], true);
}

}  // namespace
}  // namespace lockout::enclave
