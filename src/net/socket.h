#pragma once

// Listening sockets, and the blocking socket calls with deadlines, over tcp, unix and vsock
// endpoints.
//
// Every descriptor these functions create is non-blocking and close-on-exec. Waiting is done by
// BlockingStream (blocking_stream.h), on Boost.Asio: "blocking" means the calls below wait until
// done or until their timeout (a deadline for the whole call, not per read), retry on EINTR and
// finish partial writes. Writes use MSG_NOSIGNAL, so a closed peer is an error, never SIGPIPE.
// Clients hold a BlockingStream and use the overloads taking one; the overloads taking a raw fd
// borrow it for the one call (each sets up its own io_context) and serve code that holds raw
// descriptors, such as servers that run each connection on its own thread.
//
// Errors: DeadlineExceeded on timeout; Unavailable for connection failures (refused, reset,
// unreachable, AF_VSOCK missing on this host); InvalidArgument for unusable endpoints (bad unix
// path, unresolvable host); framing errors from FrameDecoder unchanged. Messages name the
// endpoint, the syscall and errno text, never data.
// Thread-safety: functions are thread-safe; one fd/stream/decoder must not be read (or written)
// by two threads at once.

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/bytes.h"
#include "src/common/clock.h"
#include "src/common/unique_fd.h"
#include "src/net/blocking_stream.h"
#include "src/net/endpoint.h"
#include "src/net/frame_decoder.h"

namespace lockout::net {

// A listening socket. For tcp port 0 and vsock port/CID ANY, local_endpoint() is what the kernel
// actually bound (e.g. tcp://127.0.0.1:41234). A unix listener removes its socket file when
// destroyed (only if the file is still the one it created). Move-only.
class Listener final {
 public:
  Listener(Listener&&) noexcept;
  Listener& operator=(Listener&&) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  int fd() const { return fd_.get(); }
  const Endpoint& local_endpoint() const { return local_; }

 private:
  friend absl::StatusOr<Listener> Listen(const Endpoint& endpoint, int backlog);
  Listener(UniqueFd fd, Endpoint local);
  void RemoveUnixSocketFile();

  UniqueFd fd_;
  Endpoint local_;
  dev_t unix_dev_ = 0;
  ino_t unix_ino_ = 0;
};

// Binds and listens. tcp: SO_REUSEADDR, the first address the host resolves to that binds.
// unix: a stale socket file (nobody accepting) is removed first; a live one gives Unavailable
// ("address in use"); a non-socket file at the path is never removed (InvalidArgument). vsock:
// Unavailable with a clear message if this host has no AF_VSOCK support (EAFNOSUPPORT/ENODEV...).
absl::StatusOr<Listener> Listen(const Endpoint& endpoint, int backlog = 128);

// Waits up to `timeout` for a connection. DeadlineExceeded if none arrives. Connections the peer
// aborted before we took them (ECONNABORTED, EPROTO) and EINTR are skipped silently.
// ResourceExhausted when this process or the host is out of descriptors or memory (EMFILE,
// ENFILE, ENOBUFS, ENOMEM): the connection stays queued and the listener stays readable, so the
// caller must pause before trying again (src/net/accept_backoff.h), never retry at once.
// Other failures: Unavailable/InvalidArgument with the errno text. The timeout runs on `clock`
// (as BlockingStream's deadlines do).
absl::StatusOr<UniqueFd> Accept(const Listener& listener, absl::Duration timeout,
                                const Clock& clock = Clock::Real());

// One non-blocking accept for event loops: nullopt when no connection is waiting (EAGAIN);
// otherwise as Accept (same skips, same ResourceExhausted rule).
absl::StatusOr<std::optional<UniqueFd>> AcceptNow(const Listener& listener);

// Connects to `endpoint` within `timeout` and returns the descriptor, for code that hands it to
// its own event loop (the AWS HTTP transport). Clients that talk over the connection themselves
// use BlockingStream::Connect. Same rules: tcp tries each resolved address in turn; name
// resolution itself is not bounded by the timeout.
absl::StatusOr<UniqueFd> Connect(const Endpoint& endpoint, absl::Duration timeout);

// One concrete socket address, for event-loop clients (e.g. Boost.Asio) that connect themselves.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// The addresses Connect would try for `endpoint`, in the same order (tcp: resolved now, with
// Connect's errors; vsock and unix: exactly one).
absl::StatusOr<std::vector<SocketAddress>> ResolveConnectAddresses(const Endpoint& endpoint);

// Returns the next frame from `stream` by `deadline`, reading into `decoder` as needed (a decoder
// belongs to one connection; bytes read beyond the frame stay in it for the next call).
// nullopt: the peer closed the connection cleanly between frames. DataLoss: the peer closed
// mid-frame. DeadlineExceeded also when a peer trickles bytes without ever completing a frame.
// Framing errors (garbage, oversize) come from the decoder.
absl::StatusOr<std::optional<Frame>> ReadFrame(BlockingStream& stream, FrameDecoder& decoder,
                                               absl::Time deadline);

// Encodes and writes one frame (EncodeFrame + BlockingStream::WriteAll).
absl::Status WriteFrame(BlockingStream& stream, FrameKind kind, std::string_view payload,
                        absl::Time deadline, size_t max_frame_size = kDefaultMaxFrameSize);

// The same on a raw descriptor, borrowed for the call (see the top of this file): the timeout
// counts from the call on the real clock.
absl::Status WriteAll(int fd, ByteView data, absl::Duration timeout);
absl::Status WriteAll(int fd, std::string_view data, absl::Duration timeout);
absl::StatusOr<std::optional<Frame>> ReadFrame(int fd, FrameDecoder& decoder,
                                               absl::Duration timeout);
absl::Status WriteFrame(int fd, FrameKind kind, std::string_view payload, absl::Duration timeout,
                        size_t max_frame_size = kDefaultMaxFrameSize);

// Shuts down the write side (the peer reads EOF after the buffered data).
absl::Status ShutdownWrite(int fd);

}  // namespace lockout::net
