// libFuzzer target: the relay's decoder of the enclave's request (relay::DecodeRequest; the
// enclave side of the vsock is untrusted from the relay's point of view, and a compromised or
// hostile enclave image can send anything).
//
// The input is the request's JSON text. Properties checked (abort on violation):
//   * a failure is InvalidArgument or Unimplemented with a bounded printable message that does
//     not quote the request (an unknown request_type is reported by size only);
//   * a success names a secret that ValidateSecretName accepts, re-encodes with
//     EncodeGetSecretRequest, and that encoding decodes to the same name (and is a fixpoint);
//   * success agrees with an independent reading of the JSON: an object whose request_type is
//     "get_secret" and whose payload.secret_name is that name.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/common/json.h"
#include "src/relay/relay_protocol.h"

using lockout::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<lockout::relay::GetSecretRequest> request = lockout::relay::DecodeRequest(text);
  if (!request.ok()) {
    lockout::fuzz::CheckErrorMessage(request.status(), 200);
    Check(request.status().code() == absl::StatusCode::kInvalidArgument ||
              request.status().code() == absl::StatusCode::kUnimplemented,
          "unexpected error code");
    absl::StatusOr<nlohmann::json> j = lockout::ParseJson(text, lockout::relay::kMaxRequestSize);
    if (j.ok() && j->is_object()) {
      const std::string_view type = lockout::fuzz::StringField(*j, "request_type");
      if (type.size() >= 12) {
        Check(lockout::fuzz::Message(request.status()).find(type) == std::string_view::npos,
              "error message quotes the request_type");
      }
      if (j->contains("payload")) {
        lockout::fuzz::CheckNotQuoted(request.status(),
                                      lockout::fuzz::StringField((*j)["payload"], "secret_name"));
      }
    }
    return 0;
  }
  Check(text.find('\0') == std::string_view::npos, "a request with a NUL byte was accepted");
  Check(lockout::relay::ValidateSecretName(request->secret_name).ok(),
        "an invalid secret name was accepted");

  absl::StatusOr<nlohmann::json> j = lockout::ParseJson(text, lockout::relay::kMaxRequestSize);
  Check(j.ok() && j->is_object(), "accepted text is not a JSON object");
  Check(lockout::fuzz::StringField(*j, "request_type") == lockout::relay::kGetSecretRequestType,
        "accepted a request_type other than get_secret");
  Check((*j)["payload"].is_object() &&
            lockout::fuzz::StringField((*j)["payload"], "secret_name") == request->secret_name,
        "decoded name differs from payload.secret_name");

  absl::StatusOr<std::string> encoded = lockout::relay::EncodeGetSecretRequest(*request);
  Check(encoded.ok(), "an accepted request does not re-encode");
  absl::StatusOr<lockout::relay::GetSecretRequest> again = lockout::relay::DecodeRequest(*encoded);
  Check(again.ok() && again->secret_name == request->secret_name,
        "the re-encoded request decodes differently");
  absl::StatusOr<std::string> encoded_again = lockout::relay::EncodeGetSecretRequest(*again);
  Check(encoded_again.ok() && *encoded_again == *encoded, "encoding is not a fixpoint");
  return 0;
}
