#include "src/enclave/key_loader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/awsclient/aws_call_error.h"
#include "src/awsclient/failure_hint.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/cms_envelope.h"
#include "src/crypto/rsa_key.h"
#include "src/hd/seed_secret.h"
#include "src/nsm/nsm_client.h"
#include "src/signer/key_memory_lock.h"

namespace lockout::enclave {
namespace {

void Fail(LoadFailure* out, absl::Status status, std::string_view reason, RetryClass retry) {
  if (out == nullptr) return;
  out->status = std::move(status);
  out->reason = std::string(reason);
  out->retry = retry;
}

bool IsTransientCode(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kResourceExhausted ||
         code == absl::StatusCode::kAborted;
}

absl::Status Annotate(std::string_view stage, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(Absl(stage), ": ", status.message()));
}

// `annotated` (Annotate("kms", kms_status)) with the classified hint for kms:Decrypt
// (awsclient/failure_hint.h), in lockout-enclave's terms: its endpoint, region and CA bundle are
// flags, not the AWS_* variables the shared words name.
absl::Status KmsHint(const absl::Status& kms_status, const absl::Status& annotated) {
  const awsclient::AwsFailureHint hint = awsclient::ExplainAwsFailure(
      kms_status, {.action = "kms:Decrypt",
                   .resource = "the key's ciphertext",
                   .region = "",
                   .if_missing = "",
                   .endpoint_setting = "--kms-endpoint (or AWS_ENDPOINT_URL_KMS)",
                   .region_setting = "--region",
                   .ca_bundle_setting = "--ca-bundle"});
  if (hint.next_step.empty()) return annotated;
  return absl::Status(annotated.code(), absl::StrCat(annotated.message(), "; ", hint.next_step));
}

}  // namespace

KeyLoader::KeyLoader(const relay::RelayClient& relay, nsm::NsmDevice& nsm,
                     awsclient::KmsClient& kms,
                     std::shared_ptr<awsclient::StaticCredentialsProvider> credentials,
                     KeyLoaderOptions options)
    : relay_(relay),
      nsm_(nsm),
      kms_(kms),
      credentials_(std::move(credentials)),
      options_(std::move(options)) {
  // RSA-2048 generation takes tens of milliseconds; it overlaps the relay round trip.
  recipient_key_ = std::async(std::launch::async, [] { return crypto::GenerateRsa2048Key(); });
}

KeyLoader::~KeyLoader() {
  if (recipient_key_.valid()) recipient_key_.wait();
}

absl::StatusOr<const EVP_PKEY*> KeyLoader::RecipientKey() {
  const absl::StatusOr<crypto::EvpPkeyPtr>& key = recipient_key_.get();
  if (!key.ok()) return key.status();
  return key->get();
}

void KeyLoader::ReportAccessDenied(const absl::Status& status) {
  if (access_denied_reported_.exchange(true)) return;
  // Our own PCR0 and PCR16, as KMS saw them in the attestation document: the values the key
  // policy's kms:RecipientAttestation:ImageSha384 (PCR0) and kms:RecipientAttestation:PCR16 (the
  // sealed signing policy, policy_seal.h) conditions must name for this enclave to decrypt.
  nsm::NsmClient client(nsm_);
  absl::StatusOr<nsm::DescribePcrResponse> pcr0 = client.DescribePcr(0);
  absl::StatusOr<nsm::DescribePcrResponse> pcr16 = client.DescribePcr(16);
  LogError("kms_access_denied",
           {{"secret", options_.secret_name},
            {"pcr0", pcr0.ok() ? HexEncode(pcr0->data) : std::string("unknown")},
            {"pcr0_error", pcr0.ok() ? std::string() : std::string(pcr0.status().message())},
            {"pcr16", pcr16.ok() ? HexEncode(pcr16->data) : std::string("unknown")},
            {"pcr16_locked", pcr16.ok() && pcr16->lock},
            {"pcr16_error", pcr16.ok() ? std::string() : std::string(pcr16.status().message())},
            {"error", std::string(status.message())},
            {"hint",
             "the KMS key policy does not allow Decrypt for this enclave: compare its "
             "kms:RecipientAttestation:ImageSha384 (or PCR0) condition with pcr0 above, and its "
             "kms:RecipientAttestation:PCR16 condition with pcr16 (the sealed signing policy: "
             "lockout signing-policy hash FILE)"}});
}

absl::StatusOr<std::unique_ptr<signer::Signer>> KeyLoader::Load(LoadFailure* failure) {
  absl::StatusOr<LoadedKey> loaded = LoadKey(failure);
  if (!loaded.ok()) return loaded.status();
  if (loaded->signer == nullptr) {
    absl::Status s = absl::FailedPreconditionError(
        "signing key: the secret is an HD seed, where a single key was expected");
    Fail(failure, s, "invalid signing key", RetryClass::kFatal);
    return s;
  }
  return std::move(loaded->signer);
}

absl::StatusOr<LoadedKey> KeyLoader::LoadKey(LoadFailure* failure) {
  // 1. Ciphertext and credentials from the relay.
  absl::StatusOr<relay::GetSecretReply> reply = relay_.GetSecret(options_.secret_name);
  if (!reply.ok()) {
    absl::Status s = Annotate("relay", reply.status());
    switch (reply.status().code()) {
      case absl::StatusCode::kPermissionDenied:
        Fail(failure, s, "relay refused the secret name", RetryClass::kSlow);
        break;
      case absl::StatusCode::kFailedPrecondition:
        Fail(failure, s, "secret unavailable", RetryClass::kSlow);
        break;
      default:
        Fail(failure, s, "relay unavailable",
             IsTransientCode(reply.status().code()) ? RetryClass::kTransient : RetryClass::kSlow);
    }
    return s;
  }
  credentials_->Set(std::move(reply->credentials));

  // 2. An attestation document carrying the recipient key.
  absl::StatusOr<const EVP_PKEY*> rsa = RecipientKey();
  if (!rsa.ok()) {
    absl::Status s = Annotate("recipient key", rsa.status());
    Fail(failure, s, "internal error", RetryClass::kFatal);
    return s;
  }
  absl::StatusOr<Bytes> spki = crypto::PublicKeyToSpkiDer(*rsa);
  if (!spki.ok()) {
    absl::Status s = Annotate("recipient key", spki.status());
    Fail(failure, s, "internal error", RetryClass::kFatal);
    return s;
  }
  nsm::NsmClient nsm(nsm_);
  absl::StatusOr<Bytes> document = nsm.Attestation(std::nullopt, std::nullopt, *spki);
  if (!document.ok()) {
    absl::Status s = Annotate("nsm", document.status());
    Fail(failure, s, "nsm unavailable", RetryClass::kTransient);
    return s;
  }

  // 3. KMS Decrypt for the attested recipient.
  awsclient::DecryptRequest request;
  request.ciphertext_blob = std::move(reply->secret);
  if (options_.use_encryption_context) {
    request.encryption_context[std::string(kEncryptionContextSecretKey)] = options_.secret_name;
  }
  request.recipient = awsclient::KmsRecipient{.attestation_document = *std::move(document)};
  absl::StatusOr<awsclient::DecryptResult> decrypted = kms_.Decrypt(request);
  if (!decrypted.ok()) {
    absl::Status s = Annotate("kms", decrypted.status());
    if (awsclient::IsAwsErrorType(decrypted.status(), "AccessDeniedException")) {
      ReportAccessDenied(decrypted.status());
      Fail(failure, s, "kms access denied", RetryClass::kSlow);
    } else if (IsTransientCode(decrypted.status().code())) {
      Fail(failure, KmsHint(decrypted.status(), s), "kms unavailable", RetryClass::kTransient);
    } else {
      Fail(failure, KmsHint(decrypted.status(), s), "kms refused the request", RetryClass::kSlow);
    }
    return s;
  }
  if (!decrypted->ciphertext_for_recipient.has_value()) {
    absl::Status s = absl::InternalError("kms: Decrypt reply without CiphertextForRecipient");
    Fail(failure, s, "kms refused the request", RetryClass::kSlow);
    return s;
  }

  // 4. Unwrap the envelope and parse the key.
  absl::StatusOr<SecretBytes> pkcs8 =
      crypto::DecryptKmsEnvelope(*rsa, *decrypted->ciphertext_for_recipient);
  if (!pkcs8.ok()) {
    absl::Status s = Annotate("kms envelope", pkcs8.status());
    Fail(failure, s, "kms envelope invalid", RetryClass::kSlow);
    return s;
  }
  signer::KeyMemoryLock::Process().Record("pkcs8", pkcs8->Lock());
  LoadedKey key;
  if (hd::LooksLikeSeedSecret(pkcs8->Reveal())) {
    // An HD seed (hd/seed_secret.h): the keyring derives a signer per path.
    absl::StatusOr<hd::SeedSecret> seed = hd::ParseSeedSecret(*pkcs8);
    pkcs8->Clear();
    absl::StatusOr<std::unique_ptr<HdKeyring>> ring =
        seed.ok() ? HdKeyring::FromSeed(seed->curve, std::move(seed->seed), options_.hd_cache_size)
                  : absl::StatusOr<std::unique_ptr<HdKeyring>>(seed.status());
    if (!ring.ok()) {
      absl::Status s = Annotate("HD seed", ring.status());
      Fail(failure, s, "invalid signing key", RetryClass::kFatal);
      return s;
    }
    key.hd = *std::move(ring);
  } else {
    absl::StatusOr<std::unique_ptr<signer::Signer>> signer = signer::Signer::FromPkcs8(*pkcs8);
    pkcs8->Clear();
    if (!signer.ok()) {
      absl::Status s = Annotate("signing key", signer.status());
      Fail(failure, s, "invalid signing key", RetryClass::kFatal);
      return s;
    }
    key.signer = *std::move(signer);
  }
  if (options_.key_type.has_value() && key.primary()->key_type() != *options_.key_type) {
    absl::Status s = absl::InvalidArgumentError(absl::StrCat(
        "signing key: private key is ", Absl(signer::KeyTypeName(key.primary()->key_type())),
        key.hd ? " (an HD seed)" : "", ", expected ",
        Absl(signer::KeyTypeName(*options_.key_type))));
    Fail(failure, s, "invalid signing key", RetryClass::kFatal);
    return s;
  }

  // 5. The policy's pin, before the key can reach a signing context. Fatal: the ciphertext in the
  // store is not the operator's key, and retrying fetches the same one (a replaced ciphertext is
  // an operator's or an attacker's act; the enclave must be restarted once it is put right).
  if (options_.key_pin.has_value()) {
    // An HD seed's pin names its master key m.
    absl::Status pinned = signpolicy::CheckKeyPin(*options_.key_pin, *key.primary());
    if (!pinned.ok()) {
      key = LoadedKey();
      LogError("key_pin_mismatch",
               {{"secret", options_.secret_name},
                {"error", std::string(pinned.message())},
                {"consequence", "the key is dropped unused; the enclave will not sign"}});
      Fail(failure, pinned, kKeyPinMismatchReason, RetryClass::kFatal);
      return pinned;
    }
  }
  return key;
}

}  // namespace lockout::enclave
