#pragma once

// The HD seed secret: how a BIP-32 / SLIP-10 seed is stored as the enclave's secret (the KMS
// plaintext that is otherwise a PKCS#8 key; docs/WALLET.md "HD keys").
//
//   offset  size  value
//   0       15    "lockout-hd-seed" (ASCII magic; a PKCS#8 DER key starts with 0x30, PEM with '-')
//   15      1     version, 0x01
//   16      1     curve: 0x01 secp256k1 (BIP-32), 0x02 nist256p1 (SLIP-10), 0x03 ed25519 (SLIP-10)
//   17      1     seed length n, 16..64
//   18      n     the seed (a BIP-39 seed is 64 bytes)
// Nothing may follow. Parsing is strict: any other magic, version, curve, length or size is
// InvalidArgument naming the field (never a byte of the seed).
//
// Secrets: the encoded secret and the seed are SecretBytes; nothing here logs.
// Thread-safety: pure functions.

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/secret_bytes.h"
#include "src/hd/extended_key.h"

namespace lockout::hd {

inline constexpr std::string_view kSeedSecretMagic = "lockout-hd-seed";
inline constexpr uint8_t kSeedSecretVersion = 1;
inline constexpr size_t kSeedSecretHeaderSize = 18;

struct SeedSecret {
  Curve curve = Curve::kSecp256k1;
  SecretBytes seed;
};

// True if `plaintext` starts with the magic (it is meant as a seed secret; ParseSeedSecret says
// whether it is a valid one).
bool LooksLikeSeedSecret(ByteView plaintext);

// Errors: InvalidArgument for a seed outside 16..64 bytes.
absl::StatusOr<SecretBytes> EncodeSeedSecret(Curve curve, const SecretBytes& seed);
absl::StatusOr<SeedSecret> ParseSeedSecret(const SecretBytes& plaintext);

// "secp256k1" | "p256" | "ed25519" (the names signer::ParseKeyType takes; nist256p1 is p256)
// to the curve. Errors: InvalidArgument (p384, p521 have no HD scheme here).
absl::StatusOr<Curve> CurveForKeyTypeName(std::string_view key_type);
// The signer::KeyType name of the curve's keys: "secp256k1", "p256", "ed25519".
std::string_view KeyTypeNameOfCurve(Curve curve);

}  // namespace lockout::hd
