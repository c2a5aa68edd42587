#include "src/attest/reply_binding.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/auth/request_auth.h"
#include "src/common/encoding.h"

namespace lockout::attest {
namespace {

void AppendStr(ByteView s, std::string& out) {
  const size_t n = s.size();
  out.push_back(static_cast<char>((n >> 24) & 0xFF));
  out.push_back(static_cast<char>((n >> 16) & 0xFF));
  out.push_back(static_cast<char>((n >> 8) & 0xFF));
  out.push_back(static_cast<char>(n & 0xFF));
  out.append(reinterpret_cast<const char*>(s.data()), s.size());
}

ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

absl::StatusOr<std::optional<Bytes>> ParseAttestMember(const nlohmann::json& request) {
  if (!request.is_object()) return absl::InvalidArgumentError("request is not a JSON object");
  auto it = request.find("attest");
  if (it == request.end()) return std::optional<Bytes>();
  if (!it->is_object() || it->size() != 1 || !it->contains("nonce")) {
    return absl::InvalidArgumentError(
        "field \"attest\" must be an object with exactly the member \"nonce\"");
  }
  const nlohmann::json& nonce = (*it)["nonce"];
  if (!nonce.is_string()) {
    return absl::InvalidArgumentError("field \"attest.nonce\" is not a string");
  }
  absl::StatusOr<Bytes> bytes = Base64Decode(nonce.get_ref<const std::string&>());
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field \"attest.nonce\": ", bytes.status().message()));
  }
  if (bytes->empty() || bytes->size() > kMaxAttestedNonceBytes) {
    return absl::InvalidArgumentError(absl::StrCat("field \"attest.nonce\": ", bytes->size(),
                                                   " bytes, want 1..", kMaxAttestedNonceBytes));
  }
  return std::optional<Bytes>(*std::move(bytes));
}

absl::StatusOr<RequestDigest> AttestedRequestDigest(const nlohmann::json& request) {
  if (!request.is_object()) return absl::InvalidArgumentError("request is not a JSON object");
  RequestDigest out;
  if (auto auth_it = request.find("auth"); auth_it != request.end()) {
    absl::StatusOr<auth::AuthFields> fields = auth::ParseAuthFields(*auth_it);
    if (!fields.ok()) return fields.status();
    absl::StatusOr<std::string> canonical =
        auth::CanonicalRequest(request, fields->client, fields->timestamp_ms, fields->nonce);
    if (!canonical.ok()) return canonical.status();
    out.kind = RequestDigestKind::kAuthenticated;
    out.digest = crypto::Sha256(AsBytes(*canonical));
    return out;
  }
  auto message = request.find("message");
  if (message == request.end() || !message->is_string()) {
    return absl::InvalidArgumentError("field \"message\" missing or not a string");
  }
  absl::StatusOr<Bytes> bytes = Base64Decode(message->get_ref<const std::string&>());
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field \"message\": ", bytes.status().message()));
  }
  out.kind = RequestDigestKind::kUnauthenticated;
  out.digest = crypto::Sha256(*bytes);
  return out;
}

crypto::Sha256Digest ReplyBinding(const RequestDigest& request, ByteView signature,
                                  ByteView spki_der) {
  std::string input(kReplyBindingTag);
  input.push_back(static_cast<char>(request.kind));
  AppendStr(ByteView(request.digest.data(), request.digest.size()), input);
  AppendStr(signature, input);
  AppendStr(spki_der, input);
  return crypto::Sha256(AsBytes(input));
}

crypto::Sha256Digest GenerateKeyBinding(std::string_view secret_name,
                                        std::string_view kms_key_arn) {
  std::string input(kGenerateKeyBindingTag);
  AppendStr(AsBytes(secret_name), input);
  AppendStr(AsBytes(kms_key_arn), input);
  return crypto::Sha256(AsBytes(input));
}

crypto::Sha256Digest GenerateHdBinding(ByteView master_spki_der, std::string_view xpub) {
  std::string input(kGenerateHdBindingTag);
  AppendStr(master_spki_der, input);
  AppendStr(AsBytes(xpub), input);
  return crypto::Sha256(AsBytes(input));
}

}  // namespace lockout::attest
