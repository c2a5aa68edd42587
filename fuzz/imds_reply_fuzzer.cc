// libFuzzer target: ImdsClient's parsers of what the instance metadata service answers
// (src/awsclient/imds_client.h): the role credentials document, the session token and the
// security-credentials listing that names the instance role. On the parent, IMDS replies come
// over the network (and local-aws serves them in development), so all three are untrusted.
//
// Each input is given to all three parsers. Properties checked (abort on violation):
//   * failures carry the documented codes and a bounded printable message that never quotes
//     the SecretAccessKey, Token or session token;
//   * credentials: a success has every field non-empty and re-serialises to a document that
//     parses back to the same credentials (expiration to FormatRfc3339's millisecond), a
//     fixpoint;
//   * token: a success is 1..4096 bytes without surrounding whitespace, found in the body;
//   * role name: a success is a valid IAM role name taken from the body's first line, and
//     parsing it alone gives it back.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/awsclient/imds_client.h"
#include "src/common/clock.h"
#include "src/common/json.h"

namespace {

namespace aws = lockout::awsclient;
using lockout::fuzz::Check;
using nlohmann::json;

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

json ToJson(const aws::RoleCredentials& c) {
  return {{"Code", "Success"},
          {"Type", "AWS-HMAC"},
          {"AccessKeyId", c.access_key_id},
          {"SecretAccessKey", std::string(c.secret_access_key.RevealAsString())},
          {"Token", std::string(c.session_token.RevealAsString())},
          {"Expiration", lockout::FormatRfc3339(c.expiration)}};
}

bool Same(const aws::RoleCredentials& a, const aws::RoleCredentials& b) {
  return a.access_key_id == b.access_key_id &&
         a.secret_access_key.Reveal() == b.secret_access_key.Reveal() &&
         a.session_token.Reveal() == b.session_token.Reveal() &&
         absl::AbsDuration(a.expiration - b.expiration) < absl::Milliseconds(1);
}

void Credentials(std::string_view body) {
  absl::StatusOr<aws::RoleCredentials> creds = aws::ParseRoleCredentials(body);
  if (!creds.ok()) {
    lockout::fuzz::CheckErrorMessage(creds.status(), 200);
    Check(creds.status().code() == absl::StatusCode::kInvalidArgument ||
              creds.status().code() == absl::StatusCode::kUnavailable,
          "unexpected error code");
    absl::StatusOr<json> doc = lockout::ParseJson(body, 64 << 10);
    if (doc.ok()) {
      lockout::fuzz::CheckNotQuoted(creds.status(),
                                    lockout::fuzz::StringField(*doc, "SecretAccessKey"));
      lockout::fuzz::CheckNotQuoted(creds.status(), lockout::fuzz::StringField(*doc, "Token"));
    }
    return;
  }
  Check(body.find('\0') == std::string_view::npos, "a document with a NUL byte was accepted");
  Check(!creds->access_key_id.empty() && !creds->secret_access_key.empty() &&
            !creds->session_token.empty(),
        "empty credentials accepted");
  const json canonical = ToJson(*creds);
  absl::StatusOr<aws::RoleCredentials> again = aws::ParseRoleCredentials(canonical.dump());
  Check(again.ok(), "the canonical document does not parse");
  Check(Same(*creds, *again), "the round trip changed the credentials");
  Check(ToJson(*again) == canonical, "the canonical document is not a fixpoint");
}

void Token(std::string_view body) {
  absl::StatusOr<lockout::SecretBytes> token = aws::ParseImdsToken(body);
  if (!token.ok()) {
    lockout::fuzz::CheckErrorMessage(token.status(), 100);
    Check(token.status().code() == absl::StatusCode::kUnavailable, "unexpected error code");
    lockout::fuzz::CheckNotQuoted(token.status(), body);
    return;
  }
  const std::string_view t = token->RevealAsString();
  Check(!t.empty() && t.size() <= 4096, "token size out of bounds");
  Check(!IsSpace(t.front()) && !IsSpace(t.back()), "token keeps surrounding whitespace");
  Check(body.find(t) != std::string_view::npos, "token is not from the body");
}

void RoleName(std::string_view body) {
  absl::StatusOr<std::string> role = aws::ParseRoleNameListing(body);
  if (!role.ok()) {
    lockout::fuzz::CheckErrorMessage(role.status(), 100);
    Check(role.status().code() == absl::StatusCode::kNotFound ||
              role.status().code() == absl::StatusCode::kInvalidArgument,
          "unexpected error code");
    return;
  }
  Check(!role->empty() && role->size() <= 128, "role name size out of bounds");
  for (char c : *role) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("+=,.@_-").find(c) != std::string_view::npos;
    Check(ok, "role name has a character IAM does not allow");
  }
  size_t start = 0;
  while (start < body.size() && IsSpace(body[start])) ++start;
  Check(body.substr(start, role->size()) == *role, "role name is not the first line");
  absl::StatusOr<std::string> again = aws::ParseRoleNameListing(*role);
  Check(again.ok() && *again == *role, "a role name alone does not parse to itself");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  Credentials(body);
  Token(body);
  RoleName(body);
  return 0;
}
