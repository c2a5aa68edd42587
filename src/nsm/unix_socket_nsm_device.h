#pragma once

// UnixSocketNsmDevice: an NsmDevice backed by the local NSM service on a Unix stream socket.
//
// Per call it sends one frame (4-byte big-endian length + the request CBOR) and reads one frame
// back (nsm_socket_framing.h), on a connection (a net::BlockingStream) kept open between calls. Any
// failure closes the connection and the next call opens a new one; a kept connection that the
// service closed while idle is noticed before sending and replaced, so a restarted service costs no
// failed call. Calls are never retried once sent: the service may already have acted on a
// non-idempotent request (ExtendPCR). Thread-safe: calls are serialised on the one connection.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/net/blocking_stream.h"
#include "src/net/endpoint.h"
#include "src/nsm/nsm_device.h"
#include "src/nsm/nsm_message.h"

namespace lockout::nsm {

// Largest response frame accepted by default: the /dev/nsm response buffer plus a margin.
inline constexpr size_t kMaxSocketResponseSize = kMaxResponseSize + 0x1000;

struct UnixSocketNsmDeviceOptions {
  // Deadline for one whole call: connect, write the request, read the response.
  absl::Duration timeout = absl::Seconds(10);
  // Responses announcing a larger length are refused before their body is read.
  size_t max_response_size = kMaxSocketResponseSize;
  // The clock `timeout` runs on (tests pass a FakeClock). Must outlive the device.
  const Clock* clock = &Clock::Real();
};

class UnixSocketNsmDevice final : public NsmDevice {
 public:
  // Validates the path (non-empty, fits in sockaddr_un: InvalidArgument otherwise). A relative
  // path is taken relative to the current directory now. Does not connect: the first Call()
  // does, so the service may start later.
  static absl::StatusOr<std::unique_ptr<UnixSocketNsmDevice>> Create(
      std::string_view socket_path, UnixSocketNsmDeviceOptions options = {});

  // The same protocol on a TCP stream: "tcp://HOST:PORT" (the guest of `lockout run-enclave`
  // reaches the local NSM service at tcp://10.0.2.100:9000, docs/RUN-ENCLAVE.md). The service
  // answers only the QEMU carrying that stream; a reconnect is a new stream through QEMU.
  static absl::StatusOr<std::unique_ptr<UnixSocketNsmDevice>> CreateTcp(
      std::string_view uri, UnixSocketNsmDeviceOptions options = {});

  ~UnixSocketNsmDevice() override;
  UnixSocketNsmDevice(const UnixSocketNsmDevice&) = delete;
  UnixSocketNsmDevice& operator=(const UnixSocketNsmDevice&) = delete;

  // Errors: InvalidArgument for a request over kMaxRequestSize (nothing sent); Unavailable if
  // the service cannot be reached or closed the connection before answering; DataLoss if it
  // closed mid-response; ResourceExhausted for an oversized response; DeadlineExceeded on
  // timeout. Messages carry the socket path and sizes, never message bytes.
  absl::StatusOr<Bytes> Call(ByteView request_cbor) override;

 private:
  UnixSocketNsmDevice(net::Endpoint endpoint, UnixSocketNsmDeviceOptions options)
      : endpoint_(std::move(endpoint)), where_(endpoint_.ToString()), options_(options) {}

  // For messages: the socket path, or the tcp:// URI.
  const std::string& where() const;

  absl::Status ConnectLocked(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const net::Endpoint endpoint_;  // unix://<absolute path> or tcp://HOST:PORT
  const std::string where_;
  const UnixSocketNsmDeviceOptions options_;
  absl::Mutex mu_;
  std::optional<net::BlockingStream> stream_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lockout::nsm
