#pragma once

// BIP-39 mnemonics (English word list only): entropy <-> mnemonic, mnemonic -> seed.
//
// Everything here is key material: entropy, mnemonic and seed are SecretBytes, intermediate
// buffers are wiped, and errors name word positions and sizes, never words.
//
// Normalisation: BIP-39 hashes the NFKD form of the mnemonic and of "mnemonic" + passphrase.
// lockout has no Unicode normaliser, so only ASCII is accepted (NFKD of ASCII is itself): a
// passphrase with any byte >= 0x80 (or a control character) is rejected with InvalidArgument
// rather than silently producing a seed other wallets would not reproduce.
//
// Mnemonic syntax: lower-case English words separated by single ASCII spaces, 12, 15, 18, 21 or
// 24 of them, each in the list, with a valid checksum.
// Thread-safe (no shared state).

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/secret_bytes.h"

namespace lockout::hd {

inline constexpr size_t kBip39SeedSize = 64;
inline constexpr size_t kMaxMnemonicSize = 24 * 9;  // 24 words of at most 8 letters, 23 spaces
inline constexpr size_t kMaxPassphraseSize = 1024;

// The mnemonic for 16, 20, 24, 28 or 32 bytes of entropy (128-256 bits).
// Errors: InvalidArgument for any other size.
absl::StatusOr<SecretBytes> EntropyToMnemonic(const SecretBytes& entropy);

// Validates a mnemonic (syntax, words, checksum) and returns its entropy.
// Errors: InvalidArgument naming the first problem (word count, position of an unknown word,
// checksum mismatch).
absl::StatusOr<SecretBytes> MnemonicToEntropy(const SecretBytes& mnemonic);

// The 64-byte seed: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" + passphrase, 2048 iterations).
// The mnemonic is validated first (MnemonicToEntropy); the passphrase must be printable ASCII
// (see above) of at most kMaxPassphraseSize bytes. Errors: InvalidArgument for either;
// Internal if OpenSSL fails.
absl::StatusOr<SecretBytes> MnemonicToSeed(const SecretBytes& mnemonic,
                                           const SecretBytes& passphrase);

}  // namespace lockout::hd
