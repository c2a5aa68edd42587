#include "src/net/socket.h"

// Implementation notes.
// - Descriptors are created SOCK_NONBLOCK | SOCK_CLOEXEC (socket_internal.cc). Every wait is
//   BlockingStream's (Boost.Asio); the fd overloads borrow the descriptor for one call.
// - AF_VSOCK: <linux/vm_sockets.h>; errors of hosts without vsock are spelled out by
//   internal::SyscallError.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/net/socket_internal.h"

namespace lockout::net {
namespace {

using internal::ErrnoText;
using internal::SyscallError;

SocketAddress VsockAddr(uint32_t cid, uint32_t port) {
  SocketAddress a;
  sockaddr_vm vm{};
  vm.svm_family = AF_VSOCK;
  vm.svm_cid = cid;
  vm.svm_port = port;
  std::memcpy(&a.storage, &vm, sizeof(vm));
  a.length = sizeof(vm);
  return a;
}

SocketAddress UnixAddr(const std::string& path) {
  SocketAddress a;
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  // Endpoint guarantees path.size() <= MaxUnixPathLength(); sun_path stays NUL-terminated.
  std::memcpy(un.sun_path, path.data(), path.size());
  std::memcpy(&a.storage, &un, sizeof(un));
  a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

// Resolves a tcp endpoint into candidate addresses, in getaddrinfo's order.
absl::StatusOr<std::vector<SocketAddress>> ResolveTcp(const Endpoint& endpoint, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* raw = nullptr;
  const std::string port = absl::StrCat(endpoint.port());
  const int rc = getaddrinfo(endpoint.host().c_str(), port.c_str(), &hints, &raw);
  std::unique_ptr<addrinfo, AddrInfoDeleter> list(raw);
  if (rc != 0) {
    std::string message = absl::StrCat("resolving ", endpoint.ToString(), ": ", gai_strerror(rc));
    if (rc == EAI_AGAIN) return absl::UnavailableError(message);
    if (rc == EAI_SYSTEM) return SyscallError(errno, "resolving", endpoint.ToString());
    return absl::InvalidArgumentError(message);
  }
  std::vector<SocketAddress> out;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    out.push_back(a);
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("resolving ", endpoint.ToString(), ": no IPv4/IPv6 address"));
  }
  return out;
}

// The endpoint a bound socket actually has (tcp port 0 -> real port, etc.).
absl::StatusOr<Endpoint> LocalEndpoint(int fd, const Endpoint& requested) {
  if (requested.is_unix()) return requested;
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return SyscallError(errno, "getsockname for", requested.ToString());
  }
  if (storage.ss_family == AF_VSOCK) {
    sockaddr_vm vm{};
    std::memcpy(&vm, &storage, sizeof(vm));
    return Endpoint::Vsock(vm.svm_cid, vm.svm_port);
  }
  char host[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (storage.ss_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, &storage, sizeof(in));
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof(host));
    port = ntohs(in.sin_port);
  } else if (storage.ss_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, &storage, sizeof(in6));
    inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof(host));
    port = ntohs(in6.sin6_port);
  } else {
    return absl::InternalError(absl::StrCat("getsockname for ", requested.ToString(),
                                            ": unexpected family ", storage.ss_family));
  }
  return Endpoint::Tcp(host, port);
}

absl::Status BindAndListen(int fd, const SocketAddress& addr, int backlog,
                           const Endpoint& endpoint) {
  const bool vsock = endpoint.is_vsock();
  if (bind(fd, addr.get(), addr.length) != 0) {
    return SyscallError(errno, "bind", endpoint.ToString(), vsock);
  }
  if (listen(fd, backlog) != 0) return SyscallError(errno, "listen on", endpoint.ToString(), vsock);
  return absl::OkStatus();
}

// A unix socket file left behind by a dead server is removed; a live one is not.
absl::Status RemoveStaleUnixSocket(const Endpoint& endpoint) {
  struct stat st {};
  if (lstat(endpoint.path().c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return SyscallError(errno, "stat", endpoint.ToString());
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen on ", endpoint.ToString(), ": path exists and is not a socket; not removing it"));
  }
  ASSIGN_OR_RETURN(UniqueFd probe, internal::NewStreamSocket(AF_UNIX, endpoint.ToString()));
  const SocketAddress addr = UnixAddr(endpoint.path());
  if (connect(probe.get(), addr.get(), addr.length) == 0 || errno == EAGAIN ||
      errno == EINPROGRESS) {
    return absl::UnavailableError(absl::StrCat("listen on ", endpoint.ToString(),
                                               ": address in use (a server is accepting there)"));
  }
  if (errno != ECONNREFUSED) return SyscallError(errno, "probing", endpoint.ToString());
  if (unlink(endpoint.path().c_str()) != 0 && errno != ENOENT) {
    return SyscallError(errno, "removing stale socket", endpoint.ToString());
  }
  return absl::OkStatus();
}

}  // namespace

Listener::Listener(UniqueFd fd, Endpoint local) : fd_(std::move(fd)), local_(std::move(local)) {}

Listener::Listener(Listener&& other) noexcept
    : fd_(std::move(other.fd_)),
      local_(other.local_),
      unix_dev_(std::exchange(other.unix_dev_, 0)),
      unix_ino_(std::exchange(other.unix_ino_, 0)) {}

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    RemoveUnixSocketFile();
    fd_ = std::move(other.fd_);
    local_ = other.local_;
    unix_dev_ = std::exchange(other.unix_dev_, 0);
    unix_ino_ = std::exchange(other.unix_ino_, 0);
  }
  return *this;
}

Listener::~Listener() { RemoveUnixSocketFile(); }

void Listener::RemoveUnixSocketFile() {
  if (!local_.is_unix() || unix_ino_ == 0) return;
  struct stat st {};
  // Only our own socket file: another server may have replaced it since.
  if (lstat(local_.path().c_str(), &st) == 0 && st.st_dev == unix_dev_ && st.st_ino == unix_ino_) {
    unlink(local_.path().c_str());
  }
  unix_ino_ = 0;
  unix_dev_ = 0;
}

absl::StatusOr<Listener> Listen(const Endpoint& endpoint, int backlog) {
  switch (endpoint.transport()) {
    case Endpoint::Transport::kVsock: {
      ASSIGN_OR_RETURN(UniqueFd fd, internal::NewStreamSocket(AF_VSOCK, endpoint.ToString()));
      RETURN_IF_ERROR(BindAndListen(fd.get(), VsockAddr(endpoint.vsock_cid(), endpoint.port()),
                                    backlog, endpoint));
      ASSIGN_OR_RETURN(Endpoint local, LocalEndpoint(fd.get(), endpoint));
      return Listener(std::move(fd), std::move(local));
    }
    case Endpoint::Transport::kUnix: {
      RETURN_IF_ERROR(RemoveStaleUnixSocket(endpoint));
      ASSIGN_OR_RETURN(UniqueFd fd, internal::NewStreamSocket(AF_UNIX, endpoint.ToString()));
      RETURN_IF_ERROR(BindAndListen(fd.get(), UnixAddr(endpoint.path()), backlog, endpoint));
      Listener listener(std::move(fd), endpoint);
      struct stat st {};
      if (lstat(endpoint.path().c_str(), &st) == 0) {
        listener.unix_dev_ = st.st_dev;
        listener.unix_ino_ = st.st_ino;
      }
      return listener;
    }
    case Endpoint::Transport::kTcp: {
      ASSIGN_OR_RETURN(std::vector<SocketAddress> addrs, ResolveTcp(endpoint, /*passive=*/true));
      absl::Status last;
      for (const SocketAddress& addr : addrs) {
        ASSIGN_OR_RETURN(UniqueFd fd,
                         internal::NewStreamSocket(addr.family(), endpoint.ToString()));
        const int one = 1;
        if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
          return SyscallError(errno, "SO_REUSEADDR for", endpoint.ToString());
        }
        last = BindAndListen(fd.get(), addr, backlog, endpoint);
        if (!last.ok()) continue;
        ASSIGN_OR_RETURN(Endpoint local, LocalEndpoint(fd.get(), endpoint));
        return Listener(std::move(fd), std::move(local));
      }
      return last;
    }
  }
  return absl::InternalError("unknown transport");
}

absl::StatusOr<std::optional<UniqueFd>> AcceptNow(const Listener& listener) {
  for (;;) {
    const int fd = accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return std::optional<UniqueFd>(UniqueFd(fd));
    const int err = errno;
    switch (err) {
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
        continue;
      case EAGAIN:
#if EAGAIN != EWOULDBLOCK
      case EWOULDBLOCK:
#endif
        return std::optional<UniqueFd>();
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM:
        // Out of descriptors or memory: the connection stays in the backlog, so retrying at once
        // would spin (accept_backoff.h).
        return absl::ResourceExhaustedError(
            absl::StrCat("accept on ", listener.local_endpoint().ToString(), ": ", ErrnoText(err)));
      default:
        return SyscallError(err, "accept on", listener.local_endpoint().ToString());
    }
  }
}

absl::StatusOr<UniqueFd> Accept(const Listener& listener, absl::Duration timeout,
                                const Clock& clock) {
  // Try first: a queued connection (or ResourceExhausted) needs no event loop.
  ASSIGN_OR_RETURN(std::optional<UniqueFd> ready, AcceptNow(listener));
  if (ready.has_value()) return *std::move(ready);
  const absl::Time deadline = clock.Now() + timeout;
  ASSIGN_OR_RETURN(BlockingStream waiter, BlockingStream::Borrow(listener.fd(), clock));
  for (;;) {
    // A listening socket is readable when a connection is queued.
    if (absl::Status s = waiter.WaitReadable(deadline); !s.ok()) {
      if (absl::IsDeadlineExceeded(s)) {
        return absl::DeadlineExceededError(
            absl::StrCat("accept on ", listener.local_endpoint().ToString(), ": timed out"));
      }
      return s;
    }
    ASSIGN_OR_RETURN(std::optional<UniqueFd> fd, AcceptNow(listener));
    if (fd.has_value()) return *std::move(fd);
  }
}

absl::StatusOr<UniqueFd> Connect(const Endpoint& endpoint, absl::Duration timeout) {
  const Clock& clock = Clock::Real();
  ASSIGN_OR_RETURN(BlockingStream stream,
                   BlockingStream::Connect(endpoint, clock.Now() + timeout, clock));
  return stream.Release();
}

absl::StatusOr<std::vector<SocketAddress>> ResolveConnectAddresses(const Endpoint& endpoint) {
  std::vector<SocketAddress> addrs;
  switch (endpoint.transport()) {
    case Endpoint::Transport::kVsock:
      addrs.push_back(VsockAddr(endpoint.vsock_cid(), endpoint.port()));
      break;
    case Endpoint::Transport::kUnix:
      addrs.push_back(UnixAddr(endpoint.path()));
      break;
    case Endpoint::Transport::kTcp: {
      ASSIGN_OR_RETURN(addrs, ResolveTcp(endpoint, /*passive=*/false));
      break;
    }
  }
  return addrs;
}

absl::StatusOr<std::optional<Frame>> ReadFrame(BlockingStream& stream, FrameDecoder& decoder,
                                               absl::Time deadline) {
  {
    ASSIGN_OR_RETURN(std::optional<Frame> buffered, decoder.Next());
    if (buffered.has_value()) return buffered;
  }
  std::array<uint8_t, 16 * 1024> chunk;
  for (;;) {
    ASSIGN_OR_RETURN(const size_t n, stream.ReadSome(absl::MakeSpan(chunk), deadline));
    if (n == 0) {
      absl::Status at_eof = decoder.Finish();
      if (at_eof.ok()) return std::nullopt;
      if (absl::IsDataLoss(at_eof)) {
        return absl::DataLossError(
            absl::StrCat("connection closed by peer mid-frame: ", at_eof.message()));
      }
      return at_eof;
    }
    RETURN_IF_ERROR(decoder.Feed(ByteView(chunk.data(), n)));
    ASSIGN_OR_RETURN(std::optional<Frame> frame, decoder.Next());
    if (frame.has_value()) return frame;
    // A peer trickling bytes (or endless whitespace) must not outlive the deadline.
    if (stream.clock().Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("read from ", stream.peer(), ": timed out inside a frame"));
    }
  }
}

absl::Status WriteFrame(BlockingStream& stream, FrameKind kind, std::string_view payload,
                        absl::Time deadline, size_t max_frame_size) {
  ASSIGN_OR_RETURN(std::string encoded, EncodeFrame(kind, payload, max_frame_size));
  return stream.WriteAll(encoded, deadline);
}

absl::Status WriteAll(int fd, ByteView data, absl::Duration timeout) {
  ASSIGN_OR_RETURN(BlockingStream stream, BlockingStream::Borrow(fd));
  return stream.WriteAll(data, stream.DeadlineAfter(timeout));
}

absl::Status WriteAll(int fd, std::string_view data, absl::Duration timeout) {
  return WriteAll(fd, AsBytes(data), timeout);
}

absl::StatusOr<std::optional<Frame>> ReadFrame(int fd, FrameDecoder& decoder,
                                               absl::Duration timeout) {
  {
    // A frame already buffered needs no event loop.
    ASSIGN_OR_RETURN(std::optional<Frame> buffered, decoder.Next());
    if (buffered.has_value()) return buffered;
  }
  ASSIGN_OR_RETURN(BlockingStream stream, BlockingStream::Borrow(fd));
  return ReadFrame(stream, decoder, stream.DeadlineAfter(timeout));
}

absl::Status WriteFrame(int fd, FrameKind kind, std::string_view payload, absl::Duration timeout,
                        size_t max_frame_size) {
  ASSIGN_OR_RETURN(std::string encoded, EncodeFrame(kind, payload, max_frame_size));
  return WriteAll(fd, encoded, timeout);
}

absl::Status ShutdownWrite(int fd) {
  if (shutdown(fd, SHUT_WR) != 0)
    return SyscallError(errno, "shutdown of", absl::StrCat("fd ", fd));
  return absl::OkStatus();
}

}  // namespace lockout::net
