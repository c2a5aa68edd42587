#pragma once

// NsmDevice: the transport edge between the enclave and a Nitro Security Module.
//
// A device takes one CBOR-encoded NSM request (nsm_message.h) and returns the module's CBOR
// response, uninterpreted. Production uses DevNsmDevice (/dev/nsm, NSM_IOCTL_RAW); local runs use
// UnixSocketNsmDevice against the local NSM service. Nothing above this interface knows which one
// it talks to (ARCHITECTURE §2: mock and production differ only here).
//
// Thread-safety: implementations must be thread-safe; Call() may be invoked concurrently.

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::nsm {

class NsmDevice {
 public:
  virtual ~NsmDevice() = default;

  // Sends `request_cbor` (at most kMaxRequestSize bytes) and returns the response bytes (at most
  // kMaxResponseSize for /dev/nsm). Transport failures are returned as a Status; an NSM-level
  // error is a successful call whose response decodes to ErrorResponse.
  virtual absl::StatusOr<Bytes> Call(ByteView request_cbor) = 0;
};

}  // namespace lockout::nsm
