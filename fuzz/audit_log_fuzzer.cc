// libFuzzer target: the audit trail's parsers of untrusted input (docs/PROTOCOL.md §5).
//   * audit::ParseRecordLine and the whole-file verifier (audit::VerifyAuditText), which
//     `lockout audit verify` runs on a file the parent (untrusted) wrote;
//   * relay::DecodeAppendAuditRequest, which lockout-relay runs on what its port receives.
// Properties checked (abort on violation):
//   * an accepted line re-encodes to exactly the same bytes (one encoding);
//   * the verifier never reports more issues than its bound and never calls a file of junk ok;
//   * an accepted append_audit request re-encodes and decodes to the same lines;
//   * failures are bounded printable messages with the documented codes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/audit/audit_record.h"
#include "src/audit/audit_verifier.h"
#include "src/relay/relay_protocol.h"

using lockout::fuzz::Check;
namespace audit = lockout::audit;
namespace relay = lockout::relay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<audit::AuditRecord> record = audit::ParseRecordLine(text);
  if (record.ok()) {
    absl::StatusOr<std::string> again = audit::EncodeRecordLine(*record);
    Check(again.ok() && *again == text, "an accepted line does not re-encode to itself");
  } else {
    lockout::fuzz::CheckErrorMessage(record.status(), 300);
    Check(record.status().code() == absl::StatusCode::kInvalidArgument, "record error code");
  }

  audit::VerifyOptions options;
  options.max_issues = 8;
  const audit::VerifyReport report = audit::VerifyAuditText(text, options);
  Check(report.errors.size() <= 8 && report.gaps.size() <= 8, "issues over the bound");
  if (report.ok()) {
    Check(!report.chains.empty(), "a file without chains verified");
  }

  absl::StatusOr<std::vector<std::string>> lines = relay::DecodeAppendAuditRequest(text);
  if (lines.ok()) {
    absl::StatusOr<std::string> encoded = relay::EncodeAppendAuditRequest(*lines);
    Check(encoded.ok(), "accepted lines do not re-encode");
    absl::StatusOr<std::vector<std::string>> back = relay::DecodeAppendAuditRequest(*encoded);
    Check(back.ok() && *back == *lines, "append_audit lines do not round-trip");
  } else {
    lockout::fuzz::CheckErrorMessage(lines.status(), 300);
    Check(lines.status().code() == absl::StatusCode::kInvalidArgument ||
              lines.status().code() == absl::StatusCode::kUnimplemented,
          "append_audit error code");
  }
  absl::StatusOr<size_t> appended = relay::DecodeAppendAuditReply(text);
  if (!appended.ok()) lockout::fuzz::CheckErrorMessage(appended.status(), 400);
  return 0;
}
