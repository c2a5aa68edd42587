#pragma once

// `lockout create-key`: a signing key whose private half only ever exists as KMS ciphertext.
//
//   1. generate a key pair of the requested type (signer::Signer::Generate, the same code the
//      enclave signs with, so the key is one the enclave can load);
//   2. export it as unencrypted PKCS#8 DER into SecretBytes;
//   3. KMS Encrypt under --kms-key with EncryptionContext {"lockout:secret": NAME} (the context
//      the enclave sends when it decrypts; a ciphertext copied under another secret name does not
//      decrypt);
//   4. store the CiphertextBlob as SecretBinary under NAME (CreateSecret; with `overwrite`, a new
//      version via PutSecretValue if the secret exists);
//   5. wipe the plaintext (SecretBytes) and drop the key; return the public key.
// The plaintext never leaves this process and is never logged or printed.
// CreateSigningKeyFrom does steps 2-5 for a key the caller made or imported (key_import.h):
// an imported key is stored exactly as a generated one.
// Errors: the AWS call's (AccessDenied, NotFound for the KMS key, ResourceExists for an existing
// secret without `overwrite`), with the step in the message. Thread-safety: reentrant.

#include <array>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/kms_client.h"
#include "src/awsclient/secrets_client.h"
#include "src/hd/extended_key.h"
#include "src/signer/signer.h"

namespace lockout::ops {

inline constexpr std::string_view kSecretContextKey = "lockout:secret";

// The encryption context lockout uses for the secret named `secret_name`.
awsclient::EncryptionContext SecretEncryptionContext(std::string_view secret_name);

struct CreateKeyOptions {
  std::string kms_key_id;                             // key id, ARN or alias
  std::string secret_name;                            // Secrets Manager name
  signer::KeyType key_type = signer::KeyType::kP521;  // the seed's curve
  bool overwrite = false;  // put a new version if the secret already exists
};

struct CreateKeyResult {
  signer::KeyType key_type = signer::KeyType::kP521;
  std::string public_key_pem;
  Bytes public_key_der;                         // SubjectPublicKeyInfo
  Bytes public_key_raw;                         // 04||X||Y or the 32-byte Ed25519 key
  std::optional<std::string> ethereum_address;  // secp256k1 only, EIP-55 checksummed
  // The signing policy's "key" member that pins this key (eth_address for secp256k1, otherwise
  // public_key_sha256), canonical JSON: {"eth_address":"0x..."}.
  std::string policy_pin;
  bool imported = false;
  // An HD seed secret (CreateHdKey): the public key, address and pin above are the master m's;
  // xpub is m's extended public key (secp256k1 only).
  bool hd = false;
  std::optional<std::string> xpub;
  std::string kms_key_arn;
  std::string secret_arn;
  std::string secret_version_id;
  size_t ciphertext_size = 0;
  nlohmann::ordered_json ToJson() const;
};

absl::StatusOr<CreateKeyResult> CreateSigningKey(awsclient::KmsClient& kms,
                                                 awsclient::SecretsClient& secrets,
                                                 const CreateKeyOptions& options);

// Steps 2-5 for `key` (options.key_type is ignored: the key's own type is stored). `imported`
// only changes the secret's description. `key` is destroyed before this returns.
absl::StatusOr<CreateKeyResult> CreateSigningKeyFrom(awsclient::KmsClient& kms,
                                                     awsclient::SecretsClient& secrets,
                                                     const CreateKeyOptions& options,
                                                     std::unique_ptr<signer::Signer> key,
                                                     bool imported);

// An HD seed secret (hd/seed_secret.h, docs/WALLET.md "HD keys"): CreateHdKey generates a
// 64-byte seed (RAND_bytes; never shown: like a generated key it exists only as ciphertext);
// CreateHdKeyFrom stores `seed` (an imported BIP-39 seed or raw seed; the caller wipes it).
// The result describes the master key m. Errors: as CreateSigningKey; InvalidArgument for a seed
// outside 16..64 bytes.
absl::StatusOr<CreateKeyResult> CreateHdKey(awsclient::KmsClient& kms,
                                            awsclient::SecretsClient& secrets,
                                            const CreateKeyOptions& options, hd::Curve curve);
absl::StatusOr<CreateKeyResult> CreateHdKeyFrom(awsclient::KmsClient& kms,
                                                awsclient::SecretsClient& secrets,
                                                const CreateKeyOptions& options, hd::Curve curve,
                                                const SecretBytes& seed, bool imported);

// The checksummed address of a secp256k1 public key given as 04||X||Y.
absl::StatusOr<std::string> AddressOfSecp256k1Key(ByteView uncompressed_point);

}  // namespace lockout::ops
