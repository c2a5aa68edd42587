#pragma once

// `lockout create-key --import-mnemonic FILE | --import-seed FILE`: an existing HD wallet's seed,
// read (key_import.h's ReadPrivateKeyInput: a file, or - for stdin) and checked before anything is
// stored (docs/WALLET.md "HD keys").
//   mnemonic: a BIP-39 English mnemonic (12..24 words, single spaces, valid checksum); leading and
//             trailing whitespace ignored. The seed is BIP-39's, with an empty passphrase.
//   seed:     32..128 hex digits (16..64 bytes), optionally 0x-prefixed, surrounding whitespace
//             ignored: a BIP-32 / SLIP-10 seed as their test vectors give it.
// Errors: InvalidArgument naming word positions, sizes, never words or digits.
// Secrets: everything stays in SecretBytes. Thread-safety: pure functions.

#include "absl/status/statusor.h"
#include "src/common/secret_bytes.h"

namespace lockout::ops {

absl::StatusOr<SecretBytes> SeedFromMnemonicInput(const SecretBytes& input);
absl::StatusOr<SecretBytes> SeedFromHexInput(const SecretBytes& input);

}  // namespace lockout::ops
