// libFuzzer target: the relay's decoders for the in-enclave key ops (docs/PROTOCOL.md §3):
// put_secret and get_credentials requests (sent by the enclave, untrusted by the relay) and their
// replies (sent by the relay, untrusted by the enclave).
//
// The input is one JSON text, given to all four decoders. Properties checked (abort on violation):
//   * every failure has a bounded printable message; a request failure is InvalidArgument or
//     Unimplemented;
//   * an accepted put_secret names a valid secret with 1..kMaxPutSecretSize bytes, and re-encodes
//     to a text that decodes to the same request and holds no '$';
//   * an accepted get_credentials request is exactly {"request_type": "get_credentials"};
//   * an accepted put_secret reply's version id is 1..kMaxVersionIdSize printable characters;
//   * an accepted get_credentials reply has non-empty keys.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/common/json.h"
#include "src/relay/relay_protocol.h"

using lockout::fuzz::Check;
namespace relay = lockout::relay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<relay::PutSecretRequest> put = relay::DecodePutSecretRequest(text);
  if (!put.ok()) {
    lockout::fuzz::CheckErrorMessage(put.status(), 200);
    Check(put.status().code() == absl::StatusCode::kInvalidArgument ||
              put.status().code() == absl::StatusCode::kUnimplemented,
          "unexpected put_secret error code");
  } else {
    Check(relay::ValidateSecretName(put->secret_name).ok(), "an invalid name was accepted");
    Check(!put->secret.empty() && put->secret.size() <= relay::kMaxPutSecretSize,
          "a secret of the wrong size was accepted");
    absl::StatusOr<std::string> again = relay::EncodePutSecretRequest(*put);
    Check(again.ok(), "an accepted put_secret does not re-encode");
    Check(again->find('$') == std::string::npos, "an encoded put_secret holds a '$'");
    absl::StatusOr<relay::PutSecretRequest> back = relay::DecodePutSecretRequest(*again);
    Check(back.ok() && back->secret_name == put->secret_name && back->secret == put->secret,
          "the re-encoded put_secret decodes differently");
  }

  const absl::Status creds = relay::DecodeGetCredentialsRequest(text);
  if (!creds.ok()) {
    lockout::fuzz::CheckErrorMessage(creds, 200);
  } else {
    absl::StatusOr<nlohmann::json> j = lockout::ParseJson(text, relay::kMaxRequestSize);
    Check(j.ok() && j->is_object() && j->size() == 1, "get_credentials with other members");
  }

  absl::StatusOr<std::string> version = relay::DecodePutSecretReply(text);
  if (!version.ok()) {
    lockout::fuzz::CheckErrorMessage(version.status(), 300);
  } else {
    Check(!version->empty() && version->size() <= relay::kMaxVersionIdSize &&
              lockout::fuzz::IsPrintableAscii(*version),
          "an invalid version id was accepted");
  }

  absl::StatusOr<relay::GetCredentialsReply> reply = relay::DecodeGetCredentialsReply(text);
  if (!reply.ok()) {
    lockout::fuzz::CheckErrorMessage(reply.status(), 300);
  } else {
    Check(
        !reply->credentials.access_key_id.empty() && !reply->credentials.secret_access_key.empty(),
        "empty credentials were accepted");
  }
  return 0;
}
