// libFuzzer target: the XML reader and the STS reply parsers (src/awsclient/xml_reply.h,
// sts_client.h). STS replies come over the network; an endpoint variable can point anywhere.
//
// Each input goes to ParseXml, ParseAssumeRoleResponse, ParseGetCallerIdentityResponse and
// ParseQueryErrorResponse. Properties (abort on violation):
//   * errors are printable, bounded and never quote the input (a marker planted in it);
//   * a parsed tree respects the depth and element limits, and element names are non-empty
//     without ':' (prefixes dropped);
//   * AssumeRole: a success has every field non-empty; GetCallerIdentity likewise;
//   * error replies: the type is non-empty alphanumeric, the message printable and bounded.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/awsclient/sts_client.h"
#include "src/awsclient/xml_reply.h"

namespace {

namespace aws = lockout::awsclient;
using lockout::fuzz::Check;
using lockout::fuzz::CheckErrorMessage;
using lockout::fuzz::IsPrintableAscii;
using lockout::fuzz::Message;

size_t Walk(const aws::XmlElement& e, int depth) {
  Check(depth <= aws::kMaxXmlDepth, "tree deeper than the limit");
  Check(!e.name.empty() && e.name.find(':') == std::string::npos, "bad element name");
  size_t n = 1;
  for (const aws::XmlElement& c : e.children) n += Walk(c, depth + 1);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<aws::XmlElement> xml = aws::ParseXml(text);
  if (xml.ok()) {
    Check(Walk(*xml, 1) <= aws::kMaxXmlElements, "more elements than the limit");
  } else {
    CheckErrorMessage(xml.status(), 200);
    Check(Message(xml.status()).find("FUZZMARK") == std::string_view::npos, "XML error quotes");
  }
  absl::StatusOr<aws::AssumeRoleResult> assumed = aws::ParseAssumeRoleResponse(text);
  if (assumed.ok()) {
    Check(!assumed->credentials.access_key_id.empty() &&
              !assumed->credentials.secret_access_key.empty() &&
              !assumed->credentials.session_token.empty() && !assumed->assumed_role_arn.empty() &&
              !assumed->assumed_role_id.empty(),
          "AssumeRole success with an empty field");
  } else {
    CheckErrorMessage(assumed.status(), 300);
    Check(Message(assumed.status()).find("FUZZMARK") == std::string_view::npos,
          "AssumeRole error quotes");
  }
  absl::StatusOr<aws::CallerIdentity> id = aws::ParseGetCallerIdentityResponse(text);
  if (id.ok()) {
    Check(!id->account.empty() && !id->arn.empty() && !id->user_id.empty(), "empty identity");
  } else {
    CheckErrorMessage(id.status(), 300);
  }
  aws::AwsCallError error = aws::ParseQueryErrorResponse(400, text);
  Check(!error.type.empty() && error.type.size() <= 128, "error type empty or long");
  Check(IsPrintableAscii(error.message) && error.message.size() <= aws::kMaxAwsErrorMessage,
        "error message not printable or too long");
  return 0;
}
