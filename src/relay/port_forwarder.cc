#include "src/relay/port_forwarder.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/write.hpp"
#include "src/common/logger.h"
#include "src/common/strings.h"

namespace lockout::relay {
namespace {

constexpr std::string_view kExample = "e.g. tcp://0.0.0.0:5010=vsock://16:5010";
// An unreachable target is logged at most this often, with a count.
constexpr absl::Duration kUnreachableLogInterval = absl::Seconds(10);

// Close reasons (lockout_relay_forward_closed_total{reason}).
constexpr std::string_view kClosedDone = "done";
constexpr std::string_view kClosedIdle = "idle_timeout";
constexpr std::string_view kClosedError = "error";
constexpr std::string_view kClosedUnreachable = "target_unreachable";
constexpr std::string_view kClosedStopped = "stopped";

absl::Status SpecError(std::string_view spec, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--forward \"", Absl(spec), "\": ", Absl(why), " (", Absl(kExample), ")"));
}

// Logs "forward_target_unreachable" at most once per kUnreachableLogInterval, with a count.
class UnreachableLog {
 public:
  void Report(const std::string& target, const std::string& error) {
    absl::MutexLock lock(&mu_);
    ++count_;
    const absl::Time now = absl::Now();
    if (now - logged_ < kUnreachableLogInterval) return;
    LogWarn("forward_target_unreachable",
            {{"target", target}, {"error", error}, {"refused", count_}});
    count_ = 0;
    logged_ = now;
  }

 private:
  absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time logged_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

UnreachableLog& Unreachable() {
  static UnreachableLog* log = new UnreachableLog();
  return *log;
}

}  // namespace

absl::StatusOr<ForwardSpec> ParseForwardSpec(std::string_view spec) {
  // The separator is the first '=' followed by a scheme: a unix path may itself contain '='.
  size_t sep = std::string_view::npos;
  for (size_t i = spec.find('='); i != std::string_view::npos; i = spec.find('=', i + 1)) {
    const std::string_view rest = spec.substr(i + 1);
    if (rest.starts_with("vsock://") || rest.starts_with("tcp://") || rest.starts_with("unix://")) {
      sep = i;
      break;
    }
  }
  if (sep == std::string_view::npos) {
    return SpecError(spec, "expected LISTEN=TARGET, TARGET a vsock://, tcp:// or unix:// URI");
  }
  absl::StatusOr<net::Endpoint> listen = net::Endpoint::Parse(spec.substr(0, sep));
  if (!listen.ok()) return SpecError(spec, absl::StrCat("LISTEN: ", listen.status().message()));
  absl::StatusOr<net::Endpoint> target = net::Endpoint::Parse(spec.substr(sep + 1));
  if (!target.ok()) return SpecError(spec, absl::StrCat("TARGET: ", target.status().message()));
  if (listen->is_vsock()) {
    return SpecError(spec,
                     "LISTEN is where clients off the instance connect: tcp://HOST:PORT (or "
                     "unix:///PATH), not vsock");
  }
  if (!target->is_unix() && target->port() == 0) {
    return SpecError(spec, "TARGET needs a port (0 is for listening)");
  }
  if (target->is_vsock() && target->vsock_cid() == net::kVsockCidAny) {
    return SpecError(spec, "TARGET needs the enclave's CID, not ANY");
  }
  return ForwardSpec{*std::move(listen), *std::move(target)};
}

void ForwardMetrics::Closed(std::string_view reason) {
  active_.fetch_sub(1, std::memory_order_relaxed);
  if (reason == kClosedIdle) {
    closed_idle_.fetch_add(1, std::memory_order_relaxed);
  } else if (reason == kClosedDone) {
    closed_done_.fetch_add(1, std::memory_order_relaxed);
  } else if (reason == kClosedError) {
    closed_error_.fetch_add(1, std::memory_order_relaxed);
  } else if (reason == kClosedUnreachable) {
    closed_unreachable_.fetch_add(1, std::memory_order_relaxed);
  } else {
    closed_stopped_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::string ForwardMetrics::RenderPrometheus() const {
  std::string out;
  absl::StrAppend(&out,
                  "# HELP lockout_relay_forward_connections_active Forwarded clients connected "
                  "now.\n# TYPE lockout_relay_forward_connections_active gauge\n"
                  "lockout_relay_forward_connections_active ",
                  active(), "\n");
  absl::StrAppend(&out,
                  "# HELP lockout_relay_forward_connections_total Forwarded clients accepted.\n"
                  "# TYPE lockout_relay_forward_connections_total counter\n"
                  "lockout_relay_forward_connections_total ",
                  total(), "\n");
  absl::StrAppend(&out,
                  "# HELP lockout_relay_forward_bytes_total Bytes forwarded, by direction.\n"
                  "# TYPE lockout_relay_forward_bytes_total counter\n"
                  "lockout_relay_forward_bytes_total{direction=\"to_target\"} ",
                  bytes_to_target(),
                  "\nlockout_relay_forward_bytes_total{direction=\"to_client\"} ",
                  bytes_to_client(), "\n");
  absl::StrAppend(&out,
                  "# HELP lockout_relay_forward_refused_total Clients closed without being "
                  "forwarded, by reason.\n# TYPE lockout_relay_forward_refused_total counter\n"
                  "lockout_relay_forward_refused_total{reason=\"max_connections\"} ",
                  refused_full(),
                  "\nlockout_relay_forward_refused_total{reason=\"target_unreachable\"} ",
                  refused_unreachable(), "\n");
  absl::StrAppend(
      &out,
      "# HELP lockout_relay_forward_closed_total Forwarded connections ended, by reason.\n"
      "# TYPE lockout_relay_forward_closed_total counter\n");
  const std::array<std::pair<std::string_view, uint64_t>, 5> closed = {{
      {kClosedDone, closed_done()},
      {kClosedIdle, closed_idle()},
      {kClosedError, closed_error()},
      {kClosedUnreachable, closed_unreachable()},
      {kClosedStopped, closed_stopped()},
  }};
  for (const auto& [reason, n] : closed) {
    absl::StrAppend(&out, "lockout_relay_forward_closed_total{reason=\"", Absl(reason), "\"} ", n,
                    "\n");
  }
  return out;
}

// One forwarded client. Everything runs on the connection's strand; the target socket is bound
// to the same strand, so the two directions' handlers never run concurrently.
//
//   kConnecting  connecting to the target (one address after another); nothing is read from the
//                client. Deadline: connect_deadline_.
//   kForwarding  each direction: one read pending, or one write of the chunk just read. Deadline:
//                last_progress_ + idle_timeout.
class ForwardConnection final : public net::Connection {
 public:
  ForwardConnection(net::StreamSocket client, PortForwarder* owner)
      : net::Connection(std::move(client)), owner_(owner), target_(socket().get_executor()) {}

  size_t memory_usage() const override { return memory_.load(std::memory_order_relaxed); }

 protected:
  void Start() override {
    owner_->metrics_->Opened();
    opened_ = true;
    const absl::Time now = Now();
    last_progress_ = now;
    connect_deadline_ = now + owner_->options_.connect_timeout;
    ConnectTo(0);
  }

  void Sweep(absl::Time now) override {
    if (state_ == State::kConnecting) {
      if (now >= connect_deadline_) {
        last_error_ = "connect timed out";
        GiveUpConnecting();
      }
      return;
    }
    if (now - last_progress_ >= owner_->options_.idle_timeout) CloseAs(kClosedIdle, "idle");
  }

  void OnClosed(std::string_view why) override {
    boost::system::error_code ignored;
    target_.shutdown(net::StreamSocket::shutdown_both, ignored);
    target_.close(ignored);
    to_target_ = Pipe{};
    to_client_ = Pipe{};
    memory_.store(0, std::memory_order_relaxed);
    if (!opened_) return;
    // Close() from the server (Stop) comes without a reason of ours.
    owner_->metrics_->Closed(close_kind_.empty() ? kClosedStopped : close_kind_);
    LogDebug("forward_connection_closed",
             {{"reason", std::string(why)},
              {"bytes_to_target", static_cast<int64_t>(bytes_to_target_)},
              {"bytes_to_client", static_cast<int64_t>(bytes_to_client_)}});
  }

 private:
  enum class State { kConnecting, kForwarding };
  enum class Dir { kToTarget, kToClient };

  // One direction: its buffer (one chunk read, being written) and whether its source ended.
  struct Pipe {
    std::vector<char> buffer;
    bool ended = false;
  };

  absl::Time Now() const { return owner_->options_.clock->Now(); }
  std::shared_ptr<ForwardConnection> self() {
    return std::static_pointer_cast<ForwardConnection>(shared_from_this());
  }
  Pipe& PipeOf(Dir d) { return d == Dir::kToTarget ? to_target_ : to_client_; }
  net::StreamSocket& SourceOf(Dir d) { return d == Dir::kToTarget ? socket() : target_; }
  net::StreamSocket& SinkOf(Dir d) { return d == Dir::kToTarget ? target_ : socket(); }

  void CloseAs(std::string_view kind, std::string_view why) {
    if (closed()) return;
    close_kind_ = kind;
    Close(why);
  }

  void ConnectTo(size_t i) {
    const std::vector<net::SocketAddress>& addresses = owner_->target_addresses_;
    if (i >= addresses.size()) {
      GiveUpConnecting();
      return;
    }
    const net::SocketAddress& address = addresses[i];
    boost::system::error_code ec;
    if (target_.is_open()) target_.close(ec);
    target_.open(net::StreamProtocol(address.family(), 0), ec);
    if (ec) {
      last_error_ = ec.message();
      ConnectTo(i + 1);
      return;
    }
    if (address.family() == AF_INET || address.family() == AF_INET6) {
      const int one = 1;
      setsockopt(target_.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    target_.async_connect(
        net::StreamProtocol::endpoint(address.get(), address.length),
        [self = self(), i](const boost::system::error_code& e) { self->OnConnected(e, i); });
  }

  void OnConnected(const boost::system::error_code& ec, size_t i) {
    if (closed() || state_ != State::kConnecting) return;
    if (ec) {
      last_error_ = ec.message();
      ConnectTo(i + 1);
      return;
    }
    state_ = State::kForwarding;
    last_progress_ = Now();
    const size_t size = owner_->options_.buffer_size;
    to_target_.buffer.resize(size);
    to_client_.buffer.resize(size);
    memory_.store(2 * size, std::memory_order_relaxed);
    Read(Dir::kToTarget);
    Read(Dir::kToClient);
  }

  // The client is closed without a byte: the target could not be reached in time.
  void GiveUpConnecting() {
    owner_->metrics_->RefusedUnreachable();
    Unreachable().Report(owner_->options_.spec.target.ToString(), last_error_);
    CloseAs(kClosedUnreachable, "target unreachable");
  }

  void Read(Dir d) {
    Pipe& pipe = PipeOf(d);
    SourceOf(d).async_read_some(boost::asio::buffer(pipe.buffer),
                                [self = self(), d](const boost::system::error_code& ec, size_t n) {
                                  self->OnRead(d, ec, n);
                                });
  }

  void OnRead(Dir d, const boost::system::error_code& ec, size_t n) {
    if (closed()) return;
    if (ec == boost::asio::error::eof) {
      // Passed on as a half-close: the other side reads end of stream after what it was sent.
      PipeOf(d).ended = true;
      boost::system::error_code ignored;
      SinkOf(d).shutdown(net::StreamSocket::shutdown_send, ignored);
      if (to_target_.ended && to_client_.ended) CloseAs(kClosedDone, "both sides ended");
      return;
    }
    if (ec) {
      CloseAs(kClosedError, d == Dir::kToTarget ? "client read error" : "target read error");
      return;
    }
    last_progress_ = Now();
    // The next read of this direction is issued only once this chunk is written: back-pressure.
    boost::asio::async_write(SinkOf(d), boost::asio::buffer(PipeOf(d).buffer.data(), n),
                             [self = self(), d](const boost::system::error_code& e, size_t m) {
                               self->OnWritten(d, e, m);
                             });
  }

  void OnWritten(Dir d, const boost::system::error_code& ec, size_t n) {
    if (closed()) return;
    if (ec) {
      CloseAs(kClosedError, d == Dir::kToTarget ? "target write error" : "client write error");
      return;
    }
    last_progress_ = Now();
    if (d == Dir::kToTarget) {
      bytes_to_target_ += n;
      owner_->metrics_->BytesToTarget(n);
    } else {
      bytes_to_client_ += n;
      owner_->metrics_->BytesToClient(n);
    }
    Read(d);
  }

  PortForwarder* const owner_;
  net::StreamSocket target_;
  State state_ = State::kConnecting;
  bool opened_ = false;
  std::string_view close_kind_;
  std::string last_error_ = "no address";
  Pipe to_target_;
  Pipe to_client_;
  uint64_t bytes_to_target_ = 0;
  uint64_t bytes_to_client_ = 0;
  absl::Time connect_deadline_ = absl::InfiniteFuture();
  absl::Time last_progress_ = absl::InfinitePast();
  std::atomic<size_t> memory_{0};
};

PortForwarder::PortForwarder(PortForwarderOptions options, ForwardMetrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

PortForwarder::~PortForwarder() { Stop(); }

absl::Status PortForwarder::Start() {
  if (started_) return absl::FailedPreconditionError("forwarder already started");
  const PortForwarderOptions& o = options_;
  if (o.max_connections < 1) {
    return absl::InvalidArgumentError("forward: max_connections must be at least 1");
  }
  if (o.buffer_size < 1 || o.buffer_size > (size_t{16} << 20)) {
    return absl::InvalidArgumentError("forward: buffer_size must be 1 byte..16 MiB");
  }
  if (o.connect_timeout <= absl::ZeroDuration() || o.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("forward: timeouts must be positive");
  }
  if (o.clock == nullptr || metrics_ == nullptr) {
    return absl::InvalidArgumentError("forward: a clock and metrics are required");
  }
  absl::StatusOr<std::vector<net::SocketAddress>> addresses =
      net::ResolveConnectAddresses(o.spec.target);
  if (!addresses.ok()) return addresses.status();
  target_addresses_ = *std::move(addresses);
  absl::StatusOr<net::Listener> listener = net::Listen(o.spec.listen, o.backlog);
  if (!listener.ok()) return listener.status();

  net::ConnectionServerOptions server_options;
  server_options.threads = o.io_threads;
  server_options.max_connections = o.max_connections;
  server_options.when_full = net::ConnectionServerOptions::WhenFull::kRefuse;
  // No refusal reply: the forwarder adds nothing to the stream; the client sees the close.
  server_options.on_refused = [metrics = metrics_] { metrics->RefusedFull(); };
  server_options.sweep_interval = o.sweep_interval;
  server_options.clock = o.clock;
  server_options.name = "forward";
  absl::StatusOr<std::unique_ptr<net::ConnectionServer>> server = net::ConnectionServer::Start(
      *std::move(listener),
      [this](net::StreamSocket socket) -> std::shared_ptr<net::Connection> {
        return std::make_shared<ForwardConnection>(std::move(socket), this);
      },
      std::move(server_options));
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  started_ = true;
  return absl::OkStatus();
}

const net::Endpoint& PortForwarder::local_endpoint() const { return server_->local_endpoint(); }

int PortForwarder::connections() const { return server_ ? server_->connections() : 0; }

size_t PortForwarder::memory_usage() const {
  if (!server_) return 0;
  size_t total = 0;
  for (const std::shared_ptr<net::Connection>& c : server_->Snapshot()) total += c->memory_usage();
  return total;
}

void PortForwarder::Stop() {
  if (server_) server_->Stop();
  server_.reset();
}

}  // namespace lockout::relay
