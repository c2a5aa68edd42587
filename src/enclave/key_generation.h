#pragma once

// KeyGenerator: a signing key born in the enclave (issue 14 item 6; docs/SECURITY.md "Keys born
// in the enclave"; the v2 op `generate_key`, docs/PROTOCOL.md §2).
//
//   NSM GetRandom (256 bytes) ──► RAND_add into OpenSSL's generator
//   signer::Signer::Generate(key_type) ──► PKCS#8 (SecretBytes, mlocked)
//   relay get_credentials ──► KMS Encrypt{KeyId = the request's key ARN, Plaintext = PKCS#8,
//                                         EncryptionContext {"lockout:secret": NAME}}
//   check the reply's KeyId is that ARN ──► relay put_secret(NAME, CiphertextBlob) (write-once)
//   KeyManager::Install(signer) ──► NSM Attestation{public_key = SPKI, user_data = SHA-256(SPKI)}
//
// The ciphertext is exactly what `lockout create-key` stores (same key, same context), so
// KeyLoader decrypts it on every later boot; the plaintext never leaves the enclave. The reply's
// attestation document is the `attest` op's (AttestSigningKey below): a client verifies it and
// learns that this enclave image holds the private half of that public key.
//
// Why the KMS key is named by the request and checked in the reply: the enclave has no other
// source for it (its image is the same for every deployment), and under a signing policy the
// request is signed by an authorised client, so root on the parent can neither change it nor
// make KMS encrypt under another key without the KeyId check failing. Without a signing policy
// the parent can send its own generate_key; what it gets is a key it cannot read, stored under the
// one --secret name, and only while no key is loaded (docs/SECURITY.md).
//
// An HD seed instead (the request's "hd": true; docs/WALLET.md "HD keys"): after the same
// entropy mixing, RAND_bytes gives a 64-byte seed; its master key m is derived (HdKeyring) before
// anything is stored, the seed secret (hd/seed_secret.h, "lockout-hd-seed" v1) is encrypted and
// stored exactly as a PKCS#8 key would be, and the keyring is installed. The document's
// public_key is m's SPKI, its nonce the same GenerateKeyBinding, and its user_data
// attest::GenerateHdBinding(SPKI, xpub): the client checks the xpub it derives children from.
//
// Thread-safety: Generate() may be called concurrently; calls are serialised (one at a time).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/kms_client.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/enclave/hd_keyring.h"
#include "src/enclave/key_manager.h"
#include "src/nsm/nsm_device.h"
#include "src/relay/relay_client.h"
#include "src/signer/signer.h"

namespace lockout::enclave {

inline constexpr std::string_view kGenerateKeyOp = "generate_key";
// Bytes of NSM entropy mixed into OpenSSL's generator before a key is generated.
inline constexpr size_t kNsmEntropyBytes = 256;
// Longest "kms_key" a request may carry (an ARN is well under this).
inline constexpr size_t kMaxKmsKeyArnSize = 2048;

struct GenerateKeyRequest {
  signer::KeyType key_type = signer::KeyType::kP256;
  std::string secret_name;
  std::string kms_key_arn;  // arn:<partition>:kms:<region>:<account>:key/<id>
  bool hd = false;          // an HD seed of key_type's curve instead of a key
};

// The members of a v2 generate_key request ({"key_type", "secret_name", "kms_key"}, optional
// "hd"; id, op, key and auth are the handler's). InvalidArgument naming the member, never its
// value: a member missing or not a string, an unknown key type, a name ValidateSecretName
// refuses, a kms_key that is not a KMS key ARN (an alias or bare id is refused: the reply's KeyId
// is compared with it), an "hd" that is not a boolean, "hd": true with a key type that has no HD
// scheme (p384, p521).
absl::StatusOr<GenerateKeyRequest> ParseGenerateKeyRequest(const nlohmann::json& request);

// True for "arn:<partition>:kms:<region>:<12 digits>:key/<id>" (printable ASCII, no spaces).
bool IsKmsKeyArn(std::string_view text);

// What the enclave talks to while generating: KMS Encrypt with the instance role's credentials,
// and the relay's put_secret. A seam for tests.
class KeyGenerationBackend {
 public:
  virtual ~KeyGenerationBackend() = default;
  // KMS Encrypt of `plaintext` under `key_id` with `context`. Errors as KmsClient::Encrypt's (or
  // the relay's, for the credentials).
  virtual absl::StatusOr<awsclient::EncryptResult> Encrypt(
      std::string_view key_id, const SecretBytes& plaintext,
      const awsclient::EncryptionContext& context) = 0;
  // Stores `ciphertext` under `secret_name` (relay put_secret); the VersionId. AlreadyExists
  // when the secret exists and the relay does not allow overwriting.
  virtual absl::StatusOr<std::string> Store(std::string_view secret_name, ByteView ciphertext) = 0;
};

// The real backend: credentials from the relay's get_credentials, set into the provider `kms`
// signs with, then Encrypt; put_secret through the same relay. All borrowed.
class RelayKmsBackend final : public KeyGenerationBackend {
 public:
  RelayKmsBackend(const relay::RelayClient& relay, awsclient::KmsClient& kms,
                  std::shared_ptr<awsclient::StaticCredentialsProvider> credentials)
      : relay_(relay), kms_(kms), credentials_(std::move(credentials)) {}
  absl::StatusOr<awsclient::EncryptResult> Encrypt(
      std::string_view key_id, const SecretBytes& plaintext,
      const awsclient::EncryptionContext& context) override;
  absl::StatusOr<std::string> Store(std::string_view secret_name, ByteView ciphertext) override;

 private:
  const relay::RelayClient& relay_;
  awsclient::KmsClient& kms_;
  std::shared_ptr<awsclient::StaticCredentialsProvider> credentials_;
};

// An NSM attestation document for `signer`'s public key, as the `attest` op makes it:
// public_key = the SPKI (DER), user_data = SHA-256(SPKI), nonce as given.
absl::StatusOr<Bytes> AttestSigningKey(nsm::NsmDevice& nsm, const signer::Signer& signer,
                                       std::optional<ByteView> nonce);

struct GeneratedKey {
  // Installed in the KeyManager (owned by it): the key, or for an HD seed its master m's signer.
  const signer::Signer* signer = nullptr;
  bool hd = false;
  std::optional<std::string> xpub;  // HD secp256k1: m's xpub
  std::string version_id;           // of the stored secret
  std::string kms_key_arn;          // the key KMS encrypted under (== the request's)
  // AttestSigningKey(signer, nonce = attest::GenerateKeyBinding(secret, ARN)); HD: user_data is
  // attest::GenerateHdBinding(m's SPKI, xpub or "") instead.
  Bytes document;
};

class KeyGenerator final {
 public:
  // `secret_name`: the enclave's --secret (the only name it generates for). `backend`, `nsm` and
  // `keys` are borrowed and must outlive the generator.
  KeyGenerator(std::string secret_name, KeyGenerationBackend& backend, nsm::NsmDevice& nsm,
               KeyManager& keys)
      : secret_name_(std::move(secret_name)), backend_(backend), nsm_(nsm), keys_(keys) {}

  // Generates, encrypts, stores and installs a key. Errors (the message is for the local log;
  // the handler maps codes to generic reasons):
  //   InvalidArgument     the request's secret_name is not --secret
  //   FailedPrecondition  a key is loaded already (nothing is generated), or KMS encrypted under
  //                       a key other than the request's (nothing is stored)
  //   AlreadyExists       the secret exists (write-once): nothing is installed
  //   others              NSM, KMS or relay failures, with their codes
  // The attestation is made last: if only it fails, the key is stored and installed (the error
  // is Unavailable "attestation: ..."; the `attest` op can be asked again).
  absl::StatusOr<GeneratedKey> Generate(const GenerateKeyRequest& request);

 private:
  absl::Status MixNsmEntropy();
  // The plaintext to store and what to install: a key's PKCS#8, or an HD seed secret.
  struct Made;
  absl::StatusOr<Made> Make(const GenerateKeyRequest& request);

  const std::string secret_name_;
  KeyGenerationBackend& backend_;
  nsm::NsmDevice& nsm_;
  KeyManager& keys_;
  absl::Mutex mu_;  // one generation at a time
};

// The v2 op for the request handler (request_handler.h), after its signing-policy check:
//   {"id": ID, "op": "generate_key", "key_type": T, "secret_name": NAME, "kms_key": ARN
//    [, "hd": true]}
//   -> {"id": ID, "ok": true, "key_type": T, "public_key_pem": .., "spki_der": B64,
//       "public_key_raw": HEX, "secret_name": NAME, "version_id": V, "kms_key": ARN,
//       "document": B64, "spki_sha256": HEX [, "hd": true [, "xpub": XPUB]]}
// (HD: the public key is the master m's; "xpub" for secp256k1.)
// Errors: "bad request" (members, or a name that is not --secret), "key loaded" (a key is loaded
// already), "secret exists" (write-once), "kms refused the request" (KMS refused Encrypt, or
// encrypted under another key), "attestation unavailable" (the key is stored and installed; ask
// `attest`), "unknown op" (no generator: an ephemeral key), "internal error" otherwise.
// `verdict` and `rule` are for the audit record ("signed" and "" when a key was generated).
struct GenerateKeyReply {
  nlohmann::json body;
  std::string_view verdict;
  std::string rule;
};
GenerateKeyReply HandleGenerateKeyOp(KeyGenerator* generator, const nlohmann::json& id,
                                     const nlohmann::json& request);

}  // namespace lockout::enclave
