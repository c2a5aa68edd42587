// libFuzzer target: the enclave's decoder of the relay's reply (relay::DecodeReply, what
// RelayClient runs on the frame payload the untrusted parent sends back).
//
// The input is the reply's JSON text. Properties checked (abort on violation):
//   * a failure is a bounded, printable message that never quotes the secret_access_key or
//     token the reply carried (an error reply's own message is quoted, sanitised, by design);
//   * a success has a non-empty printable access key id and secret key and a printable token;
//   * a success re-encodes (EncodeGetSecretReplyFrame, v2 so "$$$" inside a value is fine) unless
//     the input was already at the size limit; the re-encoding decodes to the same secret and
//     credentials (expiration to the millisecond FormatRfc3339 keeps), and is a fixpoint.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/common/json.h"
#include "src/relay/relay_protocol.h"

namespace {

using lockout::fuzz::Check;
using lockout::relay::GetSecretReply;

std::string EncodeV2Json(const GetSecretReply& reply, absl::Status* status) {
  lockout::relay::GetSecretReplyParts parts;
  parts.secret = reply.secret;
  parts.access_key_id = reply.credentials.access_key_id;
  parts.secret_access_key = &reply.credentials.secret_access_key;
  parts.session_token = &reply.credentials.session_token;
  parts.expiration = reply.expiration;
  absl::StatusOr<lockout::SecretBytes> frame =
      lockout::relay::EncodeGetSecretReplyFrame(parts, lockout::net::FrameKind::kV2);
  if (!frame.ok()) {
    *status = frame.status();
    return {};
  }
  *status = absl::OkStatus();
  Check(frame->size() >= lockout::net::kV2HeaderSize, "frame shorter than its header");
  return std::string(frame->RevealAsString().substr(lockout::net::kV2HeaderSize));
}

bool SameCredentials(const GetSecretReply& a, const GetSecretReply& b) {
  return a.secret == b.secret && a.credentials.access_key_id == b.credentials.access_key_id &&
         a.credentials.secret_access_key.Reveal() == b.credentials.secret_access_key.Reveal() &&
         a.credentials.session_token.Reveal() == b.credentials.session_token.Reveal();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<GetSecretReply> reply = lockout::relay::DecodeReply(text);
  if (!reply.ok()) {
    lockout::fuzz::CheckErrorMessage(reply.status(), 400);
    absl::StatusOr<nlohmann::json> j = lockout::ParseJson(text, lockout::relay::kMaxReplySize);
    if (j.ok() && j->is_object() && !j->contains("error") && j->contains("result") &&
        (*j)["result"].is_object()) {
      const nlohmann::json& creds = (*j)["result"].value("credentials", nlohmann::json());
      lockout::fuzz::CheckNotQuoted(reply.status(),
                                    lockout::fuzz::StringField(creds, "secret_access_key"));
      lockout::fuzz::CheckNotQuoted(reply.status(), lockout::fuzz::StringField(creds, "token"));
    }
    return 0;
  }
  Check(text.find('\0') == std::string_view::npos, "a reply with a NUL byte was accepted");
  const auto& c = reply->credentials;
  Check(!c.access_key_id.empty() && !c.secret_access_key.empty(), "empty credentials accepted");
  Check(lockout::fuzz::IsPrintableAscii(c.access_key_id) &&
            lockout::fuzz::IsPrintableAscii(c.secret_access_key.RevealAsString()) &&
            lockout::fuzz::IsPrintableAscii(c.session_token.RevealAsString()),
        "non-printable credentials accepted");

  absl::Status encoded_status;
  const std::string encoded = EncodeV2Json(*reply, &encoded_status);
  if (!encoded_status.ok()) {
    // Only a reply already near the size limit may re-encode too large (base64 padding and a
    // normalised expiration add a few bytes).
    Check(encoded_status.code() == absl::StatusCode::kResourceExhausted &&
              size + 64 > lockout::relay::kMaxReplySize,
          "an accepted reply does not re-encode");
    return 0;
  }
  absl::StatusOr<GetSecretReply> again = lockout::relay::DecodeReply(encoded);
  Check(again.ok(), "the re-encoded reply does not decode");
  Check(SameCredentials(*reply, *again), "the round trip changed the secret or credentials");
  Check(reply->expiration.has_value() == again->expiration.has_value(),
        "the round trip changed whether there is an expiration");
  if (reply->expiration.has_value()) {
    Check(absl::AbsDuration(*reply->expiration - *again->expiration) < absl::Milliseconds(1),
          "the round trip moved the expiration");
  }
  absl::Status status2;
  Check(EncodeV2Json(*again, &status2) == encoded && status2.ok(), "encoding is not a fixpoint");
  return 0;
}
