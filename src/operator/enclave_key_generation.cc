#include "src/operator/enclave_key_generation.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/attest/reply_binding.h"
#include "src/attest/verifier.h"
#include "src/common/encoding.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/eth/address.h"

namespace lockout::ops {
namespace {

absl::Status Check(bool ok, std::string_view what) {
  if (ok) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the enclave's reply does not hold: ", Absl(what)));
}

absl::StatusOr<Bytes> ReplyBase64(const nlohmann::json& reply, std::string_view name) {
  ASSIGN_OR_RETURN(std::string text, ReplyString(reply, name));
  absl::StatusOr<Bytes> bytes = Base64Decode(text);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("reply field ", Absl(name), " is not base64"));
  }
  return bytes;
}

// RFC 7468 §13: "PUBLIC KEY" label, base64 in lines of 64 characters (as OpenSSL writes it).
std::string SpkiPem(ByteView spki_der) {
  const std::string b64 = Base64Encode(spki_der);
  std::string out = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) absl::StrAppend(&out, b64.substr(i, 64), "\n");
  out += "-----END PUBLIC KEY-----\n";
  return out;
}

}  // namespace

nlohmann::ordered_json EnclaveKeyGenerationResult::ToJson() const {
  nlohmann::ordered_json out;
  out["key_type"] = signer::KeyTypeName(key_type);
  out["public_key_pem"] = public_key_pem;
  out["public_key_raw"] = HexEncode(public_key_raw);
  if (ethereum_address) out["address"] = *ethereum_address;
  out["secret"] = secret_name;
  out["version_id"] = version_id;
  out["kms_key"] = kms_key_arn;
  out["attestation"] = {{"verified", true}, {"module_id", module_id}};
  nlohmann::ordered_json pcr_json = nlohmann::ordered_json::object();
  for (const auto& [index, value] : pcrs) pcr_json[absl::StrCat(index)] = HexEncode(value);
  out["attestation"]["pcrs"] = std::move(pcr_json);
  out["attestation"]["document"] = Base64Encode(document);
  return out;
}

absl::StatusOr<EnclaveKeyGenerationResult> GenerateKeyInEnclave(
    EnclaveV2Client& client, const EnclaveKeyGenerationOptions& options) {
  if (options.trusted_roots.empty()) return absl::InvalidArgumentError("no trusted root");
  const std::string type_name(signer::KeyTypeName(options.key_type));
  ASSIGN_OR_RETURN(nlohmann::json reply, client.Call({{"op", "generate_key"},
                                                      {"key_type", type_name},
                                                      {"secret_name", options.secret_name},
                                                      {"kms_key", options.kms_key_arn}}));
  EnclaveKeyGenerationResult r;
  r.key_type = options.key_type;
  ASSIGN_OR_RETURN(std::string key_type, ReplyString(reply, "key_type"));
  ASSIGN_OR_RETURN(r.public_key_pem, ReplyString(reply, "public_key_pem"));
  ASSIGN_OR_RETURN(r.spki_der, ReplyBase64(reply, "spki_der"));
  ASSIGN_OR_RETURN(std::string raw_hex, ReplyString(reply, "public_key_raw"));
  ASSIGN_OR_RETURN(r.secret_name, ReplyString(reply, "secret_name"));
  ASSIGN_OR_RETURN(r.version_id, ReplyString(reply, "version_id"));
  ASSIGN_OR_RETURN(r.kms_key_arn, ReplyString(reply, "kms_key"));
  ASSIGN_OR_RETURN(r.document, ReplyBase64(reply, "document"));
  absl::StatusOr<Bytes> raw = HexDecode(raw_hex);
  if (!raw.ok()) return absl::InvalidArgumentError("reply field public_key_raw is not hex");
  r.public_key_raw = *std::move(raw);

  RETURN_IF_ERROR(Check(key_type == type_name, "key_type is not the one asked for"));
  RETURN_IF_ERROR(Check(r.secret_name == options.secret_name, "secret_name is not the one asked for"));
  RETURN_IF_ERROR(Check(r.kms_key_arn == options.kms_key_arn, "kms_key is not the one asked for"));

  // 1. The document verifies to a trusted root.
  const absl::Time at = options.at == absl::InfinitePast() ? absl::Now() : options.at;
  absl::StatusOr<attest::VerifiedAttestation> verified =
      attest::VerifyAttestationDocument(r.document, options.trusted_roots, at);
  if (!verified.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the attestation document does not verify: ", verified.status().message()));
  }
  const attest::AttestationDocument& doc = verified->document;
  // 2. It binds the returned key as the attest op's documents do.
  const crypto::Sha256Digest spki_hash = crypto::Sha256(r.spki_der);
  RETURN_IF_ERROR(Check(doc.public_key.has_value() && *doc.public_key == r.spki_der,
                        "the document's public_key is not the returned key"));
  RETURN_IF_ERROR(Check(doc.user_data.has_value() &&
                            *doc.user_data == Bytes(spki_hash.begin(), spki_hash.end()),
                        "the document's user_data is not SHA-256 of the returned key"));
  // 3. It names the secret and KMS key this client asked for (not only the reply's word for it):
  // a request altered on the way gives another nonce.
  const crypto::Sha256Digest binding =
      attest::GenerateKeyBinding(options.secret_name, options.kms_key_arn);
  RETURN_IF_ERROR(Check(doc.nonce.has_value() && *doc.nonce == Bytes(binding.begin(), binding.end()),
                        "the document's nonce does not name the secret and KMS key asked for: "
                        "the request was altered on its way to the enclave"));
  // 4. public_key_raw is the key inside the SPKI: the BIT STRING's content ends the DER (the
  // uncompressed point 04||X||Y, or the 32-byte Ed25519 key), and the PEM is the same key.
  RETURN_IF_ERROR(Check(!r.public_key_raw.empty() && r.spki_der.size() > r.public_key_raw.size() &&
                            std::equal(r.public_key_raw.rbegin(), r.public_key_raw.rend(),
                                       r.spki_der.rbegin()),
                        "public_key_raw is not the attested key"));
  RETURN_IF_ERROR(Check(r.public_key_pem == SpkiPem(r.spki_der),
                        "public_key_pem is not the attested key"));

  if (options.key_type == signer::KeyType::kSecp256k1) {
    ASSIGN_OR_RETURN(eth::Address address, eth::EthereumAddress(r.public_key_raw));
    r.ethereum_address = eth::ChecksumAddress(address);
  }
  r.module_id = doc.module_id;
  for (uint32_t index : {0u, 1u, 2u, 8u, 16u}) {
    if (auto it = doc.pcrs.find(index); it != doc.pcrs.end()) r.pcrs[index] = it->second;
  }
  return r;
}

}  // namespace lockout::ops
