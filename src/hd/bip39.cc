#include "src/hd/bip39.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/crypto/hash.h"
#include "src/hd/bip39_english.h"

namespace lockout::hd {
namespace {

constexpr size_t kBitsPerWord = 11;
constexpr int kPbkdf2Iterations = 2048;  // BIP-39, "From mnemonic to seed"
constexpr std::string_view kSaltPrefix = "mnemonic";

// Bit `i` (big-endian bit order) of `data`.
int GetBit(ByteView data, size_t i) { return (data[i / 8] >> (7 - i % 8)) & 1; }

// Index of `word` in the sorted list, or -1.
int WordIndex(std::string_view word) {
  const auto it = std::lower_bound(kBip39English.begin(), kBip39English.end(), word);
  if (it == kBip39English.end() || *it != word) return -1;
  return static_cast<int>(it - kBip39English.begin());
}

}  // namespace

absl::StatusOr<SecretBytes> EntropyToMnemonic(const SecretBytes& entropy) {
  const size_t n = entropy.size();
  if (n < 16 || n > 32 || n % 4 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BIP-39: entropy of ", n, " bytes; need 16, 20, 24, 28 or 32 (128-256 bits)"));
  }
  // ENT bits of entropy followed by ENT/32 bits of SHA-256(entropy).
  crypto::Sha256Digest hash = crypto::Sha256(entropy.Reveal());
  SecretBytes bits(n + 1);
  absl::Span<uint8_t> b = bits.RevealMutable();
  std::copy(entropy.Reveal().begin(), entropy.Reveal().end(), b.begin());
  b[n] = hash[0];
  WipeBytes(hash.data(), hash.size());
  const size_t words = (n * 8 + n / 4) / kBitsPerWord;
  SecretBuilder out;
  for (size_t w = 0; w < words; ++w) {
    size_t index = 0;
    for (size_t k = 0; k < kBitsPerWord; ++k) {
      index = (index << 1) | static_cast<size_t>(GetBit(bits.Reveal(), w * kBitsPerWord + k));
    }
    if (w != 0) out.Append(" ");
    out.Append(kBip39English[index]);
  }
  return std::move(out).Finish();
}

absl::StatusOr<SecretBytes> MnemonicToEntropy(const SecretBytes& mnemonic) {
  const std::string_view text = mnemonic.RevealAsString();
  if (text.empty() || text.size() > kMaxMnemonicSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("BIP-39: mnemonic of ", text.size(), " bytes; expected 12-24 words"));
  }
  // Word indices, 11 bits each; at most 24 words. The array is wiped below.
  std::vector<uint16_t> indices;
  indices.reserve(24);
  absl::Status status;
  size_t start = 0;
  while (status.ok()) {
    const size_t end = std::min(text.find(' ', start), text.size());
    const size_t position = indices.size() + 1;
    if (end == start) {
      status = absl::InvalidArgumentError(absl::StrCat(
          "BIP-39: empty word at position ", position, " (words are separated by one space)"));
      break;
    }
    if (indices.size() == 24) {
      status = absl::InvalidArgumentError("BIP-39: more than 24 words");
      break;
    }
    const int index = WordIndex(text.substr(start, end - start));
    if (index < 0) {
      status = absl::InvalidArgumentError(absl::StrCat(
          "BIP-39: word ", position, " is not in the English word list (lower-case ASCII)"));
      break;
    }
    indices.push_back(static_cast<uint16_t>(index));
    if (end == text.size()) break;
    start = end + 1;
  }
  const size_t words = indices.size();
  if (status.ok() && (words < 12 || words % 3 != 0)) {
    status = absl::InvalidArgumentError(
        absl::StrCat("BIP-39: ", words, " words; need 12, 15, 18, 21 or 24"));
  }
  SecretBytes entropy;
  if (status.ok()) {
    const size_t total_bits = words * kBitsPerWord;
    const size_t checksum_bits = total_bits / 33;
    const size_t entropy_bytes = (total_bits - checksum_bits) / 8;
    SecretBytes bits(entropy_bytes + 1);
    absl::Span<uint8_t> b = bits.RevealMutable();
    for (size_t i = 0; i < total_bits; ++i) {
      const int bit = (indices[i / kBitsPerWord] >> (kBitsPerWord - 1 - i % kBitsPerWord)) & 1;
      b[i / 8] = static_cast<uint8_t>(b[i / 8] | (bit << (7 - i % 8)));
    }
    entropy = SecretBytes::CopyFrom(bits.Reveal().subspan(0, entropy_bytes));
    crypto::Sha256Digest hash = crypto::Sha256(entropy.Reveal());
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - checksum_bits));
    const bool match = ((hash[0] ^ b[entropy_bytes]) & mask) == 0;
    WipeBytes(hash.data(), hash.size());
    if (!match) status = absl::InvalidArgumentError("BIP-39: mnemonic checksum mismatch");
  }
  WipeBytes(indices.data(), indices.size() * sizeof(uint16_t));
  if (!status.ok()) return status;
  return entropy;
}

absl::StatusOr<SecretBytes> MnemonicToSeed(const SecretBytes& mnemonic,
                                           const SecretBytes& passphrase) {
  if (passphrase.size() > kMaxPassphraseSize) {
    return absl::InvalidArgumentError(absl::StrCat("BIP-39: passphrase of ", passphrase.size(),
                                                   " bytes exceeds the limit"));
  }
  for (uint8_t c : passphrase.Reveal()) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "BIP-39: only printable ASCII passphrases are supported (no NFKD normalisation)");
    }
  }
  RETURN_IF_ERROR(MnemonicToEntropy(mnemonic).status());
  SecretBuilder salt_builder;
  salt_builder.Append(kSaltPrefix);
  salt_builder.Append(passphrase.Reveal());
  const SecretBytes salt = std::move(salt_builder).Finish();
  SecretBytes seed(kBip39SeedSize);
  const std::string_view m = mnemonic.RevealAsString();
  if (PKCS5_PBKDF2_HMAC(m.data(), static_cast<int>(m.size()), salt.Reveal().data(),
                        static_cast<int>(salt.size()), kPbkdf2Iterations, EVP_sha512(),
                        static_cast<int>(seed.size()), seed.RevealMutable().data()) != 1) {
    return absl::InternalError("BIP-39: PBKDF2-HMAC-SHA512 failed");
  }
  return seed;
}

}  // namespace lockout::hd
