// HD keys end to end inside the enclave library (docs/WALLET.md "HD keys"): a seed secret loaded
// as an HdKeyring, requests naming a derivation path, the signing policy's "paths" rule, and the
// errors for a missing path, a path with a single key and a malformed path.

#include <atomic>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/audit/audit_chain.h"
#include "src/audit/audit_sink.h"
#include "src/auth/client_key.h"
#include "src/auth/request_auth.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/enclave/hd_keyring.h"
#include "src/enclave/key_loader.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/request_handler.h"
#include "src/hd/bip39.h"
#include "src/hd/extended_key.h"
#include "src/hd/seed_secret.h"
#include "src/signer/signer.h"
#include "tests/enclave/enclave_test_util.h"

namespace lockout::enclave {
namespace {

using json = nlohmann::json;

// BIP-32 test vector 1 and its published xpubs.
constexpr char kSeed1[] = "000102030405060708090a0b0c0d0e0f";
constexpr char kXpub0H[] =
    "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5sk"
    "i8"
    "PX9rL2dZXvgGDnw";
constexpr char kXpub0H1[] =
    "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2Ax"
    "Yy"
    "sAA7xmALppuCkwQ";

SecretBytes SeedBytes(std::string_view hex) {
  const Bytes b = *HexDecode(hex);
  return SecretBytes::CopyFrom(ByteView(b));
}

// 02/03 ‖ X of an uncompressed 04 ‖ X ‖ Y point.
Bytes Compress(ByteView uncompressed) {
  Bytes out(33);
  out[0] = (uncompressed[64] & 1) ? 0x03 : 0x02;
  std::copy(uncompressed.begin() + 1, uncompressed.begin() + 33, out.begin() + 1);
  return out;
}

Bytes XpubKey(const char* xpub) { return (*hd::ExtendedPublicKey::ParseXpub(xpub)).public_key(); }

class HdHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Logger::Default().SetStream(&logs_);
    keys_ = KeyManager::WithHd(*HdKeyring::FromSeed(hd::Curve::kSecp256k1, SeedBytes(kSeed1), 2));
  }
  void TearDown() override { Logger::Default().SetStream(nullptr); }

  std::unique_ptr<RequestHandler> Handler(std::shared_ptr<signpolicy::SigningPolicy> policy = {},
                                          audit::AuditSink* sink = nullptr) {
    HandlerOptions o;
    o.key_name = "wallet";
    o.signing_policy = std::move(policy);
    o.clock = &clock_;
    o.audit = sink;
    return std::make_unique<RequestHandler>(*keys_, nullptr, o);
  }

  static json Call(RequestHandler& h, const json& request) {
    WorkerState state;
    std::string out;
    EXPECT_FALSE(
        h.Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = request.dump()}, state, out));
    return json::parse(out.substr(4));
  }
  static json Sign(std::string_view message, std::string_view path = "") {
    json r = {{"id", 1}, {"op", "sign"}, {"message", Base64Encode(AsBytes(message))}};
    if (!path.empty()) r["path"] = path;
    return r;
  }

  std::ostringstream logs_;
  FakeClock clock_{absl::FromUnixMillis(1765000000000)};
  std::unique_ptr<KeyManager> keys_;
};

TEST_F(HdHandlerTest, SignaturesVerifyAgainstThePublishedXpubsOfTheirPaths) {
  auto h = Handler();
  for (const auto& [path, xpub] : {std::pair{"m/0'", kXpub0H}, std::pair{"m/0h/1", kXpub0H1}}) {
    const json pk = Call(*h, {{"id", 2}, {"op", "public_key"}, {"path", path}});
    ASSERT_EQ(pk["ok"], true) << pk.dump();
    EXPECT_EQ(pk["key_type"], "secp256k1");
    const Bytes raw = *HexDecode(pk["public_key_raw"].get<std::string>());
    EXPECT_EQ(Compress(raw), XpubKey(xpub)) << path;
    const json reply = Call(*h, Sign("hello hd", path));
    ASSERT_EQ(reply["ok"], true) << reply.dump();
    const Bytes spki = *Base64Decode(pk["spki_der"].get<std::string>());
    EXPECT_TRUE(testing::VerifySignature(spki, false, AsBytes("hello hd"),
                                         *HexDecode(reply["signature"].get<std::string>())));
  }
  // The two children are different keys.
  EXPECT_NE(Call(*h, {{"id", 2}, {"op", "public_key"}, {"path", "m/0'"}})["public_key_raw"],
            Call(*h, {{"id", 2}, {"op", "public_key"}, {"path", "m/0'/1"}})["public_key_raw"]);
}

TEST_F(HdHandlerTest, TheCacheIsBoundedAndKeysStayCorrectAfterEviction) {
  auto h = Handler();
  const json first = Call(*h, {{"id", 1}, {"op", "public_key"}, {"path", "m/0'"}});
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Call(*h, Sign("x", absl::StrCat("m/0'/", i)))["ok"], true);
  }
  EXPECT_LE(keys_->hd()->cached(), 2u);
  EXPECT_EQ(Call(*h, {{"id", 1}, {"op", "public_key"}, {"path", "m/0'"}}), first);
  const json health = Call(*h, {{"id", 1}, {"op", "health"}});
  EXPECT_EQ(health["hd"]["curve"], "secp256k1");
  EXPECT_EQ(health["hd"]["max_cached_signers"], 2);
  EXPECT_EQ(health["status"], "ok");
}

TEST_F(HdHandlerTest, AnHdSeedNeedsAPathAndAMalformedPathIsABadRequest) {
  auto h = Handler();
  EXPECT_EQ(Call(*h, Sign("x"))["error"], "path required");
  // The fast path (plain sign shape) says the same.
  WorkerState state;
  std::string out;
  h->Handle(net::Frame{.kind = net::FrameKind::kV2,
                       .payload = R"({"id":1,"op":"sign","message":"aGVsbG8="})"},
            state, out);
  EXPECT_NE(out.find("path required"), std::string::npos) << out;
  EXPECT_EQ(Call(*h, {{"id", 1}, {"op", "public_key"}})["error"], "path required");
  EXPECT_EQ(Call(*h, {{"id", 1}, {"op", "eth_address"}})["error"], "path required");
  for (const json& bad : {json("m/01"), json("44'/60'"), json(7), json(nullptr), json("m/0/"),
                          json("m/2147483648")}) {
    json r = Sign("x");
    r["path"] = bad;
    EXPECT_EQ(Call(*h, r)["error"], "bad request") << bad.dump();
  }
  // Still serving.
  EXPECT_EQ(Call(*h, Sign("x", "m/1"))["ok"], true);
}

TEST_F(HdHandlerTest, EthAddressOfTheBip39TestMnemonicIsThePublishedOne) {
  // "abandon ×11 about", empty passphrase: m/44'/60'/0'/0/0 is the address every wallet shows.
  const SecretBytes seed = *hd::MnemonicToSeed(
      SecretBytes::CopyFrom(std::string_view("abandon abandon abandon abandon abandon abandon "
                                             "abandon abandon abandon abandon abandon about")),
      SecretBytes());
  keys_ = KeyManager::WithHd(
      *HdKeyring::FromSeed(hd::Curve::kSecp256k1, SecretBytes::CopyFrom(seed.Reveal())));
  auto h = Handler();
  const json reply = Call(*h, {{"id", 1}, {"op", "eth_address"}, {"path", "m/44'/60'/0'/0/0"}});
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_EQ(reply["address"], "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
  EXPECT_EQ(reply["path"], "m/44'/60'/0'/0/0");
}

TEST_F(HdHandlerTest, Ed25519DerivesHardenedPathsOnly) {
  keys_ = KeyManager::WithHd(*HdKeyring::FromSeed(hd::Curve::kEd25519, SeedBytes(kSeed1)));
  auto h = Handler();
  const json ok = Call(*h, Sign("x", "m/0'/1'"));
  ASSERT_EQ(ok["ok"], true) << ok.dump();
  EXPECT_EQ(Call(*h, Sign("x", "m/0'/1"))["error"], "bad request");
  // SLIP-10 vector 1 for ed25519, m/0H: public key
  // 8c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c.
  const json pk = Call(*h, {{"id", 1}, {"op", "public_key"}, {"path", "m/0'"}});
  EXPECT_EQ(pk["public_key_raw"],
            "8c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c");
}

TEST(HdSingleKeyTest, APathWithASingleKeyIsAClearError) {
  auto keys = KeyManager::WithSigner(*signer::Signer::Generate(signer::KeyType::kSecp256k1));
  RequestHandler h(*keys, nullptr);
  WorkerState state;
  std::string out;
  json r = {{"id", 1}, {"op", "sign"}, {"message", "aGVsbG8="}, {"path", "m/0"}};
  h.Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = r.dump()}, state, out);
  EXPECT_EQ(json::parse(out.substr(4))["error"], "path needs an hd key");
  out.clear();
  r.erase("path");
  h.Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = r.dump()}, state, out);
  EXPECT_EQ(json::parse(out.substr(4))["ok"], true);
}

TEST_F(HdHandlerTest, ThePolicysPathsLimitEachClientAndARefusalIsAudited) {
  std::mutex mu;
  std::vector<std::string> lines;
  audit::AuditSinkOptions sink_options;
  sink_options.flush_interval = absl::Milliseconds(5);
  std::unique_ptr<audit::AuditSink> sink =
      audit::AuditSink::Start(sink_options, *audit::AuditChain::Create(nullptr, Clock::Real()),
                              [&](const std::vector<std::string>& batch) {
                                std::lock_guard<std::mutex> lock(mu);
                                lines.insert(lines.end(), batch.begin(), batch.end());
                                return absl::OkStatus();
                              });
  auto gw = *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "gw");
  auto any = *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "any");
  auto policy = std::make_shared<signpolicy::SigningPolicy>();
  policy->allow_unauthenticated_v1 = true;
  policy->clients.push_back(signpolicy::AuthorizedClient{.name = "any",
                                                         .algorithm = any->algorithm(),
                                                         .public_key = ToString(any->public_key()),
                                                         .ops = {"public_key", "sign"},
                                                         .keys = {"*"}});
  signpolicy::AuthorizedClient limited{.name = "gw",
                                       .algorithm = gw->algorithm(),
                                       .public_key = ToString(gw->public_key()),
                                       .ops = {"public_key", "sign"},
                                       .keys = {"*"}};
  limited.paths = std::vector<std::string>{"m/0'/*"};
  limited.path_patterns.push_back(*hd::PathPattern::Parse("m/0'/*"));
  policy->clients.push_back(limited);
  auto h = Handler(policy, sink.get());
  auto as = [&](const auth::ClientKey& key, json request) {
    EXPECT_TRUE(auth::SignRequest(key, clock_.Now(), request).ok());
    return request;
  };
  EXPECT_EQ(Call(*h, as(*gw, Sign("a", "m/0'/7")))["ok"], true);
  logs_.str("");
  EXPECT_EQ(Call(*h, as(*gw, Sign("b", "m/1'/7")))["error"], "path not allowed");
  EXPECT_NE(logs_.str().find("hd_path"), std::string::npos) << logs_.str();
  EXPECT_EQ(Call(*h, as(*gw, Sign("c", "m/0'/7/1")))["error"], "path not allowed");
  EXPECT_EQ(Call(*h, as(*gw, Sign("d", "m/0'/7'")))["error"], "path not allowed");
  EXPECT_EQ(Call(*h, as(*gw, {{"id", 1}, {"op", "public_key"}, {"path", "m/5"}}))["error"],
            "path not allowed");
  // No "paths": any path. Unauthenticated: none.
  EXPECT_EQ(Call(*h, as(*any, Sign("e", "m/9/9")))["ok"], true);
  EXPECT_EQ(Call(*h, Sign("f", "m/0'/7"))["error"], "path not allowed");
  sink->Stop();
  std::lock_guard<std::mutex> lock(mu);
  int refused = 0;
  for (const std::string& line : lines) {
    if (line.find("hd_path") != std::string::npos) ++refused;
  }
  EXPECT_EQ(refused, 5);
}

// The loader's side: a KeyManager whose LoadFunction yields a keyring (as KeyLoader::LoadKey
// does for a "lockout-hd-seed" secret), in first-request mode.
TEST(HdKeyManagerTest, ALoadedSeedIsServedAndHealthSaysHd) {
  KeyManager keys(
      [](LoadFailure*) -> absl::StatusOr<LoadedKey> {
        absl::StatusOr<hd::SeedSecret> secret =
            hd::ParseSeedSecret(*hd::EncodeSeedSecret(hd::Curve::kNist256p1, SeedBytes(kSeed1)));
        if (!secret.ok()) return secret.status();
        absl::StatusOr<std::unique_ptr<HdKeyring>> ring =
            HdKeyring::FromSeed(secret->curve, std::move(secret->seed));
        if (!ring.ok()) return ring.status();
        return LoadedKey(*std::move(ring));
      },
      {.mode = LoadMode::kFirstRequest});
  absl::StatusOr<KeyRef> ref = keys.AcquireKey();
  ASSERT_TRUE(ref.ok()) << ref.status();
  ASSERT_NE(ref->hd, nullptr);
  EXPECT_EQ(ref->signer, nullptr);
  EXPECT_TRUE(keys.loaded());
  EXPECT_EQ(std::string(keys.AcquireSigner().status().message()), std::string(kHdNeedsPath));
  EXPECT_EQ(keys.primary()->key_type(), signer::KeyType::kP256);
  EXPECT_EQ(keys.Health().state, "ok");
  // SLIP-10 vector 1 for nist256p1, m/0H:
  // 039b6df4bece7b6c81e2adfeea4bcf5c8c8a6e40ea7ffa3cf6e8494c61a1fc82cc.
  absl::StatusOr<std::shared_ptr<const signer::Signer>> child =
      ref->hd->SignerFor(*hd::DerivationPath::Parse("m/0'"));
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(HexEncode(Compress((*child)->public_key_raw())),
            "0384610f5ecffe8fda089363a41f56a5c7ffc1d81b59a612d0d649b2d22355590c");
}

TEST(HdKeyringTest, DerivationErrorsAndTheMasterKey) {
  auto ring = *HdKeyring::FromSeed(hd::Curve::kSecp256k1, SeedBytes(kSeed1));
  EXPECT_EQ(
      Compress(ring->master().public_key_raw()),
      XpubKey("xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8Y"
              "tGqsefD265TMg7usUDFdp6W1EGMcet8"));
  EXPECT_FALSE(HdKeyring::FromSeed(hd::Curve::kSecp256k1, SecretBytes(15)).ok());
  EXPECT_EQ(ring->derivations(), 0u);
  ASSERT_TRUE(ring->SignerFor(*hd::DerivationPath::Parse("m/1")).ok());
  ASSERT_TRUE(ring->SignerFor(*hd::DerivationPath::Parse("m/1")).ok());
  EXPECT_EQ(ring->derivations(), 1u);  // the second one came from the cache
}

TEST(HdKeyringTest, DerivedSignersReuseABoundedNumberOfContextsAcrossThreads) {
  for (hd::Curve curve : {hd::Curve::kSecp256k1, hd::Curve::kNist256p1, hd::Curve::kEd25519}) {
    SCOPED_TRACE(static_cast<int>(curve));
    const bool ed25519 = curve == hd::Curve::kEd25519;
    auto ring = *HdKeyring::FromSeed(curve, SeedBytes(kSeed1), /*max_cached=*/1);
    const hd::DerivationPath path = *hd::DerivationPath::Parse("m/0'/1'");
    auto derived = ring->DerivedFor(path);
    ASSERT_TRUE(derived.ok()) << derived.status();
    EXPECT_EQ((*derived)->idle_contexts(), 0u);
    const Bytes spki = (*derived)->signer().public_key_der();
    // The same signer as SignerFor's (which aliases it).
    EXPECT_EQ(ring->SignerFor(path)->get(), &(*derived)->signer());
    constexpr int kThreads = 8;
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 20; ++i) {
          const std::string message = absl::StrCat("message ", t, " ", i);
          auto d = ring->DerivedFor(path);
          if (!d.ok()) continue;
          auto sig = (*d)->Sign(AsBytes(message), signer::SignOptions{});
          if (sig.ok() && testing::VerifySignature(spki, ed25519, AsBytes(message), *sig)) ++good;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(good.load(), kThreads * 20);
    EXPECT_GE((*derived)->idle_contexts(), 1u);
    EXPECT_LE((*derived)->idle_contexts(), DerivedSigner::kMaxIdleContexts);
    EXPECT_EQ(ring->derivations(), 1u);
    // Evicted from the cache (max_cached 1), the signer and its contexts live on while held.
    ASSERT_TRUE(ring->DerivedFor(*hd::DerivationPath::Parse("m/2'")).ok());
    auto again = (*derived)->Sign(AsBytes("after eviction"), signer::SignOptions{});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(testing::VerifySignature(spki, ed25519, AsBytes("after eviction"), *again));
    // A bad option fails the signature and still returns its context.
    const size_t idle = (*derived)->idle_contexts();
    signer::SignOptions bad;
    // ed25519 signs no hash; a prehashed ECDSA message must be a 32-byte digest.
    bad.hash = ed25519 ? signer::HashAlgorithm::kSha256 : signer::HashAlgorithm::kNone;
    EXPECT_FALSE((*derived)->Sign(AsBytes("not a digest"), bad).ok());
    EXPECT_EQ((*derived)->idle_contexts(), idle);
  }
}

}  // namespace
}  // namespace lockout::enclave
