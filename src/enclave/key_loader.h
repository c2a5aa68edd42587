#pragma once

// KeyLoader: one attested key-loading attempt (ARCHITECTURE §1 step 3, issue 4 item 2).
//
//   relay get_secret ──► {ciphertext, credentials}
//   RSA-2048 recipient key (generated once, at construction, in parallel with the first fetch)
//   NSM Attestation{public_key = RSA SPKI DER} ──► attestation document
//   KMS Decrypt{CiphertextBlob, EncryptionContext {"lockout:secret": NAME},
//               Recipient {document, RSAES_OAEP_SHA_256}}   (SigV4 with the relay's credentials)
//   CiphertextForRecipient ──► DecryptKmsEnvelope ──► PKCS#8 (SecretBytes, mlocked) ──► Signer
//       or an HD seed secret (hd/seed_secret.h: "lockout-hd-seed" v1) ──► HdKeyring (LoadKey only)
//   ──► the sealed signing policy's key pin, if any (signpolicy::CheckKeyPin): a key that does not
//       match is dropped before it is ever used (a ciphertext of another key under the same KMS
//       key, swapped into the secret store, cannot make the enclave sign with it)
//
// Every failure is classified (LoadFailure): a detailed status for the local log, a short reason
// that may be shown to peers (health), and how the retry loop should treat it. KMS AccessDenied
// is logged once, as an error naming the enclave's own PCR0 and PCR16 (NSM DescribePCR) so an
// operator can compare them with the key policy's kms:RecipientAttestation:ImageSha384 and PCR16
// (sealed signing policy, policy_seal.h) conditions.
//
// Secrets: the plaintext key and the credentials only ever sit in SecretBytes (and the KMS
// client's wiped buffers); no log line or error carries them.
// Thread-safety: Load() may be called from several threads at once (each call is independent;
// the recipient key is shared read-only once generated).

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/kms_client.h"
#include "src/crypto/openssl_util.h"
#include "src/enclave/hd_keyring.h"
#include "src/nsm/nsm_device.h"
#include "src/relay/relay_client.h"
#include "src/signer/signer.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::enclave {

// The encryption-context key `lockout create-key` binds the ciphertext to the secret with.
inline constexpr std::string_view kEncryptionContextSecretKey = "lockout:secret";

// LoadFailure::reason (and health's) when the decrypted key is not the one the policy pins.
inline constexpr std::string_view kKeyPinMismatchReason = "key does not match the policy's pin";

// How the retry loop treats a failed attempt.
enum class RetryClass {
  kTransient,  // relay down, KMS throttled/5xx, NSM busy: retry soon with backoff
  kSlow,       // needs an operator (policy denies, name not allowed): retry rarely
  kFatal,      // retrying cannot help (the decrypted key is not a usable key): stop
};

struct LoadFailure {
  absl::Status status;  // detailed; for the local log only
  std::string reason;   // short and generic ("relay unavailable"); may be shown to peers
  RetryClass retry = RetryClass::kTransient;
};

// What one load yields: a single signing key (`signer`) or an HD seed's keyring (`hd`); exactly
// one is set. Implicitly made from either (a LoadFunction may return a Signer).
struct LoadedKey {
  LoadedKey() = default;
  LoadedKey(std::unique_ptr<signer::Signer> s) : signer(std::move(s)) {}  // NOLINT: implicit
  LoadedKey(std::unique_ptr<HdKeyring> h) : hd(std::move(h)) {}           // NOLINT: implicit
  std::unique_ptr<signer::Signer> signer;
  std::unique_ptr<HdKeyring> hd;

  // The signer of a single key, or of an HD seed's master m (pins, health, logs).
  const signer::Signer* primary() const {
    return signer ? signer.get() : hd ? &hd->master() : nullptr;
  }
};

struct KeyLoaderOptions {
  std::string secret_name{};
  // When set, the decrypted key (an HD seed: its curve's key type) must be of this type.
  std::optional<signer::KeyType> key_type{};
  // Send EncryptionContext {"lockout:secret": secret_name} (what `lockout create-key` writes).
  // False for ciphertexts made by the seed's create_key.py, which used no context.
  bool use_encryption_context = true;
  // The sealed signing policy's "key" pin: a decrypted key that does not match is a fatal load
  // failure (kKeyPinMismatchReason; the detail names both fingerprints, which are public).
  std::optional<signpolicy::KeyPin> key_pin{};
  // An HD seed's bound on cached derived signers (HdKeyring).
  size_t hd_cache_size = kDefaultHdCacheSize;
};

class KeyLoader final {
 public:
  // `relay`, `nsm` and `kms` are borrowed and must outlive the loader; `credentials` is the
  // provider `kms` signs with (the loader Set()s the relay's credentials into it before every
  // Decrypt). Starts generating the RSA recipient key on a background thread at once.
  KeyLoader(const relay::RelayClient& relay, nsm::NsmDevice& nsm, awsclient::KmsClient& kms,
            std::shared_ptr<awsclient::StaticCredentialsProvider> credentials,
            KeyLoaderOptions options);
  ~KeyLoader();
  KeyLoader(const KeyLoader&) = delete;
  KeyLoader& operator=(const KeyLoader&) = delete;

  // One attempt. On failure returns the detailed status and fills `failure` (if not null).
  // A secret holding an HD seed gives a keyring (its pin is checked against the master m).
  absl::StatusOr<LoadedKey> LoadKey(LoadFailure* failure);
  // LoadKey() for a single key: an HD seed secret is a fatal "invalid signing key" failure.
  absl::StatusOr<std::unique_ptr<signer::Signer>> Load(LoadFailure* failure);

  const KeyLoaderOptions& options() const { return options_; }

 private:
  absl::StatusOr<const EVP_PKEY*> RecipientKey();
  void ReportAccessDenied(const absl::Status& status);

  const relay::RelayClient& relay_;
  nsm::NsmDevice& nsm_;
  awsclient::KmsClient& kms_;
  std::shared_ptr<awsclient::StaticCredentialsProvider> credentials_;
  const KeyLoaderOptions options_;
  std::shared_future<absl::StatusOr<crypto::EvpPkeyPtr>> recipient_key_;
  std::atomic<bool> access_denied_reported_{false};
};

}  // namespace lockout::enclave
