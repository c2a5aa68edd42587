#include "src/net/blocking_stream.h"

// Implementation notes.
// - Each operation first tries once with Asio's synchronous call in non-blocking mode (one
//   syscall; done if the kernel had the bytes or the buffer space). Otherwise it starts one Asio
//   async operation for the rest and runs the stream's io_context until its handler has run;
//   only then does the thread sleep, in epoll_wait. The deadline is enforced here, not by an Asio
//   timer: the loop waits until the deadline (real clock) or in kFakeClockSlice steps (other
//   clocks), then cancels the operation and runs its handler, so no handler ever outlives the stack
//   frame it writes to.
// - Connect does the connect() syscall itself and lets Asio wait for the result: Asio's
//   async_connect would treat EAGAIN from a unix socket (the listener's backlog is full) as "in
//   progress" and report success on an unconnected socket. We want that to fail the call.
// - Sockets are created with SOCK_CLOEXEC here (Asio's own open() does not set it on Linux).
// - Asio passes MSG_NOSIGNAL on every send on Linux (socket_ops.ipp), retries EINTR, and
//   reports a zero-byte read as error::eof.

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "boost/asio/generic/stream_protocol.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/write.hpp"
#include "boost/system/system_error.hpp"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/net/socket.h"
#include "src/net/socket_internal.h"

namespace lockout::net {
namespace {

namespace asio = boost::asio;
using GenericSocket = asio::generic::stream_protocol::socket;
using ErrorCode = boost::system::error_code;

// The longest single wait on the real clock, so that a far (finite) deadline cannot overflow the
// chrono arithmetic; the loop simply waits again.
constexpr absl::Duration kMaxWait = absl::Hours(1);

bool IsRealClock(const Clock& clock) { return dynamic_cast<const RealClock*>(&clock) != nullptr; }

int ProtocolFor(int family) { return family == AF_INET || family == AF_INET6 ? IPPROTO_TCP : 0; }

std::string FdName(int fd) { return absl::StrCat("fd ", fd); }

}  // namespace

struct BlockingStream::Impl {
  Impl(const Clock& c, std::string p)
      : clock(&c), real_clock(IsRealClock(c)), peer(std::move(p)), io(1), socket(io) {}
  ~Impl() {
    if (borrowed) GiveBack();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Runs the io_context until `done` (set by the one outstanding operation's handler). Returns
  // true if the deadline passed first: the operation has then been cancelled and its handler has
  // run, with operation_aborted or with its result if it completed meanwhile.
  bool RunUntil(const bool& done, absl::Time deadline) {
    io.restart();
    while (!done) {
      const absl::Duration left = deadline - clock->Now();
      if (left <= absl::ZeroDuration()) {
        // Cancel before every handler we run: a composed operation (async_write, async_read)
        // whose intermediate step had already completed starts its next step from that
        // handler, and that step must be cancelled too. Each pass either runs a queued handler
        // or cancels a pending operation into one, so this ends.
        ErrorCode ignored;
        while (!done) {
          socket.cancel(ignored);
          RunOne();
        }
        return true;
      }
      if (left == absl::InfiniteDuration()) {
        RunOne();
        continue;
      }
      absl::Duration wait = std::min(left, kMaxWait);
      if (!real_clock) wait = std::min(wait, kFakeClockSlice);
      io.run_one_for(absl::ToChronoNanoseconds(wait));
    }
    return false;
  }

  void RunOne() {
    // An operation is pending, so the context has work: run_one() returning 0 would mean Asio
    // dropped our handler, and waiting on would hang. That cannot happen; if it does, stop loudly.
    if (io.run_one() == 0) {
      std::fputs("lockout: BlockingStream: io_context ran out of work mid-operation\n", stderr);
      std::abort();
    }
  }

  // The status for a failed operation `what` ("read from"), from Asio's error code.
  absl::Status Failure(const ErrorCode& ec, std::string_view what) const {
    if (ec.category() == boost::system::system_category()) {
      return internal::SyscallError(ec.value(), what, peer);
    }
    return absl::UnavailableError(absl::StrCat(Absl(what), " ", peer, ": ", ec.message()));
  }

  // Hands `fd` to the Asio socket, in Asio's user-set non-blocking mode: its synchronous
  // read_some/write_some then try once and say would_block instead of waiting, which is the
  // fast path of every operation below.
  absl::Status Assign(int family, int fd) {
    ErrorCode ec;
    socket.assign(asio::generic::stream_protocol(family, ProtocolFor(family)), fd, ec);
    if (ec) return Failure(ec, "adding to the event loop:");
    socket.non_blocking(true, ec);
    if (ec) {
      // Undo the assign: on failure the descriptor stays the caller's, never closed twice.
      ErrorCode ignored;
      (void)socket.release(ignored);
      return Failure(ec, "making non-blocking:");
    }
    return absl::OkStatus();
  }

  // One connection attempt on a fresh socket; on success the socket is connected.
  absl::Status ConnectOne(const SocketAddress& address, bool vsock, absl::Time deadline) {
    ErrorCode ignored;
    socket.close(ignored);
    ASSIGN_OR_RETURN(UniqueFd fd, internal::NewStreamSocket(address.family(), peer));
    RETURN_IF_ERROR(Assign(address.family(), fd.get()));
    const int native = fd.release();  // the Asio socket owns it now
    if (::connect(native, address.get(), address.length) == 0) return absl::OkStatus();
    // EINTR: per POSIX connect(2) the connection goes on asynchronously; wait for it like for
    // EINPROGRESS. Anything else (EAGAIN from a full unix backlog included) fails the attempt.
    if (errno != EINPROGRESS && errno != EINTR) {
      return internal::SyscallError(errno, "connect to", peer, vsock);
    }
    bool done = false;
    ErrorCode ec;
    socket.async_wait(GenericSocket::wait_write, [&](const ErrorCode& e) {
      ec = e;
      done = true;
    });
    const bool timed_out = RunUntil(done, deadline);
    if (timed_out && ec == asio::error::operation_aborted) {
      return absl::DeadlineExceededError(absl::StrCat("connect to ", peer, ": timed out"));
    }
    if (ec) return Failure(ec, "connect to");
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(native, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return internal::SyscallError(err, "connect to", peer, vsock);
    return absl::OkStatus();
  }

  // Hands a borrowed descriptor back: out of our epoll set, blocking mode as it was.
  void GiveBack() {
    ErrorCode ec;
    const int fd = socket.release(ec);
    borrowed = false;
    if (ec || fd < 0 || !was_blocking) return;
    const int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }

  const Clock* clock;
  const bool real_clock;
  const std::string peer;
  asio::io_context io;
  GenericSocket socket;  // after `io`: destroyed first
  bool borrowed = false;
  bool was_blocking = false;
};

BlockingStream::BlockingStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BlockingStream::BlockingStream(BlockingStream&& other) noexcept = default;
BlockingStream& BlockingStream::operator=(BlockingStream&& other) noexcept = default;
BlockingStream::~BlockingStream() = default;

absl::StatusOr<std::unique_ptr<BlockingStream::Impl>> BlockingStream::NewImpl(const Clock& clock,
                                                                              std::string peer) {
  // The io_context's reactor needs an epoll descriptor, an eventfd and a timerfd; Asio throws
  // when it cannot get them. This is the one place its exceptions can come from.
  try {
    return std::make_unique<Impl>(clock, std::move(peer));
  } catch (const boost::system::system_error& e) {
    const int err = e.code().value();
    const std::string message =
        absl::StrCat("setting up the event loop for ", peer, ": ", e.code().message());
    if (err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS) {
      return absl::ResourceExhaustedError(message);
    }
    return absl::UnavailableError(message);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("setting up the event loop for ", peer, ": out of memory"));
  }
}

absl::StatusOr<BlockingStream> BlockingStream::Connect(const Endpoint& endpoint,
                                                       absl::Time deadline, const Clock& clock) {
  ASSIGN_OR_RETURN(std::vector<SocketAddress> addresses, ResolveConnectAddresses(endpoint));
  ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, NewImpl(clock, endpoint.ToString()));
  absl::Status last =
      absl::UnavailableError(absl::StrCat("connect to ", endpoint.ToString(), ": no address"));
  for (const SocketAddress& address : addresses) {
    last = impl->ConnectOne(address, endpoint.is_vsock(), deadline);
    if (last.ok()) return BlockingStream(std::move(impl));
    if (absl::IsDeadlineExceeded(last)) return last;
  }
  return last;
}

absl::StatusOr<BlockingStream> BlockingStream::Wrap(int fd, bool borrowed, const Clock& clock) {
  const std::string name = FdName(fd);
  int type = 0;
  int family = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return internal::SyscallError(errno, "using", name);
  }
  if (type != SOCK_STREAM) {
    return absl::InvalidArgumentError(absl::StrCat("using ", name, ": not a stream socket"));
  }
  len = sizeof(family);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) != 0) {
    return internal::SyscallError(errno, "using", name);
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return internal::SyscallError(errno, "using", name);
  ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, NewImpl(clock, name));
  if (!borrowed && fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    return internal::SyscallError(errno, "setting close-on-exec on", name);
  }
  if (absl::Status s = impl->Assign(family, fd); !s.ok()) {
    if (borrowed && (flags & O_NONBLOCK) == 0) (void)fcntl(fd, F_SETFL, flags);
    return s;
  }
  impl->borrowed = borrowed;
  impl->was_blocking = (flags & O_NONBLOCK) == 0;
  return BlockingStream(std::move(impl));
}

absl::StatusOr<BlockingStream> BlockingStream::Adopt(UniqueFd fd, const Clock& clock) {
  absl::StatusOr<BlockingStream> stream = Wrap(fd.get(), /*borrowed=*/false, clock);
  if (stream.ok()) (void)fd.release();  // owned by the stream now
  return stream;
}

absl::StatusOr<BlockingStream> BlockingStream::Borrow(int fd, const Clock& clock) {
  return Wrap(fd, /*borrowed=*/true, clock);
}

absl::Status BlockingStream::Closed() const {
  return absl::FailedPreconditionError("BlockingStream: used after it was moved from or released");
}

int BlockingStream::native_handle() const {
  return impl_ != nullptr ? impl_->socket.native_handle() : -1;
}

const Clock& BlockingStream::clock() const {
  return impl_ != nullptr ? *impl_->clock : Clock::Real();
}

const std::string& BlockingStream::peer() const {
  static const std::string* const kClosed = new std::string("(closed stream)");
  return impl_ != nullptr ? impl_->peer : *kClosed;
}

absl::Time BlockingStream::DeadlineAfter(absl::Duration timeout) const {
  return clock().Now() + timeout;
}

absl::Status BlockingStream::WriteAll(ByteView data, absl::Time deadline) {
  if (impl_ == nullptr) return Closed();
  if (data.empty()) return absl::OkStatus();
  // Fast path: a write the socket buffer takes at once needs no event loop.
  ErrorCode ec;
  size_t written = impl_->socket.write_some(asio::buffer(data.data(), data.size()), ec);
  if (!ec && written == data.size()) return absl::OkStatus();
  if (ec && ec != asio::error::would_block) return impl_->Failure(ec, "write to");
  bool done = false;
  const size_t first = written;
  asio::async_write(impl_->socket, asio::buffer(data.data() + first, data.size() - first),
                    [&](const ErrorCode& e, size_t n) {
                      ec = e;
                      written = first + n;
                      done = true;
                    });
  const bool timed_out = impl_->RunUntil(done, deadline);
  if (!ec) return absl::OkStatus();
  if (timed_out && ec == asio::error::operation_aborted) {
    return absl::DeadlineExceededError(absl::StrCat("write to ", impl_->peer, ": timed out (",
                                                    written, " of ", data.size(),
                                                    " bytes written)"));
  }
  return impl_->Failure(ec, "write to");
}

absl::Status BlockingStream::WriteAll(std::string_view data, absl::Time deadline) {
  return WriteAll(AsBytes(data), deadline);
}

absl::StatusOr<size_t> BlockingStream::ReadSome(absl::Span<uint8_t> out, absl::Time deadline) {
  if (impl_ == nullptr) return Closed();
  if (out.empty()) {
    return absl::InvalidArgumentError("BlockingStream::ReadSome needs room for at least one byte");
  }
  // Fast path: bytes (or end of stream) already there need no event loop.
  ErrorCode ec;
  size_t count = impl_->socket.read_some(asio::buffer(out.data(), out.size()), ec);
  if (!ec) return count;
  if (ec == asio::error::eof) return size_t{0};
  if (ec != asio::error::would_block) return impl_->Failure(ec, "read from");
  bool done = false;
  impl_->socket.async_read_some(asio::buffer(out.data(), out.size()),
                                [&](const ErrorCode& e, size_t n) {
                                  ec = e;
                                  count = n;
                                  done = true;
                                });
  const bool timed_out = impl_->RunUntil(done, deadline);
  if (!ec) return count;
  if (ec == asio::error::eof) return size_t{0};
  if (timed_out && ec == asio::error::operation_aborted) {
    return absl::DeadlineExceededError(absl::StrCat("read from ", impl_->peer, ": timed out"));
  }
  return impl_->Failure(ec, "read from");
}

absl::Status BlockingStream::ReadExact(absl::Span<uint8_t> out, absl::Time deadline,
                                       size_t* received) {
  if (received != nullptr) *received = 0;
  if (impl_ == nullptr) return Closed();
  if (out.empty()) return absl::OkStatus();
  // Fast path as in ReadSome; the event loop only reads what did not arrive yet.
  ErrorCode ec;
  size_t count = impl_->socket.read_some(asio::buffer(out.data(), out.size()), ec);
  bool timed_out = false;
  if (ec == asio::error::would_block || (!ec && count < out.size())) {
    bool done = false;
    const size_t first = count;
    asio::async_read(impl_->socket, asio::buffer(out.data() + first, out.size() - first),
                     [&](const ErrorCode& e, size_t n) {
                       ec = e;
                       count = first + n;
                       done = true;
                     });
    timed_out = impl_->RunUntil(done, deadline);
  }
  if (received != nullptr) *received = count;
  if (!ec) return absl::OkStatus();
  if (ec == asio::error::eof) {
    return absl::DataLossError(absl::StrCat("read from ", impl_->peer,
                                            ": the peer closed the connection after ", count,
                                            " of ", out.size(), " bytes"));
  }
  if (timed_out && ec == asio::error::operation_aborted) {
    return absl::DeadlineExceededError(absl::StrCat("read from ", impl_->peer, ": timed out (",
                                                    count, " of ", out.size(), " bytes read)"));
  }
  return impl_->Failure(ec, "read from");
}

absl::Status BlockingStream::WaitReadable(absl::Time deadline) {
  if (impl_ == nullptr) return Closed();
  bool done = false;
  ErrorCode ec;
  impl_->socket.async_wait(GenericSocket::wait_read, [&](const ErrorCode& e) {
    ec = e;
    done = true;
  });
  const bool timed_out = impl_->RunUntil(done, deadline);
  if (!ec) return absl::OkStatus();
  if (timed_out && ec == asio::error::operation_aborted) {
    return absl::DeadlineExceededError(absl::StrCat("read from ", impl_->peer, ": timed out"));
  }
  return impl_->Failure(ec, "waiting to read from");
}

bool BlockingStream::ReadableNow() const {
  if (impl_ == nullptr) return true;
  for (;;) {
    uint8_t byte = 0;
    const ssize_t n = recv(impl_->socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0) return true;  // a byte waiting, or end of stream
    if (errno == EINTR) continue;
    return errno != EAGAIN && errno != EWOULDBLOCK;  // any other error is pending too
  }
}

absl::Status BlockingStream::ShutdownWrite() {
  if (impl_ == nullptr) return Closed();
  ErrorCode ec;
  impl_->socket.shutdown(GenericSocket::shutdown_send, ec);
  if (ec) return impl_->Failure(ec, "shutdown of");
  return absl::OkStatus();
}

UniqueFd BlockingStream::Release() {
  if (impl_ == nullptr) return UniqueFd();
  std::unique_ptr<Impl> impl = std::move(impl_);
  if (impl->borrowed) return UniqueFd();  // ~Impl hands it back
  ErrorCode ec;
  const int fd = impl->socket.release(ec);
  return ec ? UniqueFd() : UniqueFd(fd);
}

}  // namespace lockout::net
