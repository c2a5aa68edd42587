#include "src/operator/create_key.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "openssl/rand.h"
#include "src/awsclient/aws_call_error.h"
#include "src/common/encoding.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/enclave/hd_keyring.h"
#include "src/eth/address.h"
#include "src/hd/bip39.h"
#include "src/hd/seed_secret.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::ops {
namespace {

absl::Status Step(std::string_view step, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(Absl(step), ": ", status.message()));
}

}  // namespace

awsclient::EncryptionContext SecretEncryptionContext(std::string_view secret_name) {
  return {{std::string(kSecretContextKey), std::string(secret_name)}};
}

absl::StatusOr<std::string> AddressOfSecp256k1Key(ByteView uncompressed_point) {
  absl::StatusOr<eth::Address> address = eth::EthereumAddress(uncompressed_point);
  if (!address.ok()) return address.status();
  return eth::ChecksumAddress(*address);
}

absl::StatusOr<CreateKeyResult> CreateSigningKey(awsclient::KmsClient& kms,
                                                 awsclient::SecretsClient& secrets,
                                                 const CreateKeyOptions& options) {
  if (options.kms_key_id.empty()) return absl::InvalidArgumentError("--kms-key is required");
  if (options.secret_name.empty()) return absl::InvalidArgumentError("--secret is required");
  absl::StatusOr<std::unique_ptr<signer::Signer>> signer =
      signer::Signer::Generate(options.key_type);
  if (!signer.ok()) return Step("generating the key", signer.status());
  return CreateSigningKeyFrom(kms, secrets, options, *std::move(signer), /*imported=*/false);
}

namespace {

// The public half of `signer` (the key, or an HD seed's master m) into `result`.
absl::Status FillPublic(const signer::Signer& key, CreateKeyResult& result) {
  result.key_type = key.key_type();
  result.public_key_pem = key.public_key_pem();
  result.public_key_der = key.public_key_der();
  result.public_key_raw = key.public_key_raw();
  if (result.key_type == signer::KeyType::kSecp256k1) {
    absl::StatusOr<std::string> address = AddressOfSecp256k1Key(result.public_key_raw);
    if (!address.ok()) return Step("deriving the address", address.status());
    result.ethereum_address = *address;
  }
  absl::StatusOr<signpolicy::KeyPin> pin =
      signpolicy::PinOfKey(key, result.key_type == signer::KeyType::kSecp256k1
                                    ? signpolicy::KeyPinKind::kEthAddress
                                    : signpolicy::KeyPinKind::kPublicKeySha256);
  if (!pin.ok()) return Step("computing the policy pin", pin.status());
  result.policy_pin = signpolicy::KeyPinJson(*pin);
  return absl::OkStatus();
}

// Steps 3-4 for `plaintext` (a PKCS#8 key or an HD seed secret): KMS Encrypt, store.
absl::Status EncryptAndStore(awsclient::KmsClient& kms, awsclient::SecretsClient& secrets,
                             const CreateKeyOptions& options, const SecretBytes& plaintext,
                             std::string_view form, CreateKeyResult& result) {
  awsclient::EncryptResult encrypted;
  {
    absl::StatusOr<awsclient::EncryptResult> r =
        kms.Encrypt(options.kms_key_id, plaintext, SecretEncryptionContext(options.secret_name));
    if (!r.ok()) return Step("KMS Encrypt", r.status());
    encrypted = *std::move(r);
  }
  result.kms_key_arn = encrypted.key_id;
  result.ciphertext_size = encrypted.ciphertext_blob.size();

  // The ciphertext is not secret, but the secrets client takes SecretBytes for every value.
  const SecretBytes value = SecretBytes::CopyFrom(ByteView(encrypted.ciphertext_blob));
  awsclient::CreateSecretOptions create;
  create.description =
      absl::StrCat("lockout signing key (", Absl(signer::KeyTypeName(result.key_type)),
                   result.hd ? ", HD seed" : "", result.imported ? ", imported" : "", "), ",
                   Absl(form), " encrypted under ", result.kms_key_arn);
  absl::StatusOr<awsclient::SecretVersionRef> stored =
      secrets.CreateSecret(options.secret_name, value, awsclient::SecretKind::kBinary, create);
  if (!stored.ok() && options.overwrite &&
      awsclient::IsAwsErrorType(stored.status(), "ResourceExistsException")) {
    stored = secrets.PutSecretValue(options.secret_name, value, awsclient::SecretKind::kBinary);
  }
  if (!stored.ok()) {
    if (awsclient::IsAwsErrorType(stored.status(), "ResourceExistsException")) {
      return absl::AlreadyExistsError(absl::StrCat(
          "Secrets Manager CreateSecret: a secret named \"", options.secret_name,
          "\" already exists; pass --overwrite to store the new key as its current version"));
    }
    return Step("Secrets Manager CreateSecret", stored.status());
  }
  result.secret_arn = stored->arn;
  result.secret_version_id = stored->version_id;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CreateKeyResult> CreateSigningKeyFrom(awsclient::KmsClient& kms,
                                                     awsclient::SecretsClient& secrets,
                                                     const CreateKeyOptions& options,
                                                     std::unique_ptr<signer::Signer> signer,
                                                     bool imported) {
  if (options.kms_key_id.empty()) return absl::InvalidArgumentError("--kms-key is required");
  if (options.secret_name.empty()) return absl::InvalidArgumentError("--secret is required");
  if (signer == nullptr) return absl::InvalidArgumentError("no key");
  CreateKeyResult result;
  result.imported = imported;
  RETURN_IF_ERROR(FillPublic(*signer, result));
  // The plaintext lives only in this scope, in SecretBytes (wiped on destruction).
  absl::StatusOr<SecretBytes> pkcs8 = signer->ExportPkcs8();
  signer.reset();
  if (!pkcs8.ok()) return Step("exporting PKCS#8", pkcs8.status());
  RETURN_IF_ERROR(EncryptAndStore(kms, secrets, options, *pkcs8, "PKCS#8", result));
  return result;
}

absl::StatusOr<CreateKeyResult> CreateHdKeyFrom(awsclient::KmsClient& kms,
                                                awsclient::SecretsClient& secrets,
                                                const CreateKeyOptions& options, hd::Curve curve,
                                                const SecretBytes& seed, bool imported) {
  if (options.kms_key_id.empty()) return absl::InvalidArgumentError("--kms-key is required");
  if (options.secret_name.empty()) return absl::InvalidArgumentError("--secret is required");
  CreateKeyResult result;
  result.imported = imported;
  result.hd = true;
  {
    absl::StatusOr<std::unique_ptr<signer::Signer>> master =
        enclave::DeriveSigner(curve, seed, hd::DerivationPath());
    if (!master.ok()) return Step("deriving the master key", master.status());
    RETURN_IF_ERROR(FillPublic(**master, result));
  }
  absl::StatusOr<std::optional<std::string>> xpub = enclave::MasterXpub(curve, seed);
  if (!xpub.ok()) return Step("serializing the xpub", xpub.status());
  result.xpub = *std::move(xpub);
  absl::StatusOr<SecretBytes> plaintext = hd::EncodeSeedSecret(curve, seed);
  if (!plaintext.ok()) return plaintext.status();
  RETURN_IF_ERROR(EncryptAndStore(kms, secrets, options, *plaintext, "lockout-hd-seed v1", result));
  return result;
}

absl::StatusOr<CreateKeyResult> CreateHdKey(awsclient::KmsClient& kms,
                                            awsclient::SecretsClient& secrets,
                                            const CreateKeyOptions& options, hd::Curve curve) {
  SecretBytes seed(hd::kBip39SeedSize);
  if (RAND_bytes(seed.RevealMutable().data(), static_cast<int>(seed.size())) != 1) {
    return absl::InternalError("generating the seed: RAND_bytes failed");
  }
  return CreateHdKeyFrom(kms, secrets, options, curve, seed, /*imported=*/false);
}

nlohmann::ordered_json CreateKeyResult::ToJson() const {
  nlohmann::ordered_json out;
  out["key_type"] = std::string(signer::KeyTypeName(key_type));
  out["public_key_pem"] = public_key_pem;
  out["public_key_raw"] = HexEncode(public_key_raw);
  if (ethereum_address) out["address"] = *ethereum_address;
  if (!policy_pin.empty()) out["policy_pin"] = nlohmann::ordered_json::parse(policy_pin);
  if (hd) {
    out["hd"] = true;  // the public key, address and pin above are the master key m's
    if (xpub) out["xpub"] = *xpub;
  }
  out["imported"] = imported;
  out["kms_key_arn"] = kms_key_arn;
  out["secret_arn"] = secret_arn;
  out["secret_version_id"] = secret_version_id;
  out["ciphertext_size"] = ciphertext_size;
  return out;
}

}  // namespace lockout::ops
