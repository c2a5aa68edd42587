#pragma once

// Where the PCR values a key policy pins come from (lockout policy --pcr0/--eif/--enclave-binary,
// --pcr8, --pcr3-role).
//
//   PCR0 of an EIF        the image measurement nitro-cli prints (src/eif)
//   PCR0 of a binary      what `lockout local-aws`'s NSM service reports for a process running
//                         that executable: SHA384(0^48 ‖ SHA384(file bytes)) (ARCHITECTURE §2),
//                         computed by src/measure/local_pcr0.h, the same code the service uses
//   PCR3 of a role        SHA384(0^48 ‖ role ARN), the parent instance's IAM role measurement
//
// Errors: NotFound/PermissionDenied/Unavailable/ResourceExhausted for files (messages name the
// path), InvalidArgument for malformed hex or EIFs. Thread-safety: pure functions.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/crypto/hash.h"

namespace lockout::ops {

// A PCR value: 48 bytes (SHA-384). Accepts upper or lower case and an optional "0x".
absl::StatusOr<crypto::Sha384Digest> ParsePcrHex(std::string_view hex, std::string_view what);

// SHA384(0^48 ‖ SHA384(bytes of the file at `path`)), streamed.
absl::StatusOr<crypto::Sha384Digest> Pcr0OfEnclaveBinary(const std::string& path);

// The PCR0 of the EIF at `path` (the file is fully validated, CRC included).
absl::StatusOr<crypto::Sha384Digest> Pcr0OfEif(const std::string& path);

// SHA384(0^48 ‖ role_arn): PCR3 for an enclave whose parent instance has this role.
crypto::Sha384Digest Pcr3OfRole(std::string_view role_arn);

// Exactly one PCR0 source must be set: pcr0 hex, eif path or enclave binary path.
struct Pcr0Source {
  std::string pcr0_hex;
  std::string eif_path;
  std::string enclave_binary_path;
};
// InvalidArgument unless exactly one field is set; otherwise the PCR0 it gives.
absl::StatusOr<crypto::Sha384Digest> ResolvePcr0(const Pcr0Source& source);

}  // namespace lockout::ops
