// libFuzzer target: the hint for an AWS error reply (src/awsclient/failure_hint.h). The reply
// comes over the network (an endpoint variable can point anywhere); ExplainAwsFailure reads the
// principal, action and resource out of its message.
//
// Input: "HTTP-STATUS\nBODY" (the status as decimal, then the reply body as ParseAwsErrorResponse
// reads it). Properties (abort on violation):
//   * the hint has a cause name and a non-empty, printable text of bounded size;
//   * every cause but "other" has a next step (or quotes the credential chain's, which has one);
//   * a plain transport status (no AwsCallError) with the same text is classified too.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "fuzz/fuzz_checks.h"
#include "src/awsclient/aws_call_error.h"
#include "src/awsclient/failure_hint.h"

namespace {

namespace aws = lockout::awsclient;
using lockout::fuzz::Check;
using lockout::fuzz::IsPrintableAscii;

void CheckHint(const aws::AwsFailureHint& h) {
  Check(!aws::AwsFailureCauseName(h.cause).empty(), "cause without a name");
  const std::string text = h.Text();
  Check(!text.empty(), "empty hint");
  Check(IsPrintableAscii(text), "hint not printable");
  Check(text.size() < 4096, "hint unbounded");
  // The credential chain's own error already ends with what to set (AWS_ACCESS_KEY_ID ...).
  Check(h.cause == aws::AwsFailureCause::kOther || !h.next_step.empty() ||
            text.find("AWS_ACCESS_KEY_ID") != std::string::npos,
        "cause without a step");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  int http = 400;
  std::string_view body = input;
  if (newline != std::string_view::npos) {
    int parsed = 0;
    const std::string_view head = input.substr(0, newline);
    if (absl::SimpleAtoi(absl::string_view(head.data(), head.size()), &parsed) && parsed >= 100 &&
        parsed <= 599) {
      http = parsed;
    }
    body = input.substr(newline + 1);
  }
  const aws::AwsCallError error = aws::ParseAwsErrorResponse(http, {}, body);
  const aws::AwsCallContext context = {.action = "secretsmanager:GetSecretValue",
                                       .resource = "the secret \"x\"",
                                       .region = "us-east-1",
                                       .if_missing = "create it"};
  CheckHint(aws::ExplainAwsFailure(aws::MakeAwsCallStatus("secretsmanager.GetSecretValue", error),
                                   context));
  CheckHint(aws::ExplainAwsFailure(absl::UnavailableError(error.message), context));
  return 0;
}
