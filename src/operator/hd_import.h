#pragma once

// `lockout create-key --import-mnemonic FILE | --import-seed FILE`: an existing HD wallet's seed,
// read (key_import.h's ReadPrivateKeyInput: a file, or - for stdin) and checked before anything is
// stored (docs/WALLET.md "HD keys").
//   mnemonic: a BIP-39 English mnemonic (12..24 words, single spaces, valid checksum); leading and
//             trailing whitespace ignored. The seed is BIP-39's, with the passphrase (empty
//             unless --mnemonic-passphrase-file FILE gives one).
//   passphrase: the file's bytes, less one final line ending ("\n" or "\r\n", as an editor or
//             `echo` leaves it); every other byte counts, spaces included. An empty file (or one
//             holding only a line ending) is the empty passphrase. Printable ASCII only, at most
//             hd::kMaxPassphraseSize bytes: BIP-39 hashes the NFKD form, and lockout has no
//             Unicode normaliser, so anything else is refused rather than hashed unnormalised
//             (hd/bip39.h).
//   seed:     32..128 hex digits (16..64 bytes), optionally 0x-prefixed, surrounding whitespace
//             ignored: a BIP-32 / SLIP-10 seed as their test vectors give it.
// Errors: InvalidArgument naming word positions, sizes, never words or digits.
// Secrets: everything stays in SecretBytes. Thread-safety: pure functions.

#include "absl/status/statusor.h"
#include "src/common/secret_bytes.h"

namespace lockout::ops {

absl::StatusOr<SecretBytes> SeedFromMnemonicInput(const SecretBytes& input,
                                                  const SecretBytes& passphrase_input);
// The passphrase in a passphrase file's contents (above). Errors: none; MnemonicToSeed checks it.
SecretBytes PassphraseFromInput(const SecretBytes& passphrase_input);
absl::StatusOr<SecretBytes> SeedFromHexInput(const SecretBytes& input);

}  // namespace lockout::ops
