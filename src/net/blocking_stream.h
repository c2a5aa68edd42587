#pragma once

// BlockingStream: one connected stream socket (tcp, unix or vsock) with blocking operations that
// each end by a deadline. Every client in lockout that talks over a socket and waits for the
// answer uses it (operator enclave client, relay client, NSM socket device, bench preflight).
//
//   ASSIGN_OR_RETURN(net::BlockingStream s,
//                    net::BlockingStream::Connect(endpoint, clock.Now() + absl::Seconds(5),
//                    clock));
//   RETURN_IF_ERROR(s.WriteAll(request, s.DeadlineAfter(absl::Seconds(10))));
//   ASSIGN_OR_RETURN(size_t n, s.ReadSome(buffer, deadline));  // 0: the peer closed
//
// I/O runs on Boost.Asio: the stream owns a generic stream socket and the small io_context it
// runs on (one per stream, set up once, never per call), and every wait is an Asio wait. The
// descriptor is non-blocking and close-on-exec; writes pass MSG_NOSIGNAL (Asio does on Linux), so
// a closed peer is an error, never SIGPIPE; EINTR is retried.
//
// Deadlines are absolute times on the stream's Clock (Clock::Real() unless one is given): each
// call gives up at its deadline, however the bytes trickle in. With the real clock a wait sleeps
// until the deadline; with any other clock (a FakeClock in tests) waits run in real slices of
// kFakeClockSlice and re-read clock.Now() after each, so a test that advances the clock past a
// deadline sees DeadlineExceeded within one slice, without waiting the timeout in real time.
// (Clock::Real() is wall time: a step of the system clock moves deadlines with it.)
//
// Errors (messages name the peer, the operation and the errno text, never data):
//   DeadlineExceeded   the deadline passed first;
//   Unavailable        connection failures (refused, reset, unreachable, broken pipe, AF_VSOCK
//                      missing on this host: the message says so);
//   DataLoss           ReadExact: the peer closed before the last byte;
//   InvalidArgument    unusable endpoints or descriptors (bad unix path, unresolvable host, not a
//                      stream socket);
//   PermissionDenied   EACCES/EPERM;
//   ResourceExhausted  no descriptor or memory left to set the stream up;
//   FailedPrecondition the stream was moved from or released.
//
// Thread-safety: thread-compatible. One operation at a time per stream (no concurrent read and
// write from two threads); distinct streams are independent.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "src/common/bytes.h"
#include "src/common/clock.h"
#include "src/common/unique_fd.h"
#include "src/net/endpoint.h"

namespace lockout::net {

// How often a wait on a clock other than Clock::Real() re-reads clock.Now().
inline constexpr absl::Duration kFakeClockSlice = absl::Milliseconds(10);

class BlockingStream final {
 public:
  // Connects to `endpoint` by `deadline` (tcp: each resolved address in turn, all within the one
  // deadline; name resolution itself is not bounded by it). `clock` must outlive the stream.
  static absl::StatusOr<BlockingStream> Connect(const Endpoint& endpoint, absl::Time deadline,
                                                const Clock& clock = Clock::Real());

  // Takes ownership of `fd`, a connected stream socket of any family (e.g. from accept4), and
  // makes it non-blocking and close-on-exec. InvalidArgument if it is not a stream socket (the
  // fd is closed then, as it was given away).
  static absl::StatusOr<BlockingStream> Adopt(UniqueFd fd, const Clock& clock = Clock::Real());

  // Works on `fd` without owning it, for code that holds raw descriptors: destroying (or
  // releasing) the stream hands the descriptor back open, with its blocking mode as it was.
  // Each Borrow sets up an io_context; code that does many calls on one connection should own a
  // stream instead.
  static absl::StatusOr<BlockingStream> Borrow(int fd, const Clock& clock = Clock::Real());

  BlockingStream(BlockingStream&& other) noexcept;
  BlockingStream& operator=(BlockingStream&& other) noexcept;
  BlockingStream(const BlockingStream&) = delete;
  BlockingStream& operator=(const BlockingStream&) = delete;
  ~BlockingStream();

  bool is_open() const { return impl_ != nullptr; }
  // The descriptor, for syscalls Asio does not offer (recvmsg with SCM_CREDENTIALS); -1 when
  // closed. Stays owned by the stream.
  int native_handle() const;
  const Clock& clock() const;
  // The name used in error messages: the endpoint URI, or "fd N" for adopted descriptors.
  const std::string& peer() const;
  // clock().Now() + timeout (InfiniteDuration gives InfiniteFuture: no deadline).
  absl::Time DeadlineAfter(absl::Duration timeout) const;

  // Writes all of `data`, finishing partial writes.
  absl::Status WriteAll(ByteView data, absl::Time deadline);
  absl::Status WriteAll(std::string_view data, absl::Time deadline);

  // Reads what is available (waiting for at least one byte) into `out`, which must not be empty.
  // Returns the count; 0 means the peer closed its side (end of stream).
  absl::StatusOr<size_t> ReadSome(absl::Span<uint8_t> out, absl::Time deadline);

  // Reads exactly out.size() bytes. DataLoss if the peer closes first. `received`, if given, is
  // set to the bytes read (also on failure).
  absl::Status ReadExact(absl::Span<uint8_t> out, absl::Time deadline, size_t* received = nullptr);

  // Waits until a read would not block (data, end of stream or an error is pending), for callers
  // that do the read themselves on native_handle() (recvmsg).
  absl::Status WaitReadable(absl::Time deadline);

  // True when a read would not block right now: bytes, end of stream or an error are pending.
  // For a connection idle between request and reply, any of these means it cannot carry the
  // next exchange. Never waits.
  bool ReadableNow() const;

  // Shuts down the write side: the peer reads end of stream after the bytes already sent.
  absl::Status ShutdownWrite();

  // Gives up the socket. For a stream from Connect or Adopt, the caller owns the returned
  // descriptor (non-blocking, close-on-exec); a borrowed descriptor is handed back as on
  // destruction and the result is empty. The stream is closed afterwards.
  UniqueFd Release();

 private:
  struct Impl;
  static absl::StatusOr<std::unique_ptr<Impl>> NewImpl(const Clock& clock, std::string peer);
  static absl::StatusOr<BlockingStream> Wrap(int fd, bool borrowed, const Clock& clock);
  explicit BlockingStream(std::unique_ptr<Impl> impl);
  absl::Status Closed() const;

  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::net
