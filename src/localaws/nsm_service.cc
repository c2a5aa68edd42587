#include "src/localaws/nsm_service.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bitset>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/post.hpp"
#include "boost/asio/write.hpp"
#include "src/attest/attestation_document.h"
#include "src/attest/builder.h"
#include "src/attest/certificate.h"
#include "src/common/blocking_pool.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/localaws/nsm_service_ca.h"
#include "src/localaws/nsm_service_measure.h"
#include "src/localaws/nsm_service_pcrs.h"
#include "src/measure/local_pcr0.h"
#include "src/measure/process_image.h"
#include "src/net/connection_server.h"
#include "src/net/endpoint.h"
#include "src/net/socket.h"
#include "src/net/unix_credentials.h"
#include "src/nsm/nsm_message.h"
#include "src/nsm/nsm_socket_framing.h"
#include "src/qemu/guest_measure.h"
namespace lockout::localaws {
namespace {

using crypto::Sha384Digest;

constexpr uint16_t kMaxPcrs = kNsmMaxPcrs;
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
  if (o.frame_timeout <= absl::ZeroDuration() || o.idle_timeout <= absl::ZeroDuration() ||
      o.sweep_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("nsm service: timeouts must be positive");
  }
  if (o.max_connections > 32768) {
    return absl::InvalidArgumentError("nsm service: max_connections must be at most 32768");
  }
  RETURN_IF_ERROR(BlockingPool::Validate({.threads = o.worker_threads, .queue_limit = 0}));
  return absl::OkStatus();
}

// Binds the socket with `mode`. net::Listen replaces a stale socket file and refuses a live one or
// a non-socket file; the listener removes the file when destroyed, if it is still ours.
absl::StatusOr<net::Listener> ListenUnix(const std::string& path, unsigned mode) {
  ASSIGN_OR_RETURN(net::Endpoint endpoint, net::Endpoint::Unix(path));
  absl::StatusOr<net::Listener> listener = net::Listen(endpoint);
  if (!listener.ok()) {
    return absl::Status(listener.status().code(),
                        absl::StrCat("nsm service: ", listener.status().message()));
  }
  // Accepted sockets inherit SO_PASSCRED, so every byte a client sends carries its sender's
  // credentials (NsmService::Impl::CheckRequester). Bytes sent before the accept carry them too.
  absl::Status passcred = net::EnablePassCredentials(listener->fd());
  if (!passcred.ok()) return Errno("cannot set SO_PASSCRED on", path);
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) return Errno("cannot chmod", path);
  // A client that connected between listen() and chmod() was allowed by the umask, not by
  // `mode`: nothing is served from before the mode was set.
  for (;;) {
    absl::StatusOr<std::optional<UniqueFd>> early = net::AcceptNow(*listener);
    if (!early.ok() || !early->has_value()) break;
  }
  return listener;
}

// The signing leaf of the moment.
struct Leaf {
  crypto::EvpPkeyPtr key;
  Bytes certificate;
  absl::Time not_after;
};

// The NSM state one connection sees.
struct Session {
  // The PCRs of the connecting process, shared by all its connections (nsm_service_pcrs.h).
  std::shared_ptr<PcrBank> bank;
  // The process measured at connect; every request must come from it, unchanged. Not ok: the
  // connecting process could not be vouched for, and every request is refused with this reason.
  absl::Status measured = absl::OkStatus();
  ExecutableMeasurement measurement;
  // A QEMU that `lockout run-enclave` started (qemu/guest_measure.h): its PCRs are its EIF's and
  // each request re-checks the QEMU process (start time, not traced), not executable mappings.
  bool guest = false;
};

// Whether `pid` runs one of `emulators` (compared with the resolved /proc/PID/exe, so the path
// must be the binary's real path), owned by root and writable by nobody else. Errors only when
// the process cannot be inspected.
absl::StatusOr<bool> RunsGuestEmulator(pid_t pid, const std::vector<std::string>& emulators) {
  if (emulators.empty()) return false;
  const std::string link = absl::StrCat("/proc/", pid, "/exe");
  char buf[4096];
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return false;  // the ordinary measurement reports why
  const std::string exe(buf, static_cast<size_t>(n));
  if (std::find(emulators.begin(), emulators.end(), exe) == emulators.end()) return false;
  struct stat st {};
  if (::stat(link.c_str(), &st) != 0 || st.st_uid != 0 || (st.st_mode & 022) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "nsm: pid ", pid, " runs ", exe, ", which is not owned and writable only by root"));
  }
  return true;
}

nsm::NsmResponse Error(nsm::ErrorCode code) { return nsm::ErrorResponse{code}; }

// What the pool hands back for one request: the encoded answer and whether the requester was
// refused (then the connection ends after the answer). nullopt bytes: nothing could be encoded.
struct Answer {
  std::optional<Bytes> bytes;
  bool refused = false;
};

}  // namespace

class NsmConnection;

struct NsmService::Impl {
  Impl(NsmServiceOptions o, const Clock& c) : options(std::move(o)), clock(c) {}

  const NsmServiceOptions options;
  const Clock& clock;
  std::unique_ptr<NsmCertificateChain> chain;
  ExecutableMeasurer measurer;
  std::string module_id;
  Sha384Digest pcr3{};
  Sha384Digest pcr4{};
  ProcessPcrTable process_pcrs;

  absl::Mutex leaf_mu;
  std::shared_ptr<const Leaf> leaf ABSL_GUARDED_BY(leaf_mu);

  // Measurements and requests (they read /proc, hash files and sign): never on the I/O thread.
  std::unique_ptr<BlockingPool> pool;
  std::unique_ptr<net::ConnectionServer> server;
  std::atomic<bool> stopped{false};

  absl::Status IssueLeaf() ABSL_EXCLUSIVE_LOCKS_REQUIRED(leaf_mu);
  absl::StatusOr<std::shared_ptr<const Leaf>> CurrentLeaf();

  absl::StatusOr<Session> NewSession(pid_t pid);
  absl::Status CheckRequester(const Session& s, pid_t pid, const nsm::FrameSenders& senders);
  // One request frame from `pid`, answered (pool thread; `s` belongs to the caller meanwhile).
  Answer Respond(Session& s, pid_t pid, const Bytes& frame, const nsm::FrameSenders& senders);
  nsm::NsmResponse Handle(Session& s, const nsm::NsmRequest& request);
  nsm::NsmResponse Attest(const Session& s, const nsm::AttestationRequest& r);
  // Makes the connection for an accepted socket (nullptr: refused).
  std::shared_ptr<net::Connection> Accept(net::StreamSocket socket);
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
  Sha384Digest image = kZeroPcr;  // debug mode: image PCRs read as zero
  std::array<Sha384Digest, 3> boot_pcrs{};
  std::optional<Sha384Digest> pcr8;
  std::optional<ProcessIdentity> identity;
  absl::StatusOr<bool> guest = false;
  if (!options.debug_mode) guest = RunsGuestEmulator(pid, options.guest_emulators);
  if (!guest.ok()) {
    LogWarn("nsm_connection_refused",
            {{"pid", pid}, {"error", std::string(guest.status().message())}});
    s.measured = guest.status();
  } else if (*guest) {
    s.guest = true;
    absl::StatusOr<qemu::GuestMeasurement> m = qemu::MeasureGuest(pid, options.socket_path);
    if (!m.ok()) {
      LogWarn("nsm_connection_refused",
              {{"pid", pid}, {"guest", true}, {"error", std::string(m.status().message())}});
      s.measured = m.status();
    } else {
      boot_pcrs = {m->pcrs.pcr0, m->pcrs.pcr1, m->pcrs.pcr2};
      pcr8 = m->pcrs.pcr8;
      s.measurement.path = "qemu guest";
      s.measurement.sha384 = m->eif_sha384;
      s.measurement.start_time = m->start_time;
      identity = ProcessIdentity{pid, m->start_time, m->eif_sha384};
      LogInfo("nsm_connection", {{"pid", pid},
                                 {"guest", true},
                                 {"eif_sha384", HexEncode(m->eif_sha384)},
                                 {"pcr0", HexEncode(m->pcrs.pcr0)},
                                 {"module_id", module_id}});
    }
  } else if (!options.debug_mode) {
    absl::StatusOr<ExecutableMeasurement> m = measurer.Measure(pid);
    if (!m.ok()) {
      // Answered (InvalidOperation) rather than dropped, so the client sees why.
      LogWarn("nsm_connection_refused",
              {{"pid", pid}, {"error", std::string(m.status().message())}});
      s.measured = m.status();
    } else {
      s.measurement = *std::move(m);
      image = measure::LocalPcr0(s.measurement.sha384);
      boot_pcrs = {image, image, image};
      identity = ProcessIdentity{pid, s.measurement.start_time, s.measurement.sha384};
      LogInfo("nsm_connection", {{"pid", pid},
                                 {"exe", s.measurement.path},
                                 {"pcr0", HexEncode(image)},
                                 {"module_id", module_id}});
    }
  } else {
    if (absl::StatusOr<uint64_t> start = measure::ReadStartTime(pid); start.ok()) {
      identity = ProcessIdentity{pid, *start, kZeroPcr};
    }
    LogInfo("nsm_connection", {{"pid", pid}, {"debug_mode", true}, {"pcr0", HexEncode(kZeroPcr)}});
  }
  auto boot = [&](PcrBank& bank) {
    absl::MutexLock lock(&bank.mu);
    bank.pcrs[0] = boot_pcrs[0];
    bank.pcrs[1] = boot_pcrs[1];
    bank.pcrs[2] = boot_pcrs[2];
    if (pcr8) bank.pcrs[8] = *pcr8;
    bank.pcrs[3] = pcr3;
    bank.pcrs[4] = pcr4;
    for (uint16_t i = 0; i < kFirstUserPcr; ++i) bank.locked.set(i);
  };
  if (!identity) {
    // Nothing identifies the process (it is refused, or gone): a bank of its own.
    s.bank = std::make_shared<PcrBank>();
    boot(*s.bank);
    return s;
  }
  // Full of live processes: refused (OnMeasured logs it).
  ASSIGN_OR_RETURN(s.bank, process_pcrs.BankOf(*identity, boot));
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
  if (s.guest) return qemu::RecheckGuest(pid, s.measurement.start_time);
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
  {
    absl::MutexLock lock(&s.bank->mu);
    for (uint16_t i = 0; i < kMaxPcrs; ++i) {
      if (i < kFirstUserPcr || s.bank->touched.test(i)) doc.pcrs[i] = ToBytesOf(s.bank->pcrs[i]);
    }
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

nsm::NsmResponse NsmService::Impl::Handle(Session& session, const nsm::NsmRequest& request) {
  if (const auto* r = std::get_if<nsm::AttestationRequest>(&request)) return Attest(session, *r);
  if (std::holds_alternative<nsm::GetRandomRequest>(request)) {
    return nsm::GetRandomResponse{crypto::RandomBytes(kRandomSize)};
  }
  PcrBank& s = *session.bank;
  absl::MutexLock lock(&s.mu);
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
  return Error(nsm::ErrorCode::kInvalidOperation);
}

// Decode, vouch for the requester, handle, encode: what Serve did per request before the service
// moved onto the event layer, unchanged.
Answer NsmService::Impl::Respond(Session& s, pid_t pid, const Bytes& frame,
                                 const nsm::FrameSenders& senders) {
  Answer answer;
  nsm::NsmResponse response;
  absl::StatusOr<nsm::NsmRequest> request = nsm::DecodeRequest(frame);
  absl::Status requester = CheckRequester(s, pid, senders);
  if (!requester.ok()) {
    LogWarn("nsm_request_refused", {{"pid", pid}, {"error", std::string(requester.message())}});
    response = Error(nsm::ErrorCode::kInvalidOperation);
    answer.refused = true;  // a refused process gets no further answers on this connection
  } else if (!request.ok()) {
    LogInfo(
        "nsm_bad_request",
        {{"pid", pid}, {"size", frame.size()}, {"error", std::string(request.status().message())}});
    response = Error(nsm::ErrorCode::kInvalidArgument);
  } else {
    response = Handle(s, *request);
    LogDebug("nsm_request", {{"pid", pid},
                             {"request", nsm::Describe(*request)},
                             {"response", std::string(nsm::VariantName(response))}});
  }
  absl::StatusOr<Bytes> encoded = nsm::EncodeResponse(response);
  if (!encoded.ok()) {
    LogError("nsm_encode_error", {{"error", std::string(encoded.status().message())}});
    encoded = nsm::EncodeResponse(Error(nsm::ErrorCode::kInternalError));
  }
  if (encoded.ok()) answer.bytes = *std::move(encoded);
  return answer;
}

namespace {

// 4-byte big-endian length + payload (nsm/nsm_socket_framing.h).
Bytes Framed(const Bytes& payload) {
  const auto length = static_cast<uint32_t>(payload.size());
  Bytes out{static_cast<uint8_t>(length >> 24), static_cast<uint8_t>(length >> 16),
            static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)};
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

}  // namespace

// One NSM connection. Everything except the pool jobs runs on the connection's strand; a job
// (measure the caller; answer one request) owns `session_` while it runs, as the strand does
// nothing else with the connection in kMeasuring and kWorking.
//
//   kMeasuring  the caller is being measured (pool). Deadline only while the pool is full
//               (SubmitJob).
//   kReading    waiting for readability, then recvmsg() of exactly the frame's remaining bytes,
//               noting each chunk's sender. Deadlines: idle_timeout from the last answer until
//               the first byte, frame_timeout from the first byte to the last.
//   kWorking    the request is on the pool; nothing is read. Deadline as kMeasuring.
//   kWriting    the answer is being written. Deadline: frame_timeout.
class NsmConnection final : public net::Connection {
 public:
  NsmConnection(net::StreamSocket socket, NsmService::Impl* service, pid_t pid)
      : net::Connection(std::move(socket)), service_(service), pid_(pid) {}

  size_t memory_usage() const override { return memory_.load(std::memory_order_relaxed); }
  // When the connection last had an answer (or was accepted); never while it is answering, so a
  // connection in the middle of a request is not the one evicted for a newcomer. Real time, not
  // the service's clock: this orders connections (a frozen test clock would tie them all) and is
  // no deadline.
  absl::Time last_activity() const override {
    if (working_.load(std::memory_order_relaxed)) return absl::InfiniteFuture();
    return absl::FromUnixNanos(last_answer_ns_.load(std::memory_order_relaxed));
  }

 protected:
  void Start() override {
    last_answer_ns_.store(absl::ToUnixNanos(absl::Now()), std::memory_order_relaxed);
    idle_deadline_ = Now() + service_->options.idle_timeout;  // silent since it connected
    state_ = State::kMeasuring;
    SubmitJob();
  }

  void Sweep(absl::Time now) override {
    switch (state_) {
      case State::kReading:
        if (frame_started_ && now >= frame_deadline_) {
          LogInfo("nsm_connection_error",
                  {{"pid", pid_}, {"error", "nsm socket: the frame did not complete in time"}});
          Close("frame timeout");
        } else if (!frame_started_ && now >= idle_deadline_) {
          LogInfo("nsm_connection_idle_closed", {{"pid", pid_}});
          Close("idle");
        }
        return;
      case State::kWriting:
        if (now >= write_deadline_) {
          LogInfo("nsm_connection_error",
                  {{"pid", pid_}, {"error", "nsm socket: the answer was not read in time"}});
          Close("write timeout");
        }
        return;
      case State::kMeasuring:
      case State::kWorking:
        if (job_waiting_) SubmitJob();
        return;
    }
  }

  void OnClosed(std::string_view why) override {
    gone_.store(true);
    if (why == net::kEvictedReason) {  // net::ConnectionServer made room for a newcomer
      const absl::Time last = absl::FromUnixNanos(last_answer_ns_.load());
      LogInfo("nsm_connection_evicted", {{"pid", pid_},
                                         {"idle_ms", absl::ToInt64Milliseconds(absl::Now() - last)},
                                         {"max_connections", service_->options.max_connections}});
    }
    out_.clear();
    out_.shrink_to_fit();
    memory_.store(0, std::memory_order_relaxed);
  }

 private:
  enum class State { kMeasuring, kReading, kWorking, kWriting };

  absl::Time Now() const { return service_->clock.Now(); }
  std::shared_ptr<NsmConnection> self() {
    return std::static_pointer_cast<NsmConnection>(shared_from_this());
  }

  void OnMeasured(absl::StatusOr<Session> session) {
    if (closed()) return;
    if (!session.ok()) {
      LogWarn("nsm_connection_refused",
              {{"pid", pid_}, {"error", std::string(session.status().message())}});
      Close("refused");
      return;
    }
    session_ = *std::move(session);
    StartReading();
  }

  void StartReading() {
    state_ = State::kReading;
    frame_started_ = false;
    header_got_ = 0;
    body_.clear();
    body_got_ = 0;
    senders_.pids.clear();
    WaitReadable();
  }

  void WaitReadable() {
    socket().async_wait(net::StreamSocket::wait_read,
                        [self = self()](const boost::system::error_code& ec) {
                          if (self->closed()) return;
                          if (ec) {
                            self->Close("wait error");
                            return;
                          }
                          self->ReadAvailable();
                        });
  }

  void NoteSender(pid_t pid) {
    if (std::find(senders_.pids.begin(), senders_.pids.end(), pid) == senders_.pids.end()) {
      senders_.pids.push_back(pid);
    }
  }

  // Reads what is there of the current frame: exactly its remaining bytes, never the next frame's.
  void ReadAvailable() {
    const int fd = socket().native_handle();
    for (;;) {
      uint8_t* dest;
      size_t want;
      if (header_got_ < nsm::kFrameHeaderSize) {
        dest = header_.data() + header_got_;
        want = nsm::kFrameHeaderSize - header_got_;
      } else {
        dest = body_.data() + body_got_;
        want = body_.size() - body_got_;
      }
      pid_t sender = 0;
      const ssize_t n = net::ReceiveWithSender(fd, dest, want, &sender);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          WaitReadable();
          return;
        }
        LogInfo(
            "nsm_connection_error",
            {{"pid", pid_}, {"error", absl::StrCat("nsm socket: recv: ", std::strerror(errno))}});
        Close("read error");
        return;
      }
      if (n == 0) {
        if (frame_started_) {
          LogInfo("nsm_connection_error",
                  {{"pid", pid_},
                   {"error", absl::StrCat("nsm socket: peer closed the connection after ",
                                          header_got_ + body_got_, " bytes of a frame")}});
        }
        Close("peer closed");
        return;
      }
      if (!frame_started_) {
        frame_started_ = true;
        frame_deadline_ = Now() + service_->options.frame_timeout;
      }
      NoteSender(sender);
      if (header_got_ < nsm::kFrameHeaderSize) {
        header_got_ += static_cast<size_t>(n);
        if (header_got_ < nsm::kFrameHeaderSize) continue;
        const uint32_t length = (uint32_t{header_[0]} << 24) | (uint32_t{header_[1]} << 16) |
                                (uint32_t{header_[2]} << 8) | uint32_t{header_[3]};
        if (length > nsm::kMaxRequestSize) {
          TooLarge(length);
          return;
        }
        body_.resize(length);
        memory_.store(body_.capacity(), std::memory_order_relaxed);
      } else {
        body_got_ += static_cast<size_t>(n);
      }
      if (body_got_ == body_.size()) {
        Dispatch();
        return;
      }
    }
  }

  // The body is not read, so the stream cannot be resynchronised: answer and close.
  void TooLarge(uint32_t length) {
    LogInfo("nsm_connection_error",
            {{"pid", pid_},
             {"error", absl::StrCat("nsm socket: frame of ", length, " bytes exceeds the limit of ",
                                    nsm::kMaxRequestSize)}});
    absl::StatusOr<Bytes> err = nsm::EncodeResponse(Error(nsm::ErrorCode::kInputTooLarge));
    if (!err.ok()) {
      Close("frame too large");
      return;
    }
    Write(*err, /*close_after=*/true);
  }

  void Dispatch() {
    state_ = State::kWorking;
    working_.store(true, std::memory_order_relaxed);
    SubmitJob();
  }

  // Hands the job of the state (kMeasuring: measure the caller; kWorking: answer the request) to
  // the pool. If the pool is full (a burst of connections, evicted ones' jobs still queued), Sweep
  // tries again until frame_timeout has passed; then the caller is refused, or the request is
  // answered InternalError (the Nitro NSM has no "busy") and the connection stays usable.
  // Connections waiting here are open connections, so they are bounded by max_connections.
  void SubmitJob() {
    absl::Status submitted;
    if (state_ == State::kMeasuring) {
      submitted = service_->pool->Submit([self = self(), strand = strand()](int) {
        if (self->gone_.load()) return;
        absl::StatusOr<Session> session = self->service_->NewSession(self->pid_);
        boost::asio::post(strand, [self, session = std::move(session)]() mutable {
          self->OnMeasured(std::move(session));
        });
      });
    } else {
      submitted = service_->pool->Submit([self = self(), strand = strand()](int) {
        if (self->gone_.load()) return;
        Answer answer =
            self->service_->Respond(self->session_, self->pid_, self->body_, self->senders_);
        boost::asio::post(strand, [self, answer = std::move(answer)]() mutable {
          self->OnAnswered(std::move(answer));
        });
      });
    }
    if (submitted.ok()) {
      job_waiting_ = false;
      return;
    }
    if (!absl::IsResourceExhausted(submitted)) {
      Close("stopping");
      return;
    }
    const absl::Time now = Now();
    if (!job_waiting_) {
      job_waiting_ = true;
      job_deadline_ = now + service_->options.frame_timeout;
      return;
    }
    if (now < job_deadline_) return;
    job_waiting_ = false;
    if (state_ == State::kMeasuring) {
      LogWarn("nsm_connection_refused",
              {{"pid", pid_}, {"error", std::string(submitted.message())}});
      Close("busy");
      return;
    }
    LogWarn("nsm_busy", {{"pid", pid_}, {"error", std::string(submitted.message())}});
    Answer busy;
    absl::StatusOr<Bytes> encoded = nsm::EncodeResponse(Error(nsm::ErrorCode::kInternalError));
    if (encoded.ok()) busy.bytes = *std::move(encoded);
    OnAnswered(std::move(busy));
  }

  void OnAnswered(Answer answer) {
    if (closed()) return;
    // Marked answered before the write, so a peer that has read its answer is never taken for
    // the one longest without an answer.
    last_answer_ns_.store(absl::ToUnixNanos(absl::Now()), std::memory_order_relaxed);
    working_.store(false, std::memory_order_relaxed);
    if (!answer.bytes.has_value()) {
      Close("encode error");
      return;
    }
    Write(*answer.bytes, answer.refused);
  }

  void Write(const Bytes& payload, bool close_after) {
    state_ = State::kWriting;
    out_ = Framed(payload);
    memory_.store(body_.capacity() + out_.capacity(), std::memory_order_relaxed);
    const absl::Time now = Now();
    write_deadline_ = now + service_->options.frame_timeout;
    // Idle from the answer on (checked once the answer is written): the peer may have it before
    // this write's handler runs.
    idle_deadline_ = now + service_->options.idle_timeout;
    boost::asio::async_write(
        socket(), boost::asio::buffer(out_),
        [self = self(), close_after](const boost::system::error_code& ec, size_t) {
          if (self->closed()) return;
          if (ec) {
            LogInfo("nsm_connection_error", {{"pid", self->pid_}, {"error", ec.message()}});
            self->Close("write error");
            return;
          }
          if (close_after) {
            self->Close("answered and closed");
            return;
          }
          self->out_.clear();
          self->StartReading();
        });
  }

  NsmService::Impl* const service_;
  const pid_t pid_;
  Session session_;
  State state_ = State::kMeasuring;
  // The frame being read.
  std::array<uint8_t, nsm::kFrameHeaderSize> header_{};
  size_t header_got_ = 0;
  Bytes body_;
  size_t body_got_ = 0;
  nsm::FrameSenders senders_;
  bool frame_started_ = false;
  bool job_waiting_ = false;  // the pool was full: Sweep submits the job again
  absl::Time job_deadline_ = absl::InfiniteFuture();
  Bytes out_;
  absl::Time idle_deadline_ = absl::InfiniteFuture();
  absl::Time frame_deadline_ = absl::InfiniteFuture();
  absl::Time write_deadline_ = absl::InfiniteFuture();
  std::atomic<bool> gone_{false};     // closed: pool jobs not yet run do nothing
  std::atomic<bool> working_{false};  // a request is on the pool
  std::atomic<int64_t> last_answer_ns_{0};
  std::atomic<size_t> memory_{0};
};

std::shared_ptr<net::Connection> NsmService::Impl::Accept(net::StreamSocket socket) {
  absl::StatusOr<ucred> peer = net::PeerCredentials(socket.native_handle());
  if (!peer.ok()) {
    LogWarn("nsm_connection_refused", {{"error", "no peer credentials"}});
    return nullptr;
  }
  return std::make_shared<NsmConnection>(std::move(socket), this, peer->pid);
}

void NsmService::Impl::Shutdown() {
  if (stopped.exchange(true)) return;
  // Connections first, then the pool (running jobs finish, their posts land on a stopped server;
  // queued ones are dropped); destroying the server closes the listener and removes the socket
  // file if it is still ours.
  if (server) server->Stop();
  if (pool) pool->Stop();
  server.reset();
  pool.reset();
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
  ASSIGN_OR_RETURN(net::Listener listener, ListenUnix(o.socket_path, o.socket_mode));
  // A connection has at most one job at a time, so a queue of twice the connection cap (evicted
  // connections' jobs may still wait) is never full in normal use, yet bounded.
  impl->pool = std::make_unique<BlockingPool>(BlockingPoolOptions{
      .threads = o.worker_threads, .queue_limit = 2 * static_cast<size_t>(o.max_connections)});
  net::ConnectionServerOptions server_options;
  server_options.threads = 1;
  server_options.max_connections = o.max_connections;
  server_options.when_full = net::ConnectionServerOptions::WhenFull::kEvictIdlest;
  server_options.sweep_interval = o.sweep_interval;
  server_options.clock = &clock;
  server_options.name = "nsm";
  Impl* raw = impl.get();
  absl::StatusOr<std::unique_ptr<net::ConnectionServer>> server = net::ConnectionServer::Start(
      std::move(listener),
      [raw](net::StreamSocket socket) { return raw->Accept(std::move(socket)); },
      std::move(server_options));
  if (!server.ok()) {
    impl->pool.reset();
    return server.status();
  }
  impl->server = *std::move(server);
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
