#include "src/hd/seed_secret.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace lockout::hd {
namespace {

constexpr uint8_t CurveByte(Curve curve) {
  switch (curve) {
    case Curve::kSecp256k1:
      return 1;
    case Curve::kNist256p1:
      return 2;
    case Curve::kEd25519:
      return 3;
  }
  return 0;
}

}  // namespace

bool LooksLikeSeedSecret(ByteView plaintext) {
  return plaintext.size() >= kSeedSecretMagic.size() &&
         std::memcmp(plaintext.data(), kSeedSecretMagic.data(), kSeedSecretMagic.size()) == 0;
}

absl::StatusOr<SecretBytes> EncodeSeedSecret(Curve curve, const SecretBytes& seed) {
  if (seed.size() < kMinSeedSize || seed.size() > kMaxSeedSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("HD seed secret: a seed of ", seed.size(), " bytes (16..64 accepted)"));
  }
  SecretBytes out(kSeedSecretHeaderSize + seed.size());
  absl::Span<uint8_t> b = out.RevealMutable();
  std::memcpy(b.data(), kSeedSecretMagic.data(), kSeedSecretMagic.size());
  b[15] = kSeedSecretVersion;
  b[16] = CurveByte(curve);
  b[17] = static_cast<uint8_t>(seed.size());
  std::copy(seed.Reveal().begin(), seed.Reveal().end(), b.begin() + kSeedSecretHeaderSize);
  return out;
}

absl::StatusOr<SeedSecret> ParseSeedSecret(const SecretBytes& plaintext) {
  const ByteView b = plaintext.Reveal();
  if (!LooksLikeSeedSecret(b)) {
    return absl::InvalidArgumentError("HD seed secret: magic \"lockout-hd-seed\" missing");
  }
  if (b.size() < kSeedSecretHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("HD seed secret: ", b.size(), " bytes, shorter than its header"));
  }
  if (b[15] != kSeedSecretVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("HD seed secret: version ", b[15], " (only 1 is known)"));
  }
  SeedSecret out;
  switch (b[16]) {
    case 1:
      out.curve = Curve::kSecp256k1;
      break;
    case 2:
      out.curve = Curve::kNist256p1;
      break;
    case 3:
      out.curve = Curve::kEd25519;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("HD seed secret: unknown curve byte ", b[16], " (1, 2 or 3)"));
  }
  const size_t n = b[17];
  if (n < kMinSeedSize || n > kMaxSeedSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("HD seed secret: seed length ", n, " (16..64 accepted)"));
  }
  if (b.size() != kSeedSecretHeaderSize + n) {
    return absl::InvalidArgumentError(
        absl::StrCat("HD seed secret: ", b.size(), " bytes, expected ", kSeedSecretHeaderSize + n));
  }
  out.seed = SecretBytes::CopyFrom(b.subspan(kSeedSecretHeaderSize, n));
  return out;
}

absl::StatusOr<Curve> CurveForKeyTypeName(std::string_view key_type) {
  if (key_type == "secp256k1") return Curve::kSecp256k1;
  if (key_type == "p256") return Curve::kNist256p1;
  if (key_type == "ed25519") return Curve::kEd25519;
  return absl::InvalidArgumentError(
      "HD keys exist for secp256k1 (BIP-32), p256 and ed25519 (SLIP-10) only");
}

std::string_view KeyTypeNameOfCurve(Curve curve) {
  switch (curve) {
    case Curve::kSecp256k1:
      return "secp256k1";
    case Curve::kNist256p1:
      return "p256";
    case Curve::kEd25519:
      return "ed25519";
  }
  return "unknown";
}

}  // namespace lockout::hd
