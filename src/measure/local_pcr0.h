#pragma once

// The local PCR0 of an executable: the one definition used by `lockout policy --enclave-binary`
// (operator/measurement.h) and by local-aws's NSM service for the process on the other end of its
// socket (localaws/nsm_service_measure.h), so the value a policy pins and the value a local
// attestation document carries are computed by the same code.
//
//   PCR0 = SHA384(0^48 ‖ SHA384(bytes of the executable file))     (ARCHITECTURE §2)
//
// Errors: NotFound (no such file), PermissionDenied, FailedPrecondition (not a regular file),
// ResourceExhausted (over kMaxMeasuredFileSize), Unavailable (other open/read errors). Messages
// name the file as the caller describes it (`what`), never its bytes. Thread-safety: pure
// functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/crypto/hash.h"

namespace lockout::measure {

// Executables larger than this are refused rather than hashed.
inline constexpr uint64_t kMaxMeasuredFileSize = uint64_t{2} << 30;

struct FileDigest {
  crypto::Sha384Digest sha384;
  uint64_t size = 0;  // bytes hashed
};

// SHA-384 of the regular file open at `fd`, read from offset 0 to its end (pread: the fd's
// offset is untouched). `what` names the file in error messages.
absl::StatusOr<FileDigest> Sha384OfOpenFile(int fd, std::string_view what);

// SHA384(0^48 ‖ file_sha384).
crypto::Sha384Digest LocalPcr0(const crypto::Sha384Digest& file_sha384);

// Opens `path` and returns LocalPcr0 of its bytes.
absl::StatusOr<crypto::Sha384Digest> LocalPcr0OfFile(const std::string& path);

}  // namespace lockout::measure
