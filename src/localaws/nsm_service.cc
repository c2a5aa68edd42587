#include "src/localaws/nsm_service.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bitset>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <thread>
#include <utility>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "src/attest/attestation_document.h"
#include "src/attest/builder.h"
#include "src/attest/certificate.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/localaws/nsm_service_ca.h"
#include "src/localaws/nsm_service_measure.h"
#include "src/measure/local_pcr0.h"
#include "src/net/accept_backoff.h"
#include "src/nsm/nsm_message.h"
#include "src/nsm/nsm_socket_framing.h"

namespace lockout::localaws {
namespace {

using crypto::Sha384Digest;

constexpr uint16_t kMaxPcrs = 32;
constexpr uint16_t kFirstUserPcr = 16;  // PCRs below are locked from boot
constexpr size_t kRandomSize = 256;     // what the Nitro NSM returns per GetRandom
constexpr size_t kMaxInstanceIdSize = 64;
constexpr size_t kMaxRoleArnSize = 2048;

const Sha384Digest kZeroPcr{};

// A PCR as freshly extended once from zero: SHA384(0^48 ‖ data).
Sha384Digest MeasureOnce(ByteView data) { return crypto::ExtendPcr(kZeroPcr, data); }

Bytes ToBytesOf(const Sha384Digest& d) { return Bytes(d.begin(), d.end()); }

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat("nsm service: ", Absl(what), " ", path, ": ", std::strerror(errno)));
}

bool IsInstanceIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

absl::Status ValidateOptions(const NsmServiceOptions& o) {
  if (o.state_dir.empty()) return absl::InvalidArgumentError("nsm service: state_dir is empty");
  if (o.socket_path.empty() || o.socket_path.front() != '/') {
    return absl::InvalidArgumentError("nsm service: socket_path must be an absolute path");
  }
  if (o.socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("nsm service: socket path is ",
                                                   o.socket_path.size(), " bytes, over the ",
                                                   sizeof(sockaddr_un::sun_path) - 1, " allowed"));
  }
  if (o.instance_id.empty() || o.instance_id.size() > kMaxInstanceIdSize ||
      !std::all_of(o.instance_id.begin(), o.instance_id.end(), IsInstanceIdChar)) {
    return absl::InvalidArgumentError(
        "nsm service: instance_id must be 1..64 characters of [A-Za-z0-9-]");
  }
  if (o.instance_role_arn.size() > kMaxRoleArnSize) {
    return absl::InvalidArgumentError("nsm service: instance_role_arn is too long");
  }
  if (o.max_connections < 1) {
    return absl::InvalidArgumentError("nsm service: max_connections must be at least 1");
  }
  if (o.socket_mode > 0777) {
    return absl::InvalidArgumentError("nsm service: socket_mode must be a permission mode");
  }
  if (o.leaf_validity < absl::Minutes(5)) {
    return absl::InvalidArgumentError("nsm service: leaf_validity must be at least 5 minutes");
  }
  if (o.frame_timeout <= absl::ZeroDuration() || o.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("nsm service: timeouts must be positive");
  }
  return absl::OkStatus();
}

int PollMillis(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return -1;
  const int64_t ms = absl::ToInt64Milliseconds(d);
  return static_cast<int>(std::clamp<int64_t>(ms, 1, 24 * 3600 * 1000));
}

// A listening Unix socket at `path` with `mode`; a stale socket file is removed first.
struct UnixListener {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
};

absl::StatusOr<UnixListener> ListenUnix(const std::string& path, unsigned mode) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "nsm service: ", path, " exists and is not a socket; refusing to replace it"));
    }
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return Errno("cannot create a socket to probe", path);
    const int rc = ::connect(probe, sa, sizeof(addr));
    const int err = errno;
    ::close(probe);
    if (rc == 0) {
      return absl::UnavailableError(
          absl::StrCat("nsm service: ", path, " is in use by a running service"));
    }
    if (err == ECONNREFUSED) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Errno("cannot remove the stale socket", path);
      }
    } else if (err != ENOENT) {
      errno = err;
      return Errno("cannot probe the existing socket", path);
    }
  }

  UnixListener l;
  l.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (l.fd < 0) return Errno("cannot create a socket for", path);
  auto fail = [&](std::string_view what) {
    absl::Status s = Errno(what, path);
    ::close(l.fd);
    return s;
  };
  // Accepted sockets inherit SO_PASSCRED, so every byte a client sends, even before the
  // connection is served, carries its sender's credentials (NsmService::Impl::CheckRequester).
  const int on = 1;
  if (::setsockopt(l.fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
    return fail("cannot set SO_PASSCRED on");
  }
  if (::bind(l.fd, sa, sizeof(addr)) != 0) return fail("cannot bind");
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    absl::Status s = fail("cannot chmod");
    ::unlink(path.c_str());
    return s;
  }
  if (::listen(l.fd, 128) != 0 || ::stat(path.c_str(), &st) != 0) {
    absl::Status s = fail("cannot listen on");
    ::unlink(path.c_str());
    return s;
  }
  l.dev = st.st_dev;
  l.ino = st.st_ino;
  return l;
}

// The signing leaf of the moment.
struct Leaf {
  crypto::EvpPkeyPtr key;
  Bytes certificate;
  absl::Time not_after;
};

// The NSM state one connection sees.
struct Session {
  std::array<Sha384Digest, kMaxPcrs> pcrs{};
  std::bitset<kMaxPcrs> locked;
  std::bitset<kMaxPcrs> touched;  // PCRs >= 16 that were extended or locked
  // The process measured at connect; every request must come from it, unchanged. Not ok: the
  // connecting process could not be vouched for, and every request is refused with this reason.
  absl::Status measured = absl::OkStatus();
  ExecutableMeasurement measurement;
};

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Connection {
  int fd = -1;
  pid_t pid = 0;
  std::thread thread;
  std::atomic<bool> done{false};
  // Set by the accept loop when it closes this connection to make room for a new one.
  std::atomic<bool> evicted{false};
  // True from a complete request until its answer is ready: such a connection is not evicted.
  std::atomic<bool> working{false};
  // When this connection last had an answer (or was accepted); MonotonicNanos().
  std::atomic<int64_t> last_answer_ns{0};
};

nsm::NsmResponse Error(nsm::ErrorCode code) { return nsm::ErrorResponse{code}; }

}  // namespace

struct NsmService::Impl {
  Impl(NsmServiceOptions o, const Clock& c) : options(std::move(o)), clock(c) {}

  const NsmServiceOptions options;
  const Clock& clock;
  std::unique_ptr<NsmCertificateChain> chain;
  ExecutableMeasurer measurer;
  std::string module_id;
  Sha384Digest pcr3{};
  Sha384Digest pcr4{};

  absl::Mutex leaf_mu;
  std::shared_ptr<const Leaf> leaf ABSL_GUARDED_BY(leaf_mu);

  UnixListener listener;
  int stop_fd = -1;
  std::thread accept_thread;
  net::AcceptBackoff accept_backoff;                   // accept thread
  std::list<std::unique_ptr<Connection>> connections;  // accept thread, then Stop
  std::atomic<bool> stopped{false};

  absl::Status IssueLeaf() ABSL_EXCLUSIVE_LOCKS_REQUIRED(leaf_mu);
  absl::StatusOr<std::shared_ptr<const Leaf>> CurrentLeaf();

  void AcceptLoop();
  // Joins and closes connections whose thread has ended.
  void ReapFinished();
  // Whether a new connection may be served now: below max_connections live ones, or after
  // evicting the live connection longest without an answer (never one answering a request);
  // and below 2 * max_connections threads, evicted ones included.
  bool TryMakeRoom();
  // TryMakeRoom, retried until it succeeds, the service stops or frame_timeout passes.
  bool MakeRoom();
  void Serve(Connection* c);
  absl::StatusOr<Session> NewSession(pid_t pid);
  absl::Status CheckRequester(const Session& s, pid_t pid, const nsm::FrameSenders& senders);
  nsm::NsmResponse Handle(Session& s, const nsm::NsmRequest& request);
  nsm::NsmResponse Attest(const Session& s, const nsm::AttestationRequest& r);
  void Shutdown();
};

absl::Status NsmService::Impl::IssueLeaf() {
  const absl::Time now = clock.Now();
  ASSIGN_OR_RETURN(attest::CertifiedKey certified,
                   chain->IssueLeaf(module_id + ".local", now, options.leaf_validity));
  auto fresh = std::make_shared<Leaf>();
  fresh->key = std::move(certified.key);
  fresh->certificate = std::move(certified.certificate);
  fresh->not_after = now + options.leaf_validity;
  leaf = std::move(fresh);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Leaf>> NsmService::Impl::CurrentLeaf() {
  absl::MutexLock lock(&leaf_mu);
  // Reissue with a third of the validity left, so every document's leaf stays valid for a
  // while after the document is made (verifiers check the chain at their own time).
  if (leaf == nullptr || clock.Now() + options.leaf_validity / 3 > leaf->not_after) {
    RETURN_IF_ERROR(IssueLeaf());
    LogInfo("nsm_leaf_rotated", {{"module_id", module_id}});
  }
  return leaf;
}

absl::StatusOr<Session> NsmService::Impl::NewSession(pid_t pid) {
  Session s;
  if (!options.debug_mode) {
    absl::StatusOr<ExecutableMeasurement> m = measurer.Measure(pid);
    if (!m.ok()) {
      // Answered (InvalidOperation) rather than dropped, so the client sees why.
      LogWarn("nsm_connection_refused",
              {{"pid", pid}, {"error", std::string(m.status().message())}});
      s.measured = m.status();
    } else {
      s.measurement = *std::move(m);
      const Sha384Digest image = measure::LocalPcr0(s.measurement.sha384);
      s.pcrs[0] = s.pcrs[1] = s.pcrs[2] = image;
      LogInfo("nsm_connection", {{"pid", pid},
                                 {"exe", s.measurement.path},
                                 {"pcr0", HexEncode(image)},
                                 {"module_id", module_id}});
    }
  } else {
    LogInfo("nsm_connection", {{"pid", pid}, {"debug_mode", true}, {"pcr0", HexEncode(kZeroPcr)}});
  }
  s.pcrs[3] = pcr3;
  s.pcrs[4] = pcr4;
  for (uint16_t i = 0; i < kFirstUserPcr; ++i) s.locked.set(i);
  return s;
}

// Every request is vouched for again, not only the connection: the bytes must come from the
// process that connected (SCM_CREDENTIALS; a fork or a process the socket was passed to is
// another pid), and that process must still pass the measurement with the same start time and the
// same executable bytes (an exec() after connect, or a library loaded since, is refused). Debug
// mode reports zero image PCRs, so it has nothing to vouch for and skips this.
absl::Status NsmService::Impl::CheckRequester(const Session& s, pid_t pid,
                                              const nsm::FrameSenders& senders) {
  if (options.debug_mode) return absl::OkStatus();
  RETURN_IF_ERROR(s.measured);
  for (pid_t sender : senders.pids) {
    if (sender != pid) {
      return absl::FailedPreconditionError(
          absl::StrCat("nsm: the request was sent by pid ", sender, ", not by pid ", pid,
                       " which connected and was measured (an inherited or passed connection)"));
    }
  }
  ASSIGN_OR_RETURN(ExecutableMeasurement now, measurer.Measure(pid));
  if (now.start_time != s.measurement.start_time) {
    return absl::FailedPreconditionError(
        absl::StrCat("nsm: pid ", pid, " is no longer the process that connected"));
  }
  if (now.sha384 != s.measurement.sha384 || !(now.executable == s.measurement.executable)) {
    return absl::FailedPreconditionError(absl::StrCat("nsm: pid ", pid, " now runs ", now.path,
                                                      ", not the executable measured at connect"));
  }
  return absl::OkStatus();
}

nsm::NsmResponse NsmService::Impl::Attest(const Session& s, const nsm::AttestationRequest& r) {
  // DecodeRequest enforces these too; checked again so the limits hold for any caller.
  if ((r.user_data && r.user_data->size() > nsm::kMaxUserDataSize) ||
      (r.nonce && r.nonce->size() > nsm::kMaxNonceSize) ||
      (r.public_key && r.public_key->size() > nsm::kMaxPublicKeySize)) {
    return Error(nsm::ErrorCode::kInvalidArgument);
  }
  absl::StatusOr<std::shared_ptr<const Leaf>> signer = CurrentLeaf();
  if (!signer.ok()) {
    LogError("nsm_leaf_error", {{"error", std::string(signer.status().message())}});
    return Error(nsm::ErrorCode::kInternalError);
  }
  attest::AttestationDocument doc;
  doc.module_id = module_id;
  doc.digest = "SHA384";
  doc.timestamp_ms = static_cast<uint64_t>(std::max<int64_t>(1, absl::ToUnixMillis(clock.Now())));
  for (uint16_t i = 0; i < kMaxPcrs; ++i) {
    if (i < kFirstUserPcr || s.touched.test(i)) doc.pcrs[i] = ToBytesOf(s.pcrs[i]);
  }
  doc.certificate = (*signer)->certificate;
  doc.cabundle = chain->cabundle();
  doc.public_key = r.public_key;
  doc.user_data = r.user_data;
  doc.nonce = r.nonce;
  absl::StatusOr<Bytes> built = attest::BuildAttestationDocument(doc, (*signer)->key.get());
  if (!built.ok()) {
    LogError("nsm_attestation_error", {{"error", std::string(built.status().message())}});
    // A public_key of 0 bytes is the only request-side reason the builder refuses
    // (ValidateAttestationFields: 1..1024); everything else is ours.
    return Error(built.status().code() == absl::StatusCode::kInvalidArgument
                     ? nsm::ErrorCode::kInvalidArgument
                     : nsm::ErrorCode::kInternalError);
  }
  return nsm::AttestationResponse{*std::move(built)};
}

nsm::NsmResponse NsmService::Impl::Handle(Session& s, const nsm::NsmRequest& request) {
  if (const auto* r = std::get_if<nsm::DescribePcrRequest>(&request)) {
    if (r->index >= kMaxPcrs) return Error(nsm::ErrorCode::kInvalidIndex);
    return nsm::DescribePcrResponse{s.locked.test(r->index), ToBytesOf(s.pcrs[r->index])};
  }
  if (const auto* r = std::get_if<nsm::ExtendPcrRequest>(&request)) {
    if (r->index >= kMaxPcrs) return Error(nsm::ErrorCode::kInvalidIndex);
    if (s.locked.test(r->index)) return Error(nsm::ErrorCode::kReadOnlyIndex);
    s.pcrs[r->index] = crypto::ExtendPcr(s.pcrs[r->index], r->data);
    s.touched.set(r->index);
    return nsm::ExtendPcrResponse{ToBytesOf(s.pcrs[r->index])};
  }
  if (const auto* r = std::get_if<nsm::LockPcrRequest>(&request)) {
    if (r->index >= kMaxPcrs) return Error(nsm::ErrorCode::kInvalidIndex);
    if (s.locked.test(r->index)) return Error(nsm::ErrorCode::kReadOnlyIndex);
    s.locked.set(r->index);
    s.touched.set(r->index);
    return nsm::LockPcrResponse{};
  }
  if (const auto* r = std::get_if<nsm::LockPcrsRequest>(&request)) {
    if (r->range > kMaxPcrs) return Error(nsm::ErrorCode::kInvalidIndex);
    for (uint16_t i = 0; i < r->range; ++i) {
      if (!s.locked.test(i)) {
        s.locked.set(i);
        s.touched.set(i);
      }
    }
    return nsm::LockPcrsResponse{};
  }
  if (std::holds_alternative<nsm::DescribeNsmRequest>(request)) {
    nsm::DescribeNsmResponse d;
    d.version_major = 1;
    d.version_minor = 0;
    d.version_patch = 0;
    d.module_id = module_id;
    d.max_pcrs = kMaxPcrs;
    for (uint16_t i = 0; i < kMaxPcrs; ++i) {
      if (s.locked.test(i)) d.locked_pcrs.insert(i);
    }
    d.digest = nsm::Digest::kSha384;
    return d;
  }
  if (const auto* r = std::get_if<nsm::AttestationRequest>(&request)) return Attest(s, *r);
  if (std::holds_alternative<nsm::GetRandomRequest>(request)) {
    return nsm::GetRandomResponse{crypto::RandomBytes(kRandomSize)};
  }
  return Error(nsm::ErrorCode::kInvalidOperation);
}

void NsmService::Impl::Serve(Connection* c) {
  absl::StatusOr<Session> session = NewSession(c->pid);
  if (!session.ok()) {
    LogWarn("nsm_connection_refused",
            {{"pid", c->pid}, {"error", std::string(session.status().message())}});
    return;
  }
  const int idle_ms = PollMillis(options.idle_timeout);
  for (;;) {
    std::array<pollfd, 2> fds{pollfd{c->fd, POLLIN, 0}, pollfd{stop_fd, POLLIN, 0}};
    const int n = ::poll(fds.data(), fds.size(), idle_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) LogInfo("nsm_connection_idle_closed", {{"pid", c->pid}});
      return;
    }
    if (fds[1].revents != 0 || c->evicted.load()) return;  // stopping, or closed for a newcomer

    nsm::FrameSenders senders;
    absl::StatusOr<Bytes> frame =
        nsm::ReadFrame(c->fd, nsm::kMaxRequestSize, options.frame_timeout, &senders);
    if (!frame.ok()) {
      if (frame.status().code() == absl::StatusCode::kResourceExhausted) {
        // The body was not read, so the stream cannot be resynchronised: answer and close.
        absl::StatusOr<Bytes> err = nsm::EncodeResponse(Error(nsm::ErrorCode::kInputTooLarge));
        if (err.ok()) {
          (void)nsm::WriteFrame(c->fd, *err, nsm::kMaxResponseSize, options.frame_timeout);
        }
      }
      if (frame.status().code() != absl::StatusCode::kOutOfRange) {
        LogInfo("nsm_connection_error",
                {{"pid", c->pid}, {"error", std::string(frame.status().message())}});
      }
      return;
    }

    c->working.store(true);
    nsm::NsmResponse response;
    absl::StatusOr<nsm::NsmRequest> request = nsm::DecodeRequest(*frame);
    absl::Status requester = CheckRequester(*session, c->pid, senders);
    if (!requester.ok()) {
      LogWarn("nsm_request_refused",
              {{"pid", c->pid}, {"error", std::string(requester.message())}});
      response = Error(nsm::ErrorCode::kInvalidOperation);
    } else if (!request.ok()) {
      LogInfo("nsm_bad_request", {{"pid", c->pid},
                                  {"size", frame->size()},
                                  {"error", std::string(request.status().message())}});
      response = Error(nsm::ErrorCode::kInvalidArgument);
    } else {
      response = Handle(*session, *request);
      LogDebug("nsm_request", {{"pid", c->pid},
                               {"request", nsm::Describe(*request)},
                               {"response", std::string(nsm::VariantName(response))}});
    }
    absl::StatusOr<Bytes> encoded = nsm::EncodeResponse(response);
    if (!encoded.ok()) {
      LogError("nsm_encode_error", {{"error", std::string(encoded.status().message())}});
      encoded = nsm::EncodeResponse(Error(nsm::ErrorCode::kInternalError));
      if (!encoded.ok()) return;
    }
    // Marked answered before the write, so a peer that has read its answer is never taken for
    // the one longest without an answer.
    c->last_answer_ns.store(MonotonicNanos());
    c->working.store(false);
    absl::Status written =
        nsm::WriteFrame(c->fd, *encoded, nsm::kMaxResponseSize, options.frame_timeout);
    if (!written.ok()) {
      LogInfo("nsm_connection_error", {{"pid", c->pid}, {"error", std::string(written.message())}});
      return;
    }
    if (!requester.ok()) return;  // a refused process gets no further answers on this connection
  }
}

void NsmService::Impl::AcceptLoop() {
  for (;;) {
    std::array<pollfd, 2> fds{pollfd{listener.fd, POLLIN, 0}, pollfd{stop_fd, POLLIN, 0}};
    const int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      LogError("nsm_accept_error", {{"error", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;

    const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      // Out of descriptors or memory (or anything else): the connection stays queued and the
      // listener readable, so pause (growing, stoppable) and log at a bounded rate instead of
      // spinning (net/accept_backoff.h).
      const net::AcceptBackoff::Decision d = accept_backoff.OnFailure(absl::Now());
      if (d.log) {
        LogWarn("nsm_accept_error", {{"error", std::strerror(err)},
                                     {"failures", d.failures_since_log},
                                     {"pause_ms", absl::ToInt64Milliseconds(d.pause)}});
      }
      pollfd stop{stop_fd, POLLIN, 0};
      ::poll(&stop, 1, PollMillis(d.pause));
      continue;
    }
    accept_backoff.OnSuccess();

    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.pid <= 0) {
      LogWarn("nsm_connection_refused", {{"error", "no peer credentials"}});
      ::close(fd);
      continue;
    }
    if (!MakeRoom()) {
      LogWarn("nsm_connection_refused", {{"pid", cred.pid},
                                         {"error", "too many connections, all of them busy"},
                                         {"max_connections", options.max_connections}});
      ::close(fd);
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->pid = cred.pid;
    c->last_answer_ns.store(MonotonicNanos());
    Connection* raw = c.get();
    connections.push_back(std::move(c));
    raw->thread = std::thread([this, raw] {
      Serve(raw);
      // Wake the peer now (it sees EOF); the accept loop or Stop closes the descriptor.
      ::shutdown(raw->fd, SHUT_RDWR);
      raw->done.store(true);
    });
  }
}

void NsmService::Impl::ReapFinished() {
  for (auto it = connections.begin(); it != connections.end();) {
    if ((*it)->done.load()) {
      (*it)->thread.join();
      ::close((*it)->fd);
      it = connections.erase(it);
    } else {
      ++it;
    }
  }
}

bool NsmService::Impl::TryMakeRoom() {
  const size_t max = static_cast<size_t>(options.max_connections);
  size_t live = 0;
  Connection* longest_idle = nullptr;
  for (const auto& c : connections) {
    if (c->evicted.load() || c->done.load()) continue;
    ++live;
    if (c->working.load()) continue;
    if (longest_idle == nullptr || c->last_answer_ns.load() < longest_idle->last_answer_ns.load()) {
      longest_idle = c.get();
    }
  }
  if (live < max) return connections.size() < 2 * max;
  if (longest_idle == nullptr || connections.size() >= 2 * max) return false;
  longest_idle->evicted.store(true);
  ::shutdown(longest_idle->fd, SHUT_RDWR);  // the thread wakes, sees EOF or `evicted`, and ends
  const int64_t idle_ms = (MonotonicNanos() - longest_idle->last_answer_ns.load()) / 1000000;
  LogInfo("nsm_connection_evicted", {{"pid", longest_idle->pid},
                                     {"idle_ms", idle_ms},
                                     {"max_connections", options.max_connections}});
  return connections.size() < 2 * max;
}

bool NsmService::Impl::MakeRoom() {
  // Evicted connections end as soon as their current step does (a measurement, or a request
  // bounded by frame_timeout); until then the new connection waits here, in the kernel's
  // backlog terms, rather than being refused.
  const absl::Time give_up = absl::Now() + options.frame_timeout;
  for (;;) {
    ReapFinished();
    if (TryMakeRoom()) return true;
    if (absl::Now() >= give_up) return false;
    pollfd stop{stop_fd, POLLIN, 0};
    if (::poll(&stop, 1, 10) > 0) return false;  // stopping
  }
}

void NsmService::Impl::Shutdown() {
  if (stopped.exchange(true)) return;
  if (stop_fd >= 0) {
    const uint64_t one = 1;
    (void)!::write(stop_fd, &one, sizeof(one));
  }
  if (accept_thread.joinable()) accept_thread.join();
  for (auto& c : connections) {
    ::shutdown(c->fd, SHUT_RDWR);  // wakes a read in the middle of a frame
    if (c->thread.joinable()) c->thread.join();
    ::close(c->fd);
  }
  connections.clear();
  if (listener.fd >= 0) {
    ::close(listener.fd);
    struct stat st {};
    if (::lstat(options.socket_path.c_str(), &st) == 0 && st.st_dev == listener.dev &&
        st.st_ino == listener.ino) {
      ::unlink(options.socket_path.c_str());
    }
    listener.fd = -1;
  }
  if (stop_fd >= 0) {
    ::close(stop_fd);
    stop_fd = -1;
  }
}

absl::StatusOr<std::unique_ptr<NsmService>> NsmService::Start(NsmServiceOptions options,
                                                              const Clock& clock) {
  RETURN_IF_ERROR(ValidateOptions(options));
  auto impl = std::make_unique<Impl>(std::move(options), clock);
  const NsmServiceOptions& o = impl->options;
  if (::mkdir(o.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("cannot create the state directory", o.state_dir);
  }
  ASSIGN_OR_RETURN(impl->chain, NsmCertificateChain::LoadOrCreate(o.state_dir + "/nsm", clock));
  impl->module_id = absl::StrCat(o.instance_id, "-enc", HexEncode(crypto::RandomBytes(8)));
  impl->pcr3 = o.instance_role_arn.empty() ? kZeroPcr : MeasureOnce(AsBytes(o.instance_role_arn));
  impl->pcr4 = MeasureOnce(AsBytes(o.instance_id));
  {
    absl::MutexLock lock(&impl->leaf_mu);
    RETURN_IF_ERROR(impl->IssueLeaf());
  }
  impl->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->stop_fd < 0) return Errno("cannot create an eventfd for", o.socket_path);
  absl::StatusOr<UnixListener> listener = ListenUnix(o.socket_path, o.socket_mode);
  if (!listener.ok()) {
    ::close(impl->stop_fd);
    impl->stop_fd = -1;
    return listener.status();
  }
  impl->listener = *listener;
  Impl* raw = impl.get();
  impl->accept_thread = std::thread([raw] { raw->AcceptLoop(); });
  LogInfo("nsm_service_started",
          {{"socket", o.socket_path},
           {"module_id", impl->module_id},
           {"debug_mode", o.debug_mode},
           {"root_sha256", HexEncode(crypto::Sha256(impl->chain->root_der()))}});
  return std::unique_ptr<NsmService>(new NsmService(std::move(impl)));
}

NsmService::NsmService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NsmService::~NsmService() { Stop(); }
void NsmService::Stop() { impl_->Shutdown(); }
const Bytes& NsmService::root_der() const { return impl_->chain->root_der(); }
const Bytes& NsmService::intermediate_der() const { return impl_->chain->intermediate_der(); }
const std::string& NsmService::socket_path() const { return impl_->options.socket_path; }
const std::string& NsmService::module_id() const { return impl_->module_id; }

}  // namespace lockout::localaws
