#pragma once

// Hierarchical deterministic keys: BIP-32 on secp256k1 and SLIP-10 on NIST P-256 (nist256p1)
// and Ed25519.
//
//   ASSIGN_OR_RETURN(SecretBytes seed, hd::MnemonicToSeed(mnemonic, passphrase));
//   ASSIGN_OR_RETURN(hd::ExtendedPrivateKey master,
//                    hd::ExtendedPrivateKey::FromSeed(hd::Curve::kSecp256k1, seed));
//   ASSIGN_OR_RETURN(hd::DerivationPath path, hd::DerivationPath::Parse("m/44'/60'/0'/0/0"));
//   ASSIGN_OR_RETURN(hd::ExtendedPrivateKey key, master.Derive(path));
//   ASSIGN_OR_RETURN(SecretBytes pkcs8, key.ToPkcs8());  // for signer::Signer::FromPkcs8
//
// Curves and their master-key HMAC keys: secp256k1 "Bitcoin seed" (BIP-32), nist256p1
// "Nist256p1 seed" and ed25519 "ed25519 seed" (SLIP-10). Ed25519 supports hardened private
// derivation only. Public keys are 33 bytes: the compressed point, or 0x00 ‖ the 32-byte Ed25519
// key (SLIP-10's form, which its fingerprints hash).
//
// Invalid keys: when IL >= n or the child key is zero (probability below 2^-127),
//   secp256k1 (BIP-32): the master or child is invalid: FailedPrecondition (for a child, BIP-32
//     says to use the next index; that choice is the caller's);
//   nist256p1 (SLIP-10): retried as SLIP-10 specifies (I = HMAC(c, 0x01 ‖ IR ‖ ser32(i)), and
//     for the master I = HMAC(key, I)).
//
// Serialization: xprv/xpub (Base58Check, BIP-32 mainnet versions 0x0488ADE4 / 0x0488B21E) for
// secp256k1 only; SLIP-10 defines no serialization for the other curves. Parsing checks what
// BIP-32's test vector 5 lists: length, checksum, version (and xprv vs xpub), the key's prefix
// byte, the scalar in [1, n-1], the point on the curve, and depth 0 with a zero parent
// fingerprint and child number.
//
// Secrets: private keys and their chain codes are SecretBytes; xprv text is returned as
// SecretBytes; errors never contain key material. Objects are immutable after creation;
// const methods are thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/hd/derivation_path.h"

namespace lockout::hd {

enum class Curve { kSecp256k1, kNist256p1, kEd25519 };

// "secp256k1", "nist256p1", "ed25519".
std::string_view CurveName(Curve curve);

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kChainCodeSize = 32;
inline constexpr size_t kPublicKeySize = 33;
inline constexpr size_t kMinSeedSize = 16;
inline constexpr size_t kMaxSeedSize = 64;

class ExtendedPublicKey;

class ExtendedPrivateKey final {
 public:
  // The master key of `curve` from a seed of 16-64 bytes (BIP-32's range; a BIP-39 seed is 64).
  // Errors: InvalidArgument for the seed size; FailedPrecondition for an invalid secp256k1
  // master; Internal if OpenSSL fails.
  static absl::StatusOr<ExtendedPrivateKey> FromSeed(Curve curve, const SecretBytes& seed);

  // Parses a secp256k1 xprv. Errors: InvalidArgument (see the header comment).
  static absl::StatusOr<ExtendedPrivateKey> ParseXprv(std::string_view text);

  ExtendedPrivateKey(ExtendedPrivateKey&&) noexcept = default;
  ExtendedPrivateKey& operator=(ExtendedPrivateKey&&) noexcept = default;

  // The child at `index` (hardened when index >= 2^31). Errors: InvalidArgument for a normal
  // index on ed25519 or at depth 255; FailedPrecondition for an invalid secp256k1 child.
  absl::StatusOr<ExtendedPrivateKey> Derive(uint32_t index) const;
  // Derive() along every index of `path`, from this key.
  absl::StatusOr<ExtendedPrivateKey> Derive(const DerivationPath& path) const;

  // The matching public extended key.
  ExtendedPublicKey Public() const;

  // The xprv string. Errors: Unimplemented for curves other than secp256k1.
  absl::StatusOr<SecretBytes> ToXprv() const;

  // The private key as unencrypted PKCS#8 DER, what signer::Signer::FromPkcs8 takes
  // (secp256k1 -> kSecp256k1, nist256p1 -> kP256, ed25519 -> kEd25519).
  absl::StatusOr<SecretBytes> ToPkcs8() const;

  Curve curve() const { return curve_; }
  uint8_t depth() const { return depth_; }
  uint32_t parent_fingerprint() const { return parent_fingerprint_; }
  uint32_t child_number() const { return child_number_; }
  // The 32-byte private key (big-endian scalar; the Ed25519 private key for ed25519).
  const SecretBytes& private_key() const { return key_; }
  const SecretBytes& chain_code() const { return chain_code_; }
  // The 33-byte public key (see the header comment).
  const Bytes& public_key() const { return public_key_; }
  // The first 4 bytes of HASH160(public_key()), big-endian: children's parent fingerprint.
  uint32_t fingerprint() const;

 private:
  ExtendedPrivateKey(Curve curve, uint8_t depth, uint32_t parent_fingerprint,
                     uint32_t child_number, SecretBytes key, SecretBytes chain_code,
                     Bytes public_key);

  Curve curve_;
  uint8_t depth_;
  uint32_t parent_fingerprint_;
  uint32_t child_number_;
  SecretBytes key_;
  SecretBytes chain_code_;
  Bytes public_key_;
};

class ExtendedPublicKey final {
 public:
  // Parses a secp256k1 xpub. Errors: InvalidArgument (see the header comment).
  static absl::StatusOr<ExtendedPublicKey> ParseXpub(std::string_view text);

  // The normal (non-hardened) child at `index`. Errors: InvalidArgument for a hardened index,
  // ed25519 or depth 255; FailedPrecondition for an invalid secp256k1 child.
  absl::StatusOr<ExtendedPublicKey> Derive(uint32_t index) const;
  absl::StatusOr<ExtendedPublicKey> Derive(const DerivationPath& path) const;

  // The xpub string. Errors: Unimplemented for curves other than secp256k1.
  absl::StatusOr<std::string> ToXpub() const;

  Curve curve() const { return curve_; }
  uint8_t depth() const { return depth_; }
  uint32_t parent_fingerprint() const { return parent_fingerprint_; }
  uint32_t child_number() const { return child_number_; }
  const Bytes& chain_code() const { return chain_code_; }
  const Bytes& public_key() const { return public_key_; }
  uint32_t fingerprint() const;

 private:
  friend class ExtendedPrivateKey;
  ExtendedPublicKey(Curve curve, uint8_t depth, uint32_t parent_fingerprint,
                    uint32_t child_number, Bytes chain_code, Bytes public_key);

  Curve curve_;
  uint8_t depth_;
  uint32_t parent_fingerprint_;
  uint32_t child_number_;
  Bytes chain_code_;
  Bytes public_key_;
};

namespace internal {
// k_child = IL + k_parent (mod n) for an EC curve, the step where BIP-32 keys become invalid.
// Errors: FailedPrecondition if IL >= n or the sum is zero; InvalidArgument for ed25519 or
// wrong sizes. Exposed for tests of those cases (unreachable from real seeds).
absl::StatusOr<SecretBytes> AddPrivateScalars(Curve curve, ByteView il, const SecretBytes& parent);
}  // namespace internal

}  // namespace lockout::hd
