#pragma once

// Sealing the signing policy (docs/PROTOCOL.md, "Signing policy"; docs/SECURITY.md): before the
// enclave asks KMS for its key it extends PCR16 with the policy's digest and locks PCR16, so every
// attestation document it produces from then on — the one KMS Decrypt checks included — carries
//   PCR16 = SHA-384(48 zero bytes || PolicyDigest(policy))
// and nothing inside the enclave can change it. A key policy that pins
// kms:RecipientAttestation:PCR16 to that value releases the key only to an enclave running this
// policy; one booted with any other policy (a client added by root on the parent) is refused.
//
// Thread-safety: a pure function of the device; call it once, before the key is requested.

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "src/nsm/nsm_device.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::enclave {

// Extends PCR16 with PolicyDigest(policy) through the NSM and locks it; returns PCR16's value,
// which is ExpectedPcr16(policy). Only from a fresh PCR16 (all zero, unlocked): a PCR16 already
// extended or locked (by anything) cannot be brought to the expected value, and is refused
// (FailedPrecondition naming the state; the key must then never be requested). NSM failures
// pass through (nsm_client.h's mapping); a value the NSM reports that differs from the one we
// computed is Internal.
absl::StatusOr<std::array<uint8_t, 48>> SealSigningPolicy(nsm::NsmDevice& nsm,
                                                          const signpolicy::SigningPolicy& policy);

}  // namespace lockout::enclave
