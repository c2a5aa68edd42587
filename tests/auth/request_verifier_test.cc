#include "src/auth/request_verifier.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "src/auth/request_auth.h"
#include "src/common/encoding.h"

namespace lockout::auth {
namespace {

constexpr int64_t kNowMs = 1765000000000;

class RequestVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gateway_ = *ClientKey::Generate(ClientKeyAlgorithm::kEd25519, "gateway");
    reader_ = *ClientKey::Generate(ClientKeyAlgorithm::kEcdsaP256, "reader");
    outsider_ = *ClientKey::Generate(ClientKeyAlgorithm::kEd25519, "outsider");
    auto policy = std::make_shared<signpolicy::SigningPolicy>();
    policy->clients.push_back(Entry(*gateway_, {"health", "sign"}, {"*"}));
    policy->clients.push_back(Entry(*reader_, {"public_key", "sign"}, {"lockout/other"}));
    policy->replay_window = absl::Seconds(30);
    policy->max_request_bytes = 4096;
    policy->max_nonces = 100;
    policy_ = policy;
  }

  static signpolicy::AuthorizedClient Entry(const ClientKey& key, std::vector<std::string> ops,
                                            std::vector<std::string> keys) {
    return signpolicy::AuthorizedClient{.name = key.name(),
                                        .algorithm = key.algorithm(),
                                        .public_key = ToString(key.public_key()),
                                        .ops = std::move(ops),
                                        .keys = std::move(keys)};
  }

  std::unique_ptr<RequestVerifier> Verifier() {
    absl::StatusOr<std::unique_ptr<RequestVerifier>> v = RequestVerifier::Create(policy_, clock_);
    EXPECT_TRUE(v.ok()) << v.status();
    return *std::move(v);
  }

  nlohmann::json Signed(const ClientKey& key, nlohmann::json request) {
    EXPECT_TRUE(SignRequest(key, clock_.Now(), request).ok());
    return request;
  }

  static nlohmann::json SignOp() { return {{"id", 1}, {"op", "sign"}, {"message", "aGk="}}; }

  Decision Check(RequestVerifier& v, const nlohmann::json& r,
                 RequestVerifier::Mode mode = RequestVerifier::Mode::kAdmit) {
    return v.CheckV2(r, r.dump().size(), "lockout/signing-key", mode);
  }

  FakeClock clock_{absl::FromUnixMillis(kNowMs)};
  std::unique_ptr<ClientKey> gateway_, reader_, outsider_;
  std::shared_ptr<const signpolicy::SigningPolicy> policy_;
};

TEST_F(RequestVerifierTest, AnAuthorizedClientsSignedRequestPassesOnce) {
  auto v = Verifier();
  const nlohmann::json r = Signed(*gateway_, SignOp());
  Decision d = Check(*v, r);
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.authenticated);
  EXPECT_EQ(d.client, "gateway");
  d = Check(*v, r);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, Rule::kReplayedNonce);
  EXPECT_EQ(v->Refusals()[static_cast<size_t>(Rule::kReplayedNonce)], 1u);
}

TEST_F(RequestVerifierTest, P256ClientsVerifyToo) {
  auto v = Verifier();
  nlohmann::json r = SignOp();
  r["key"] = "lockout/other";
  EXPECT_TRUE(Check(*v, Signed(*reader_, r)).allowed);
}

TEST_F(RequestVerifierTest, CheckOnlyLeavesTheNonceForTheRealAdmission) {
  auto v = Verifier();
  const nlohmann::json r = Signed(*gateway_, SignOp());
  EXPECT_TRUE(Check(*v, r, RequestVerifier::Mode::kCheckOnly).allowed);
  EXPECT_TRUE(Check(*v, r, RequestVerifier::Mode::kAdmit).allowed);
  EXPECT_EQ(Check(*v, r, RequestVerifier::Mode::kCheckOnly).rule, Rule::kReplayedNonce);
}

TEST_F(RequestVerifierTest, EachRuleRefusesWhatItNames) {
  auto v = Verifier();
  auto expect = [&](const nlohmann::json& r, Rule rule, const std::string& client) {
    const Decision d = Check(*v, r);
    EXPECT_FALSE(d.allowed) << r.dump();
    EXPECT_EQ(RuleName(d.rule), RuleName(rule)) << r.dump();
    EXPECT_EQ(d.client, client) << r.dump();
  };
  expect(SignOp(), Rule::kUnauthenticated, "");

  nlohmann::json malformed = Signed(*gateway_, SignOp());
  malformed["auth"]["nonce"] = "short";
  expect(malformed, Rule::kMalformedAuth, "gateway");
  nlohmann::json float_field = SignOp();
  float_field["amount"] = 1.5;
  float_field["auth"] = Signed(*gateway_, SignOp())["auth"];
  expect(float_field, Rule::kMalformedAuth, "gateway");

  expect(Signed(*outsider_, SignOp()), Rule::kUnknownClient, "outsider");

  clock_.Advance(absl::Seconds(-31));
  const nlohmann::json old = Signed(*gateway_, SignOp());
  clock_.Advance(absl::Seconds(31));
  expect(old, Rule::kStaleTimestamp, "gateway");
  clock_.Advance(absl::Seconds(31));
  const nlohmann::json future = Signed(*gateway_, SignOp());
  clock_.Advance(absl::Seconds(-31));
  expect(future, Rule::kStaleTimestamp, "gateway");

  nlohmann::json tampered = Signed(*gateway_, SignOp());
  tampered["message"] = "aGo=";
  expect(tampered, Rule::kBadSignature, "gateway");
  nlohmann::json added = Signed(*gateway_, SignOp());
  added["hash"] = "none";  // a member the signer did not cover
  expect(added, Rule::kBadSignature, "gateway");
  nlohmann::json retimed = Signed(*gateway_, SignOp());
  retimed["auth"]["timestamp"] = kNowMs + 1;
  expect(retimed, Rule::kBadSignature, "gateway");
  // A signature by another policy client, claimed as gateway's.
  nlohmann::json impostor = Signed(*reader_, SignOp());
  impostor["auth"]["client"] = "gateway";
  expect(impostor, Rule::kBadSignature, "gateway");

  nlohmann::json attest = SignOp();
  attest["op"] = "attest";
  expect(Signed(*gateway_, attest), Rule::kOpNotAllowed, "gateway");
  nlohmann::json no_op = SignOp();
  no_op.erase("op");
  expect(Signed(*gateway_, no_op), Rule::kOpNotAllowed, "gateway");

  expect(Signed(*reader_, SignOp()), Rule::kKeyNotAllowed, "reader");  // the enclave's key
  nlohmann::json other_key = SignOp();
  other_key["key"] = "lockout/secret-3";
  expect(Signed(*reader_, other_key), Rule::kKeyNotAllowed, "reader");
  nlohmann::json numeric_key = SignOp();
  numeric_key["key"] = 3;
  expect(Signed(*reader_, numeric_key), Rule::kKeyNotAllowed, "reader");

  EXPECT_EQ(v->RefusalsJson()["bad_signature"], 4);
  EXPECT_EQ(v->RefusalsJson()["replay_cache_full"], 0);
  EXPECT_EQ(v->RefusalsJson().size(), kRuleCount);
  // Nothing refused was remembered.
  EXPECT_EQ(v->remembered_nonces(), 0u);
}

TEST_F(RequestVerifierTest, HealthNeedsNoKeyPermission) {
  auto v = Verifier();
  EXPECT_TRUE(Check(*v, Signed(*gateway_, {{"op", "health"}})).allowed);
  // reader may not use health at all.
  EXPECT_EQ(Check(*v, Signed(*reader_, {{"op", "health"}})).rule, Rule::kOpNotAllowed);
}

TEST_F(RequestVerifierTest, SizeLimitAppliesToEveryFrame) {
  auto v = Verifier();
  const nlohmann::json r = Signed(*gateway_, SignOp());
  EXPECT_EQ(v->CheckV2(r, 4097, "k", RequestVerifier::Mode::kAdmit).rule, Rule::kRequestTooLarge);
  EXPECT_EQ(v->CheckV1(4097).rule, Rule::kRequestTooLarge);
  EXPECT_EQ(v->CheckV1(10).rule, Rule::kUnauthenticated);
  EXPECT_TRUE(v->CheckV2(r, 4096, "k", RequestVerifier::Mode::kAdmit).allowed);
}

TEST_F(RequestVerifierTest, AllowUnauthenticatedLetsRequestsWithoutAuthThroughButStillChecksAuth) {
  auto policy = std::make_shared<signpolicy::SigningPolicy>(*policy_);
  policy->allow_unauthenticated_v1 = true;
  policy_ = policy;
  auto v = Verifier();
  Decision d = Check(*v, SignOp());
  EXPECT_TRUE(d.allowed);
  EXPECT_FALSE(d.authenticated);
  EXPECT_TRUE(v->CheckV1(10).allowed);
  nlohmann::json tampered = Signed(*gateway_, SignOp());
  tampered["message"] = "aGo=";
  EXPECT_EQ(Check(*v, tampered).rule, Rule::kBadSignature);  // auth present: it must verify
}

TEST_F(RequestVerifierTest, AFullReplayCacheShareRefusesNewRequestsOfThatClientOnly) {
  auto policy = std::make_shared<signpolicy::SigningPolicy>(*policy_);
  policy->max_nonces = 4;  // two clients: 2 each
  policy_ = policy;
  auto v = Verifier();
  nlohmann::json reader_op = SignOp();
  reader_op["key"] = "lockout/other";
  // The gateway floods: it fills its own share and is refused...
  EXPECT_TRUE(Check(*v, Signed(*gateway_, SignOp())).allowed);
  EXPECT_TRUE(Check(*v, Signed(*gateway_, SignOp())).allowed);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Check(*v, Signed(*gateway_, SignOp())).rule, Rule::kReplayCacheFull);
  }
  // ... while the reader still has its share (checked, then admitted).
  const nlohmann::json r1 = Signed(*reader_, reader_op);
  EXPECT_TRUE(Check(*v, r1, RequestVerifier::Mode::kCheckOnly).allowed);
  EXPECT_TRUE(Check(*v, r1).allowed);
  EXPECT_TRUE(Check(*v, Signed(*reader_, reader_op)).allowed);
  EXPECT_EQ(Check(*v, Signed(*reader_, reader_op)).rule, Rule::kReplayCacheFull);
  EXPECT_EQ(v->remembered_nonces(), 4u);
  EXPECT_EQ(v->RefusalsJson()["replay_cache_full"], 11);
  // Shares free up as the window passes.
  clock_.Advance(absl::Seconds(31));
  EXPECT_TRUE(Check(*v, Signed(*gateway_, SignOp())).allowed);
  EXPECT_TRUE(Check(*v, Signed(*reader_, reader_op)).allowed);
}

TEST_F(RequestVerifierTest, ASingleClientPolicyGivesThatClientTheWholeCache) {
  auto policy = std::make_shared<signpolicy::SigningPolicy>(*policy_);
  policy->clients.pop_back();
  policy->max_nonces = 3;
  policy_ = policy;
  auto v = Verifier();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Check(*v, Signed(*gateway_, SignOp())).allowed) << i;
  EXPECT_EQ(Check(*v, Signed(*gateway_, SignOp())).rule, Rule::kReplayCacheFull);
}

TEST_F(RequestVerifierTest, CreateRefusesAPolicyWithAnUnusableKey) {
  auto policy = std::make_shared<signpolicy::SigningPolicy>(*policy_);
  policy->clients[0].public_key = "short";
  EXPECT_FALSE(RequestVerifier::Create(policy, clock_).ok());
  EXPECT_FALSE(RequestVerifier::Create(nullptr, clock_).ok());
}

}  // namespace
}  // namespace lockout::auth
