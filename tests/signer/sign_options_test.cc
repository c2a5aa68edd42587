// Hash and format choices of the signer (signer.h "SignOptions"): a known answer for secp256k1
// (RFC 6979 via libsecp256k1), every key type × hash × format verified through OpenSSL, low-s,
// public-key recovery, and the combinations that must be refused.

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <secp256k1.h>

#include <array>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/crypto/openssl_util.h"
#include "src/signer/ecdsa_signature.h"
#include "src/signer/signer.h"

namespace lockout::signer {
namespace {

constexpr KeyType kAllTypes[] = {KeyType::kP256, KeyType::kP384, KeyType::kP521,
                                 KeyType::kSecp256k1, KeyType::kEd25519};
constexpr HashAlgorithm kAllHashes[] = {HashAlgorithm::kSha256, HashAlgorithm::kSha384,
                                        HashAlgorithm::kSha512, HashAlgorithm::kKeccak256,
                                        HashAlgorithm::kNone};
constexpr SignatureFormat kAllFormats[] = {SignatureFormat::kDer, SignatureFormat::kRaw,
                                           SignatureFormat::kRecoverable};

Bytes Hex(std::string_view hex) { return *HexDecode(hex); }

size_t Width(KeyType type) {
  switch (type) {
    case KeyType::kP384:
      return 48;
    case KeyType::kP521:
      return 66;
    default:
      return 32;
  }
}

// A secp256k1 PKCS#8 (RFC 5208, RFC 5915 without the optional public key) for a 32-byte scalar.
SecretBytes Secp256k1Pkcs8(ByteView scalar) {
  Bytes der = Hex("303e020100301006072a8648ce3d020106052b8104000a042730250201010420");
  der.insert(der.end(), scalar.begin(), scalar.end());
  return SecretBytes::CopyFrom(der);
}

crypto::EvpPkeyPtr PublicKey(const Signer& signer) {
  const unsigned char* p = signer.public_key_der().data();
  return crypto::EvpPkeyPtr(
      d2i_PUBKEY(nullptr, &p, static_cast<long>(signer.public_key_der().size())));
}

// OpenSSL ECDSA verification of a DER signature over a digest (OpenSSL truncates a digest longer
// than the order, as the signer does).
bool OpenSslVerifiesDigest(const Signer& signer, ByteView digest, ByteView der) {
  crypto::EvpPkeyPtr pub = PublicKey(signer);
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pub.get(), nullptr));
  const bool ok =
      ctx != nullptr && EVP_PKEY_verify_init(ctx.get()) == 1 &&
      EVP_PKEY_verify(ctx.get(), der.data(), der.size(), digest.data(), digest.size()) == 1;
  ERR_clear_error();
  return ok;
}

bool OpenSslVerifiesEd25519(const Signer& signer, ByteView message, ByteView sig) {
  crypto::EvpPkeyPtr pub = PublicKey(signer);
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pub.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

// floor(n/2) for the key's curve, from OpenSSL.
Bytes HalfOrder(const Signer& signer) {
  crypto::EvpPkeyPtr pub = PublicKey(signer);
  BIGNUM* n = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(pub.get(), "order", &n), 1);
  BN_rshift1(n, n);
  Bytes half(Width(signer.key_type()));
  BN_bn2binpad(n, half.data(), static_cast<int>(half.size()));
  BN_free(n);
  return half;
}

Bytes ToDer(ByteView rs) {
  std::array<uint8_t, kMaxEcdsaDerSize> der{};
  absl::StatusOr<size_t> n = EcdsaRawToDer(rs, absl::MakeSpan(der));
  EXPECT_TRUE(n.ok()) << n.status();
  return Bytes(der.begin(), der.begin() + static_cast<std::ptrdiff_t>(n.value_or(0)));
}

Bytes ToRaw(ByteView der, size_t width) {
  std::array<uint8_t, 2 * kMaxEcdsaScalarSize> raw{};
  absl::StatusOr<size_t> n = EcdsaDerToRaw(der, width, absl::MakeSpan(raw));
  EXPECT_TRUE(n.ok()) << n.status();
  return Bytes(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(n.value_or(0)));
}

TEST(SignOptionsTest, Secp256k1Rfc6979KnownAnswerEip155) {
  // EIP-155's example: private key 0x4646…46 signing the transaction hash below gives this r, s
  // and recovery id 0 (v = 37 with chain id 1). RFC 6979 nonces make it reproducible.
  auto signer = Signer::FromPkcs8(Secp256k1Pkcs8(Bytes(32, 0x46)), KeyType::kSecp256k1);
  ASSERT_TRUE(signer.ok()) << signer.status();
  const Bytes hash = Hex("daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
  const Bytes r = Hex("28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276");
  const Bytes s = Hex("67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83");

  auto rec = (*signer)->Sign(
      hash, {.hash = HashAlgorithm::kNone, .format = SignatureFormat::kRecoverable});
  ASSERT_TRUE(rec.ok()) << rec.status();
  Bytes expected = r;
  expected.insert(expected.end(), s.begin(), s.end());
  expected.push_back(0);
  EXPECT_EQ(HexEncode(*rec), HexEncode(expected));

  auto raw = (*signer)->Sign(hash, {.hash = HashAlgorithm::kNone, .format = SignatureFormat::kRaw});
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(HexEncode(*raw), HexEncode(ByteView(expected.data(), 64)));

  auto der = (*signer)->Sign(hash, {.hash = HashAlgorithm::kNone});
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_EQ(HexEncode(*der), HexEncode(ToDer(ByteView(expected.data(), 64))));

  auto recovered = RecoverSecp256k1PublicKey(hash, *rec);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, (*signer)->public_key_raw());
  // The EIP-155 example's sender address is derived from this key; its public key is known.
  EXPECT_EQ(HexEncode((*signer)->public_key_raw()).substr(0, 8), "044bc2a3");
}

TEST(SignOptionsTest, Secp256k1PrivateKeyOneKnownAnswerWithSha256) {
  // Private key 1 (public key G), message "Satoshi Nakamoto" with SHA-256: the widely published
  // RFC 6979 secp256k1 vector (also in libsecp256k1-based test suites), low-s.
  Bytes one(32, 0);
  one.back() = 1;
  auto signer = Signer::FromPkcs8(Secp256k1Pkcs8(one), KeyType::kSecp256k1);
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto raw = (*signer)->Sign(ToBytes("Satoshi Nakamoto"), {.format = SignatureFormat::kRaw});
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(HexEncode(*raw),
            "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
            "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5");
}

class SignOptionsByTypeTest : public ::testing::TestWithParam<KeyType> {};
// The ECDSA types only: low s and caller-supplied digests do not apply to ed25519.
class EcdsaSignOptionsTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(SignOptionsByTypeTest, EveryHashAndFormatVerifiesOrIsRefused) {
  const KeyType type = GetParam();
  auto signer = Signer::Generate(type);
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto ctx = (*signer)->NewContext();
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  const Bytes half = type == KeyType::kEd25519 ? Bytes() : HalfOrder(**signer);
  const size_t width = Width(type);
  int verified = 0;
  for (HashAlgorithm hash : kAllHashes) {
    for (SignatureFormat format : kAllFormats) {
      SCOPED_TRACE(absl::StrCat(Absl(KeyTypeName(type)), " ", Absl(HashAlgorithmName(hash)), " ",
                                Absl(SignatureFormatName(format))));
      const SignOptions options{.hash = hash, .format = format};
      const Bytes message = hash == HashAlgorithm::kNone && type != KeyType::kEd25519
                                ? crypto::RandomBytes(PrehashedDigestSize(type))
                                : ToBytes("transfer 10 to alice");
      std::array<uint8_t, kMaxSignatureSize> buf{};
      absl::StatusOr<size_t> n = (*ctx)->Sign(message, options, absl::MakeSpan(buf));
      const bool allowed = ResolveSignOptions(type, options).ok();
      if (!allowed) {
        ASSERT_FALSE(n.ok());
        EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
        continue;
      }
      ASSERT_TRUE(n.ok()) << n.status();
      const ByteView sig(buf.data(), *n);
      if (type == KeyType::kEd25519) {
        EXPECT_EQ(*n, 64u);
        EXPECT_TRUE(OpenSslVerifiesEd25519(**signer, message, sig));
        ++verified;
        continue;
      }
      const Bytes digest = hash == HashAlgorithm::kNone ? message : *ComputeDigest(hash, message);
      Bytes rs;
      switch (format) {
        case SignatureFormat::kDer:
          rs = ToRaw(sig, width);
          break;
        case SignatureFormat::kRaw:
          ASSERT_EQ(*n, 2 * width);
          rs.assign(sig.begin(), sig.end());
          break;
        case SignatureFormat::kRecoverable: {
          ASSERT_EQ(*n, 65u);
          EXPECT_LE(sig[64], 1);
          rs.assign(sig.begin(), sig.begin() + 64);
          auto recovered = RecoverSecp256k1PublicKey(digest, sig);
          ASSERT_TRUE(recovered.ok()) << recovered.status();
          EXPECT_EQ(*recovered, (*signer)->public_key_raw());
          break;
        }
      }
      EXPECT_TRUE(IsLowS(ByteView(rs.data() + width, width), half));
      EXPECT_TRUE(OpenSslVerifiesDigest(**signer, digest, ToDer(rs)));
      Bytes other = digest;
      other[0] ^= 1;
      EXPECT_FALSE(OpenSslVerifiesDigest(**signer, other, ToDer(rs)));
      ++verified;
    }
  }
  // ECDSA: 5 hashes × der/raw (+ recoverable for secp256k1); ed25519: none/raw only.
  const int expected = type == KeyType::kEd25519 ? 1 : type == KeyType::kSecp256k1 ? 15 : 10;
  EXPECT_EQ(verified, expected);
}

TEST_P(SignOptionsByTypeTest, DefaultsAreTodaysSignature) {
  // Absent hash and format: ECDSA over SHA-256, DER; Ed25519 PureEdDSA. Equal to the explicit
  // spelling (deterministic for secp256k1 and ed25519; verified for the others).
  const KeyType type = GetParam();
  auto signer = Signer::Generate(type);
  ASSERT_TRUE(signer.ok());
  const Bytes message = ToBytes("hello");
  auto sig = (*signer)->Sign(message);
  ASSERT_TRUE(sig.ok()) << sig.status();
  if (type == KeyType::kEd25519) {
    EXPECT_TRUE(OpenSslVerifiesEd25519(**signer, message, *sig));
    EXPECT_EQ(*(*signer)->Sign(message, {.hash = HashAlgorithm::kNone}), *sig);
    EXPECT_EQ(*(*signer)->Sign(message, {.format = SignatureFormat::kRaw}), *sig);
    return;
  }
  EXPECT_TRUE(
      OpenSslVerifiesDigest(**signer, *ComputeDigest(HashAlgorithm::kSha256, message), *sig));
  EXPECT_TRUE(IsLowS(ByteView(ToRaw(*sig, Width(type))).subspan(Width(type)), HalfOrder(**signer)));
  if (type == KeyType::kSecp256k1) {
    EXPECT_EQ(*(*signer)->Sign(message,
                               {.hash = HashAlgorithm::kSha256, .format = SignatureFormat::kDer}),
              *sig);
  }
}

TEST_P(EcdsaSignOptionsTest, SignaturesAreAlwaysLowS) {
  // Without normalisation half of OpenSSL's signatures have a high s: 64 low ones in a row would
  // happen by chance with probability 2^-64.
  const KeyType type = GetParam();
  auto signer = Signer::Generate(type);
  ASSERT_TRUE(signer.ok());
  auto ctx = (*signer)->NewContext();
  ASSERT_TRUE(ctx.ok());
  const Bytes half = HalfOrder(**signer);
  for (int i = 0; i < 64; ++i) {
    std::array<uint8_t, kMaxSignatureSize> buf{};
    const Bytes message = ToBytes(absl::StrCat("message ", i));
    auto n = (*ctx)->Sign(message, {.format = SignatureFormat::kRaw}, absl::MakeSpan(buf));
    ASSERT_TRUE(n.ok());
    ASSERT_TRUE(IsLowS(ByteView(buf.data() + Width(type), Width(type)), half)) << i;
  }
}

TEST_P(EcdsaSignOptionsTest, HashNoneNeedsADigestOfTheCurvesSize) {
  const KeyType type = GetParam();
  auto signer = Signer::Generate(type);
  ASSERT_TRUE(signer.ok());
  const size_t size = PrehashedDigestSize(type);
  for (size_t bad : {size_t{0}, size - 1, size + 1, size_t{20}}) {
    auto sig = (*signer)->Sign(Bytes(bad, 7), {.hash = HashAlgorithm::kNone});
    ASSERT_FALSE(sig.ok()) << bad;
    EXPECT_EQ(sig.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(sig.status().message().find(absl::StrCat(size, "-byte digest")), std::string::npos)
        << sig.status();
  }
  EXPECT_TRUE((*signer)->Sign(Bytes(size, 7), {.hash = HashAlgorithm::kNone}).ok());
}

std::string TypeName(const ::testing::TestParamInfo<KeyType>& info) {
  return std::string(KeyTypeName(info.param));
}
INSTANTIATE_TEST_SUITE_P(AllKeyTypes, SignOptionsByTypeTest, ::testing::ValuesIn(kAllTypes),
                         TypeName);
INSTANTIATE_TEST_SUITE_P(EcdsaKeyTypes, EcdsaSignOptionsTest,
                         ::testing::Values(KeyType::kP256, KeyType::kP384, KeyType::kP521,
                                           KeyType::kSecp256k1),
                         TypeName);

TEST(SignOptionsTest, PrehashedDigestSizes) {
  EXPECT_EQ(PrehashedDigestSize(KeyType::kP256), 32u);
  EXPECT_EQ(PrehashedDigestSize(KeyType::kSecp256k1), 32u);
  EXPECT_EQ(PrehashedDigestSize(KeyType::kP384), 48u);
  EXPECT_EQ(PrehashedDigestSize(KeyType::kP521), 64u);
  EXPECT_EQ(PrehashedDigestSize(KeyType::kEd25519), 0u);
}

TEST(SignOptionsTest, RefusedCombinationsSayWhy) {
  auto ed = ResolveSignOptions(KeyType::kEd25519, {.hash = HashAlgorithm::kSha256});
  ASSERT_FALSE(ed.ok());
  EXPECT_NE(ed.status().message().find("ed25519"), std::string::npos);
  EXPECT_FALSE(ResolveSignOptions(KeyType::kEd25519, {.format = SignatureFormat::kDer}).ok());
  EXPECT_FALSE(
      ResolveSignOptions(KeyType::kEd25519, {.format = SignatureFormat::kRecoverable}).ok());
  for (KeyType t : {KeyType::kP256, KeyType::kP384, KeyType::kP521}) {
    auto rec = ResolveSignOptions(t, {.format = SignatureFormat::kRecoverable});
    ASSERT_FALSE(rec.ok());
    EXPECT_NE(rec.status().message().find("secp256k1 keys only"), std::string::npos);
  }
  auto resolved = ResolveSignOptions(KeyType::kP384, {});
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->hash, HashAlgorithm::kSha256);
  EXPECT_EQ(resolved->format, SignatureFormat::kDer);
}

TEST(SignOptionsTest, NamesRoundTripAndUnknownNamesAreRefused) {
  for (HashAlgorithm h : kAllHashes) EXPECT_EQ(*ParseHashAlgorithm(HashAlgorithmName(h)), h);
  for (SignatureFormat f : kAllFormats) EXPECT_EQ(*ParseSignatureFormat(SignatureFormatName(f)), f);
  for (std::string_view bad : {"", "SHA256", "sha-256", "sha3-256", "keccak", "sha256 ", "md5"}) {
    EXPECT_FALSE(ParseHashAlgorithm(bad).ok()) << bad;
  }
  for (std::string_view bad : {"", "DER", "jose", "r||s", "compact", "recoverable\n"}) {
    EXPECT_FALSE(ParseSignatureFormat(bad).ok()) << bad;
  }
  // Text that is not short printable ASCII is described, not quoted.
  auto odd = ParseHashAlgorithm(std::string("sha\x01\xff", 5));
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.status().message().find("of 5 bytes"), std::string::npos);
}

TEST(SignOptionsTest, RecoveryRefusesMalformedInput) {
  const Bytes digest(32, 1);
  EXPECT_FALSE(RecoverSecp256k1PublicKey(digest, Bytes(64, 1)).ok());
  EXPECT_FALSE(RecoverSecp256k1PublicKey(Bytes(31, 1), Bytes(65, 1)).ok());
  Bytes bad_v(65, 1);
  bad_v[64] = 27;  // Ethereum's v, not a recovery id
  EXPECT_FALSE(RecoverSecp256k1PublicKey(digest, bad_v).ok());
  Bytes overflow(65, 0xff);  // r, s ≥ n
  overflow[64] = 0;
  EXPECT_FALSE(RecoverSecp256k1PublicKey(digest, overflow).ok());
}

TEST(SignOptionsTest, ComputeDigestMatchesKnownDigests) {
  EXPECT_EQ(HexEncode(*ComputeDigest(HashAlgorithm::kKeccak256, Bytes())),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(HexEncode(*ComputeDigest(HashAlgorithm::kSha256, ToBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ComputeDigest(HashAlgorithm::kSha384, Bytes())->size(), 48u);
  EXPECT_EQ(ComputeDigest(HashAlgorithm::kSha512, Bytes())->size(), 64u);
  EXPECT_FALSE(ComputeDigest(HashAlgorithm::kNone, Bytes()).ok());
}

}  // namespace
}  // namespace lockout::signer
