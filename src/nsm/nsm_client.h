#pragma once

// NsmClient: typed NSM calls over any NsmDevice (/dev/nsm or the local NSM service).
//
// Each method encodes one request, calls the device once, decodes the response and checks that
// it is the variant that answers the request. An NSM Error response becomes a Status whose
// message names the request and the NSM error code ("nsm: DescribePCR failed: InvalidIndex"):
//   InvalidArgument, InvalidIndex, InputTooLarge -> InvalidArgument
//   ReadOnlyIndex, InvalidOperation              -> FailedPrecondition
//   BufferTooSmall                               -> ResourceExhausted
//   InvalidResponse, InternalError, Success      -> Internal
// A response of the wrong variant or one that does not decode is Internal; device failures are
// passed through unchanged. Messages never contain message bytes.
// Thread-safety: as thread-safe as the device (both devices here are); the client has no state.
// The device must outlive the client.

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/nsm/nsm_device.h"
#include "src/nsm/nsm_message.h"

namespace lockout::nsm {

// The Status an NSM error code maps to, as described above. `request` names the failed call.
absl::Status NsmErrorToStatus(ErrorCode code, std::string_view request);

class NsmClient {
 public:
  explicit NsmClient(NsmDevice& device) : device_(device) {}

  // Any request; NSM errors become a Status, other responses are returned as they came.
  absl::StatusOr<NsmResponse> Call(const NsmRequest& request);

  // The lock state and value of PCR `index`.
  absl::StatusOr<DescribePcrResponse> DescribePcr(uint16_t index);
  // Extends PCR `index` with `data` (at most kMaxExtendDataSize); returns the new value.
  absl::StatusOr<Bytes> ExtendPcr(uint16_t index, ByteView data);
  // Locks PCR `index` against further extension.
  absl::Status LockPcr(uint16_t index);
  // Locks PCRs [0, range).
  absl::Status LockPcrs(uint16_t range);
  // Module version, id, PCR count, locked PCRs and digest.
  absl::StatusOr<DescribeNsmResponse> DescribeNsm();
  // Random bytes from the NSM (their count is the NSM's choice, 256 on Nitro). Returned as
  // SecretBytes because callers seed keys with them; intermediate buffers are wiped.
  absl::StatusOr<SecretBytes> GetRandom();
  // An attestation document (COSE_Sign1 bytes) binding the optional fields; limits
  // kMaxUserDataSize / kMaxNonceSize / kMaxPublicKeySize (InvalidArgument beyond them).
  absl::StatusOr<Bytes> Attestation(std::optional<ByteView> user_data,
                                    std::optional<ByteView> nonce,
                                    std::optional<ByteView> public_key);

 private:
  // Calls and requires a response of type T.
  template <typename T>
  absl::StatusOr<T> CallExpecting(const NsmRequest& request);

  NsmDevice& device_;
};

}  // namespace lockout::nsm
