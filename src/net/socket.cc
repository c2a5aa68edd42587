#include "src/net/socket.h"

// Implementation notes.
// - Descriptors are created SOCK_NONBLOCK | SOCK_CLOEXEC, and send/recv also pass MSG_DONTWAIT,
//   so the timeouts hold even for a descriptor a caller made blocking: we only ever sleep in
//   poll(), whose timeout comes from one deadline per call.
// - EINTR: poll/recv/send/accept are simply retried; an interrupted connect() keeps going
//   asynchronously (POSIX connect(2)), so we wait for POLLOUT and read SO_ERROR like EINPROGRESS.
// - AF_VSOCK: <linux/vm_sockets.h>. On hosts without a vsock transport, socket() fails with
//   EAFNOSUPPORT and bind()/connect() with ENODEV or EADDRNOTAVAIL; we say so plainly.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::net {
namespace {

std::string ErrnoText(int err) {
  char buf[128];
  // GNU strerror_r: returns a pointer to the message (maybe not `buf`).
  const char* text = strerror_r(err, buf, sizeof(buf));
  return text != nullptr ? std::string(text) : absl::StrCat("errno ", err);
}

bool IsVsockUnsupported(int err) {
  return err == EAFNOSUPPORT || err == ENODEV || err == EPROTONOSUPPORT || err == ESOCKTNOSUPPORT ||
         err == EADDRNOTAVAIL || err == ENETUNREACH;
}

// Builds the status for a failed syscall. `what` names the operation, `where` the endpoint.
absl::Status SyscallError(int err, std::string_view what, std::string_view where,
                          bool vsock = false) {
  std::string message = absl::StrCat(Absl(what), " ", Absl(where), ": ", ErrnoText(err));
  if (vsock && IsVsockUnsupported(err)) {
    return absl::UnavailableError(
        absl::StrCat(message,
                     " (AF_VSOCK unusable here: no vsock transport on this host for "
                     "that CID; outside a Nitro Enclave use tcp:// or unix://)"));
  }
  switch (err) {
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ETIMEDOUT:
      return absl::DeadlineExceededError(message);
    case EBADF:
    case ENOTSOCK:
    case EINVAL:
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

std::string FdName(int fd) { return absl::StrCat("fd ", fd); }

class Deadline {
 public:
  explicit Deadline(absl::Duration timeout)
      : infinite_(timeout == absl::InfiniteDuration()), end_(absl::Now() + timeout) {}

  bool Expired() const { return !infinite_ && absl::Now() >= end_; }

  // Milliseconds for poll(): -1 for no deadline, rounded up so we never wake just before it.
  int PollTimeoutMs() const {
    if (infinite_) return -1;
    const absl::Duration left = end_ - absl::Now();
    if (left <= absl::ZeroDuration()) return 0;
    const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
  }

 private:
  bool infinite_;
  absl::Time end_;
};

// Waits until `fd` is ready for `events` (or has an error/hangup, which the next syscall will
// report). DeadlineExceeded when the deadline passes first.
absl::Status WaitFor(int fd, short events, const Deadline& deadline, std::string_view what) {
  for (;;) {
    pollfd pfd{};
    pfd.fd = fd;
    pfd.events = events;
    const int r = poll(&pfd, 1, deadline.PollTimeoutMs());
    if (r > 0) {
      if ((pfd.revents & POLLNVAL) != 0) {
        return absl::InvalidArgumentError(absl::StrCat(Absl(what), ": fd ", fd, " is not open"));
      }
      return absl::OkStatus();
    }
    if (r == 0) {
      return absl::DeadlineExceededError(absl::StrCat(Absl(what), ": timed out"));
    }
    if (errno != EINTR) return SyscallError(errno, "poll", FdName(fd));
  }
}

absl::StatusOr<UniqueFd> NewSocket(int family, std::string_view where) {
  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SyscallError(errno, "socket for", where, family == AF_VSOCK);
  return UniqueFd(fd);
}

// One concrete socket address for an endpoint.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

SockAddr VsockAddr(uint32_t cid, uint32_t port) {
  SockAddr a;
  sockaddr_vm vm{};
  vm.svm_family = AF_VSOCK;
  vm.svm_cid = cid;
  vm.svm_port = port;
  std::memcpy(&a.storage, &vm, sizeof(vm));
  a.length = sizeof(vm);
  return a;
}

SockAddr UnixAddr(const std::string& path) {
  SockAddr a;
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
absl::StatusOr<std::vector<SockAddr>> ResolveTcp(const Endpoint& endpoint, bool passive) {
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
  std::vector<SockAddr> out;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SockAddr a;
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

// Non-blocking connect to one address, finished within the deadline.
absl::StatusOr<UniqueFd> ConnectOne(const SockAddr& addr, const Endpoint& endpoint,
                                    const Deadline& deadline) {
  const bool vsock = endpoint.is_vsock();
  ASSIGN_OR_RETURN(UniqueFd fd, NewSocket(addr.family(), endpoint.ToString()));
  if (connect(fd.get(), addr.get(), addr.length) == 0) return fd;
  if (errno != EINPROGRESS && errno != EINTR) {
    return SyscallError(errno, "connect to", endpoint.ToString(), vsock);
  }
  RETURN_IF_ERROR(
      WaitFor(fd.get(), POLLOUT, deadline, absl::StrCat("connect to ", endpoint.ToString())));
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return SyscallError(err, "connect to", endpoint.ToString(), vsock);
  return fd;
}

absl::Status BindAndListen(int fd, const SockAddr& addr, int backlog, const Endpoint& endpoint) {
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
  ASSIGN_OR_RETURN(UniqueFd probe, NewSocket(AF_UNIX, endpoint.ToString()));
  const SockAddr addr = UnixAddr(endpoint.path());
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
      ASSIGN_OR_RETURN(UniqueFd fd, NewSocket(AF_VSOCK, endpoint.ToString()));
      RETURN_IF_ERROR(BindAndListen(fd.get(), VsockAddr(endpoint.vsock_cid(), endpoint.port()),
                                    backlog, endpoint));
      ASSIGN_OR_RETURN(Endpoint local, LocalEndpoint(fd.get(), endpoint));
      return Listener(std::move(fd), std::move(local));
    }
    case Endpoint::Transport::kUnix: {
      RETURN_IF_ERROR(RemoveStaleUnixSocket(endpoint));
      ASSIGN_OR_RETURN(UniqueFd fd, NewSocket(AF_UNIX, endpoint.ToString()));
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
      ASSIGN_OR_RETURN(std::vector<SockAddr> addrs, ResolveTcp(endpoint, /*passive=*/true));
      absl::Status last;
      for (const SockAddr& addr : addrs) {
        ASSIGN_OR_RETURN(UniqueFd fd, NewSocket(addr.family(), endpoint.ToString()));
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

absl::StatusOr<UniqueFd> Accept(const Listener& listener, absl::Duration timeout) {
  const Deadline deadline(timeout);
  const std::string what = absl::StrCat("accept on ", listener.local_endpoint().ToString());
  for (;;) {
    ASSIGN_OR_RETURN(std::optional<UniqueFd> fd, AcceptNow(listener));
    if (fd.has_value()) return *std::move(fd);
    RETURN_IF_ERROR(WaitFor(listener.fd(), POLLIN, deadline, what));
  }
}

absl::StatusOr<UniqueFd> Connect(const Endpoint& endpoint, absl::Duration timeout) {
  const Deadline deadline(timeout);
  switch (endpoint.transport()) {
    case Endpoint::Transport::kVsock:
      return ConnectOne(VsockAddr(endpoint.vsock_cid(), endpoint.port()), endpoint, deadline);
    case Endpoint::Transport::kUnix:
      return ConnectOne(UnixAddr(endpoint.path()), endpoint, deadline);
    case Endpoint::Transport::kTcp: {
      ASSIGN_OR_RETURN(std::vector<SockAddr> addrs, ResolveTcp(endpoint, /*passive=*/false));
      absl::Status last;
      for (const SockAddr& addr : addrs) {
        absl::StatusOr<UniqueFd> fd = ConnectOne(addr, endpoint, deadline);
        if (fd.ok() || absl::IsDeadlineExceeded(fd.status())) return fd;
        last = fd.status();
      }
      return last;
    }
  }
  return absl::InternalError("unknown transport");
}

absl::StatusOr<std::vector<SocketAddress>> ResolveConnectAddresses(const Endpoint& endpoint) {
  std::vector<SockAddr> addrs;
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
  std::vector<SocketAddress> out;
  out.reserve(addrs.size());
  for (const SockAddr& a : addrs) out.push_back(SocketAddress{a.storage, a.length});
  return out;
}

absl::Status WriteAll(int fd, ByteView data, absl::Duration timeout) {
  const Deadline deadline(timeout);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      RETURN_IF_ERROR(WaitFor(fd, POLLOUT, deadline,
                              absl::StrCat("write to ", FdName(fd), " (", done, " of ", data.size(),
                                           " bytes written)")));
      continue;
    }
    if (n == 0)
      return absl::UnavailableError(absl::StrCat("write to ", FdName(fd), ": no progress"));
    return SyscallError(errno, "write to", FdName(fd));
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, std::string_view data, absl::Duration timeout) {
  return WriteAll(fd, AsBytes(data), timeout);
}

absl::StatusOr<std::optional<Frame>> ReadFrame(int fd, FrameDecoder& decoder,
                                               absl::Duration timeout) {
  {
    ASSIGN_OR_RETURN(std::optional<Frame> buffered, decoder.Next());
    if (buffered.has_value()) return buffered;
  }
  const Deadline deadline(timeout);
  std::array<char, 16 * 1024> chunk;
  for (;;) {
    const ssize_t n = recv(fd, chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (n > 0) {
      RETURN_IF_ERROR(decoder.Feed(std::string_view(chunk.data(), static_cast<size_t>(n))));
      ASSIGN_OR_RETURN(std::optional<Frame> frame, decoder.Next());
      if (frame.has_value()) return frame;
      // A peer trickling bytes (or endless whitespace) must not outlive the deadline.
      if (deadline.Expired()) {
        return absl::DeadlineExceededError(
            absl::StrCat("read from ", FdName(fd), ": timed out inside a frame"));
      }
      continue;
    }
    if (n == 0) {
      absl::Status at_eof = decoder.Finish();
      if (at_eof.ok()) return std::nullopt;
      if (absl::IsDataLoss(at_eof)) {
        return absl::DataLossError(
            absl::StrCat("connection closed by peer mid-frame: ", at_eof.message()));
      }
      return at_eof;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      RETURN_IF_ERROR(WaitFor(fd, POLLIN, deadline, absl::StrCat("read from ", FdName(fd))));
      continue;
    }
    return SyscallError(err, "read from", FdName(fd));
  }
}

absl::Status WriteFrame(int fd, FrameKind kind, std::string_view payload, absl::Duration timeout,
                        size_t max_frame_size) {
  ASSIGN_OR_RETURN(std::string encoded, EncodeFrame(kind, payload, max_frame_size));
  return WriteAll(fd, encoded, timeout);
}

absl::Status ShutdownWrite(int fd) {
  if (shutdown(fd, SHUT_WR) != 0) return SyscallError(errno, "shutdown of", FdName(fd));
  return absl::OkStatus();
}

}  // namespace lockout::net
