// libFuzzer target: the enclave's reading of a generate_key request's members
// (enclave::ParseGenerateKeyRequest; the request comes from a client or, without a signing
// policy, from anyone who can reach the enclave, root on the parent included).
//
// The input is the request's JSON text. Properties checked (abort on violation):
//   * a failure is InvalidArgument with a bounded printable message that does not quote the
//     kms_key or secret_name given (checked for values holding a '#', which no message has);
//   * a success names a valid secret (relay::ValidateSecretName) and a KMS key ARN (IsKmsKeyArn)
//     equal to the request's members, and a key type whose name is the request's key_type;
//   * "hd" is honoured exactly: a success has hd set iff the member is the boolean true, and
//     then a key type with an HD scheme (secp256k1, p256, ed25519); a non-boolean "hd" never
//     parses.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/common/json.h"
#include "src/enclave/key_generation.h"
#include "src/hd/seed_secret.h"
#include "src/relay/relay_protocol.h"

using lockout::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<nlohmann::json> j = lockout::ParseJsonStrict(text, 64 << 10);
  if (!j.ok() || !j->is_object()) return 0;
  absl::StatusOr<lockout::enclave::GenerateKeyRequest> r =
      lockout::enclave::ParseGenerateKeyRequest(*j);
  const auto hd = j->find("hd");
  const bool hd_present = hd != j->end();
  if (!r.ok()) {
    lockout::fuzz::CheckErrorMessage(r.status(), 200);
    Check(r.status().code() == absl::StatusCode::kInvalidArgument, "unexpected error code");
    for (const char* member : {"kms_key", "secret_name"}) {
      const std::string_view value = lockout::fuzz::StringField(*j, member);
      // Only values no message of ours could contain by itself ('#' is in none of them).
      if (value.size() >= 8 && value.find('#') != std::string_view::npos) {
        lockout::fuzz::CheckNotQuoted(r.status(), value);
      }
    }
    return 0;
  }
  Check(lockout::relay::ValidateSecretName(r->secret_name).ok(), "an invalid name was accepted");
  Check(lockout::enclave::IsKmsKeyArn(r->kms_key_arn), "a non-ARN kms_key was accepted");
  Check(lockout::fuzz::StringField(*j, "kms_key") == r->kms_key_arn, "kms_key differs");
  Check(lockout::fuzz::StringField(*j, "secret_name") == r->secret_name, "secret_name differs");
  Check(lockout::fuzz::StringField(*j, "key_type") == lockout::signer::KeyTypeName(r->key_type),
        "key_type differs");
  Check(!hd_present || hd->is_boolean(), "a non-boolean hd was accepted");
  Check(r->hd == (hd_present && hd->get<bool>()), "hd differs");
  if (r->hd) {
    Check(lockout::hd::CurveForKeyTypeName(lockout::signer::KeyTypeName(r->key_type)).ok(),
          "hd accepted for a key type without an HD scheme");
  }
  return 0;
}
