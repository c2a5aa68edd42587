#include "src/hd/extended_key.h"

// BIP-32 ("Key derivation", "Serialization format") and SLIP-10 ("Master key generation",
// "Child key derivation (CKD) functions"). EC arithmetic is OpenSSL's (EC_GROUP for both
// secp256k1 and P-256, private BIGNUMs on the secure heap and cleared on free); Ed25519 public
// keys come from OpenSSL's raw-key API.

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>

#include <algorithm>
#include <array>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/ec_private_key.h"
#include "src/crypto/hash.h"
#include "src/crypto/openssl_util.h"
#include "src/hd/base58.h"

namespace lockout::hd {
namespace {

using EcGroupPtr = std::unique_ptr<EC_GROUP, crypto::OsslDeleter<EC_GROUP, EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, crypto::OsslDeleter<EC_POINT, EC_POINT_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, crypto::OsslDeleter<BN_CTX, BN_CTX_free>>;
using SecretBnPtr = std::unique_ptr<BIGNUM, crypto::OsslDeleter<BIGNUM, BN_clear_free>>;

constexpr size_t kSerializedSize = 78;
constexpr uint32_t kXprvVersion = 0x0488ADE4;
constexpr uint32_t kXpubVersion = 0x0488B21E;
constexpr uint8_t kMaxDepth = 255;

std::string_view HmacKey(Curve curve) {
  switch (curve) {
    case Curve::kSecp256k1:
      return "Bitcoin seed";
    case Curve::kNist256p1:
      return "Nist256p1 seed";
    case Curve::kEd25519:
      return "ed25519 seed";
  }
  return "";
}

int CurveNid(Curve curve) {
  return curve == Curve::kSecp256k1 ? NID_secp256k1 : NID_X9_62_prime256v1;
}

void PutU32(uint32_t v, uint8_t* out) {
  out[0] = static_cast<uint8_t>(v >> 24);
  out[1] = static_cast<uint8_t>(v >> 16);
  out[2] = static_cast<uint8_t>(v >> 8);
  out[3] = static_cast<uint8_t>(v);
}

uint32_t GetU32(const uint8_t* in) {
  return (static_cast<uint32_t>(in[0]) << 24) | (static_cast<uint32_t>(in[1]) << 16) |
         (static_cast<uint32_t>(in[2]) << 8) | static_cast<uint32_t>(in[3]);
}

// HMAC-SHA512 into secret storage: I = IL ‖ IR.
absl::StatusOr<SecretBytes> HmacSha512(ByteView key, ByteView data) {
  SecretBytes out(64);
  unsigned int len = 0;
  if (HMAC(EVP_sha512(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.RevealMutable().data(), &len) == nullptr ||
      len != 64) {
    return crypto::OpenSslError("HMAC-SHA512");
  }
  return out;
}

// RIPEMD-160(SHA-256(data)), first 4 bytes, big-endian.
uint32_t Fingerprint(ByteView public_key) {
  const crypto::Sha256Digest sha = crypto::Sha256(public_key);
  std::array<uint8_t, 20> rmd{};
  unsigned int len = 0;
  if (EVP_Digest(sha.data(), sha.size(), rmd.data(), &len, EVP_ripemd160(), nullptr) != 1 ||
      len != rmd.size()) {
    // RIPEMD-160 is in OpenSSL 3's default provider since 3.0.7; without it no fingerprint is
    // possible, an impossible state for our builds.
    abort();
  }
  return GetU32(rmd.data());
}

struct Ec {
  EcGroupPtr group;
  BnCtxPtr ctx;
};

absl::StatusOr<Ec> NewEc(Curve curve) {
  Ec ec{EcGroupPtr(EC_GROUP_new_by_curve_name(CurveNid(curve))), BnCtxPtr(BN_CTX_secure_new())};
  if (ec.group == nullptr || ec.ctx == nullptr) return crypto::OpenSslError("EC group");
  return ec;
}

absl::StatusOr<SecretBnPtr> ToBn(ByteView bytes) {
  SecretBnPtr bn(BN_secure_new());
  if (bn == nullptr ||
      BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), bn.get()) == nullptr) {
    return crypto::OpenSslError("BIGNUM");
  }
  return bn;
}

// Whether the 32-byte big-endian `scalar` is in [1, n-1].
absl::StatusOr<bool> ScalarInRange(const Ec& ec, ByteView scalar) {
  ASSIGN_OR_RETURN(SecretBnPtr bn, ToBn(scalar));
  return !BN_is_zero(bn.get()) && BN_cmp(bn.get(), EC_GROUP_get0_order(ec.group.get())) < 0;
}

absl::StatusOr<Bytes> EncodePoint(const Ec& ec, const EC_POINT* point) {
  Bytes out(kPublicKeySize);
  if (EC_POINT_point2oct(ec.group.get(), point, POINT_CONVERSION_COMPRESSED, out.data(),
                         out.size(), ec.ctx.get()) != out.size()) {
    return crypto::OpenSslError("EC point encoding");
  }
  return out;
}

// The 33-byte public key of a private key.
absl::StatusOr<Bytes> PublicFromPrivate(Curve curve, const SecretBytes& key) {
  if (curve == Curve::kEd25519) {
    crypto::EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                         key.Reveal().data(), key.size()));
    Bytes out(kPublicKeySize, 0);
    size_t len = kKeySize;
    if (pkey == nullptr || EVP_PKEY_get_raw_public_key(pkey.get(), out.data() + 1, &len) != 1 ||
        len != kKeySize) {
      return crypto::OpenSslError("Ed25519 public key");
    }
    return out;
  }
  ASSIGN_OR_RETURN(Ec ec, NewEc(curve));
  ASSIGN_OR_RETURN(SecretBnPtr k, ToBn(key.Reveal()));
  EcPointPtr point(EC_POINT_new(ec.group.get()));
  if (point == nullptr ||
      EC_POINT_mul(ec.group.get(), point.get(), k.get(), nullptr, nullptr, ec.ctx.get()) != 1) {
    return crypto::OpenSslError("EC public key");
  }
  return EncodePoint(ec, point.get());
}

// The 78-byte BIP-32 serialization, in secret storage (it may hold a private key).
SecretBytes Serialize(uint32_t version, uint8_t depth, uint32_t parent_fingerprint,
                      uint32_t child_number, ByteView chain_code, ByteView key_data) {
  SecretBytes out(kSerializedSize);
  uint8_t* p = out.RevealMutable().data();
  PutU32(version, p);
  p[4] = depth;
  PutU32(parent_fingerprint, p + 5);
  PutU32(child_number, p + 9);
  std::copy(chain_code.begin(), chain_code.end(), p + 13);
  std::copy(key_data.begin(), key_data.end(), p + 45);
  return out;
}

// The fields of a decoded serialization, checked for what both kinds share.
struct Decoded {
  SecretBytes raw;
  uint32_t version = 0;
  uint8_t depth = 0;
  uint32_t parent_fingerprint = 0;
  uint32_t child_number = 0;
};

absl::StatusOr<Decoded> DecodeSerialized(std::string_view text, const char* what) {
  auto raw = Base58CheckDecodeSecret(text);
  if (!raw.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", raw.status().message()));
  }
  if (raw->size() != kSerializedSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", raw->size(), " bytes; need ", kSerializedSize));
  }
  Decoded d;
  const uint8_t* p = raw->Reveal().data();
  d.version = GetU32(p);
  d.depth = p[4];
  d.parent_fingerprint = GetU32(p + 5);
  d.child_number = GetU32(p + 9);
  if (d.version != kXprvVersion && d.version != kXpubVersion) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": unknown version 0x",
                                                   absl::Hex(d.version, absl::kZeroPad8)));
  }
  if (d.depth == 0 && d.parent_fingerprint != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": depth 0 with a non-zero parent fingerprint"));
  }
  if (d.depth == 0 && d.child_number != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": depth 0 with a non-zero child number"));
  }
  d.raw = std::move(*raw);
  return d;
}

// I for a child: HMAC-SHA512(c_par, data ‖ ser32(i)), `data` being 0x00 ‖ k_par or ser_P(K_par).
absl::StatusOr<SecretBytes> ChildHmac(ByteView chain_code, ByteView data, uint32_t index) {
  SecretBytes msg(data.size() + 4);
  absl::Span<uint8_t> m = msg.RevealMutable();
  std::copy(data.begin(), data.end(), m.begin());
  PutU32(index, m.data() + data.size());
  return HmacSha512(chain_code, msg.Reveal());
}

// SLIP-10's retry input for an invalid child: HMAC-SHA512(c_par, 0x01 ‖ IR ‖ ser32(i)).
absl::StatusOr<SecretBytes> RetryHmac(ByteView chain_code, const SecretBytes& i, uint32_t index) {
  SecretBytes data(1 + kChainCodeSize);
  absl::Span<uint8_t> d = data.RevealMutable();
  d[0] = 0x01;
  std::copy(i.Reveal().begin() + kKeySize, i.Reveal().end(), d.begin() + 1);
  return ChildHmac(chain_code, data.Reveal(), index);
}

// SLIP-10 bounds the retries only by probability; a cap turns a broken HMAC into an error
// instead of a hang (each retry happens with probability < 2^-32 on P-256).
constexpr int kMaxRetries = 8;

absl::Status InvalidChild(uint32_t index) {
  return absl::FailedPreconditionError(absl::StrCat(
      "BIP-32: child ", index, " is an invalid key (IL >= n or zero); use the next index"));
}

}  // namespace

std::string_view CurveName(Curve curve) {
  switch (curve) {
    case Curve::kSecp256k1:
      return "secp256k1";
    case Curve::kNist256p1:
      return "nist256p1";
    case Curve::kEd25519:
      return "ed25519";
  }
  return "unknown";
}

namespace internal {

absl::StatusOr<SecretBytes> AddPrivateScalars(Curve curve, ByteView il, const SecretBytes& parent) {
  if (curve == Curve::kEd25519) {
    return absl::InvalidArgumentError("scalar addition: not defined for ed25519 in SLIP-10");
  }
  if (il.size() != kKeySize || parent.size() != kKeySize) {
    return absl::InvalidArgumentError("scalar addition: operands must be 32 bytes");
  }
  ASSIGN_OR_RETURN(Ec ec, NewEc(curve));
  const BIGNUM* order = EC_GROUP_get0_order(ec.group.get());
  ASSIGN_OR_RETURN(SecretBnPtr a, ToBn(il));
  if (BN_cmp(a.get(), order) >= 0) {
    return absl::FailedPreconditionError("BIP-32: IL >= n, the key is invalid");
  }
  ASSIGN_OR_RETURN(SecretBnPtr b, ToBn(parent.Reveal()));
  SecretBnPtr sum(BN_secure_new());
  if (sum == nullptr || BN_mod_add(sum.get(), a.get(), b.get(), order, ec.ctx.get()) != 1) {
    return crypto::OpenSslError("BN_mod_add");
  }
  if (BN_is_zero(sum.get())) {
    return absl::FailedPreconditionError("BIP-32: child key is zero, the key is invalid");
  }
  SecretBytes out(kKeySize);
  if (BN_bn2binpad(sum.get(), out.RevealMutable().data(), static_cast<int>(kKeySize)) !=
      static_cast<int>(kKeySize)) {
    return crypto::OpenSslError("BN_bn2binpad");
  }
  return out;
}

}  // namespace internal

ExtendedPrivateKey::ExtendedPrivateKey(Curve curve, uint8_t depth, uint32_t parent_fingerprint,
                                       uint32_t child_number, SecretBytes key,
                                       SecretBytes chain_code, Bytes public_key)
    : curve_(curve),
      depth_(depth),
      parent_fingerprint_(parent_fingerprint),
      child_number_(child_number),
      key_(std::move(key)),
      chain_code_(std::move(chain_code)),
      public_key_(std::move(public_key)) {}

absl::StatusOr<ExtendedPrivateKey> ExtendedPrivateKey::FromSeed(Curve curve,
                                                                const SecretBytes& seed) {
  if (seed.size() < kMinSeedSize || seed.size() > kMaxSeedSize) {
    return absl::InvalidArgumentError(absl::StrCat("HD master key: seed of ", seed.size(),
                                                   " bytes; need ", kMinSeedSize, "-",
                                                   kMaxSeedSize));
  }
  ASSIGN_OR_RETURN(SecretBytes i, HmacSha512(AsBytes(HmacKey(curve)), seed.Reveal()));
  if (curve != Curve::kEd25519) {
    ASSIGN_OR_RETURN(Ec ec, NewEc(curve));
    for (int attempt = 0;; ++attempt) {
      ASSIGN_OR_RETURN(bool valid, ScalarInRange(ec, i.Reveal().subspan(0, kKeySize)));
      if (valid) break;
      if (curve == Curve::kSecp256k1) {
        return absl::FailedPreconditionError("BIP-32: the seed gives an invalid master key");
      }
      if (attempt == kMaxRetries) return absl::InternalError("SLIP-10: master key retries");
      // SLIP-10: repeat with S := I.
      ASSIGN_OR_RETURN(i, HmacSha512(AsBytes(HmacKey(curve)), i.Reveal()));
    }
  }
  SecretBytes key = SecretBytes::CopyFrom(i.Reveal().subspan(0, kKeySize));
  SecretBytes chain_code = SecretBytes::CopyFrom(i.Reveal().subspan(kKeySize));
  ASSIGN_OR_RETURN(Bytes public_key, PublicFromPrivate(curve, key));
  return ExtendedPrivateKey(curve, 0, 0, 0, std::move(key), std::move(chain_code),
                            std::move(public_key));
}

absl::StatusOr<ExtendedPrivateKey> ExtendedPrivateKey::Derive(uint32_t index) const {
  if (depth_ == kMaxDepth) {
    return absl::InvalidArgumentError("HD derivation: depth 255 is the maximum");
  }
  const bool hardened = IsHardened(index);
  if (curve_ == Curve::kEd25519 && !hardened) {
    return absl::InvalidArgumentError(
        absl::StrCat("SLIP-10: ed25519 supports hardened derivation only (index ", index, ")"));
  }
  absl::StatusOr<SecretBytes> i;
  if (hardened) {
    SecretBytes data(1 + kKeySize);
    absl::Span<uint8_t> d = data.RevealMutable();
    d[0] = 0x00;
    std::copy(key_.Reveal().begin(), key_.Reveal().end(), d.begin() + 1);
    i = ChildHmac(chain_code_.Reveal(), data.Reveal(), index);
  } else {
    i = ChildHmac(chain_code_.Reveal(), public_key_, index);
  }
  if (!i.ok()) return i.status();
  SecretBytes child_key;
  if (curve_ == Curve::kEd25519) {
    child_key = SecretBytes::CopyFrom(i->Reveal().subspan(0, kKeySize));
  } else {
    for (int attempt = 0;; ++attempt) {
      auto sum = internal::AddPrivateScalars(curve_, i->Reveal().subspan(0, kKeySize), key_);
      if (sum.ok()) {
        child_key = std::move(*sum);
        break;
      }
      if (sum.status().code() != absl::StatusCode::kFailedPrecondition) return sum.status();
      if (curve_ == Curve::kSecp256k1) return InvalidChild(index);
      if (attempt == kMaxRetries) return absl::InternalError("SLIP-10: derivation retries");
      ASSIGN_OR_RETURN(i, RetryHmac(chain_code_.Reveal(), *i, index));
    }
  }
  SecretBytes chain_code = SecretBytes::CopyFrom(i->Reveal().subspan(kKeySize));
  ASSIGN_OR_RETURN(Bytes public_key, PublicFromPrivate(curve_, child_key));
  return ExtendedPrivateKey(curve_, static_cast<uint8_t>(depth_ + 1), fingerprint(), index,
                            std::move(child_key), std::move(chain_code), std::move(public_key));
}

absl::StatusOr<ExtendedPrivateKey> ExtendedPrivateKey::Derive(const DerivationPath& path) const {
  ExtendedPrivateKey key(curve_, depth_, parent_fingerprint_, child_number_,
                         SecretBytes::CopyFrom(key_.Reveal()),
                         SecretBytes::CopyFrom(chain_code_.Reveal()), public_key_);
  for (uint32_t index : path.indices()) {
    ASSIGN_OR_RETURN(key, key.Derive(index));
  }
  return key;
}

ExtendedPublicKey ExtendedPrivateKey::Public() const {
  return ExtendedPublicKey(curve_, depth_, parent_fingerprint_, child_number_,
                           Bytes(chain_code_.Reveal().begin(), chain_code_.Reveal().end()),
                           public_key_);
}

uint32_t ExtendedPrivateKey::fingerprint() const { return Fingerprint(public_key_); }

absl::StatusOr<SecretBytes> ExtendedPrivateKey::ToXprv() const {
  if (curve_ != Curve::kSecp256k1) {
    return absl::UnimplementedError(
        absl::StrCat("xprv: defined for secp256k1 only, not ", Absl(CurveName(curve_))));
  }
  SecretBytes key_data(1 + kKeySize);
  absl::Span<uint8_t> d = key_data.RevealMutable();
  d[0] = 0x00;
  std::copy(key_.Reveal().begin(), key_.Reveal().end(), d.begin() + 1);
  const SecretBytes raw = Serialize(kXprvVersion, depth_, parent_fingerprint_, child_number_,
                                    chain_code_.Reveal(), key_data.Reveal());
  return Base58CheckEncodeSecret(raw);
}

absl::StatusOr<ExtendedPrivateKey> ExtendedPrivateKey::ParseXprv(std::string_view text) {
  ASSIGN_OR_RETURN(Decoded d, DecodeSerialized(text, "xprv"));
  if (d.version != kXprvVersion) {
    return absl::InvalidArgumentError("xprv: the version is that of an xpub");
  }
  const ByteView raw = d.raw.Reveal();
  if (raw[45] != 0x00) {
    return absl::InvalidArgumentError("xprv: private key data must start with 0x00");
  }
  SecretBytes key = SecretBytes::CopyFrom(raw.subspan(46, kKeySize));
  ASSIGN_OR_RETURN(Ec ec, NewEc(Curve::kSecp256k1));
  ASSIGN_OR_RETURN(bool valid, ScalarInRange(ec, key.Reveal()));
  if (!valid) return absl::InvalidArgumentError("xprv: private key outside [1, n-1]");
  SecretBytes chain_code = SecretBytes::CopyFrom(raw.subspan(13, kChainCodeSize));
  ASSIGN_OR_RETURN(Bytes public_key, PublicFromPrivate(Curve::kSecp256k1, key));
  return ExtendedPrivateKey(Curve::kSecp256k1, d.depth, d.parent_fingerprint, d.child_number,
                            std::move(key), std::move(chain_code), std::move(public_key));
}

absl::StatusOr<SecretBytes> ExtendedPrivateKey::ToPkcs8() const {
  switch (curve_) {
    case Curve::kSecp256k1:
      return crypto::EcPrivateKeyToPkcs8("secp256k1", key_);
    case Curve::kNist256p1:
      return crypto::EcPrivateKeyToPkcs8("P-256", key_);
    case Curve::kEd25519:
      return crypto::Ed25519PrivateKeyToPkcs8(key_);
  }
  return absl::InternalError("PKCS#8: unknown curve");
}

ExtendedPublicKey::ExtendedPublicKey(Curve curve, uint8_t depth, uint32_t parent_fingerprint,
                                     uint32_t child_number, Bytes chain_code, Bytes public_key)
    : curve_(curve),
      depth_(depth),
      parent_fingerprint_(parent_fingerprint),
      child_number_(child_number),
      chain_code_(std::move(chain_code)),
      public_key_(std::move(public_key)) {}

uint32_t ExtendedPublicKey::fingerprint() const { return Fingerprint(public_key_); }

absl::StatusOr<ExtendedPublicKey> ExtendedPublicKey::Derive(uint32_t index) const {
  if (curve_ == Curve::kEd25519) {
    return absl::InvalidArgumentError("SLIP-10: ed25519 has no public derivation");
  }
  if (IsHardened(index)) {
    return absl::InvalidArgumentError(
        absl::StrCat("BIP-32: hardened index ", index, " needs the private key"));
  }
  if (depth_ == kMaxDepth) {
    return absl::InvalidArgumentError("HD derivation: depth 255 is the maximum");
  }
  ASSIGN_OR_RETURN(Ec ec, NewEc(curve_));
  EcPointPtr parent(EC_POINT_new(ec.group.get()));
  if (parent == nullptr || EC_POINT_oct2point(ec.group.get(), parent.get(), public_key_.data(),
                                              public_key_.size(), ec.ctx.get()) != 1) {
    return crypto::OpenSslError("EC public key decoding");
  }
  ASSIGN_OR_RETURN(SecretBytes i, ChildHmac(chain_code_, public_key_, index));
  EcPointPtr child(EC_POINT_new(ec.group.get()));
  if (child == nullptr) return crypto::OpenSslError("EC_POINT_new");
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(SecretBnPtr il, ToBn(i.Reveal().subspan(0, kKeySize)));
    bool valid = BN_cmp(il.get(), EC_GROUP_get0_order(ec.group.get())) < 0;
    if (valid) {
      // K_i = point(IL) + K_par
      if (EC_POINT_mul(ec.group.get(), child.get(), il.get(), parent.get(), BN_value_one(),
                       ec.ctx.get()) != 1) {
        return crypto::OpenSslError("EC_POINT_mul");
      }
      valid = EC_POINT_is_at_infinity(ec.group.get(), child.get()) == 0;
    }
    if (valid) break;
    if (curve_ == Curve::kSecp256k1) return InvalidChild(index);
    if (attempt == kMaxRetries) return absl::InternalError("SLIP-10: derivation retries");
    ASSIGN_OR_RETURN(i, RetryHmac(chain_code_, i, index));
  }
  ASSIGN_OR_RETURN(Bytes public_key, EncodePoint(ec, child.get()));
  return ExtendedPublicKey(curve_, static_cast<uint8_t>(depth_ + 1), fingerprint(), index,
                           Bytes(i.Reveal().begin() + kKeySize, i.Reveal().end()),
                           std::move(public_key));
}

absl::StatusOr<ExtendedPublicKey> ExtendedPublicKey::Derive(const DerivationPath& path) const {
  ExtendedPublicKey key = *this;
  for (uint32_t index : path.indices()) {
    ASSIGN_OR_RETURN(key, key.Derive(index));
  }
  return key;
}

absl::StatusOr<std::string> ExtendedPublicKey::ToXpub() const {
  if (curve_ != Curve::kSecp256k1) {
    return absl::UnimplementedError(
        absl::StrCat("xpub: defined for secp256k1 only, not ", Absl(CurveName(curve_))));
  }
  const SecretBytes raw = Serialize(kXpubVersion, depth_, parent_fingerprint_, child_number_,
                                    chain_code_, public_key_);
  return Base58CheckEncode(raw.Reveal());
}

absl::StatusOr<ExtendedPublicKey> ExtendedPublicKey::ParseXpub(std::string_view text) {
  ASSIGN_OR_RETURN(Decoded d, DecodeSerialized(text, "xpub"));
  if (d.version != kXpubVersion) {
    return absl::InvalidArgumentError("xpub: the version is that of an xprv");
  }
  const ByteView raw = d.raw.Reveal();
  if (raw[45] != 0x02 && raw[45] != 0x03) {
    return absl::InvalidArgumentError("xpub: public key must be a compressed point (02 or 03)");
  }
  Bytes public_key(raw.begin() + 45, raw.end());
  ASSIGN_OR_RETURN(Ec ec, NewEc(Curve::kSecp256k1));
  EcPointPtr point(EC_POINT_new(ec.group.get()));
  if (point == nullptr || EC_POINT_oct2point(ec.group.get(), point.get(), public_key.data(),
                                             public_key.size(), ec.ctx.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("xpub: public key is not a point on secp256k1");
  }
  return ExtendedPublicKey(Curve::kSecp256k1, d.depth, d.parent_fingerprint, d.child_number,
                           Bytes(raw.begin() + 13, raw.begin() + 45), std::move(public_key));
}

}  // namespace lockout::hd
