#include "src/enclave/policy_seal.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/common/bytes.h"
#include "src/common/status_macros.h"
#include "src/crypto/hash.h"
#include "src/nsm/nsm_client.h"

namespace lockout::enclave {

absl::StatusOr<std::array<uint8_t, 48>> SealSigningPolicy(nsm::NsmDevice& nsm,
                                                          const signpolicy::SigningPolicy& policy) {
  constexpr uint16_t kPcr = signpolicy::kSigningPolicyPcr;
  nsm::NsmClient client(nsm);
  // A fresh PCR16 first: ExtendPCR from any other value cannot give ExpectedPcr16, and a locked one
  // cannot be extended at all. Checking explicitly gives the operator the reason rather than a
  // bare ReadOnlyIndex or a KMS refusal later.
  ASSIGN_OR_RETURN(nsm::DescribePcrResponse before, client.DescribePcr(kPcr));
  if (before.data.size() != 48) {
    return absl::InternalError(
        absl::StrCat("nsm: PCR16 is ", before.data.size(), " bytes (SHA-384 expected)"));
  }
  if (before.lock) {
    return absl::FailedPreconditionError(
        "PCR16 is already locked: the signing policy cannot be sealed (was the enclave's NSM "
        "used by something else first?)");
  }
  if (std::any_of(before.data.begin(), before.data.end(), [](uint8_t b) { return b != 0; })) {
    return absl::FailedPreconditionError(
        "PCR16 was already extended: the signing policy cannot be sealed from a fresh PCR16");
  }
  const std::array<uint8_t, 48> digest = signpolicy::PolicyDigest(policy);
  const std::array<uint8_t, 48> expected = signpolicy::ExpectedPcr16(policy);
  ASSIGN_OR_RETURN(Bytes extended, client.ExtendPcr(kPcr, ByteView(digest.data(), digest.size())));
  if (!crypto::ConstantTimeEquals(extended, ByteView(expected.data(), expected.size()))) {
    return absl::InternalError("nsm: PCR16 after ExtendPCR is not SHA-384(PCR16 || digest)");
  }
  RETURN_IF_ERROR(client.LockPcr(kPcr));
  // Read back: the lock must hold and the value must be the one KMS will be shown.
  ASSIGN_OR_RETURN(nsm::DescribePcrResponse after, client.DescribePcr(kPcr));
  if (!after.lock ||
      !crypto::ConstantTimeEquals(after.data, ByteView(expected.data(), expected.size()))) {
    return absl::InternalError("nsm: PCR16 is not locked at the sealed value after LockPCR");
  }
  return expected;
}

}  // namespace lockout::enclave
