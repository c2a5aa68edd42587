#include "src/relay/relay_server.h"

// clang-format off
#include <sys/socket.h>
#include <linux/vm_sockets.h>
// clang-format on
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "boost/asio/write.hpp"
#include "src/common/logger.h"
#include "src/net/frame_decoder.h"

namespace lockout::relay {
namespace {

// After an error reply: how long and how much to drain before closing (see the header).
constexpr absl::Duration kDrainTime = absl::Milliseconds(500);
constexpr size_t kDrainBytes = size_t{1} << 20;
constexpr size_t kReadChunk = 4096;

// The kind of the frame at the head of `decoder` (the one being read, or the one that failed), so
// that a framing error is answered in that frame's kind. A v1 frame's partial payload is all its
// buffered bytes (from its '{'); a v2 frame's leaves out its length prefix (all of it, before the
// prefix is complete). Outside a frame (garbage whose first byte is neither '{' nor a v2 prefix's
// 0x00) the framing is unknown: answered in v1, as the seed speaks.
net::FrameKind HeadFrameKind(const net::FrameDecoder& decoder) {
  if (!decoder.InFrame()) return net::FrameKind::kV1;
  return decoder.PartialPayload().size() == decoder.buffered_size() ? net::FrameKind::kV1
                                                                    : net::FrameKind::kV2;
}

// "tcp://127.0.0.1:41234", "vsock://20:1037", "unix" — for logs.
std::string PeerName(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown";
  switch (addr.ss_family) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
      char buf[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
      return absl::StrCat("tcp://", buf, ":", ntohs(in->sin_port));
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      char buf[INET6_ADDRSTRLEN] = {};
      inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
      return absl::StrCat("tcp://[", buf, "]:", ntohs(in6->sin6_port));
    }
    case AF_VSOCK: {
      const auto* vm = reinterpret_cast<const sockaddr_vm*>(&addr);
      return absl::StrCat("vsock://", vm->svm_cid, ":", vm->svm_port);
    }
    case AF_UNIX:
      return "unix";
    default:
      return "unknown";
  }
}

absl::Status ValidateOptions(const RelayServerOptions& o) {
  if (o.max_request_size < 1 || o.max_request_size > net::kMaxFrameSizeCap) {
    return absl::InvalidArgumentError("relay: max_request_size out of range");
  }
  if (o.max_audit_request_size > net::kMaxFrameSizeCap) {
    return absl::InvalidArgumentError("relay: max_audit_request_size out of range");
  }
  if (o.read_timeout <= absl::ZeroDuration() || o.write_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("relay: timeouts must be positive");
  }
  if (o.max_connections < 1) {
    return absl::InvalidArgumentError("relay: max_connections must be at least 1");
  }
  if (o.io_threads < 1 || o.io_threads > 256) {
    return absl::InvalidArgumentError("relay: io_threads must be 1..256");
  }
  if (o.clock == nullptr) return absl::InvalidArgumentError("relay: no clock");
  if (o.sweep_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("relay: sweep_interval must be positive");
  }
  return BlockingPool::Validate({.threads = o.worker_threads, .queue_limit = o.worker_queue});
}

}  // namespace

// One relay connection. Everything but the pool job runs on the connection's strand.
//
//   kReading    one read pending; frames are taken from the decoder until it needs more bytes.
//               Deadline: read_deadline_ (restarted when a reply has been written).
//   kWorking    a request is on the pool; nothing is read. No deadline (the upstream calls
//               have their own timeouts).
//   kWriting    the reply is being written. Deadline: write_deadline_.
//   kErrorReply the error reply is being written; a read may still be pending (its bytes are
//               drained). Deadline: write_deadline_.
//   kDraining   the write side is shut; reading and discarding until EOF, kDrainBytes or
//               drain_deadline_.
class RelayConnection final : public net::Connection {
 public:
  RelayConnection(net::StreamSocket socket, RelayServer* owner, net::FrameDecoder decoder)
      : net::Connection(std::move(socket)), owner_(owner), decoder_(std::move(decoder)) {}

  size_t memory_usage() const override { return memory_.load(std::memory_order_relaxed); }
  absl::Time last_activity() const override {
    return absl::FromUnixNanos(last_activity_ns_.load(std::memory_order_relaxed));
  }

 protected:
  void Start() override {
    peer_ = PeerName(socket().native_handle());
    owner_->metrics_->ConnectionOpened();
    opened_ = true;
    const absl::Time now = Now();
    last_activity_ns_.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
    read_deadline_ = now + owner_->options_.read_timeout;
    ProcessNext();
  }

  void Sweep(absl::Time now) override {
    switch (state_) {
      case State::kReading:
        if (now < read_deadline_) return;
        if (!decoder_.InFrame()) {
          LogDebug("relay_connection_idle", {{"peer", peer_}});
          Close("idle");
          return;
        }
        Fail(kKindTimeout, "the request was not complete within the read timeout", kErrorBadRequest,
             HeadFrameKind(decoder_));
        return;
      case State::kWorking:
        return;
      case State::kWriting:
      case State::kErrorReply:
        if (now < write_deadline_) return;
        if (state_ == State::kWriting) {
          owner_->metrics_->RecordError(kKindWrite);
          owner_->service_->refusal_log().Warn("relay_connection_error", kKindWrite,
                                               {{"peer", peer_},
                                                {"kind", kKindWrite},
                                                {"detail", "the reply was not read in time"}});
        }
        Close("write timeout");
        return;
      case State::kDraining:
        if (now >= drain_deadline_) Close("drained");
        return;
    }
  }

  void OnClosed(std::string_view /*why*/) override {
    if (opened_) owner_->metrics_->ConnectionClosed();
    reply_.Clear();
    memory_.store(0, std::memory_order_relaxed);
  }

 private:
  enum class State { kReading, kWorking, kWriting, kErrorReply, kDraining };

  absl::Time Now() const { return owner_->options_.clock->Now(); }
  std::shared_ptr<RelayConnection> self() {
    return std::static_pointer_cast<RelayConnection>(shared_from_this());
  }
  void UpdateMemory() {
    memory_.store(decoder_.memory_size() + read_buf_.size() + reply_.size(),
                  std::memory_order_relaxed);
  }

  // kReading: answers the next buffered frame, or reads more.
  void ProcessNext() {
    state_ = State::kReading;
    absl::StatusOr<std::optional<net::Frame>> frame = decoder_.Next();
    if (!frame.ok()) {
      Fail(kKindFraming, std::string(frame.status().message()),
           absl::IsResourceExhausted(frame.status()) ? kErrorRequestTooLarge : kErrorBadRequest,
           HeadFrameKind(decoder_));
      return;
    }
    if (!frame->has_value()) {
      if (std::optional<std::string> over = OverTheLimitSoFar(); over.has_value()) {
        Fail(kKindFraming, *over, kErrorRequestTooLarge, HeadFrameKind(decoder_));
        return;
      }
      decoder_.Trim();
      UpdateMemory();
      if (peer_eof_) {
        absl::Status finished = decoder_.Finish();
        if (finished.ok()) {
          Close("peer closed");
        } else {
          Fail(kKindFraming, std::string(finished.message()), kErrorBadRequest,
               HeadFrameKind(decoder_));
        }
        return;
      }
      Read();
      return;
    }
    const std::string& payload = (*frame)->payload;
    if (payload.size() > owner_->options_.max_request_size &&
        MatchAuditPrefix(payload) != AuditPrefix::kYes) {
      Fail(kKindFraming, OverTheLimit(payload.size()), kErrorRequestTooLarge, (*frame)->kind);
      return;
    }
    Dispatch(**std::move(frame));
  }

  // Only append_audit may exceed max_request_size (up to max_audit_request_size, the decoder's
  // limit): a frame over it must start with kAppendAuditPrefix. Checked as the frame arrives, so
  // no other op makes the connection buffer more than max_request_size (plus one read chunk).
  std::optional<std::string> OverTheLimitSoFar() const {
    if (!decoder_.InFrame()) return std::nullopt;
    const std::string_view got = decoder_.PartialPayload();
    // A v1 frame's last two bytes so far may be "$$" of its terminator.
    const size_t size =
        decoder_.DeclaredPayloadSize().value_or(got.size() - std::min<size_t>(got.size(), 2));
    if (size <= owner_->options_.max_request_size) return std::nullopt;
    if (MatchAuditPrefix(got) != AuditPrefix::kNo) return std::nullopt;
    return OverTheLimit(size);
  }

  std::string OverTheLimit(size_t size) const {
    return absl::StrCat(
        "a request of at least ", size, " bytes is over the ", owner_->options_.max_request_size,
        "-byte limit",
        owner_->options_.max_audit_request_size > 0 ? " (only append_audit may be larger)" : "");
  }

  void Read() {
    if (read_pending_) return;
    read_pending_ = true;
    socket().async_read_some(
        boost::asio::buffer(read_buf_),
        [self = self()](const boost::system::error_code& ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    read_pending_ = false;
    if (closed()) return;
    if (state_ == State::kErrorReply || state_ == State::kDraining) {
      OnDrainRead(ec, n);
      return;
    }
    if (ec == boost::asio::error::eof) {
      peer_eof_ = true;
      ProcessNext();
      return;
    }
    if (ec) {  // reset by the peer: nobody to answer
      LogDebug("relay_connection_reset", {{"peer", peer_}, {"detail", ec.message()}});
      Close("read error");
      return;
    }
    absl::Status fed = decoder_.Feed(std::string_view(read_buf_.data(), n));
    UpdateMemory();
    if (!fed.ok()) {
      // Frames before the bad one (if any) are still answered in order by ProcessNext; the
      // decoder reports its sticky error once they are taken.
    }
    ProcessNext();
  }

  // Hands a complete request to the pool; its reply comes back through OnReply.
  void Dispatch(net::Frame frame) {
    state_ = State::kWorking;
    last_activity_ns_.store(absl::ToUnixNanos(Now()), std::memory_order_relaxed);
    const uint64_t id = owner_->next_request_id_.fetch_add(1);
    const net::FrameKind kind = frame.kind;
    RelayService* service = owner_->service_;
    absl::Status submitted = owner_->pool_->Submit([self = self(), strand = strand(), service,
                                                    frame = std::move(frame), id](int) {
      SecretBytes reply = service->Handle(frame, id, self->peer_);
      boost::asio::post(
          strand, [self, reply = std::move(reply)]() mutable { self->OnReply(std::move(reply)); });
    });
    if (submitted.ok()) return;
    if (absl::IsResourceExhausted(submitted)) {
      owner_->service_->refusal_log().Warn(
          "relay_busy", kKindBusy, {{"peer", peer_}, {"detail", std::string(submitted.message())}});
      Write(owner_->service_->ConnectionError(kKindBusy, kErrorBusy, kind), State::kWriting);
      return;
    }
    Close("stopping");
  }

  void OnReply(SecretBytes reply) {
    if (closed()) return;
    Write(std::move(reply), State::kWriting);
  }

  void Write(SecretBytes reply, State state) {
    state_ = state;
    reply_ = std::move(reply);
    UpdateMemory();
    const absl::Time now = Now();
    write_deadline_ = now + owner_->options_.write_timeout;
    // The next frame's deadline counts from the reply (checked once it is written): the peer may
    // have the reply before this write's handler runs.
    read_deadline_ = now + owner_->options_.read_timeout;
    const ByteView bytes = reply_.Reveal();
    boost::asio::async_write(
        socket(), boost::asio::buffer(bytes.data(), bytes.size()),
        [self = self()](const boost::system::error_code& ec, size_t) { self->OnWritten(ec); });
  }

  void OnWritten(const boost::system::error_code& ec) {
    if (closed()) return;
    reply_.Clear();
    UpdateMemory();
    if (ec) {
      if (state_ == State::kWriting) {
        owner_->metrics_->RecordError(kKindWrite);
        owner_->service_->refusal_log().Warn(
            "relay_connection_error", kKindWrite,
            {{"peer", peer_}, {"kind", kKindWrite}, {"detail", ec.message()}});
      }
      Close("write error");
      return;
    }
    if (state_ == State::kErrorReply) {
      StartDraining();
      return;
    }
    ProcessNext();
  }

  // A failure below the protocol: {"error": "bad request"} (or "request too large") in the
  // failed frame's kind (HeadFrameKind), then drain and close.
  void Fail(std::string_view kind, std::string_view detail,
            std::string_view message = kErrorBadRequest,
            net::FrameKind frame_kind = net::FrameKind::kV1) {
    owner_->service_->refusal_log().Warn(
        "relay_connection_error", kind,
        {{"peer", peer_}, {"kind", kind}, {"detail", std::string(detail)}});
    Write(owner_->service_->ConnectionError(kind, message, frame_kind), State::kErrorReply);
  }

  // Stops writing, then reads and discards what the peer still sends (bounded in time and
  // bytes), so that closing does not turn unread input into a reset that destroys the reply.
  void StartDraining() {
    state_ = State::kDraining;
    drain_deadline_ = Now() + kDrainTime;
    boost::system::error_code ignored;
    socket().shutdown(net::StreamSocket::shutdown_send, ignored);
    if (peer_eof_) {
      Close("error reply sent");
      return;
    }
    Read();
  }

  void OnDrainRead(const boost::system::error_code& ec, size_t n) {
    if (ec) {
      peer_eof_ = true;
      if (state_ == State::kDraining) Close("error reply sent");
      return;  // kErrorReply: OnWritten closes
    }
    drained_ += n;
    if (drained_ >= kDrainBytes) {
      if (state_ == State::kDraining) {
        Close("error reply sent");
      } else {
        peer_eof_ = true;  // read no more; close once the reply is written
      }
      return;
    }
    Read();
  }

  RelayServer* const owner_;
  std::string peer_;
  net::FrameDecoder decoder_;
  std::array<char, kReadChunk> read_buf_{};
  SecretBytes reply_;
  State state_ = State::kReading;
  bool opened_ = false;
  bool read_pending_ = false;
  bool peer_eof_ = false;
  size_t drained_ = 0;
  absl::Time read_deadline_ = absl::InfiniteFuture();
  absl::Time write_deadline_ = absl::InfiniteFuture();
  absl::Time drain_deadline_ = absl::InfiniteFuture();
  std::atomic<size_t> memory_{0};
  std::atomic<int64_t> last_activity_ns_{0};
};

RelayServer::RelayServer(RelayService* service, RelayMetrics* metrics, RelayServerOptions options)
    : service_(service), metrics_(metrics), options_(std::move(options)) {}

RelayServer::~RelayServer() { Stop(); }

absl::Status RelayServer::Start() {
  if (started_) return absl::FailedPreconditionError("relay server already started");
  absl::Status valid = ValidateOptions(options_);
  if (!valid.ok()) return valid;
  absl::StatusOr<net::Listener> listener = net::Listen(options_.listen, options_.backlog);
  if (!listener.ok()) return listener.status();

  pool_ = std::make_unique<BlockingPool>(BlockingPoolOptions{.threads = options_.worker_threads,
                                                             .queue_limit = options_.worker_queue});
  net::ConnectionServerOptions server_options;
  server_options.threads = options_.io_threads;
  server_options.max_connections = options_.max_connections;
  server_options.when_full = net::ConnectionServerOptions::WhenFull::kRefuse;
  server_options.refusal_reply = EncodeErrorReplyFrame(kErrorBusy);
  server_options.on_refused = [metrics = metrics_] { metrics->RecordError(kKindBusy); };
  server_options.sweep_interval = options_.sweep_interval;
  server_options.clock = options_.clock;
  server_options.name = "relay";
  absl::StatusOr<std::unique_ptr<net::ConnectionServer>> server = net::ConnectionServer::Start(
      *std::move(listener),
      [this](net::StreamSocket socket) -> std::shared_ptr<net::Connection> {
        // Options were validated: the decoder cannot fail to be made.
        absl::StatusOr<net::FrameDecoder> decoder = net::FrameDecoder::Create(
            std::max(options_.max_request_size, options_.max_audit_request_size));
        if (!decoder.ok()) return nullptr;
        return std::make_shared<RelayConnection>(std::move(socket), this, *std::move(decoder));
      },
      std::move(server_options));
  if (!server.ok()) {
    pool_.reset();
    return server.status();
  }
  server_ = *std::move(server);
  started_ = true;
  return absl::OkStatus();
}

const net::Endpoint& RelayServer::local_endpoint() const { return server_->local_endpoint(); }

int RelayServer::connections() const { return server_ ? server_->connections() : 0; }

void RelayServer::Stop() {
  // Connections first (no new work is submitted once they are closed), then the pool: requests
  // running finish (their replies are posted to a stopped server and dropped), queued ones are
  // dropped. The server, whose io_context those posts target, is destroyed last.
  if (server_) server_->Stop();
  if (pool_) pool_->Stop();
  server_.reset();
  pool_.reset();
}

}  // namespace lockout::relay
