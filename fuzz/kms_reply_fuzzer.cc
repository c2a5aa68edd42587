// libFuzzer target: KmsClient's parsers of KMS replies (src/awsclient/kms_reply_parsers.h) and
// the HTTP reply handling in front of them (fuzz/aws_reply_envelope.h). The reply comes from the
// network; on the parent instance a hostile parent can answer in KMS's place.
//
// Input: byte 0 picks the operation (low nibble) and whether the request carried a Recipient
// (bit 4); byte 1 picks the HTTP status (aws_reply_envelope.h); the rest is the body.
// Properties checked (abort on violation), beyond no crash/leak/UB:
//   * a failed parse is Internal with a bounded printable message that quotes neither the
//     Plaintext nor the GrantToken the reply carried;
//   * a Decrypt/GenerateDataKey success has the plaintext in SecretBytes equal to the base64 of
//     the reply's Plaintext (none with a Recipient, where CiphertextForRecipient is required);
//   * a success re-serialises to a canonical reply that parses back to the same result, and
//     that canonical reply is a fixpoint;
//   * WipeJsonStrings leaves no string in the reply (what KmsClient does after parsing secrets).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/aws_reply_envelope.h"
#include "src/awsclient/kms_reply_parsers.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/strings.h"

namespace {

namespace aws = lockout::awsclient;
namespace in = lockout::awsclient::internal;
using lockout::fuzz::Check;
using nlohmann::json;

json Blob(const lockout::Bytes& b) { return json(lockout::Base64Encode(b)); }
json SecretBlob(const lockout::SecretBytes& b) { return json(lockout::Base64Encode(b.Reveal())); }

bool SameSecret(const lockout::SecretBytes& a, const lockout::SecretBytes& b) {
  return a.Reveal() == b.Reveal();
}

// The canonical reply of each result, and equality of results.
bool Same(const std::string& a, const std::string& b) { return a == b; }
json ToJson(const aws::EncryptResult& r) {
  return {{"CiphertextBlob", Blob(r.ciphertext_blob)},
          {"KeyId", r.key_id},
          {"EncryptionAlgorithm", r.encryption_algorithm}};
}
bool Same(const aws::EncryptResult& a, const aws::EncryptResult& b) {
  return a.ciphertext_blob == b.ciphertext_blob && a.key_id == b.key_id &&
         a.encryption_algorithm == b.encryption_algorithm;
}
json ToJson(const aws::DecryptResult& r, bool with_recipient) {
  json j = {{"KeyId", r.key_id}, {"EncryptionAlgorithm", r.encryption_algorithm}};
  if (r.ciphertext_for_recipient.has_value()) {
    j["CiphertextForRecipient"] = Blob(*r.ciphertext_for_recipient);
  }
  if (!with_recipient) j["Plaintext"] = SecretBlob(r.plaintext);
  return j;
}
bool Same(const aws::DecryptResult& a, const aws::DecryptResult& b) {
  return a.key_id == b.key_id && a.encryption_algorithm == b.encryption_algorithm &&
         a.ciphertext_for_recipient == b.ciphertext_for_recipient &&
         SameSecret(a.plaintext, b.plaintext);
}
json ToJson(const aws::GenerateDataKeyResult& r, bool with_recipient) {
  json j = {{"KeyId", r.key_id}, {"CiphertextBlob", Blob(r.ciphertext_blob)}};
  if (r.ciphertext_for_recipient.has_value()) {
    j["CiphertextForRecipient"] = Blob(*r.ciphertext_for_recipient);
  }
  if (!with_recipient) j["Plaintext"] = SecretBlob(r.plaintext);
  return j;
}
bool Same(const aws::GenerateDataKeyResult& a, const aws::GenerateDataKeyResult& b) {
  return a.key_id == b.key_id && a.ciphertext_blob == b.ciphertext_blob &&
         a.ciphertext_for_recipient == b.ciphertext_for_recipient &&
         SameSecret(a.plaintext, b.plaintext);
}
json ToJson(const aws::KeyMetadata& m) {
  json k = {{"KeyId", m.key_id},
            {"Arn", m.arn},
            {"AWSAccountId", m.aws_account_id},
            {"Description", m.description},
            {"KeyState", m.key_state},
            {"KeyUsage", m.key_usage},
            {"KeySpec", m.key_spec},
            {"KeyManager", m.key_manager},
            {"Enabled", m.enabled}};
  if (m.creation_date.has_value()) k["CreationDate"] = lockout::FormatRfc3339(*m.creation_date);
  return {{"KeyMetadata", k}};
}
bool Same(const aws::KeyMetadata& a, const aws::KeyMetadata& b) {
  if (a.creation_date.has_value() != b.creation_date.has_value()) return false;
  // FormatRfc3339 keeps milliseconds.
  if (a.creation_date.has_value() &&
      absl::AbsDuration(*a.creation_date - *b.creation_date) >= absl::Milliseconds(1)) {
    return false;
  }
  return a.key_id == b.key_id && a.arn == b.arn && a.aws_account_id == b.aws_account_id &&
         a.description == b.description && a.key_state == b.key_state &&
         a.key_usage == b.key_usage && a.key_spec == b.key_spec && a.key_manager == b.key_manager &&
         a.enabled == b.enabled;
}
json ToJson(const aws::ReEncryptResult& r) {
  return {{"CiphertextBlob", Blob(r.ciphertext_blob)},
          {"SourceKeyId", r.source_key_id},
          {"KeyId", r.key_id}};
}
bool Same(const aws::ReEncryptResult& a, const aws::ReEncryptResult& b) {
  return a.ciphertext_blob == b.ciphertext_blob && a.source_key_id == b.source_key_id &&
         a.key_id == b.key_id;
}
json ToJson(const aws::CreateGrantResult& r) {
  return {{"GrantToken", r.grant_token}, {"GrantId", r.grant_id}};
}
bool Same(const aws::CreateGrantResult& a, const aws::CreateGrantResult& b) {
  return a.grant_token == b.grant_token && a.grant_id == b.grant_id;
}
json ToJson(const aws::GrantEntry& g) {
  return {{"GrantId", g.grant_id},
          {"KeyId", g.key_id},
          {"Name", g.name},
          {"GranteePrincipal", g.grantee_principal},
          {"RetiringPrincipal", g.retiring_principal},
          {"Operations", g.operations}};
}
bool Same(const aws::GrantEntry& a, const aws::GrantEntry& b) {
  return a.grant_id == b.grant_id && a.key_id == b.key_id && a.name == b.name &&
         a.grantee_principal == b.grantee_principal &&
         a.retiring_principal == b.retiring_principal && a.operations == b.operations;
}
json ToJson(const aws::AliasEntry& a) {
  return {{"AliasName", a.alias_name}, {"AliasArn", a.alias_arn}, {"TargetKeyId", a.target_key_id}};
}
bool Same(const aws::AliasEntry& a, const aws::AliasEntry& b) {
  return a.alias_name == b.alias_name && a.alias_arn == b.alias_arn &&
         a.target_key_id == b.target_key_id;
}

// Parses `reply`; on success re-serialises, parses again and compares; on failure checks the
// error. `parse(json) -> StatusOr<T>`, `to_json(const T&) -> json`.
template <typename Parse, typename ToJsonFn>
void RoundTrip(std::string_view what, const json& reply, Parse parse, ToJsonFn to_json) {
  auto result = parse(reply);
  if (!result.ok()) {
    lockout::fuzz::CheckErrorMessage(result.status(), 200);
    Check(result.status().code() == absl::StatusCode::kInternal, "malformed reply not Internal");
    lockout::fuzz::CheckNotQuoted(result.status(), lockout::fuzz::StringField(reply, "Plaintext"));
    lockout::fuzz::CheckNotQuoted(result.status(), lockout::fuzz::StringField(reply, "GrantToken"));
    return;
  }
  const json canonical = to_json(*result);
  auto again = parse(lockout::fuzz::Reparse(what, canonical));
  Check(again.ok(), "the canonical reply does not parse");
  Check(Same(*result, *again), "the round trip changed the result");
  Check(to_json(*again) == canonical, "the canonical reply is not a fixpoint");
}

// A list page: the entries and the marker, round-tripped as a page.
template <typename Entry, typename ParseEntry>
void ListRoundTrip(std::string_view operation, std::string_view list_field, const json& reply,
                   ParseEntry parse_entry) {
  const std::string what = absl::StrCat("kms.", lockout::Absl(operation));
  struct Page {
    std::vector<Entry> entries;
    std::optional<std::string> marker;
  };
  auto parse = [&](const json& r) -> absl::StatusOr<Page> {
    Page page;
    absl::StatusOr<std::optional<std::string>> marker =
        in::ParseListPage(r, operation, list_field, [&](const json& item) -> absl::Status {
          absl::StatusOr<Entry> e = parse_entry(item);
          if (!e.ok()) return e.status();
          page.entries.push_back(*std::move(e));
          return absl::OkStatus();
        });
    if (!marker.ok()) return marker.status();
    page.marker = *std::move(marker);
    return page;
  };
  auto to_json = [&](const Page& p) {
    json list = json::array();
    for (const Entry& e : p.entries) list.push_back(ToJson(e));
    json j = {{std::string(list_field), list}, {"Truncated", p.marker.has_value()}};
    if (p.marker.has_value()) j["NextMarker"] = *p.marker;
    return j;
  };
  absl::StatusOr<Page> page = parse(reply);
  if (!page.ok()) {
    lockout::fuzz::CheckErrorMessage(page.status(), 200);
    Check(page.status().code() == absl::StatusCode::kInternal, "malformed page not Internal");
    return;
  }
  const json canonical = to_json(*page);
  absl::StatusOr<Page> again = parse(lockout::fuzz::Reparse(what, canonical));
  Check(
      again.ok() && again->marker == page->marker && again->entries.size() == page->entries.size(),
      "the round trip changed the page");
  for (size_t i = 0; i < page->entries.size(); ++i) {
    Check(Same(page->entries[i], again->entries[i]), "the round trip changed an entry");
  }
  Check(to_json(*again) == canonical, "the canonical page is not a fixpoint");
}

void CheckSecretBlob(const json& reply, const lockout::SecretBytes& plaintext) {
  absl::StatusOr<lockout::Bytes> decoded =
      lockout::Base64Decode(lockout::fuzz::StringField(reply, "Plaintext"));
  Check(decoded.ok() && lockout::ByteView(*decoded) == plaintext.Reveal(),
        "the plaintext is not the reply's Plaintext");
}

// Decrypt and GenerateDataKey: with a Recipient only CiphertextForRecipient, else the plaintext
// equal to the reply's base64 Plaintext.
template <typename Result>
void CheckPlaintextOrRecipient(const json& reply, const Result& r, bool with_recipient) {
  if (with_recipient) {
    Check(r.plaintext.empty() && r.ciphertext_for_recipient.has_value(),
          "a Recipient reply gave a plaintext or no CiphertextForRecipient");
  } else {
    CheckSecretBlob(reply, r.plaintext);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int op = data[0] & 0x0f;
  const bool with_recipient = (data[0] & 0x10) != 0;
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  static constexpr const char* kOps[] = {
      "Encrypt",     "Decrypt",      "GenerateDataKey",    "CreateKey",
      "DescribeKey", "GetKeyPolicy", "ReEncrypt",          "CreateGrant",
      "ListGrants",  "ListAliases",  "ScheduleKeyDeletion"};
  constexpr int kNumOps = sizeof(kOps) / sizeof(kOps[0]);
  if (op >= kNumOps) return 0;
  const std::string what = absl::StrCat("kms.", kOps[op]);
  std::optional<json> reply = lockout::fuzz::AwsReplyObject(what, data[1], body);
  if (!reply.has_value()) return 0;

  switch (op) {
    case 0:
      RoundTrip(what, *reply, in::ParseEncryptReply,
                [](const aws::EncryptResult& r) { return ToJson(r); });
      break;
    case 1: {
      auto parse = [&](const json& r) { return in::ParseDecryptReply(r, with_recipient); };
      absl::StatusOr<aws::DecryptResult> r = parse(*reply);
      if (r.ok()) CheckPlaintextOrRecipient(*reply, *r, with_recipient);
      RoundTrip(what, *reply, parse,
                [&](const aws::DecryptResult& d) { return ToJson(d, with_recipient); });
      break;
    }
    case 2: {
      auto parse = [&](const json& r) { return in::ParseGenerateDataKeyReply(r, with_recipient); };
      absl::StatusOr<aws::GenerateDataKeyResult> r = parse(*reply);
      if (r.ok()) CheckPlaintextOrRecipient(*reply, *r, with_recipient);
      RoundTrip(what, *reply, parse,
                [&](const aws::GenerateDataKeyResult& g) { return ToJson(g, with_recipient); });
      break;
    }
    case 3:
    case 4:
      RoundTrip(
          what, *reply, [&](const json& r) { return in::ParseKeyMetadata(r, what); },
          [](const aws::KeyMetadata& m) { return ToJson(m); });
      break;
    case 5:
      RoundTrip(what, *reply, in::ParseGetKeyPolicyReply, [](const std::string& p) {
        return json{{"Policy", p}};
      });
      break;
    case 6:
      RoundTrip(what, *reply, in::ParseReEncryptReply,
                [](const aws::ReEncryptResult& r) { return ToJson(r); });
      break;
    case 7:
      RoundTrip(what, *reply, in::ParseCreateGrantReply,
                [](const aws::CreateGrantResult& r) { return ToJson(r); });
      break;
    case 8:
      ListRoundTrip<aws::GrantEntry>("ListGrants", "Grants", *reply, in::ParseGrantEntry);
      break;
    case 9:
      ListRoundTrip<aws::AliasEntry>("ListAliases", "Aliases", *reply, in::ParseAliasEntry);
      break;
    case 10:
      RoundTrip(what, *reply, in::ParseScheduleKeyDeletionReply, [](const std::string& s) {
        return json{{"KeyState", s}};
      });
      break;
  }
  lockout::WipeJsonStrings(*reply);
  Check(lockout::fuzz::AllStringsEmpty(*reply), "WipeJsonStrings left a string");
  return 0;
}
