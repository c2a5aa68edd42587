// Attested sign replies in the request handler (docs/PROTOCOL.md §2, "Attested replies") and
// their rate limiter (src/enclave/rate_limiter.h).

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/attest/attestation_document.h"
#include "src/attest/reply_binding.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/rate_limiter.h"
#include "src/enclave/request_handler.h"
#include "src/signer/signer.h"
#include "tests/enclave/enclave_test_util.h"

namespace lockout::enclave {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1765000000);

TEST(TokenBucketTest, BurstThenRate) {
  FakeClock clock(kStart);
  TokenBucket bucket({.rate_per_second = 2, .burst = 3}, clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryAcquire()) << i;
  EXPECT_FALSE(bucket.Available());
  EXPECT_FALSE(bucket.TryAcquire());
  clock.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(bucket.TryAcquire());
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(bucket.Available());
  EXPECT_TRUE(bucket.Available());  // looking takes nothing
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_FALSE(bucket.TryAcquire());
  // A long pause refills only up to the burst.
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryAcquire()) << i;
  EXPECT_FALSE(bucket.TryAcquire());
}

TEST(TokenBucketTest, ClockGoingBackwardsRefillsNothing) {
  FakeClock clock(kStart);
  TokenBucket bucket({.rate_per_second = 1, .burst = 1}, clock);
  EXPECT_TRUE(bucket.TryAcquire());
  clock.Set(kStart - absl::Hours(1));
  EXPECT_FALSE(bucket.TryAcquire());
  clock.Set(kStart + absl::Milliseconds(500));  // from the last time seen, not the backwards one
  EXPECT_FALSE(bucket.TryAcquire());
  clock.Set(kStart + absl::Seconds(1));
  EXPECT_TRUE(bucket.TryAcquire());
}

TEST(TokenBucketTest, UnusableOptionsAreRaised) {
  FakeClock clock(kStart);
  TokenBucket bucket({.rate_per_second = -5, .burst = 0}, clock);
  EXPECT_EQ(bucket.options().burst, 1u);
  EXPECT_GT(bucket.options().rate_per_second, 0);
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_FALSE(bucket.TryAcquire());
}

TEST(TokenBucketTest, ConcurrentCallersNeverTakeMoreThanThereIs) {
  FakeClock clock(kStart);  // frozen: nothing refills
  TokenBucket bucket({.rate_per_second = 1000, .burst = 100}, clock);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (bucket.TryAcquire()) ++taken;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(taken.load(), 100);
}

class AttestedSignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signer_ = signer::Signer::Generate(signer::KeyType::kP256)->release();
    spki_ = signer_->public_key_der();
    keys_ = KeyManager::WithSigner(std::unique_ptr<signer::Signer>(signer_));
    Make({.rate_per_second = 1, .burst = 2});
  }
  void Make(TokenBucketOptions limit) {
    HandlerOptions options;
    options.clock = &clock_;
    options.attested_replies = limit;
    handler_ = std::make_unique<RequestHandler>(*keys_, &nsm_, options);
  }

  static net::Frame V2(const nlohmann::json& request) {
    return net::Frame{.kind = net::FrameKind::kV2, .payload = request.dump()};
  }
  nlohmann::json Run(const nlohmann::json& request) {
    WorkerState state;
    std::string out;
    EXPECT_FALSE(handler_->Handle(V2(request), state, out));
    return nlohmann::json::parse(out.substr(4));
  }
  static nlohmann::json Attested(int id, const Bytes& message, const Bytes& nonce) {
    return {{"id", id},
            {"op", "sign"},
            {"message", Base64Encode(message)},
            {"attest", {{"nonce", Base64Encode(nonce)}}}};
  }

  FakeClock clock_{kStart};
  testing::FakeNsmDevice nsm_;
  signer::Signer* signer_ = nullptr;  // owned by keys_
  Bytes spki_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<RequestHandler> handler_;
};

TEST_F(AttestedSignTest, TheReplyCarriesADocumentBindingRequestSignatureAndKey) {
  const Bytes message = ToBytes("pay 5 to bob");
  const Bytes nonce = ToBytes("client nonce 0123456789");
  const nlohmann::json request = Attested(7, message, nonce);
  // It blocks (an NSM call): the server runs it on the blocking pool.
  {
    WorkerState state;
    std::string out;
    EXPECT_EQ(handler_->HandleWithoutBlocking(V2(request), state, out),
              RequestHandler::Outcome::kWouldBlock);
    EXPECT_TRUE(out.empty());
  }
  const nlohmann::json reply = Run(request);
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_EQ(reply["id"], 7);
  const Bytes signature = *HexDecode(reply["signature"].get<std::string>());
  EXPECT_TRUE(testing::VerifySignature(spki_, false, message, signature));
  absl::StatusOr<attest::AttestationDocument> doc =
      attest::ParseAttestationDocument(*Base64Decode(reply["attestation"].get<std::string>()));
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->nonce, nonce);
  EXPECT_EQ(doc->public_key, spki_);
  const crypto::Sha256Digest binding =
      attest::ReplyBinding(*attest::AttestedRequestDigest(request), signature, spki_);
  EXPECT_EQ(doc->user_data, Bytes(binding.begin(), binding.end()));
  // Plain signing is unchanged: no attestation, no NSM call.
  const int calls = nsm_.calls.load();
  const nlohmann::json plain = Run({{"id", 8}, {"op", "sign"}, {"message", Base64Encode(message)}});
  EXPECT_EQ(plain["ok"], true);
  EXPECT_FALSE(plain.contains("attestation"));
  EXPECT_EQ(nsm_.calls.load(), calls);
}

TEST_F(AttestedSignTest, OverTheLimitIsBusyAndNothingIsSigned) {
  const Bytes message = ToBytes("m");
  EXPECT_EQ(Run(Attested(1, message, ToBytes("n1")))["ok"], true);
  EXPECT_EQ(Run(Attested(2, message, ToBytes("n2")))["ok"], true);
  const int calls = nsm_.calls.load();
  const nlohmann::json busy = Run(Attested(3, message, ToBytes("n3")));
  EXPECT_EQ(busy, nlohmann::json({{"id", 3}, {"ok", false}, {"error", "busy"}}));
  EXPECT_EQ(nsm_.calls.load(), calls);
  // Without a token the request is not even queued for the blocking pool: answered at once.
  {
    WorkerState state;
    std::string out;
    EXPECT_EQ(handler_->HandleWithoutBlocking(V2(Attested(4, message, ToBytes("n4"))), state, out),
              RequestHandler::Outcome::kKeepOpen);
    EXPECT_EQ(nlohmann::json::parse(out.substr(4))["error"], "busy");
  }
  // Plain signing keeps flowing.
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(Run({{"id", i}, {"op", "sign"}, {"message", "aGk="}})["ok"], true);
  }
  // A second later there is a token again.
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Run(Attested(5, message, ToBytes("n5")))["ok"], true);
  const nlohmann::json health = Run({{"id", 9}, {"op", "health"}});
  EXPECT_EQ(health["attested_replies"]["served"], 3);
  EXPECT_EQ(health["attested_replies"]["rate_limited"], 2);
  EXPECT_EQ(health["attested_replies"]["burst"], 2);
}

TEST_F(AttestedSignTest, MalformedAttestIsABadRequestAndTakesNoToken) {
  for (const nlohmann::json& bad :
       {nlohmann::json(true), nlohmann::json::object(), nlohmann::json({{"nonce", "!!"}}),
        nlohmann::json({{"nonce", ""}}), nlohmann::json({{"nonce", Base64Encode(Bytes(513, 1))}}),
        nlohmann::json({{"nonce", "AAAA"}, {"x", 1}})}) {
    const nlohmann::json reply =
        Run({{"id", 1}, {"op", "sign"}, {"message", "aGk="}, {"attest", bad}});
    EXPECT_EQ(reply["error"], "bad request") << bad.dump();
  }
  // Both tokens are still there.
  EXPECT_EQ(Run(Attested(1, ToBytes("m"), ToBytes("n")))["ok"], true);
  EXPECT_EQ(Run(Attested(2, ToBytes("m"), ToBytes("n")))["ok"], true);
}

TEST_F(AttestedSignTest, NoSignatureWithoutItsProof) {
  nsm_.down = true;
  const nlohmann::json reply = Run(Attested(1, ToBytes("m"), ToBytes("n")));
  EXPECT_EQ(reply,
            nlohmann::json({{"id", 1}, {"ok", false}, {"error", "attestation unavailable"}}));
  // Without an NSM at all: answered at once, without blocking.
  RequestHandler no_nsm(*keys_, nullptr);
  WorkerState state;
  std::string out;
  EXPECT_EQ(no_nsm.HandleWithoutBlocking(V2(Attested(2, ToBytes("m"), ToBytes("n"))), state, out),
            RequestHandler::Outcome::kKeepOpen);
  EXPECT_EQ(nlohmann::json::parse(out.substr(4))["error"], "attestation unavailable");
}

TEST_F(AttestedSignTest, AFloodOfAttestedRequestsIsBoundedByTheBucket) {
  Make({.rate_per_second = 10, .burst = 5});
  int ok = 0;
  int busy = 0;
  for (int i = 0; i < 200; ++i) {
    const nlohmann::json r = Run(Attested(i, ToBytes("m"), ToBytes("n")));
    (r["ok"] == true ? ok : busy)++;
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(busy, 195);
  clock_.Advance(absl::Milliseconds(300));  // 3 tokens
  ok = 0;
  for (int i = 0; i < 10; ++i) ok += Run(Attested(i, ToBytes("m"), ToBytes("n")))["ok"] == true;
  EXPECT_EQ(ok, 3);
}

}  // namespace
}  // namespace lockout::enclave
