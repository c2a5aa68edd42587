#include "src/loadgen/load_engine.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "boost/asio/generic/stream_protocol.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/write.hpp"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/loadgen/arrival_schedule.h"
#include "src/loadgen/sign_reply.h"
#include "src/net/frame_decoder.h"
#include "src/net/socket.h"

namespace lockout::loadgen {
namespace {

namespace asio = boost::asio;
using GenericSocket = asio::generic::stream_protocol::socket;
using SteadyClock = std::chrono::steady_clock;
using Json = nlohmann::json;

// A failed connection is re-opened after this pause (a refused port must not become a hot loop).
constexpr int64_t kReconnectPauseNs = 20'000'000;
// Timers wake at least this often to check request timeouts and the end of the run.
constexpr int64_t kWatchdogNs = 50'000'000;
// Distinct error reasons kept by name; more are counted under "other".
constexpr size_t kMaxErrorReasons = 32;
constexpr size_t kReadChunk = 64 * 1024;

// What every thread shares, read-only during the run.
struct RunContext {
  const LoadOptions* options = nullptr;
  std::vector<net::SocketAddress> addresses;
  RequestAuthenticator* authenticator = nullptr;
  const SignatureVerifier* verify = nullptr;
  SteadyClock::time_point t0;
  int64_t measure_start_ns = 0;
  int64_t measure_end_ns = 0;
  int64_t hard_end_ns = 0;
  int64_t timeout_ns = 0;

  int64_t Now() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - t0).count();
  }
  SteadyClock::time_point At(int64_t ns) const { return t0 + std::chrono::nanoseconds(ns); }
  bool Measured(int64_t start_ns) const {
    return start_ns >= measure_start_ns && start_ns < measure_end_ns;
  }
};

class Lane;

// One successful reply kept for verification after the run.
struct VerifySample {
  const Lane* lane = nullptr;
  uint64_t seq = 0;
  Bytes signature;
};

// One thread's figures.
struct ThreadStats {
  LatencyHistogram latency;
  uint64_t sent = 0;
  uint64_t ok = 0;
  std::map<std::string, uint64_t> errors;
  // A uniform random sample of this thread's measured signatures (reservoir sampling, Vitter's
  // algorithm R): at most verify_quota entries, verified once the run is over.
  uint32_t verify_quota = 0;
  uint64_t offered = 0;
  std::vector<VerifySample> samples;
  std::mt19937_64 rng{std::random_device{}()};
  uint64_t verified = 0;
  uint64_t verify_failures = 0;
  std::string first_verify_failure;

  void Error(std::string_view reason) {
    auto it = errors.find(std::string(reason));
    if (it == errors.end() && errors.size() >= kMaxErrorReasons) {
      ++errors["other"];
      return;
    }
    ++errors[std::string(reason)];
  }
};

std::string ConnectionReason(const boost::system::error_code& ec) {
  if (ec == asio::error::eof) return "connection closed";
  return absl::StrCat("connection: ", ec.message());
}

class Lane {
 public:
  Lane(asio::io_context& io, const RunContext& run, ThreadStats& stats, uint32_t lane,
       uint32_t lanes)
      : io_(io), run_(run), opt_(*run.options), stats_(stats), timer_(io) {
    if (opt_.rate.has_value()) schedule_.emplace(*opt_.rate, lane, lanes);
    std::mt19937_64 rng(std::random_device{}() ^ (uint64_t{lane} << 32));
    base_message_.resize(opt_.message_size);
    for (uint8_t& b : base_message_) b = static_cast<uint8_t>(rng());
    lane_tag_ = rng();
  }

  void Start() {
    if (opt_.protocol == Protocol::kV2) Connect();
    OnTick();
  }

  // The message of request `seq`: the lane's random bytes with the sequence number mixed into
  // the first 8, so every request signs something new and a sampled one can be rebuilt.
  Bytes Message(uint64_t seq) const {
    Bytes m = base_message_;
    const uint64_t x = seq ^ lane_tag_;
    for (size_t i = 0; i < m.size() && i < 8; ++i) m[i] ^= static_cast<uint8_t>(x >> (8 * i));
    return m;
  }

 private:
  struct InFlight {
    uint64_t seq = 0;
    int64_t start_ns = 0;   // latency origin: issue time (closed) or scheduled time (open)
    int64_t issued_ns = 0;  // when it was handed to the socket: the timeout's origin
    bool measured = false;
  };

  bool v1() const { return opt_.protocol == Protocol::kV1; }

  void Connect() {
    connecting_ = true;
    connect_started_ns_ = run_.Now();
    const uint64_t gen = ++gen_;
    const net::SocketAddress& addr = run_.addresses[addr_index_ % run_.addresses.size()];
    const bool tcp = addr.family() == AF_INET || addr.family() == AF_INET6;
    asio::generic::stream_protocol protocol(addr.family(), tcp ? IPPROTO_TCP : 0);
    socket_.emplace(io_);
    boost::system::error_code ec;
    socket_->open(protocol, ec);
    if (ec) {
      connecting_ = false;
      Fail(absl::StrCat("connect: ", ec.message()), /*connect_failure=*/true);
      return;
    }
    if (tcp) socket_->set_option(asio::ip::tcp::no_delay(true), ec);
    asio::generic::stream_protocol::endpoint endpoint(addr.get(), addr.length);
    socket_->async_connect(endpoint, [this, gen](const boost::system::error_code& error) {
      if (gen != gen_) return;
      connecting_ = false;
      if (error) {
        ++addr_index_;  // the next attempt tries the next resolved address
        Fail(absl::StrCat("connect: ", error.message()), /*connect_failure=*/true);
        return;
      }
      connected_ = true;
      decoder_ = net::FrameDecoder();
      Read(gen);
      if (v1()) {
        Flush();
      } else {
        Pump();
      }
    });
  }

  // Starts as many requests as the window and (open loop) the schedule allow.
  void Pump() {
    if (done_) return;
    const int64_t now = run_.Now();
    const uint32_t window = opt_.window();
    while (inflight_.size() < window) {
      if (!v1() && !connected_) break;
      if (v1() && (connecting_ || now < reconnect_at_ns_)) break;
      int64_t start = now;
      if (schedule_.has_value()) {
        // Open loop: every arrival scheduled inside the run is sent, even if late.
        if (!schedule_->Due(now) || schedule_->NextArrivalNs() >= run_.measure_end_ns) break;
        start = schedule_->Take();
      } else if (now >= run_.measure_end_ns) {
        break;
      }
      if (!Issue(start, now)) {
        // Closed loop: retry on the next wake-up, not in a tight loop. Open loop: that arrival
        // is spent; go on with the next one due.
        if (!schedule_.has_value()) break;
        continue;
      }
      if (v1()) {
        Connect();
        break;
      }
    }
    if (!v1()) Flush();
    MaybeWakeEarlier(now);
    MaybeFinish(now);
  }

  // Encodes one request into the output buffer. False if it failed before being sent.
  bool Issue(int64_t start_ns, int64_t now_ns) {
    const uint64_t seq = next_seq_++;
    const bool measured = run_.Measured(start_ns);
    if (measured) ++stats_.sent;
    const std::string b64 = Base64Encode(Message(seq));
    absl::StatusOr<std::string> frame;
    if (v1()) {
      frame = net::EncodeV1(Json{{"bytes", b64}}.dump());
    } else {
      Json request = {{"id", seq}, {"op", "sign"}, {"message", b64}};
      if (absl::Status s = run_.authenticator->Decorate(request); !s.ok()) {
        if (measured) stats_.Error("authenticator");
        return false;
      }
      frame = net::EncodeV2(request.dump());
    }
    if (!frame.ok()) {
      if (measured) stats_.Error("request too large");
      return false;
    }
    out_pending_ += *frame;
    inflight_.push_back(InFlight{seq, start_ns, now_ns, measured});
    return true;
  }

  void Flush() {
    if (writing_ || !connected_ || out_pending_.empty()) return;
    writing_ = true;
    out_writing_.swap(out_pending_);
    out_pending_.clear();
    const uint64_t gen = gen_;
    asio::async_write(*socket_, asio::buffer(out_writing_),
                      [this, gen](const boost::system::error_code& ec, size_t /*n*/) {
                        if (gen != gen_) return;
                        writing_ = false;
                        out_writing_.clear();
                        if (ec) {
                          Fail(ConnectionReason(ec), /*connect_failure=*/false);
                          return;
                        }
                        Flush();
                      });
  }

  void Read(uint64_t gen) {
    socket_->async_read_some(
        asio::buffer(read_buf_), [this, gen](const boost::system::error_code& ec, size_t n) {
          if (gen != gen_) return;
          if (ec) {
            Fail(ConnectionReason(ec), /*connect_failure=*/false);
            return;
          }
          if (absl::Status s = decoder_.Feed(std::string_view(read_buf_.data(), n)); !s.ok()) {
            Fail("bad reply", /*connect_failure=*/false);
            return;
          }
          while (true) {
            absl::StatusOr<std::optional<net::Frame>> frame = decoder_.Next();
            if (!frame.ok()) {
              Fail("bad reply", /*connect_failure=*/false);
              return;
            }
            if (!frame->has_value()) break;
            if (!HandleReply((*frame)->payload)) return;  // the connection was failed
            if (gen != gen_) return;                      // v1: closed after its reply
          }
          decoder_.Trim();
          Read(gen);
          Pump();
        });
  }

  // One reply, for the oldest request in flight. False if the connection was failed.
  bool HandleReply(const std::string& payload) {
    if (inflight_.empty()) {
      Fail("bad reply", /*connect_failure=*/false);
      return false;
    }
    const InFlight request = inflight_.front();
    const int64_t now = run_.Now();
    SignReply reply = ParseSignReply(opt_.protocol, payload, request.seq);
    if (reply.kind == SignReply::Kind::kMalformed) {
      Fail(reply.reason, /*connect_failure=*/false);
      return false;
    }
    inflight_.pop_front();
    if (request.measured) {
      if (reply.kind == SignReply::Kind::kSigned) {
        ++stats_.ok;
        stats_.latency.Record(now - request.start_ns);
        OfferForVerification(request.seq, reply.signature);
      } else {
        stats_.Error(reply.reason);
      }
    }
    if (v1()) {
      Close();  // one request per connection
      Pump();
    }
    return true;
  }

  // Offers a measured signature to the thread's verification sample. Verifying happens after
  // the run, so its cost never shows in the latency figures; a uniform sample is spread over the
  // whole measured window.
  void OfferForVerification(uint64_t seq, const Bytes& signature) {
    if (stats_.verify_quota == 0) return;
    const uint64_t i = stats_.offered++;
    if (i < stats_.verify_quota) {
      stats_.samples.push_back(VerifySample{this, seq, signature});
      return;
    }
    const uint64_t j = std::uniform_int_distribution<uint64_t>(0, i)(stats_.rng);
    if (j < stats_.verify_quota) stats_.samples[j] = VerifySample{this, seq, signature};
  }

  // Fails every request in flight with `reason`, closes the connection and (while the run is
  // on) schedules a new one.
  void Fail(const std::string& reason, bool connect_failure) {
    for (const InFlight& r : inflight_) {
      if (r.measured) stats_.Error(reason);
    }
    inflight_.clear();
    Close();
    const int64_t now = run_.Now();
    if (connect_failure || !v1()) reconnect_at_ns_ = now + kReconnectPauseNs;
    MaybeWakeEarlier(now);
    MaybeFinish(now);
  }

  void Close() {
    ++gen_;  // every pending handler of the old connection is now stale
    if (socket_.has_value()) {
      boost::system::error_code ignored;
      socket_->close(ignored);
    }
    connected_ = false;
    connecting_ = false;
    writing_ = false;
    out_pending_.clear();
    out_writing_.clear();
    decoder_ = net::FrameDecoder();
  }

  // The timer: timeouts, reconnects, open-loop arrivals, the end of the run.
  void OnTick() {
    if (done_) return;
    const int64_t now = run_.Now();
    if (!inflight_.empty() && now - inflight_.front().issued_ns >= run_.timeout_ns) {
      Fail("timeout", /*connect_failure=*/false);
    } else if (now >= run_.hard_end_ns && !inflight_.empty()) {
      Fail("timeout", /*connect_failure=*/false);
    } else if (connecting_ && now - connect_started_ns_ >= run_.timeout_ns) {
      Fail("connect: timed out", /*connect_failure=*/true);
    }
    if (done_) return;
    if (!v1() && !connected_ && !connecting_ && now >= reconnect_at_ns_ &&
        (now < run_.measure_end_ns || Unsent())) {
      Connect();
    }
    Pump();
    if (done_) return;
    Arm(now, NextWake(now));
  }

  int64_t NextWake(int64_t now) const {
    int64_t next = now + kWatchdogNs;
    if (!inflight_.empty()) next = std::min(next, inflight_.front().issued_ns + run_.timeout_ns);
    if (reconnect_at_ns_ > now) next = std::min(next, reconnect_at_ns_);
    if (connecting_) next = std::min(next, connect_started_ns_ + run_.timeout_ns);
    if (schedule_.has_value() && inflight_.size() < opt_.window()) {
      next = std::min(next, schedule_->NextArrivalNs());
    }
    next = std::min(next, std::max(run_.measure_end_ns, now + 1));
    if (now >= run_.measure_end_ns) next = std::min(next, run_.hard_end_ns);
    return std::max(next, now + 1);
  }

  void Arm(int64_t /*now*/, int64_t at_ns) {
    armed_at_ns_ = at_ns;
    timer_.expires_at(run_.At(at_ns));
    const uint64_t tick = ++tick_gen_;
    timer_.async_wait([this, tick](const boost::system::error_code& ec) {
      if (ec || tick != tick_gen_) return;
      OnTick();
    });
  }

  // Open loop: a reply freed room and the next arrival comes before the armed wake-up.
  void MaybeWakeEarlier(int64_t now) {
    if (done_ || armed_at_ns_ == 0) return;
    const int64_t next = NextWake(now);
    if (next < armed_at_ns_) Arm(now, next);
  }

  // Open loop: arrivals scheduled inside the run that are not sent yet.
  bool Unsent() const {
    return schedule_.has_value() && schedule_->NextArrivalNs() < run_.measure_end_ns;
  }

  void MaybeFinish(int64_t now) {
    if (done_) return;
    const bool drained = now >= run_.measure_end_ns && inflight_.empty() && !Unsent();
    if (drained || now >= run_.hard_end_ns) {
      for (const InFlight& r : inflight_) {
        if (r.measured) stats_.Error("timeout");
      }
      inflight_.clear();
      done_ = true;
      Close();
      ++tick_gen_;
      timer_.cancel();
    }
  }

  asio::io_context& io_;
  const RunContext& run_;
  const LoadOptions& opt_;
  ThreadStats& stats_;
  asio::steady_timer timer_;
  std::optional<ArrivalSchedule> schedule_;
  Bytes base_message_;
  uint64_t lane_tag_ = 0;

  std::optional<GenericSocket> socket_;
  size_t addr_index_ = 0;
  uint64_t gen_ = 0;
  uint64_t tick_gen_ = 0;
  int64_t armed_at_ns_ = 0;
  bool connected_ = false;
  bool connecting_ = false;
  bool writing_ = false;
  bool done_ = false;
  int64_t reconnect_at_ns_ = 0;
  int64_t connect_started_ns_ = 0;
  uint64_t next_seq_ = 1;
  std::deque<InFlight> inflight_;
  std::string out_pending_;
  std::string out_writing_;
  std::array<char, kReadChunk> read_buf_{};
  net::FrameDecoder decoder_;
};

// One client thread: its io_context, its lanes, its figures.
void RunThread(const RunContext& run, uint32_t thread, uint32_t threads, ThreadStats& stats,
               std::string& failure) {
  try {
    asio::io_context io(1);
    std::vector<std::unique_ptr<Lane>> lanes;
    const uint32_t n = run.options->connections;
    for (uint32_t lane = thread; lane < n; lane += threads) {
      lanes.push_back(std::make_unique<Lane>(io, run, stats, lane, n));
    }
    for (auto& lane : lanes) lane->Start();
    io.run();
    // The lanes are still alive: rebuild each sampled message and check its signature.
    for (const VerifySample& sample : stats.samples) {
      absl::Status s = (*run.verify)(sample.lane->Message(sample.seq), sample.signature);
      if (s.ok()) {
        ++stats.verified;
        continue;
      }
      if (stats.verify_failures == 0) stats.first_verify_failure = std::string(s.message());
      ++stats.verify_failures;
    }
  } catch (const std::exception& e) {
    failure = absl::StrCat("client thread failed: ", e.what());
  }
}

}  // namespace

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options, const LoadHooks& hooks,
                                   uint32_t cpu_count) {
  if (absl::Status s = ValidateLoadOptions(options, cpu_count); !s.ok()) return s;
  NoAuthentication no_auth;
  RunContext run;
  run.options = &options;
  run.authenticator = hooks.authenticator != nullptr ? hooks.authenticator : &no_auth;
  run.verify = &hooks.verify;
  absl::StatusOr<std::vector<net::SocketAddress>> addresses =
      net::ResolveConnectAddresses(*options.endpoint);
  if (!addresses.ok()) return addresses.status();
  run.addresses = *std::move(addresses);
  run.measure_start_ns = absl::ToInt64Nanoseconds(options.warmup);
  run.measure_end_ns = run.measure_start_ns + absl::ToInt64Nanoseconds(options.duration);
  run.timeout_ns = absl::ToInt64Nanoseconds(options.request_timeout);
  run.hard_end_ns = run.measure_end_ns + run.timeout_ns;

  const uint32_t threads = options.threads;
  std::vector<ThreadStats> stats(threads);
  const uint32_t verify_sample = hooks.verify ? options.verify_sample : 0;
  for (uint32_t t = 0; t < threads; ++t) {
    stats[t].verify_quota = verify_sample / threads + (t < verify_sample % threads ? 1 : 0);
  }
  std::vector<std::string> failures(threads);
  run.t0 = SteadyClock::now();
  {
    std::vector<std::thread> workers;
    workers.reserve(threads);
    for (uint32_t t = 0; t < threads; ++t) {
      workers.emplace_back(RunThread, std::cref(run), t, threads, std::ref(stats[t]),
                           std::ref(failures[t]));
    }
    for (std::thread& w : workers) w.join();
  }
  for (const std::string& f : failures) {
    if (!f.empty()) return absl::InternalError(f);
  }

  LoadReport report;
  report.endpoint = options.endpoint->ToString();
  report.protocol = options.protocol;
  report.connections = options.connections;
  report.pipeline = options.window();
  report.threads = threads;
  report.duration_s = absl::ToDoubleSeconds(options.duration);
  report.warmup_s = absl::ToDoubleSeconds(options.warmup);
  report.requested_rate = options.rate;
  report.verify_requested = verify_sample;
  for (const ThreadStats& s : stats) {
    report.latency.Merge(s.latency);
    report.sent += s.sent;
    report.signatures_ok += s.ok;
    for (const auto& [reason, count] : s.errors) report.errors[reason] += count;
    report.verified += s.verified;
    report.verify_failures += s.verify_failures;
    if (report.first_verify_failure.empty()) report.first_verify_failure = s.first_verify_failure;
  }
  if (options.rate.has_value()) {
    for (uint32_t lane = 0; lane < options.connections; ++lane) {
      ArrivalSchedule schedule(*options.rate, lane, options.connections);
      report.scheduled +=
          schedule.ArrivedBy(run.measure_end_ns - 1) - schedule.ArrivedBy(run.measure_start_ns - 1);
    }
  }
  return report;
}

}  // namespace lockout::loadgen
