#include "src/signer/signer.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <secp256k1.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "src/crypto/openssl_util.h"

namespace lockout::signer {
namespace {

constexpr KeyType kAllTypes[] = {KeyType::kP256, KeyType::kP384, KeyType::kP521,
                                 KeyType::kSecp256k1, KeyType::kEd25519};

// Verifies with OpenSSL alone, from the published SPKI: ECDSA-SHA256 or PureEdDSA.
bool OpenSslVerifies(const Signer& signer, ByteView message, ByteView sig) {
  const unsigned char* p = signer.public_key_der().data();
  crypto::EvpPkeyPtr pub(
      d2i_PUBKEY(nullptr, &p, static_cast<long>(signer.public_key_der().size())));
  if (pub == nullptr) return false;
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = signer.key_type() == KeyType::kEd25519 ? nullptr : EVP_sha256();
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pub.get()) != 1) return false;
  const int rc =
      EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size());
  ERR_clear_error();
  return rc == 1;
}

// Verifies a secp256k1 signature with libsecp256k1 and reports whether s was already low.
bool Secp256k1VerifiesLowS(const Signer& signer, ByteView message, ByteView der, bool* low_s) {
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  secp256k1_ecdsa_signature sig;
  secp256k1_pubkey pub;
  bool ok = secp256k1_ecdsa_signature_parse_der(ctx, &sig, der.data(), der.size()) == 1 &&
            secp256k1_ec_pubkey_parse(ctx, &pub, signer.public_key_raw().data(),
                                      signer.public_key_raw().size()) == 1;
  if (ok) {
    // normalize returns 1 if the input had a high s.
    secp256k1_ecdsa_signature normalized;
    *low_s = secp256k1_ecdsa_signature_normalize(ctx, &normalized, &sig) == 0;
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_Digest(message.data(), message.size(), digest, &len, EVP_sha256(), nullptr);
    ok = secp256k1_ecdsa_verify(ctx, &sig, digest, &pub) == 1;
  }
  secp256k1_context_destroy(ctx);
  return ok;
}

class SignerByTypeTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(SignerByTypeTest, GeneratedKeySignsAndOpenSslVerifies) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ((*signer)->key_type(), GetParam());
  const Bytes message = ToBytes("Hello, sign this message!");
  auto sig = (*signer)->Sign(message);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(OpenSslVerifies(**signer, message, *sig));

  Bytes other = message;
  other[0] ^= 1;
  EXPECT_FALSE(OpenSslVerifies(**signer, other, *sig));
}

TEST_P(SignerByTypeTest, OneContextSignsManyMessagesIncludingEmpty) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto ctx = (*signer)->NewContext();
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  std::array<uint8_t, kMaxSignatureSize> buf{};
  for (size_t len : {size_t{0}, size_t{1}, size_t{32}, size_t{1000}, size_t{65536}}) {
    Bytes message(len, static_cast<uint8_t>(len));
    auto n = (*ctx)->Sign(message, absl::MakeSpan(buf));
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_TRUE(OpenSslVerifies(**signer, message, ByteView(buf.data(), *n))) << "len " << len;
  }
}

TEST_P(SignerByTypeTest, Pkcs8ExportReloadsToTheSamePublicKey) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok());
  auto pkcs8 = (*signer)->ExportPkcs8();
  ASSERT_TRUE(pkcs8.ok()) << pkcs8.status();
  auto again = Signer::FromPkcs8(*pkcs8, GetParam());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->public_key_der(), (*signer)->public_key_der());
  EXPECT_EQ((*again)->public_key_raw(), (*signer)->public_key_raw());
  EXPECT_EQ((*again)->public_key_pem(), (*signer)->public_key_pem());
}

TEST_P(SignerByTypeTest, PemFormOfTheSeedLoadsLikeDer) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok());
  auto der = (*signer)->ExportPkcs8();
  ASSERT_TRUE(der.ok());
  std::string b64 = Base64Encode(der->Reveal());
  std::string pem = "-----BEGIN PRIVATE KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  pem += "-----END PRIVATE KEY-----\n";
  auto loaded = Signer::FromPkcs8(SecretBytes::CopyFrom(std::string_view(pem)));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->public_key_der(), (*signer)->public_key_der());
}

TEST_P(SignerByTypeTest, PublicKeyFormsAgree) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok());
  const Bytes& raw = (*signer)->public_key_raw();
  switch (GetParam()) {
    case KeyType::kP256:
    case KeyType::kSecp256k1:
      EXPECT_EQ(raw.size(), 65u);
      break;
    case KeyType::kP384:
      EXPECT_EQ(raw.size(), 97u);
      break;
    case KeyType::kP521:
      EXPECT_EQ(raw.size(), 133u);
      break;
    case KeyType::kEd25519:
      EXPECT_EQ(raw.size(), 32u);
      break;
  }
  if (GetParam() != KeyType::kEd25519) {
    EXPECT_EQ(raw[0], 0x04);
  }
  // The SPKI ends with the raw key (the BIT STRING's content, RFC 5480 / RFC 8410).
  const Bytes& der = (*signer)->public_key_der();
  ASSERT_GT(der.size(), raw.size());
  EXPECT_TRUE(std::equal(raw.begin(), raw.end(), der.end() - static_cast<long>(raw.size())));
  EXPECT_EQ((*signer)->public_key_pem().rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
}

TEST_P(SignerByTypeTest, ContextsOnSeveralThreadsSignConcurrently) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok());
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto ctx = (*signer)->NewContext();
      if (!ctx.ok()) {
        failures[static_cast<size_t>(t)] = 1000;
        return;
      }
      std::array<uint8_t, kMaxSignatureSize> buf{};
      for (int i = 0; i < 50; ++i) {
        Bytes message = ToBytes("thread " + std::to_string(t) + " message " + std::to_string(i));
        auto n = (*ctx)->Sign(message, absl::MakeSpan(buf));
        if (!n.ok() || !OpenSslVerifies(**signer, message, ByteView(buf.data(), *n))) {
          ++failures[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST_P(SignerByTypeTest, TooSmallOutputBufferIsRefused) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok());
  auto ctx = (*signer)->NewContext();
  ASSERT_TRUE(ctx.ok());
  std::array<uint8_t, kMaxSignatureSize - 1> small{};
  EXPECT_EQ((*ctx)->Sign(ToBytes("m"), absl::MakeSpan(small)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(SignerByTypeTest, TruncatedPkcs8IsRejectedAtEveryLength) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok());
  auto der = (*signer)->ExportPkcs8();
  ASSERT_TRUE(der.ok());
  for (size_t len = 0; len < der->size(); ++len) {
    auto r = Signer::FromPkcs8(SecretBytes::CopyFrom(der->Reveal().subspan(0, len)));
    EXPECT_FALSE(r.ok()) << "accepted a PKCS#8 truncated to " << len << " bytes";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_P(SignerByTypeTest, BitFlippedPkcs8IsRejectedOrYieldsAKeyWhoseSignaturesVerify) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok());
  auto der = (*signer)->ExportPkcs8();
  ASSERT_TRUE(der.ok());
  int rejected = 0;
  for (size_t i = 0; i < der->size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      SecretBytes flipped = SecretBytes::CopyFrom(der->Reveal());
      flipped.RevealMutable()[i] ^= static_cast<uint8_t>(1 << bit);
      auto r = Signer::FromPkcs8(flipped, GetParam());
      if (!r.ok()) {
        ++rejected;
        continue;
      }
      // A flip inside the private scalar can give another valid key; then it must still sign
      // verifiably under its own (different) public key.
      const Bytes m = ToBytes("flip");
      auto sig = (*r)->Sign(m);
      ASSERT_TRUE(sig.ok());
      EXPECT_TRUE(OpenSslVerifies(**r, m, *sig));
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST_P(SignerByTypeTest, TrailingBytesAfterPkcs8AreRejected) {
  auto signer = Signer::Generate(GetParam());
  ASSERT_TRUE(signer.ok());
  auto der = (*signer)->ExportPkcs8();
  ASSERT_TRUE(der.ok());
  Bytes longer(der->Reveal().begin(), der->Reveal().end());
  longer.push_back(0);
  auto r = Signer::FromPkcs8(SecretBytes::CopyFrom(longer));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("trailing"), std::string::npos);
}

std::string TypeName(const ::testing::TestParamInfo<KeyType>& p) {
  return std::string(KeyTypeName(p.param));
}
INSTANTIATE_TEST_SUITE_P(AllKeyTypes, SignerByTypeTest, ::testing::ValuesIn(kAllTypes), TypeName);

TEST(SignerTest, Secp256k1SignaturesAreLowSAndVerifyWithLibsecp256k1) {
  auto signer = Signer::Generate(KeyType::kSecp256k1);
  ASSERT_TRUE(signer.ok());
  auto ctx = (*signer)->NewContext();
  ASSERT_TRUE(ctx.ok());
  std::array<uint8_t, kMaxSignatureSize> buf{};
  // About half of raw ECDSA signatures have a high s; 64 in a row all low is not chance.
  for (int i = 0; i < 64; ++i) {
    Bytes message = ToBytes("low-s " + std::to_string(i));
    auto n = (*ctx)->Sign(message, absl::MakeSpan(buf));
    ASSERT_TRUE(n.ok());
    bool low_s = false;
    EXPECT_TRUE(Secp256k1VerifiesLowS(**signer, message, ByteView(buf.data(), *n), &low_s));
    EXPECT_TRUE(low_s) << "signature " << i << " has a high s";
  }
}

TEST(SignerTest, Secp256k1SignaturesAreDeterministicPerRfc6979) {
  auto signer = Signer::Generate(KeyType::kSecp256k1);
  ASSERT_TRUE(signer.ok());
  auto a = (*signer)->Sign(ToBytes("same"));
  auto b = (*signer)->Sign(ToBytes("same"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(SignerTest, Ed25519MatchesAnIndependentOpenSslKeyFromTheSameSeed) {
  auto signer = Signer::Generate(KeyType::kEd25519);
  ASSERT_TRUE(signer.ok());
  auto pkcs8 = (*signer)->ExportPkcs8();
  ASSERT_TRUE(pkcs8.ok());
  // RFC 8410: the last 32 bytes of an Ed25519 PKCS#8 are the seed.
  ByteView seed = pkcs8->Reveal().subspan(pkcs8->size() - 32);
  crypto::EvpPkeyPtr key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  ASSERT_NE(key, nullptr);
  const Bytes message = ToBytes("deterministic");
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()), 1);
  Bytes expected(64);
  size_t len = expected.size();
  ASSERT_EQ(EVP_DigestSign(ctx.get(), expected.data(), &len, message.data(), message.size()), 1);
  auto sig = (*signer)->Sign(message);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(*sig, expected);
}

TEST(SignerTest, ExpectedTypeMismatchIsRejected) {
  auto signer = Signer::Generate(KeyType::kP256);
  ASSERT_TRUE(signer.ok());
  auto pkcs8 = (*signer)->ExportPkcs8();
  ASSERT_TRUE(pkcs8.ok());
  auto r = Signer::FromPkcs8(*pkcs8, KeyType::kP521);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("p256"), std::string::npos);
}

TEST(SignerTest, RsaKeysAreNotSigningKeys) {
  crypto::EvpPkeyPtr rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  ASSERT_NE(rsa, nullptr);
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(rsa.get());
  ASSERT_NE(p8, nullptr);
  unsigned char* der = nullptr;
  const int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  PKCS8_PRIV_KEY_INFO_free(p8);
  ASSERT_GT(len, 0);
  SecretBytes secret = SecretBytes::CopyFrom(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_clear_free(der, static_cast<size_t>(len));
  auto r = Signer::FromPkcs8(secret);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("unsupported algorithm"), std::string::npos);
}

TEST(SignerTest, EmptyOversizedAndGarbageInputsAreRejected) {
  EXPECT_EQ(Signer::FromPkcs8(SecretBytes()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Signer::FromPkcs8(SecretBytes(kMaxPrivateKeySize + 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Signer::FromPkcs8(SecretBytes::CopyFrom(std::string_view("not a key"))).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Traditional "EC PRIVATE KEY" PEM is not PKCS#8.
  EXPECT_EQ(Signer::FromPkcs8(
                SecretBytes::CopyFrom(std::string_view("-----BEGIN EC PRIVATE KEY-----\nAAAA\n"
                                                       "-----END EC PRIVATE KEY-----\n")))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SignerTest, PemWithDataAfterTheEndLineOrBadBase64IsRejected) {
  auto signer = Signer::Generate(KeyType::kP256);
  ASSERT_TRUE(signer.ok());
  auto der = (*signer)->ExportPkcs8();
  ASSERT_TRUE(der.ok());
  const std::string body = Base64Encode(der->Reveal());
  const std::string good = "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n";
  ASSERT_TRUE(Signer::FromPkcs8(SecretBytes::CopyFrom(std::string_view(good))).ok());
  EXPECT_FALSE(Signer::FromPkcs8(SecretBytes::CopyFrom(std::string_view(good + "x"))).ok());
  std::string bad = good;
  bad[30] = '*';
  EXPECT_FALSE(Signer::FromPkcs8(SecretBytes::CopyFrom(std::string_view(bad))).ok());
  const std::string no_footer = "-----BEGIN PRIVATE KEY-----\n" + body + "\n";
  EXPECT_FALSE(Signer::FromPkcs8(SecretBytes::CopyFrom(std::string_view(no_footer))).ok());
}

TEST(SignerTest, KeyTypeNamesRoundTrip) {
  for (KeyType t : kAllTypes) {
    auto parsed = ParseKeyType(KeyTypeName(t));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_FALSE(ParseKeyType("P-256").ok());
  EXPECT_FALSE(ParseKeyType("").ok());
}

// Keys made by the openssl command (an independent PKCS#8 writer), signatures checked by the
// openssl command (an independent verifier).
std::string RunOpenSsl(const std::string& args) {
  const std::string cmd = "openssl " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "popen failed";
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int rc = pclose(p);
  return rc == 0 ? "OK:" + out : "FAIL:" + out;
}

TEST_P(SignerByTypeTest, InteroperatesWithTheOpensslCommand) {
  if (RunOpenSsl("version").rfind("OK:", 0) != 0) GTEST_SKIP() << "no openssl command";
  std::string dir = ::testing::TempDir() + "signerXXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string key = dir + "/key.pem", pub = dir + "/pub.pem", msg = dir + "/msg",
                    sig = dir + "/sig";
  std::string genargs;
  switch (GetParam()) {
    case KeyType::kP256:
      genargs = "-algorithm EC -pkeyopt ec_paramgen_curve:P-256";
      break;
    case KeyType::kP384:
      genargs = "-algorithm EC -pkeyopt ec_paramgen_curve:P-384";
      break;
    case KeyType::kP521:
      genargs = "-algorithm EC -pkeyopt ec_paramgen_curve:P-521";
      break;
    case KeyType::kSecp256k1:
      genargs = "-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1";
      break;
    case KeyType::kEd25519:
      genargs = "-algorithm ED25519";
      break;
  }
  ASSERT_EQ(RunOpenSsl("genpkey " + genargs + " -out " + key).substr(0, 3), "OK:");
  std::ifstream in(key);
  std::stringstream pem;
  pem << in.rdbuf();
  auto signer = Signer::FromPkcs8(SecretBytes::CopyFrom(std::string_view(pem.str())), GetParam());
  ASSERT_TRUE(signer.ok()) << signer.status();
  const std::string message = "Hello, sign this message!";
  std::ofstream(msg) << message;
  auto s = (*signer)->Sign(ToBytes(message));
  ASSERT_TRUE(s.ok());
  std::ofstream(sig, std::ios::binary)
      .write(reinterpret_cast<const char*>(s->data()), static_cast<std::streamsize>(s->size()));
  std::ofstream(pub) << (*signer)->public_key_pem();
  const std::string verify =
      GetParam() == KeyType::kEd25519
          ? "pkeyutl -verify -rawin -pubin -inkey " + pub + " -sigfile " + sig + " -in " + msg
          : "dgst -sha256 -verify " + pub + " -signature " + sig + " " + msg;
  EXPECT_EQ(RunOpenSsl(verify).substr(0, 3), "OK:") << RunOpenSsl(verify);
  for (const std::string& f : {key, pub, msg, sig}) unlink(f.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace lockout::signer
