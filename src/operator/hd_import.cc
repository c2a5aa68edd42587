#include "src/operator/hd_import.h"

#include "absl/strings/str_cat.h"
#include "src/hd/bip39.h"
#include "src/hd/extended_key.h"

namespace lockout::ops {
namespace {

bool IsSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

ByteView Trimmed(const SecretBytes& input) {
  const ByteView all = input.Reveal();
  size_t begin = 0;
  size_t end = all.size();
  while (begin < end && IsSpace(all[begin])) ++begin;
  while (end > begin && IsSpace(all[end - 1])) --end;
  return all.subspan(begin, end - begin);
}

int HexValue(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

SecretBytes PassphraseFromInput(const SecretBytes& passphrase_input) {
  ByteView text = passphrase_input.Reveal();
  if (!text.empty() && text.back() == '\n') {
    text = text.first(text.size() - 1);
    if (!text.empty() && text.back() == '\r') text = text.first(text.size() - 1);
  }
  return SecretBytes::CopyFrom(text);
}

absl::StatusOr<SecretBytes> SeedFromMnemonicInput(const SecretBytes& input,
                                                  const SecretBytes& passphrase_input) {
  const ByteView text = Trimmed(input);
  if (text.empty()) return absl::InvalidArgumentError("the mnemonic input is empty");
  if (text.size() > hd::kMaxMnemonicSize) {
    return absl::InvalidArgumentError(absl::StrCat("the mnemonic input is ", text.size(),
                                                   " bytes, longer than any BIP-39 mnemonic"));
  }
  const SecretBytes mnemonic = SecretBytes::CopyFrom(text);
  return hd::MnemonicToSeed(mnemonic, PassphraseFromInput(passphrase_input));
}

absl::StatusOr<SecretBytes> SeedFromHexInput(const SecretBytes& input) {
  ByteView text = Trimmed(input);
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text = text.subspan(2);
  }
  if (text.size() % 2 != 0 || text.size() < 2 * hd::kMinSeedSize ||
      text.size() > 2 * hd::kMaxSeedSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("a seed is 32 to 128 hex digits (16 to 64 bytes), an even number; saw ",
                     text.size(), " characters"));
  }
  SecretBytes seed(text.size() / 2);
  absl::Span<uint8_t> out = seed.RevealMutable();
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(text[2 * i]);
    const int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("the seed is not hex (character ", 2 * i + (hi < 0 ? 1 : 2), ")"));
    }
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return seed;
}

}  // namespace lockout::ops
