#include "src/loadgen/sign_reply.h"

#include <utility>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/operator/enclave_client.h"

namespace lockout::loadgen {
namespace {

using Json = nlohmann::json;

SignReply Malformed() { return SignReply{SignReply::Kind::kMalformed, {}, "bad reply"}; }

SignReply Refused(std::string_view reason) {
  return SignReply{SignReply::Kind::kRefused, {}, ReasonKey(reason)};
}

SignReply Signed(Bytes signature) {
  return SignReply{SignReply::Kind::kSigned, std::move(signature), {}};
}

// v1 replies are parsed by the operator's client (the one implementation of that format);
// it reports the enclave's refusal as FailedPrecondition("enclave: Error: R").
SignReply ParseV1(std::string_view payload) {
  absl::StatusOr<Bytes> sig = ops::ParseV1SignReply(payload);
  if (sig.ok()) return Signed(*std::move(sig));
  if (!absl::IsFailedPrecondition(sig.status())) return Malformed();
  std::string_view text(sig.status().message().data(), sig.status().message().size());
  if (text.starts_with("enclave: ")) text.remove_prefix(9);
  if (text.starts_with("Error: ")) text.remove_prefix(7);
  return Refused(text);
}

SignReply ParseV2(std::string_view payload, uint64_t expected_id) {
  absl::StatusOr<Json> reply = ParseJson(payload);
  if (!reply.ok() || !reply->is_object()) return Malformed();
  const auto id = reply->find("id");
  if (id == reply->end() || !id->is_number_unsigned() || id->get<uint64_t>() != expected_id) {
    return Malformed();
  }
  const auto ok = reply->find("ok");
  if (ok == reply->end() || !ok->is_boolean()) return Malformed();
  if (!ok->get<bool>()) {
    const auto error = reply->find("error");
    if (error == reply->end() || !error->is_string()) return Refused("");
    return Refused(error->get_ref<const std::string&>());
  }
  const auto sig = reply->find("signature");
  if (sig == reply->end() || !sig->is_string()) return Malformed();
  absl::StatusOr<Bytes> bytes = HexDecode(sig->get_ref<const std::string&>());
  if (!bytes.ok() || bytes->empty()) return Malformed();
  return Signed(*std::move(bytes));
}

}  // namespace

std::string ReasonKey(std::string_view text) {
  if (text.empty() || text.size() > kMaxReasonLength) return "unrecognised error";
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return "unrecognised error";
  }
  return std::string(text);
}

SignReply ParseSignReply(Protocol protocol, std::string_view payload, uint64_t expected_id) {
  return protocol == Protocol::kV1 ? ParseV1(payload) : ParseV2(payload, expected_id);
}

}  // namespace lockout::loadgen
