// libFuzzer target: SecretsClient's parsers of Secrets Manager replies
// (src/awsclient/secrets_reply_parsers.h) and the HTTP reply handling in front of them
// (fuzz/aws_reply_envelope.h). The relay reads the enclave's encrypted key with GetSecretValue;
// the reply comes from the network.
//
// Input: byte 0 picks the operation (GetSecretValue, DescribeSecret, or the version reference
// of CreateSecret / PutSecretValue / UpdateSecret); byte 1 picks the HTTP status; the rest is
// the body. Properties checked (abort on violation), beyond no crash/leak/UB:
//   * a failed parse is Internal with a bounded printable message quoting no secret value;
//   * GetSecretValue's value (SecretBytes) is the base64 of SecretBinary when present, else
//     the SecretString text, with the matching kind;
//   * a success re-serialises to a canonical reply that parses back to the same result, and
//     that canonical reply is a fixpoint;
//   * WipeJsonStrings leaves no string in the reply.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/aws_reply_envelope.h"
#include "src/awsclient/secrets_reply_parsers.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/json.h"

namespace {

namespace aws = lockout::awsclient;
namespace in = lockout::awsclient::internal;
using lockout::fuzz::Check;
using nlohmann::json;

bool SameTime(const std::optional<absl::Time>& a, const std::optional<absl::Time>& b) {
  if (a.has_value() != b.has_value()) return false;
  // FormatRfc3339 keeps milliseconds.
  return !a.has_value() || absl::AbsDuration(*a - *b) < absl::Milliseconds(1);
}

void PutTime(json& j, const char* field, const std::optional<absl::Time>& t) {
  if (t.has_value()) j[field] = lockout::FormatRfc3339(*t);
}

json ToJson(const aws::SecretVersionRef& r) {
  return {{"ARN", r.arn},
          {"Name", r.name},
          {"VersionId", r.version_id},
          {"VersionStages", r.version_stages}};
}
bool Same(const aws::SecretVersionRef& a, const aws::SecretVersionRef& b) {
  return a.arn == b.arn && a.name == b.name && a.version_id == b.version_id &&
         a.version_stages == b.version_stages;
}

json ToJson(const aws::SecretValue& v) {
  json j = {{"ARN", v.arn},
            {"Name", v.name},
            {"VersionId", v.version_id},
            {"VersionStages", v.version_stages}};
  PutTime(j, "CreatedDate", v.created_date);
  if (v.kind == aws::SecretKind::kBinary) {
    j["SecretBinary"] = lockout::Base64Encode(v.value.Reveal());
  } else {
    j["SecretString"] = std::string(v.value.RevealAsString());
  }
  return j;
}
bool Same(const aws::SecretValue& a, const aws::SecretValue& b) {
  return a.arn == b.arn && a.name == b.name && a.version_id == b.version_id &&
         a.version_stages == b.version_stages && a.kind == b.kind &&
         a.value.Reveal() == b.value.Reveal() && SameTime(a.created_date, b.created_date);
}

json ToJson(const aws::SecretDescription& d) {
  json j = {{"ARN", d.arn},
            {"Name", d.name},
            {"Description", d.description},
            {"KmsKeyId", d.kms_key_id},
            {"VersionIdsToStages", d.version_ids_to_stages}};
  PutTime(j, "CreatedDate", d.created_date);
  PutTime(j, "LastChangedDate", d.last_changed_date);
  PutTime(j, "DeletedDate", d.deleted_date);
  return j;
}
bool Same(const aws::SecretDescription& a, const aws::SecretDescription& b) {
  return a.arn == b.arn && a.name == b.name && a.description == b.description &&
         a.kms_key_id == b.kms_key_id && a.version_ids_to_stages == b.version_ids_to_stages &&
         SameTime(a.created_date, b.created_date) &&
         SameTime(a.last_changed_date, b.last_changed_date) &&
         SameTime(a.deleted_date, b.deleted_date);
}

template <typename Parse>
void RoundTrip(std::string_view what, const json& reply, Parse parse) {
  auto result = parse(reply);
  if (!result.ok()) {
    lockout::fuzz::CheckErrorMessage(result.status(), 200);
    Check(result.status().code() == absl::StatusCode::kInternal, "malformed reply not Internal");
    lockout::fuzz::CheckNotQuoted(result.status(),
                                  lockout::fuzz::StringField(reply, "SecretBinary"));
    lockout::fuzz::CheckNotQuoted(result.status(),
                                  lockout::fuzz::StringField(reply, "SecretString"));
    return;
  }
  const json canonical = ToJson(*result);
  auto again = parse(lockout::fuzz::Reparse(what, canonical));
  Check(again.ok(), "the canonical reply does not parse");
  Check(Same(*result, *again), "the round trip changed the result");
  Check(ToJson(*again) == canonical, "the canonical reply is not a fixpoint");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr const char* kOps[] = {"GetSecretValue", "DescribeSecret", "CreateSecret",
                                         "PutSecretValue", "UpdateSecret"};
  const int op = data[0] % 5;
  const std::string what = absl::StrCat("secretsmanager.", kOps[op]);
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  std::optional<json> reply = lockout::fuzz::AwsReplyObject(what, data[1], body);
  if (!reply.has_value()) return 0;

  if (op == 0) {
    absl::StatusOr<aws::SecretValue> v = in::ParseGetSecretValueReply(*reply);
    if (v.ok()) {
      const auto binary = reply->find("SecretBinary");
      if (binary != reply->end() && !binary->is_null()) {
        absl::StatusOr<lockout::Bytes> decoded =
            lockout::Base64Decode(binary->get_ref<const std::string&>());
        Check(v->kind == aws::SecretKind::kBinary && decoded.ok() &&
                  lockout::ByteView(*decoded) == v->value.Reveal(),
              "the value is not SecretBinary");
      } else {
        Check(v->kind == aws::SecretKind::kString &&
                  v->value.RevealAsString() == lockout::fuzz::StringField(*reply, "SecretString"),
              "the value is not SecretString");
      }
    }
    RoundTrip(what, *reply, in::ParseGetSecretValueReply);
  } else if (op == 1) {
    RoundTrip(what, *reply, in::ParseDescribeSecretReply);
  } else {
    RoundTrip(what, *reply, [&](const json& r) { return in::ParseVersionRef(r, what); });
  }
  lockout::WipeJsonStrings(*reply);
  Check(lockout::fuzz::AllStringsEmpty(*reply), "WipeJsonStrings left a string");
  return 0;
}
