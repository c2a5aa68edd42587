// libFuzzer target: get_signing_policy (relay_protocol.h), both ends. The enclave decodes the
// untrusted relay's reply (DecodeGetSigningPolicyReply) and parses the text it carries strictly
// (signpolicy::ParseSigningPolicy) before sealing it; the relay decodes the request
// (DecodeGetSigningPolicyRequest).
//
// The input is used as a request text and as a reply text. Properties checked (abort on
// violation):
//   * failures are bounded printable messages with the documented codes (request:
//     InvalidArgument or Unimplemented; reply: InvalidArgument for malformed replies);
//   * an accepted request re-encodes to EncodeGetSigningPolicyRequest's text;
//   * an accepted reply's text is at most kMaxServedSigningPolicySize and round-trips through
//     EncodeGetSigningPolicyReply exactly;
//   * the policy text parses or fails with InvalidArgument and a bounded message.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/relay/relay_protocol.h"
#include "src/signpolicy/signing_policy.h"

using lockout::fuzz::Check;
namespace relay = lockout::relay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const absl::Status request = relay::DecodeGetSigningPolicyRequest(text);
  if (!request.ok()) {
    lockout::fuzz::CheckErrorMessage(request, 200);
    Check(request.code() == absl::StatusCode::kInvalidArgument ||
              request.code() == absl::StatusCode::kUnimplemented,
          "unexpected request error code");
  } else {
    Check(relay::DecodeGetSigningPolicyRequest(relay::EncodeGetSigningPolicyRequest()).ok(),
          "the canonical request does not decode");
  }

  absl::StatusOr<std::string> reply = relay::DecodeGetSigningPolicyReply(text);
  if (!reply.ok()) {
    lockout::fuzz::CheckErrorMessage(reply.status(), 400);
    return 0;
  }
  Check(reply->size() <= relay::kMaxServedSigningPolicySize, "an oversized policy was accepted");
  absl::StatusOr<std::string> again = relay::EncodeGetSigningPolicyReply(*reply);
  Check(again.ok(), "an accepted policy text does not re-encode");
  absl::StatusOr<std::string> back = relay::DecodeGetSigningPolicyReply(*again);
  Check(back.ok() && *back == *reply, "the policy text does not round-trip");

  absl::StatusOr<lockout::signpolicy::SigningPolicy> policy =
      lockout::signpolicy::ParseSigningPolicy(*reply);
  if (!policy.ok()) {
    lockout::fuzz::CheckErrorMessage(policy.status(), 300);
    Check(policy.status().code() == absl::StatusCode::kInvalidArgument, "policy error code");
  }
  return 0;
}
