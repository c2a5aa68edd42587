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
#include "src/hd/extended_key.h"
#include "src/signpolicy/signing_policy.h"

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
  if (!policy_pin.empty()) out["policy_pin"] = nlohmann::ordered_json::parse(policy_pin);
  if (hd) {
    out["hd"] = true;  // the public key, address and pin above are the master key m's
    if (xpub) out["xpub"] = *xpub;
  }
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
  nlohmann::json request = {{"op", "generate_key"},
                            {"key_type", type_name},
                            {"secret_name", options.secret_name},
                            {"kms_key", options.kms_key_arn}};
  if (options.hd) request["hd"] = true;
  ASSIGN_OR_RETURN(nlohmann::json reply, client.Call(std::move(request)));
  EnclaveKeyGenerationResult r;
  r.key_type = options.key_type;
  r.hd = options.hd;
  {
    auto hd_member = reply.find("hd");
    const bool reply_hd =
        hd_member != reply.end() && hd_member->is_boolean() && hd_member->get<bool>();
    RETURN_IF_ERROR(Check(reply_hd == options.hd,
                          options.hd ? "it is not an HD seed" : "it is an HD seed, not a key"));
    if (auto x = reply.find("xpub"); x != reply.end()) {
      RETURN_IF_ERROR(Check(x->is_string(), "xpub is not a string"));
      r.xpub = x->get<std::string>();
    }
  }
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
  RETURN_IF_ERROR(
      Check(r.secret_name == options.secret_name, "secret_name is not the one asked for"));
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
  // 2. It binds the returned key as the attest op's documents do (an HD seed: and the xpub).
  RETURN_IF_ERROR(Check(doc.public_key.has_value() && *doc.public_key == r.spki_der,
                        "the document's public_key is not the returned key"));
  const crypto::Sha256Digest user_data =
      options.hd ? attest::GenerateHdBinding(r.spki_der, r.xpub.value_or(""))
                 : crypto::Sha256(r.spki_der);
  RETURN_IF_ERROR(Check(
      doc.user_data.has_value() && *doc.user_data == Bytes(user_data.begin(), user_data.end()),
      options.hd ? "the document's user_data does not bind the returned master "
                   "key and xpub"
                 : "the document's user_data is not SHA-256 of the returned key"));
  // 3. It names the secret and KMS key this client asked for (not only the reply's word for it):
  // a request altered on the way gives another nonce.
  const crypto::Sha256Digest binding =
      attest::GenerateKeyBinding(options.secret_name, options.kms_key_arn);
  RETURN_IF_ERROR(
      Check(doc.nonce.has_value() && *doc.nonce == Bytes(binding.begin(), binding.end()),
            "the document's nonce does not name the secret and KMS key asked for: "
            "the request was altered on its way to the enclave"));
  // 4. public_key_raw is the key inside the SPKI: the BIT STRING's content ends the DER (the
  // uncompressed point 04||X||Y, or the 32-byte Ed25519 key), and the PEM is the same key.
  RETURN_IF_ERROR(
      Check(!r.public_key_raw.empty() && r.spki_der.size() > r.public_key_raw.size() &&
                std::equal(r.public_key_raw.rbegin(), r.public_key_raw.rend(), r.spki_der.rbegin()),
            "public_key_raw is not the attested key"));
  RETURN_IF_ERROR(
      Check(r.public_key_pem == SpkiPem(r.spki_der), "public_key_pem is not the attested key"));

  // 5. An HD seed's xpub (secp256k1 only) is m's: depth 0 and the same public key.
  if (options.hd) {
    const bool secp = options.key_type == signer::KeyType::kSecp256k1;
    RETURN_IF_ERROR(Check(r.xpub.has_value() == secp,
                          secp ? "the xpub is missing" : "an xpub came for a SLIP-10 curve"));
    if (secp) {
      absl::StatusOr<hd::ExtendedPublicKey> xpub = hd::ExtendedPublicKey::ParseXpub(*r.xpub);
      RETURN_IF_ERROR(Check(xpub.ok(), "the xpub does not parse"));
      RETURN_IF_ERROR(Check(xpub->depth() == 0, "the xpub is not a master key's (depth 0)"));
      // Compressed SEC1: 02/03 (parity of Y) || X.
      const Bytes& point = r.public_key_raw;
      RETURN_IF_ERROR(Check(point.size() == 65, "public_key_raw is not an uncompressed point"));
      Bytes compressed = {static_cast<uint8_t>(0x02 | (point[64] & 1))};
      compressed.insert(compressed.end(), point.begin() + 1, point.begin() + 33);
      RETURN_IF_ERROR(
          Check(xpub->public_key() == compressed, "the xpub's key is not the attested key"));
    }
  }

  signpolicy::KeyPin pin;
  if (options.key_type == signer::KeyType::kSecp256k1) {
    ASSIGN_OR_RETURN(eth::Address address, eth::EthereumAddress(r.public_key_raw));
    r.ethereum_address = eth::ChecksumAddress(address);
    pin.kind = signpolicy::KeyPinKind::kEthAddress;
    pin.value = Bytes(address.begin(), address.end());
  } else {
    const crypto::Sha256Digest spki_hash = crypto::Sha256(r.spki_der);
    pin.value = Bytes(spki_hash.begin(), spki_hash.end());
  }
  r.policy_pin = signpolicy::KeyPinJson(pin);
  r.module_id = doc.module_id;
  for (uint32_t index : {0u, 1u, 2u, 8u, 16u}) {
    if (auto it = doc.pcrs.find(index); it != doc.pcrs.end()) r.pcrs[index] = it->second;
  }
  return r;
}

}  // namespace lockout::ops
