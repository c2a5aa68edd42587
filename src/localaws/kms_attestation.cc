#include "src/localaws/kms_attestation.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "src/attest/attest_error.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"

namespace lockout::localaws {

RecipientAttestation CheckRecipientAttestation(ByteView document,
                                               absl::Span<const Bytes> trusted_roots,
                                               absl::Time now, absl::Duration max_age) {
  RecipientAttestation out;
  auto verified = attest::VerifyAttestationDocument(document, trusted_roots, now);
  if (!verified.ok()) {
    std::optional<attest::AttestFailure> failure = attest::FailureOf(verified.status());
    out.failure = failure ? std::string(attest::FailureName(*failure)) : "no_trusted_roots";
    out.failure_detail = std::string(verified.status().message());
    return out;
  }
  const uint64_t ts_ms = verified->document.timestamp_ms;
  // Compare in absl::Time so that a huge timestamp cannot overflow anything.
  const absl::Time signed_at = absl::FromUnixMillis(static_cast<int64_t>(
      std::min<uint64_t>(ts_ms, static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))));
  const absl::Duration age = now - signed_at;
  if (age > max_age || -age > max_age) {
    out.failure = "stale";
    out.failure_detail = absl::StrCat("document timestamp is ", absl::FormatDuration(age),
                                      " from now; the limit is ", absl::FormatDuration(max_age));
    return out;
  }
  out.verified = *std::move(verified);
  return out;
}

void AddAttestationConditionKeys(const attest::AttestationDocument& document,
                                 policy::ConditionKeys& keys) {
  for (const auto& [index, value] : document.pcrs) {
    std::string hex = HexEncode(value);
    if (index == 0) keys.Set("kms:RecipientAttestation:ImageSha384", hex);
    keys.Set(absl::StrCat("kms:RecipientAttestation:PCR", index), hex);
  }
}

}  // namespace lockout::localaws
