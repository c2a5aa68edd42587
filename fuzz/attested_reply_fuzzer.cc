// libFuzzer target: attested-reply files (src/attest/attested_reply.h) as `lockout verify
// --attested FILE` reads them, and the attest member of sign requests (src/attest/
// reply_binding.h) as the enclave parses it. Both are untrusted: the file may come from anyone,
// the member from any peer of the enclave.
//
// Properties checked (abort on violation):
//   * ParseAttestedReply fails with InvalidArgument and a bounded message, or yields a sign
//     request carrying a valid attest member, a non-empty signature and document;
//   * a parsed reply written back (AttestedReplyToJson) parses to the same reply;
//   * VerifyAttestedReply never accepts it (no trusted root is given), never errors, and names
//     the first failed check;
//   * ParseAttestMember on the input as a request's "attest" value yields 1..512 bytes or an
//     InvalidArgument.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/attest/attested_reply.h"
#include "src/attest/reply_binding.h"
#include "src/common/json.h"

namespace attest = lockout::attest;
using lockout::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<attest::AttestedReply> reply = attest::ParseAttestedReply(text);
  if (!reply.ok()) {
    Check(absl::IsInvalidArgument(reply.status()), "parse error is InvalidArgument");
    Check(reply.status().message().size() < 512, "parse error message is bounded");
  } else {
    absl::StatusOr<std::optional<lockout::Bytes>> nonce = attest::ParseAttestMember(reply->request);
    Check(nonce.ok() && nonce->has_value(), "a parsed reply's request carries attest");
    Check(!reply->signature.empty() && !reply->attestation.empty(), "non-empty parts");
    absl::StatusOr<attest::AttestedReply> again =
        attest::ParseAttestedReply(attest::AttestedReplyToJson(*reply));
    Check(again.ok() && again->request == reply->request && again->signature == reply->signature &&
              again->attestation == reply->attestation,
          "round trip");
    attest::AttestedReplyOptions options;  // no trusted root: nothing may verify
    options.check_signature = [](lockout::ByteView, lockout::ByteView, lockout::ByteView) {
      return absl::OkStatus();
    };
    const attest::AttestedReplyResult result =
        attest::VerifyAttestedReply(*reply, lockout::ToBytes("message"), options);
    Check(!result.ok(), "nothing verifies without a trusted root");
    Check(!result.failure.empty(), "a failure is named");
  }
  if (absl::StatusOr<nlohmann::json> value = lockout::ParseJson(text);
      value.ok() && !value->is_discarded()) {
    nlohmann::json request = {{"op", "sign"}, {"attest", *value}};
    absl::StatusOr<std::optional<lockout::Bytes>> nonce = attest::ParseAttestMember(request);
    if (nonce.ok()) {
      Check(nonce->has_value() && !(*nonce)->empty() &&
                (*nonce)->size() <= attest::kMaxAttestedNonceBytes,
            "attest nonce within 1..512 bytes");
    } else {
      Check(absl::IsInvalidArgument(nonce.status()), "attest error is InvalidArgument");
    }
  }
  return 0;
}
