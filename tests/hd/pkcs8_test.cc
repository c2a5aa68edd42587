// A derived key, as PKCS#8 (ExtendedPrivateKey::ToPkcs8 over crypto/ec_private_key), is accepted
// by the signer with the same public key.

#include <string>

#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "src/crypto/ec_private_key.h"
#include "src/hd/extended_key.h"
#include "src/signer/signer.h"

namespace lockout::hd {
namespace {

using signer::KeyType;
using signer::Signer;

SecretBytes SecretHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok());
  return SecretBytes::CopyFrom(ByteView(*bytes));
}

// The signer's raw public key (04 ‖ X ‖ Y, or the 32-byte Ed25519 key) in our 33-byte form.
Bytes Compress(const Bytes& raw, Curve curve) {
  Bytes out;
  if (curve == Curve::kEd25519) {
    out.push_back(0x00);
    out.insert(out.end(), raw.begin(), raw.end());
    return out;
  }
  EXPECT_EQ(raw.size(), 65u);
  out.push_back(static_cast<uint8_t>(0x02 | (raw.back() & 1)));
  out.insert(out.end(), raw.begin() + 1, raw.begin() + 33);
  return out;
}

struct Case {
  Curve curve;
  KeyType type;
  const char* path;
};

TEST(HdPkcs8, SignerAcceptsDerivedKeysWithMatchingPublicKey) {
  const SecretBytes seed = SecretHex(
      "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875"
      "726f6c696663605d5a5754514e4b484542");
  for (const Case& c : {Case{Curve::kSecp256k1, KeyType::kSecp256k1, "m/44'/60'/0'/0/0"},
                        Case{Curve::kNist256p1, KeyType::kP256, "m/0/2147483647'/1"},
                        Case{Curve::kEd25519, KeyType::kEd25519, "m/44'/501'/0'/0'"}}) {
    SCOPED_TRACE(std::string(CurveName(c.curve)));
    auto master = ExtendedPrivateKey::FromSeed(c.curve, seed);
    ASSERT_TRUE(master.ok());
    auto key = master->Derive(*DerivationPath::Parse(c.path));
    ASSERT_TRUE(key.ok()) << key.status();
    auto pkcs8 = key->ToPkcs8();
    ASSERT_TRUE(pkcs8.ok()) << pkcs8.status();
    auto s = Signer::FromPkcs8(*pkcs8, c.type);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(HexEncode(Compress((*s)->public_key_raw(), c.curve)), HexEncode(key->public_key()));
    // And it signs.
    EXPECT_TRUE((*s)->Sign(AsBytes("message")).ok());
    // The export round-trips to the same DER.
    auto exported = (*s)->ExportPkcs8();
    ASSERT_TRUE(exported.ok());
    EXPECT_TRUE(exported->Equals(*pkcs8));
  }
}

TEST(HdPkcs8, EcPrivateKeyRejectsBadScalars) {
  const std::string n = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
  EXPECT_FALSE(crypto::EcPrivateKeyToPkcs8("secp256k1", SecretBytes(32)).ok());  // zero
  EXPECT_FALSE(crypto::EcPrivateKeyToPkcs8("secp256k1", SecretHex(n)).ok());
  EXPECT_FALSE(crypto::EcPrivateKeyToPkcs8("secp256k1", SecretBytes(31)).ok());
  EXPECT_FALSE(crypto::EcPrivateKeyToPkcs8("no-such-curve", SecretHex(n)).ok());
  EXPECT_TRUE(crypto::EcPrivateKeyToPkcs8(
                  "P-256",
                  SecretHex("0000000000000000000000000000000000000000000000000000000000000001"))
                  .ok());
  EXPECT_FALSE(crypto::Ed25519PrivateKeyToPkcs8(SecretBytes(31)).ok());
}

TEST(HdPkcs8, ErrorsNeverContainKeyBytes) {
  const SecretBytes big = SecretHex("deadbeefcafef00ddeadbeefcafef00ddeadbeefcafef00ddeadbeefcafef00d00");
  auto st = crypto::EcPrivateKeyToPkcs8("secp256k1", big);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(std::string(st.status().message()).find("deadbeef"), std::string::npos);
}

}  // namespace
}  // namespace lockout::hd
