#include "src/auth/client_key.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::auth {
namespace {

// RFC 8032 §7.1 TEST 1: secret key (seed) and public key.
constexpr char kRfcSeed[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr char kRfcPublic[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr char kRfcSignatureOfEmpty[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
    "6b"
    "d25bf5f0595bbe24655141438e7a100b";
// P-256 with d = 1: the public key is the base point G (SEC 2 §2.4.2).
constexpr char kP256One[] = "0000000000000000000000000000000000000000000000000000000000000001";
constexpr char kP256G[] =
    "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
// The P-256 group order n.
constexpr char kP256Order[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

std::string KeyFile(const std::string& algorithm, const std::string& priv, const std::string& pub,
                    const std::string& name = "gateway", const std::string& extra = "") {
  return absl::StrCat(R"({"format": "lockout-client-key-v1", "name": ")", name,
                      R"(", "algorithm": ")", algorithm, R"(", "private_key": ")", priv,
                      R"(", "public_key": ")", pub, R"(")", extra, "}");
}

Bytes Unhex(std::string_view hex) { return *HexDecode(hex); }

TEST(ClientKeyTest, Ed25519KeyFileFromRfc8032SignsItsKnownAnswer) {
  absl::StatusOr<std::unique_ptr<ClientKey>> key =
      ClientKey::ParseFile(KeyFile("ed25519", kRfcSeed, kRfcPublic));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ((*key)->name(), "gateway");
  EXPECT_EQ(HexEncode((*key)->public_key()), kRfcPublic);
  absl::StatusOr<Bytes> sig = (*key)->Sign({});
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(HexEncode(*sig), kRfcSignatureOfEmpty);
}

TEST(ClientKeyTest, P256ScalarOneHasTheBasePointAsPublicKey) {
  absl::StatusOr<std::unique_ptr<ClientKey>> key =
      ClientKey::ParseFile(KeyFile("ecdsa-p256", kP256One, kP256G));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(HexEncode((*key)->public_key()), kP256G);
}

TEST(ClientKeyTest, GeneratedKeysRoundTripThroughTheFileAndVerify) {
  for (ClientKeyAlgorithm alg : {ClientKeyAlgorithm::kEd25519, ClientKeyAlgorithm::kEcdsaP256}) {
    absl::StatusOr<std::unique_ptr<ClientKey>> key = ClientKey::Generate(alg, "ci-runner.2");
    ASSERT_TRUE(key.ok()) << key.status();
    const SecretBytes file = (*key)->ToFile();
    absl::StatusOr<std::unique_ptr<ClientKey>> again = ClientKey::ParseFile(file.RevealAsString());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ((*again)->public_key(), (*key)->public_key());
    EXPECT_EQ((*again)->algorithm(), alg);
    EXPECT_EQ((*again)->name(), "ci-runner.2");

    absl::StatusOr<std::unique_ptr<ClientVerifier>> verifier =
        ClientVerifier::Create(alg, ToString((*key)->public_key()));
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    const Bytes message = ToBytes("a canonical request");
    absl::StatusOr<Bytes> sig = (*again)->Sign(message);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_LE(sig->size(), kMaxClientSignatureSize);
    EXPECT_TRUE((*verifier)->Verify(message, *sig));
    Bytes altered = message;
    altered[0] ^= 1;
    EXPECT_FALSE((*verifier)->Verify(altered, *sig));
    Bytes bad_sig = *sig;
    bad_sig[bad_sig.size() / 2] ^= 0x40;
    EXPECT_FALSE((*verifier)->Verify(message, bad_sig));
    EXPECT_FALSE((*verifier)->Verify(message, {}));
  }
}

TEST(ClientKeyTest, TwoGeneratedKeysDiffer) {
  auto a = ClientKey::Generate(ClientKeyAlgorithm::kEd25519, "a");
  auto b = ClientKey::Generate(ClientKeyAlgorithm::kEd25519, "a");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->public_key(), (*b)->public_key());
}

TEST(ClientKeyTest, KeyFileNeverPrintsThePrivateKeyInErrors) {
  // A wrong public key: the error names the field, not either key.
  std::string wrong_pub(kRfcPublic);
  wrong_pub[0] = wrong_pub[0] == 'd' ? 'e' : 'd';
  absl::StatusOr<std::unique_ptr<ClientKey>> key =
      ClientKey::ParseFile(KeyFile("ed25519", kRfcSeed, wrong_pub));
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("public_key"), std::string::npos) << key.status();
  EXPECT_EQ(key.status().message().find(kRfcSeed), std::string::npos);
  EXPECT_EQ(key.status().message().find("9d61"), std::string::npos);
}

TEST(ClientKeyTest, RefusesMalformedKeyFiles) {
  const std::string ok = KeyFile("ed25519", kRfcSeed, kRfcPublic);
  ASSERT_TRUE(ClientKey::ParseFile(ok).ok());
  const std::string cases[] = {
      "",
      "[]",
      "{",
      ok.substr(0, ok.size() - 1),                                                    // truncated
      absl::StrReplaceAll(ok, {{"lockout-client-key-v1", "lockout-client-key-v2"}}),  // format
      absl::StrReplaceAll(ok, {{R"("format": "lockout-client-key-v1", )", ""}}),      // missing
      KeyFile("ed25519", kRfcSeed, kRfcPublic, "gateway", R"(, "extra": 1)"),         // unknown
      KeyFile("ed25519", kRfcSeed, kRfcPublic, "gateway", R"(, "name": "x")"),        // duplicate
      KeyFile("ed448", kRfcSeed, kRfcPublic),                                         // algorithm
      KeyFile("ed25519", std::string(kRfcSeed).substr(2), kRfcPublic),                // short
      KeyFile("ed25519", absl::StrCat(kRfcSeed, "00"), kRfcPublic),                   // long
      KeyFile("ed25519", absl::StrCat("zz", std::string(kRfcSeed).substr(2)), kRfcPublic),
      KeyFile("ed25519", kRfcSeed, "xyz"),           // pub hex
      KeyFile("ed25519", kRfcSeed, kRfcPublic, ""),  // name
      KeyFile("ed25519", kRfcSeed, kRfcPublic, "has space"),
      KeyFile("ed25519", kRfcSeed, kRfcPublic, std::string(65, 'a')),
      KeyFile("ecdsa-p256", std::string(64, '0'), kP256G),  // d = 0
      KeyFile("ecdsa-p256", kP256Order, kP256G),            // d = n
      KeyFile("ecdsa-p256", std::string(64, 'f'), kP256G),  // d > n
      KeyFile("ecdsa-p256", kP256One, kRfcPublic),          // wrong pub
      KeyFile("ed25519", kP256One, kP256G),                 // wrong alg
      absl::StrReplaceAll(ok, {{R"("name": "gateway")", R"("name": 7)"}}),
      std::string(kMaxClientKeyFileSize + 1, ' '),
  };
  for (const std::string& text : cases) {
    absl::StatusOr<std::unique_ptr<ClientKey>> key = ClientKey::ParseFile(text);
    EXPECT_FALSE(key.ok()) << text;
    if (!key.ok()) {
      EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << text;
    }
  }
}

TEST(ClientKeyTest, GenerateRefusesBadNames) {
  EXPECT_FALSE(ClientKey::Generate(ClientKeyAlgorithm::kEd25519, "").ok());
  EXPECT_FALSE(ClientKey::Generate(ClientKeyAlgorithm::kEd25519, "a/b").ok());
  EXPECT_FALSE(ClientKey::Generate(ClientKeyAlgorithm::kEd25519, std::string(65, 'x')).ok());
  EXPECT_TRUE(ClientKey::Generate(ClientKeyAlgorithm::kEd25519, std::string(64, 'x')).ok());
}

TEST(ClientKeyTest, VerifierRefusesUnusablePublicKeys) {
  EXPECT_FALSE(ClientVerifier::Create(ClientKeyAlgorithm::kEd25519, std::string(31, 'a')).ok());
  EXPECT_FALSE(
      ClientVerifier::Create(ClientKeyAlgorithm::kEcdsaP256, ToString(Unhex(kRfcPublic))).ok());
  std::string off_curve = ToString(Unhex(kP256G));
  off_curve[64] ^= 1;
  EXPECT_FALSE(ClientVerifier::Create(ClientKeyAlgorithm::kEcdsaP256, off_curve).ok());
  EXPECT_TRUE(ClientVerifier::Create(ClientKeyAlgorithm::kEcdsaP256, ToString(Unhex(kP256G))).ok());
}

TEST(ClientKeyTest, ParsesAlgorithmNames) {
  EXPECT_EQ(*ParseClientKeyAlgorithm("ed25519"), ClientKeyAlgorithm::kEd25519);
  EXPECT_EQ(*ParseClientKeyAlgorithm("p256"), ClientKeyAlgorithm::kEcdsaP256);
  EXPECT_EQ(*ParseClientKeyAlgorithm("ecdsa-p256"), ClientKeyAlgorithm::kEcdsaP256);
  EXPECT_FALSE(ParseClientKeyAlgorithm("rsa").ok());
}

}  // namespace
}  // namespace lockout::auth
