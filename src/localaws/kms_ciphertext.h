#pragma once

// The ciphertext blobs of the local KMS (ARCHITECTURE §5): AES-256-GCM under a key's 32-byte
// material, carrying the key id, with the encryption context bound as additional authenticated
// data.
//
// Blob layout (all lengths fixed except the ciphertext):
//   version   1 byte   0x01
//   key id   36 bytes  the KMS key id, a lower-case UUID in ASCII (8-4-4-4-12)
//   nonce    12 bytes  random per encryption
//   ct        n bytes  AES-256-GCM ciphertext of the plaintext (1 <= n <= kMaxKmsPlaintextSize)
//   tag      16 bytes  GCM tag
// AAD = "lockout-kms-blob" ‖ version ‖ key id ‖ CanonicalEncryptionContext(context), so a blob
// opens only under its own key, with its own key id and with exactly the context it was sealed
// with. This is our own format (AWS does not publish its), and AWS clients treat blobs as opaque.
//
// Errors never carry plaintext or key bytes. Thread-safe (pure functions).

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"

namespace lockout::localaws {

inline constexpr uint8_t kKmsBlobVersion = 0x01;
inline constexpr size_t kKmsKeyIdSize = 36;
inline constexpr size_t kKmsNonceSize = 12;
inline constexpr size_t kKmsTagSize = 16;
inline constexpr size_t kKmsKeyMaterialSize = 32;
inline constexpr size_t kKmsBlobOverhead = 1 + kKmsKeyIdSize + kKmsNonceSize + kKmsTagSize;
// KMS limits: plaintext 1..4096 bytes, ciphertext blob 1..6144 bytes.
inline constexpr size_t kMaxKmsPlaintextSize = 4096;
inline constexpr size_t kMaxKmsCiphertextSize = 6144;

using EncryptionContext = std::map<std::string, std::string>;

// The parts of a blob, before authentication: nothing in here is trusted until OpenKmsBlob
// succeeds.
struct KmsBlobParts {
  std::string key_id;
  ByteView nonce;       // points into the parsed blob
  ByteView ciphertext;  // points into the parsed blob
  ByteView tag;         // points into the parsed blob
};

// True for a lower-case or upper-case 8-4-4-4-12 hex UUID (the KMS key id syntax).
bool IsKmsKeyId(std::string_view s);

// A fresh random key id (UUID version 4, lower case).
std::string NewKmsKeyId();

// The AAD encoding of a context: for each pair in byte order of the keys,
// u32be(len(key)) ‖ key ‖ u32be(len(value)) ‖ value. Unambiguous, independent of the JSON
// order the client sent.
Bytes CanonicalEncryptionContext(const EncryptionContext& context);

// Splits a blob into its parts (syntax only). InvalidArgument if it is shorter than
// kKmsBlobOverhead + 1, longer than kMaxKmsCiphertextSize, has another version or a key id
// that is not a UUID. The views in the result point into `blob`.
absl::StatusOr<KmsBlobParts> ParseKmsBlob(ByteView blob);

// Encrypts `plaintext` (1..kMaxKmsPlaintextSize bytes) under `material` (32 bytes) for key
// `key_id` (a UUID) with a fresh random nonce. InvalidArgument for bad sizes or key id.
absl::StatusOr<Bytes> SealKmsBlob(const SecretBytes& material, std::string_view key_id,
                                  ByteView plaintext, const EncryptionContext& context);

// Authenticates and decrypts a blob whose key id is `parts.key_id` and whose key material is
// `material`. PermissionDenied when the tag does not verify (wrong key, wrong context, any bit
// flipped); the caller reports InvalidCiphertextException.
absl::StatusOr<SecretBytes> OpenKmsBlob(const SecretBytes& material, const KmsBlobParts& parts,
                                        const EncryptionContext& context);

}  // namespace lockout::localaws
