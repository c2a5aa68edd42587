#include "src/operator/attest_client.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/attest/attest_error.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/verifier.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::ops {

absl::StatusOr<PcrExpectation> ParsePcrExpectation(std::string_view text) {
  const size_t eq = text.find('=');
  uint32_t index = 0;
  if (eq == std::string_view::npos || eq == 0 || eq > 2 ||
      !absl::SimpleAtoi(Absl(text.substr(0, eq)), &index) || index >= attest::kPcrIndexLimit) {
    return absl::InvalidArgumentError("--expect-pcr wants N=HEX with N in 0..31, e.g. 0=f4d4...");
  }
  absl::StatusOr<Bytes> value = HexDecodeAllowPrefix(text.substr(eq + 1));
  if (!value.ok() || value->size() != 48) {
    return absl::InvalidArgumentError(
        absl::StrCat("--expect-pcr ", index, "=HEX: the value must be 96 hex digits (48 bytes)"));
  }
  return PcrExpectation{index, *std::move(value)};
}

absl::StatusOr<AttestClientResult> AttestEnclave(EnclaveV2Client& client,
                                                 const AttestClientOptions& options) {
  AttestClientResult result;
  result.nonce = crypto::RandomBytes(options.nonce_size);
  absl::StatusOr<EnclavePublicKey> key = client.PublicKey();
  if (!key.ok()) return key.status();
  result.public_key = *std::move(key);
  absl::StatusOr<Bytes> document = client.Attest(result.nonce);
  if (!document.ok()) return document.status();
  result.document = *std::move(document);

  auto fail = [&result](std::string why) {
    if (result.failure.empty()) result.failure = std::move(why);
  };
  absl::StatusOr<attest::AttestationDocument> parsed =
      attest::ParseAttestationDocument(result.document);
  if (!parsed.ok()) {
    result.verification = parsed.status();
    fail(absl::StrCat("the document does not parse: ", parsed.status().message()));
    return result;
  }
  result.parsed = *parsed;
  std::vector<Bytes> roots{attest::AwsNitroRootG1Der()};
  roots.insert(roots.end(), options.extra_roots.begin(), options.extra_roots.end());
  const absl::Time at = options.at == absl::InfinitePast() ? absl::Now() : options.at;
  absl::StatusOr<attest::VerifiedAttestation> verified =
      attest::VerifyAttestation(*parsed, roots, at);
  result.verification = verified.status();
  if (verified.ok()) {
    result.root_der = verified->root_der;
  } else {
    fail(absl::StrCat("the document does not verify: ", verified.status().message(),
                      " (for local-aws pass --root with its NSM root certificate)"));
  }
  result.nonce_matches = parsed->nonce.has_value() && *parsed->nonce == result.nonce;
  if (!result.nonce_matches) fail("the document does not carry the nonce we sent (replayed?)");
  for (const PcrExpectation& e : options.expect) {
    PcrCheck check;
    check.expected = e;
    auto it = parsed->pcrs.find(e.index);
    if (it != parsed->pcrs.end()) check.actual = it->second;
    check.ok = check.actual.has_value() && *check.actual == e.value;
    if (!check.ok) {
      fail(absl::StrCat("PCR", e.index, " is ",
                        check.actual ? HexEncode(*check.actual) : std::string("absent"),
                        ", expected ", HexEncode(e.value)));
    }
    result.pcr_checks.push_back(std::move(check));
  }
  const crypto::Sha256Digest spki_hash = crypto::Sha256(result.public_key->spki_der);
  result.key_bound = parsed->public_key.has_value() &&
                     *parsed->public_key == result.public_key->spki_der &&
                     parsed->user_data.has_value() &&
                     *parsed->user_data == Bytes(spki_hash.begin(), spki_hash.end());
  if (!result.key_bound) {
    fail("the document does not bind the enclave's signing key (public_key/user_data)");
  }
  return result;
}

nlohmann::ordered_json AttestClientResult::ToJson() const {
  nlohmann::ordered_json out;
  out["ok"] = ok();
  out["failure"] =
      failure.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(failure);
  out["verified"] = verification.ok();
  if (!verification.ok()) out["verification_error"] = std::string(verification.message());
  out["nonce"] = HexEncode(nonce);
  out["nonce_matches"] = nonce_matches;
  out["key_bound"] = key_bound;
  if (public_key) {
    out["key_type"] = public_key->key_type;
    out["public_key_pem"] = public_key->public_key_pem;
  }
  if (parsed) {
    out["module_id"] = parsed->module_id;
    out["timestamp"] =
        FormatRfc3339(absl::FromUnixMillis(static_cast<int64_t>(parsed->timestamp_ms)));
    nlohmann::ordered_json pcrs = nlohmann::ordered_json::object();
    for (const auto& [index, value] : parsed->pcrs) pcrs[std::to_string(index)] = HexEncode(value);
    out["pcrs"] = pcrs;
  }
  if (!root_der.empty()) out["root_sha256"] = HexEncode(crypto::Sha256(root_der));
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const PcrCheck& c : pcr_checks) {
    checks.push_back({{"pcr", c.expected.index},
                      {"expected", HexEncode(c.expected.value)},
                      {"actual", c.actual ? nlohmann::ordered_json(HexEncode(*c.actual))
                                          : nlohmann::ordered_json(nullptr)},
                      {"ok", c.ok}});
  }
  out["expectations"] = checks;
  return out;
}

}  // namespace lockout::ops
