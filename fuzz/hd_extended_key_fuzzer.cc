// libFuzzer target: untrusted HD key text (src/hd/extended_key.h, src/hd/bip39.h): xprv and
// xpub strings, and BIP-39 mnemonics.
//
// The input is tried as each. Properties checked (abort on violation):
//   * failures are InvalidArgument with a bounded printable message (never key material);
//   * a parsed xprv serializes back to the input, and its xpub parses to the same public key;
//     a parsed xpub serializes back to the input; when a normal child exists, deriving it from
//     the xprv and from the xpub gives the same public key and chain code;
//   * a valid mnemonic's entropy gives back the same mnemonic.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/hd/bip39.h"
#include "src/hd/extended_key.h"

namespace hd = lockout::hd;
using lockout::SecretBytes;
using lockout::fuzz::Check;

namespace {

void CheckParseError(const absl::Status& status) {
  lockout::fuzz::CheckErrorMessage(status, 200);
  Check(status.code() == absl::StatusCode::kInvalidArgument, "not InvalidArgument");
}

void FuzzXprv(std::string_view text) {
  absl::StatusOr<hd::ExtendedPrivateKey> key = hd::ExtendedPrivateKey::ParseXprv(text);
  if (!key.ok()) return CheckParseError(key.status());
  absl::StatusOr<SecretBytes> again = key->ToXprv();
  Check(again.ok() && again->RevealAsString() == text, "xprv round trip");
  absl::StatusOr<std::string> xpub = key->Public().ToXpub();
  Check(xpub.ok(), "xpub of a parsed xprv");
  absl::StatusOr<hd::ExtendedPublicKey> pub = hd::ExtendedPublicKey::ParseXpub(*xpub);
  Check(pub.ok() && pub->public_key() == key->public_key(), "xpub of a parsed xprv parses");
  if (key->depth() < 255) {
    absl::StatusOr<hd::ExtendedPrivateKey> child = key->Derive(7);
    absl::StatusOr<hd::ExtendedPublicKey> pub_child = pub->Derive(7);
    Check(child.ok() == pub_child.ok(), "private and public derivation disagree on validity");
    if (child.ok()) {
      Check(child->public_key() == pub_child->public_key() &&
                lockout::ToString(child->chain_code().Reveal()) ==
                    lockout::ToString(pub_child->chain_code()),
            "private and public derivation disagree");
    }
  }
}

void FuzzXpub(std::string_view text) {
  absl::StatusOr<hd::ExtendedPublicKey> key = hd::ExtendedPublicKey::ParseXpub(text);
  if (!key.ok()) return CheckParseError(key.status());
  absl::StatusOr<std::string> again = key->ToXpub();
  Check(again.ok() && *again == text, "xpub round trip");
}

void FuzzMnemonic(std::string_view text) {
  if (text.size() > 4 * hd::kMaxMnemonicSize) return;
  const SecretBytes mnemonic = SecretBytes::CopyFrom(text);
  absl::StatusOr<SecretBytes> entropy = hd::MnemonicToEntropy(mnemonic);
  if (!entropy.ok()) return CheckParseError(entropy.status());
  absl::StatusOr<SecretBytes> words = hd::EntropyToMnemonic(*entropy);
  Check(words.ok() && words->Equals(mnemonic), "mnemonic round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  FuzzXprv(text);
  FuzzXpub(text);
  FuzzMnemonic(text);
  return 0;
}
