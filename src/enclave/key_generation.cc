#include "src/enclave/key_generation.h"

#include <openssl/rand.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/attest/reply_binding.h"
#include "src/audit/audit_record.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/enclave/key_loader.h"
#include "src/hd/bip39.h"
#include "src/hd/seed_secret.h"
#include "src/nsm/nsm_client.h"
#include "src/relay/relay_protocol.h"
#include "src/signer/key_memory_lock.h"

namespace lockout::enclave {
namespace {

absl::Status Annotate(std::string_view stage, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(Absl(stage), ": ", status.message()));
}

absl::StatusOr<std::string> RequiredString(const nlohmann::json& request, const char* name) {
  auto it = request.find(name);
  if (it == request.end() || !it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("field \"", name, "\" missing or not a string"));
  }
  return it->get<std::string>();
}

}  // namespace

bool IsKmsKeyArn(std::string_view text) {
  if (text.empty() || text.size() > kMaxKmsKeyArnSize) return false;
  for (char c : text) {
    if (c <= 0x20 || c > 0x7e) return false;
  }
  // arn:PARTITION:kms:REGION:ACCOUNT:key/ID (AWS's ARN format for a KMS key).
  std::vector<std::string_view> parts;
  size_t from = 0;
  while (parts.size() < 5) {
    const size_t colon = text.find(':', from);
    if (colon == std::string_view::npos) break;
    parts.push_back(text.substr(from, colon - from));
    from = colon + 1;
  }
  parts.push_back(text.substr(from));
  if (parts.size() != 6 || parts[0] != "arn" || parts[1].empty() || parts[2] != "kms" ||
      parts[3].empty() || parts[4].size() != 12) {
    return false;
  }
  for (char c : parts[4]) {
    if (c < '0' || c > '9') return false;
  }
  return parts[5].starts_with("key/") && parts[5].size() > 4 &&
         parts[5].find(':') == std::string_view::npos &&
         parts[5].find('/', 4) == std::string_view::npos;
}

absl::StatusOr<GenerateKeyRequest> ParseGenerateKeyRequest(const nlohmann::json& request) {
  GenerateKeyRequest out;
  ASSIGN_OR_RETURN(std::string type, RequiredString(request, "key_type"));
  absl::StatusOr<signer::KeyType> key_type = signer::ParseKeyType(type);
  if (!key_type.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field \"key_type\": unknown key type of ", type.size(), " bytes"));
  }
  out.key_type = *key_type;
  ASSIGN_OR_RETURN(out.secret_name, RequiredString(request, "secret_name"));
  if (absl::Status valid = relay::ValidateSecretName(out.secret_name); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("field \"secret_name\": ", valid.message()));
  }
  ASSIGN_OR_RETURN(out.kms_key_arn, RequiredString(request, "kms_key"));
  if (!IsKmsKeyArn(out.kms_key_arn)) {
    return absl::InvalidArgumentError(
        "field \"kms_key\" is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)");
  }
  if (auto it = request.find("hd"); it != request.end()) {
    if (!it->is_boolean()) return absl::InvalidArgumentError("field \"hd\" is not a boolean");
    out.hd = it->get<bool>();
  }
  if (out.hd && !hd::CurveForKeyTypeName(signer::KeyTypeName(out.key_type)).ok()) {
    return absl::InvalidArgumentError(
        "field \"key_type\": HD seeds exist for secp256k1, p256 and ed25519 only");
  }
  return out;
}

absl::StatusOr<awsclient::EncryptResult> RelayKmsBackend::Encrypt(
    std::string_view key_id, const SecretBytes& plaintext,
    const awsclient::EncryptionContext& context) {
  absl::StatusOr<relay::GetCredentialsReply> reply = relay_.GetCredentials();
  if (!reply.ok()) return Annotate("relay get_credentials", reply.status());
  credentials_->Set(std::move(reply->credentials));
  return kms_.Encrypt(key_id, plaintext, context);
}

absl::StatusOr<std::string> RelayKmsBackend::Store(std::string_view secret_name,
                                                   ByteView ciphertext) {
  return relay_.PutSecret(secret_name, ciphertext);
}

absl::StatusOr<Bytes> AttestSigningKey(nsm::NsmDevice& nsm, const signer::Signer& signer,
                                       std::optional<ByteView> nonce) {
  const crypto::Sha256Digest spki_hash = crypto::Sha256(signer.public_key_der());
  nsm::NsmClient client(nsm);
  return client.Attestation(ByteView(spki_hash.data(), spki_hash.size()), nonce,
                            ByteView(signer.public_key_der()));
}

struct KeyGenerator::Made {
  SecretBytes plaintext;                   // PKCS#8, or the seed secret
  std::unique_ptr<signer::Signer> signer;  // a key
  std::unique_ptr<HdKeyring> hd;           // or an HD seed's keyring
  std::optional<std::string> xpub;
};

absl::StatusOr<KeyGenerator::Made> KeyGenerator::Make(const GenerateKeyRequest& request) {
  Made made;
  if (!request.hd) {
    absl::StatusOr<std::unique_ptr<signer::Signer>> generated =
        signer::Signer::Generate(request.key_type);
    if (!generated.ok()) return Annotate("generate", generated.status());
    made.signer = *std::move(generated);
    absl::StatusOr<SecretBytes> pkcs8 = made.signer->ExportPkcs8();
    if (!pkcs8.ok()) return Annotate("export", pkcs8.status());
    made.plaintext = *std::move(pkcs8);
  } else {
    ASSIGN_OR_RETURN(hd::Curve curve,
                     hd::CurveForKeyTypeName(signer::KeyTypeName(request.key_type)));
    SecretBytes seed(hd::kBip39SeedSize);
    signer::KeyMemoryLock::Process().Record("hd seed", seed.Lock());
    if (RAND_bytes(seed.RevealMutable().data(), static_cast<int>(seed.size())) != 1) {
      return absl::InternalError("generate: RAND_bytes failed");
    }
    // m is derived before anything is stored: a seed that gives no valid master is never kept.
    absl::StatusOr<std::optional<std::string>> xpub = MasterXpub(curve, seed);
    if (!xpub.ok()) return Annotate("generate", xpub.status());
    made.xpub = *std::move(xpub);
    absl::StatusOr<SecretBytes> plaintext = hd::EncodeSeedSecret(curve, seed);
    if (!plaintext.ok()) return Annotate("generate", plaintext.status());
    made.plaintext = *std::move(plaintext);
    absl::StatusOr<std::unique_ptr<HdKeyring>> ring = HdKeyring::FromSeed(curve, std::move(seed));
    if (!ring.ok()) return Annotate("generate", ring.status());
    made.hd = *std::move(ring);
  }
  signer::KeyMemoryLock::Process().Record(request.hd ? "hd seed secret" : "pkcs8",
                                          made.plaintext.Lock());
  return made;
}

absl::Status KeyGenerator::MixNsmEntropy() {
  // OpenSSL's DRBG is seeded from the kernel (getrandom), which in an enclave is fed by the NSM
  // driver's hwrng; mixing the NSM's own bytes in directly does not depend on that plumbing.
  // RAND_add only adds: it can never make the generator weaker than it was. It reseeds OpenSSL's
  // primary DRBG; the private DRBG that key generation draws from is chained to it and reseeds
  // on its next use once its parent has been reseeded (OpenSSL's reseed propagation).
  nsm::NsmClient client(nsm_);
  size_t mixed = 0;
  for (int calls = 0; mixed < kNsmEntropyBytes; ++calls) {
    if (calls >= 64) return absl::UnavailableError("nsm GetRandom returned too few bytes");
    ASSIGN_OR_RETURN(SecretBytes random, client.GetRandom());
    if (random.empty()) continue;
    RAND_add(random.Reveal().data(), static_cast<int>(random.size()),
             static_cast<double>(random.size()));
    mixed += random.size();
  }
  return absl::OkStatus();
}

absl::StatusOr<GeneratedKey> KeyGenerator::Generate(const GenerateKeyRequest& request) {
  absl::MutexLock lock(&mu_);
  if (request.secret_name != secret_name_) {
    return absl::InvalidArgumentError("secret_name is not the secret this enclave serves");
  }
  if (keys_.loaded()) {
    return absl::FailedPreconditionError("a key is loaded already");
  }
  if (keys_.mode() == LoadMode::kPerRequest) {
    return absl::FailedPreconditionError("per-request mode keeps no key to install");
  }

  if (absl::Status mixed = MixNsmEntropy(); !mixed.ok()) return Annotate("nsm", mixed);
  ASSIGN_OR_RETURN(Made made, Make(request));

  // The context the loader decrypts with (key_loader.h): the ciphertext is bound to its name.
  const awsclient::EncryptionContext context = {
      {std::string(kEncryptionContextSecretKey), secret_name_}};
  absl::StatusOr<awsclient::EncryptResult> encrypted =
      backend_.Encrypt(request.kms_key_arn, made.plaintext, context);
  made.plaintext.Clear();
  if (!encrypted.ok()) return Annotate("kms encrypt", encrypted.status());
  // KMS names the key it used. Anything but the key the (authenticated) request named means the
  // ciphertext is not under the key whose policy pins this enclave: store nothing.
  if (encrypted->key_id != request.kms_key_arn) {
    return absl::FailedPreconditionError(absl::StrCat("kms encrypt: the reply's KeyId (",
                                                      encrypted->key_id.size(),
                                                      " bytes) is not the requested key ARN"));
  }
  if (encrypted->ciphertext_blob.empty()) {
    return absl::InternalError("kms encrypt: empty CiphertextBlob");
  }

  absl::StatusOr<std::string> version =
      backend_.Store(secret_name_, ByteView(encrypted->ciphertext_blob));
  if (!version.ok()) return Annotate("relay put_secret", version.status());

  const signer::Signer* installed = made.hd != nullptr ? &made.hd->master() : made.signer.get();
  absl::Status done = made.hd != nullptr ? keys_.Install(std::move(made.hd))
                                         : keys_.Install(std::move(made.signer));
  if (!done.ok()) return Annotate("install", done);
  LogInfo("key_generated", {{"key_type", signer::KeyTypeName(request.key_type)},
                            {"hd", request.hd},
                            {"secret", secret_name_},
                            {"version_id", *version},
                            {"kms_key", request.kms_key_arn}});

  GeneratedKey out{.signer = installed,
                   .hd = request.hd,
                   .xpub = made.xpub,
                   .version_id = *std::move(version),
                   .kms_key_arn = request.kms_key_arn,
                   .document = {}};
  // The nonce names where the key went (reply_binding.h): the client checks it against its own
  // request, so an altered kms_key or secret_name cannot pass unseen. An HD seed's user_data
  // binds the xpub too (its chain code is what children are derived with).
  const crypto::Sha256Digest binding =
      attest::GenerateKeyBinding(request.secret_name, request.kms_key_arn);
  absl::StatusOr<Bytes> document;
  if (request.hd) {
    const crypto::Sha256Digest user_data =
        attest::GenerateHdBinding(installed->public_key_der(), made.xpub.value_or(""));
    document = nsm::NsmClient(nsm_).Attestation(ByteView(user_data.data(), user_data.size()),
                                                ByteView(binding.data(), binding.size()),
                                                ByteView(installed->public_key_der()));
  } else {
    document = AttestSigningKey(nsm_, *installed, ByteView(binding.data(), binding.size()));
  }
  if (!document.ok()) {
    return absl::UnavailableError(
        absl::StrCat("attestation: ", document.status().message(), " (the key is stored)"));
  }
  out.document = *std::move(document);
  return out;
}

namespace {

GenerateKeyReply ErrorReply(const nlohmann::json& id, std::string_view reason,
                            const absl::Status& detail) {
  LogWarn("request_error", {{"protocol", "v2"},
                            {"op", kGenerateKeyOp},
                            {"reason", reason},
                            {"error", std::string(detail.message())}});
  return GenerateKeyReply{.body = {{"id", id}, {"ok", false}, {"error", reason}},
                          .verdict = audit::kVerdictFailed,
                          .rule = std::string(reason)};
}

std::string_view ReasonFor(const absl::Status& status) {
  const std::string message(status.message());
  if (message.starts_with("kms encrypt")) return "kms refused the request";
  if (message.starts_with("attestation")) return "attestation unavailable";
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return "bad request";
    case absl::StatusCode::kAlreadyExists:
      return "secret exists";
    case absl::StatusCode::kFailedPrecondition:
      return "key loaded";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "upstream unavailable";
    default:
      return "internal error";
  }
}

}  // namespace

GenerateKeyReply HandleGenerateKeyOp(KeyGenerator* generator, const nlohmann::json& id,
                                     const nlohmann::json& request) {
  if (generator == nullptr) {
    return ErrorReply(id, "unknown op",
                      absl::FailedPreconditionError("this enclave does not generate keys"));
  }
  absl::StatusOr<GenerateKeyRequest> parsed = ParseGenerateKeyRequest(request);
  if (!parsed.ok()) return ErrorReply(id, "bad request", parsed.status());
  absl::StatusOr<GeneratedKey> key = generator->Generate(*parsed);
  if (!key.ok()) return ErrorReply(id, ReasonFor(key.status()), key.status());
  const signer::Signer& s = *key->signer;
  const crypto::Sha256Digest spki_hash = crypto::Sha256(s.public_key_der());
  nlohmann::json body = {{"id", id},
                         {"ok", true},
                         {"key_type", signer::KeyTypeName(s.key_type())},
                         {"public_key_pem", s.public_key_pem()},
                         {"spki_der", Base64Encode(s.public_key_der())},
                         {"public_key_raw", HexEncode(s.public_key_raw())},
                         {"secret_name", parsed->secret_name},
                         {"version_id", key->version_id},
                         {"kms_key", key->kms_key_arn},
                         {"document", Base64Encode(key->document)},
                         {"spki_sha256", HexEncode(ByteView(spki_hash.data(), spki_hash.size()))}};
  if (key->hd) {
    body["hd"] = true;
    if (key->xpub) body["xpub"] = *key->xpub;
  }
  return GenerateKeyReply{.body = std::move(body), .verdict = audit::kVerdictSigned, .rule = ""};
}

}  // namespace lockout::enclave
