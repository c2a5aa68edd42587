// PortForwarder (lockout-relay --forward) over real loopback sockets: a target server in the test
// stands in for the enclave. Every wait is bounded.

#include "src/relay/port_forwarder.h"

#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/net/blocking_stream.h"
#include "src/net/socket.h"

namespace lockout::relay {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kIo = absl::Seconds(10);

net::Endpoint Tcp0() { return *net::Endpoint::Parse("tcp://127.0.0.1:0"); }

// A target server: accepts connections and runs `handler` for each on a thread of its own.
class TargetServer {
 public:
  using Handler = std::function<void(net::BlockingStream&)>;
  explicit TargetServer(Handler handler) : handler_(std::move(handler)) {
    absl::StatusOr<net::Listener> listener = net::Listen(Tcp0());
    EXPECT_TRUE(listener.ok()) << listener.status();
    listener_.emplace(*std::move(listener));
    accept_thread_ = std::thread([this] {
      while (!stop_.load()) {
        absl::StatusOr<UniqueFd> fd = net::Accept(*listener_, absl::Milliseconds(50));
        if (!fd.ok()) continue;
        ++accepted_;
        workers_.emplace_back([this, fd = std::make_shared<UniqueFd>(*std::move(fd))]() mutable {
          absl::StatusOr<net::BlockingStream> s = net::BlockingStream::Adopt(std::move(*fd));
          if (s.ok()) handler_(*s);
        });
      }
    });
  }
  ~TargetServer() {
    stop_.store(true);
    accept_thread_.join();
    for (std::thread& t : workers_) t.join();
  }
  const net::Endpoint& endpoint() const { return listener_->local_endpoint(); }
  int accepted() const { return accepted_.load(); }

 private:
  Handler handler_;
  std::optional<net::Listener> listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::vector<std::thread> workers_;  // touched by the accept thread only, joined after it
  std::thread accept_thread_;
};

// Reads until end of stream (or kIo); returns what was read.
std::string ReadToEnd(net::BlockingStream& s) {
  std::string out;
  std::vector<uint8_t> buf(65536);
  const absl::Time deadline = absl::Now() + kIo;
  for (;;) {
    absl::StatusOr<size_t> n = s.ReadSome(absl::MakeSpan(buf), deadline);
    if (!n.ok() || *n == 0) return out;
    out.append(reinterpret_cast<const char*>(buf.data()), *n);
  }
}

// True once `s` reads end of stream or an error (the far side closed), within kIo.
bool SeesClose(net::BlockingStream& s) {
  uint8_t byte;
  absl::StatusOr<size_t> n = s.ReadSome(absl::MakeSpan(&byte, 1), absl::Now() + kIo);
  if (!n.ok()) return !absl::IsDeadlineExceeded(n.status());
  return *n == 0;
}

std::string RandomBytes(size_t n) {
  std::mt19937 rng(7);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

template <typename F>
bool WaitFor(F condition, absl::Duration timeout = kIo) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return condition();
}

class PortForwarderTest : public ::testing::Test {
 protected:
  void Start(const net::Endpoint& target, PortForwarderOptions options = {}) {
    options.spec = ForwardSpec{Tcp0(), target};
    forwarder_ = std::make_unique<PortForwarder>(options, &metrics_);
    absl::Status started = forwarder_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  net::BlockingStream Connect() {
    absl::StatusOr<net::BlockingStream> s =
        net::BlockingStream::Connect(forwarder_->local_endpoint(), absl::Now() + kIo);
    EXPECT_TRUE(s.ok()) << s.status();
    return *std::move(s);
  }
  void TearDown() override {
    if (forwarder_) forwarder_->Stop();
    EXPECT_EQ(metrics_.active(), 0);
  }

  FakeClock clock_{absl::Now()};  // outlives the forwarder
  ForwardMetrics metrics_;
  std::unique_ptr<PortForwarder> forwarder_;
};

TEST(ForwardSpecTest, ParsesListenAndTarget) {
  absl::StatusOr<ForwardSpec> spec = ParseForwardSpec("tcp://0.0.0.0:5010=vsock://16:5010");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->listen.ToString(), "tcp://0.0.0.0:5010");
  EXPECT_EQ(spec->target.ToString(), "vsock://16:5010");
  spec = ParseForwardSpec("unix:///tmp/a=b.sock=tcp://127.0.0.1:7");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->listen.path(), "/tmp/a=b.sock");
  EXPECT_TRUE(ParseForwardSpec("tcp://[::]:5010=unix:///run/enclave.sock").ok());
}

TEST(ForwardSpecTest, RefusesWhatCannotWorkNamingThePart) {
  struct Case {
    const char* spec;
    const char* says;
  } cases[] = {
      {"", "expected LISTEN=TARGET"},
      {"tcp://0.0.0.0:5010", "expected LISTEN=TARGET"},
      {"tcp://0.0.0.0:5010=", "expected LISTEN=TARGET"},
      {"tcp://0.0.0.0:5010=http://x:1", "expected LISTEN=TARGET"},
      {"tcp://0.0.0.0:99999=vsock://16:5010", "LISTEN:"},
      {"=vsock://16:5010", "LISTEN:"},
      {"tcp://0.0.0.0:5010=vsock://16:x", "TARGET:"},
      {"vsock://ANY:5010=vsock://16:5010", "not vsock"},
      {"tcp://0.0.0.0:5010=vsock://16:0", "TARGET needs a port"},
      {"tcp://0.0.0.0:5010=tcp://127.0.0.1:0", "TARGET needs a port"},
      {"tcp://0.0.0.0:5010=vsock://ANY:5010", "not ANY"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ForwardSpec> spec = ParseForwardSpec(c.spec);
    ASSERT_FALSE(spec.ok()) << c.spec;
    EXPECT_TRUE(absl::IsInvalidArgument(spec.status())) << c.spec;
    EXPECT_THAT(spec.status().message(), HasSubstr(c.says)) << c.spec;
    EXPECT_THAT(spec.status().message(), HasSubstr("tcp://0.0.0.0:5010=vsock://16:5010"));
  }
}

TEST_F(PortForwarderTest, CopiesBothWaysByteForByteAndPassesTheHalfClose) {
  // The target reads to end of stream (so it sees the client's half-close), then answers with
  // the same bytes reversed and closes.
  TargetServer target([](net::BlockingStream& s) {
    std::string got = ReadToEnd(s);
    std::reverse(got.begin(), got.end());
    (void)s.WriteAll(got, absl::Now() + kIo);
  });
  PortForwarderOptions options;
  options.buffer_size = 4096;  // many chunks
  Start(target.endpoint(), options);
  const std::string payload = RandomBytes(1 << 20);
  net::BlockingStream client = Connect();
  ASSERT_TRUE(client.WriteAll(payload, absl::Now() + kIo).ok());
  ASSERT_TRUE(client.ShutdownWrite().ok());
  std::string expected = payload;
  std::reverse(expected.begin(), expected.end());
  const std::string reply = ReadToEnd(client);
  ASSERT_EQ(reply.size(), expected.size());
  EXPECT_TRUE(reply == expected);
  EXPECT_TRUE(WaitFor([&] { return metrics_.closed_done() == 1; }));
  EXPECT_EQ(metrics_.bytes_to_target(), payload.size());
  EXPECT_EQ(metrics_.bytes_to_client(), payload.size());
  EXPECT_EQ(metrics_.total(), 1u);
}

TEST_F(PortForwarderTest, TheTargetsHalfCloseLeavesTheClientSending) {
  // The target says hello and shuts its write side, then still reads what the client sends.
  std::atomic<bool> got_after_close{false};
  TargetServer target([&](net::BlockingStream& s) {
    (void)s.WriteAll(std::string_view("hello"), absl::Now() + kIo);
    (void)s.ShutdownWrite();
    got_after_close.store(ReadToEnd(s) == "still here");
  });
  Start(target.endpoint());
  net::BlockingStream client = Connect();
  EXPECT_EQ(ReadToEnd(client), "hello");  // end of stream after the greeting
  ASSERT_TRUE(client.WriteAll(std::string_view("still here"), absl::Now() + kIo).ok());
  ASSERT_TRUE(client.ShutdownWrite().ok());
  EXPECT_TRUE(WaitFor([&] { return got_after_close.load(); }));
  EXPECT_TRUE(WaitFor([&] { return metrics_.closed_done() == 1; }));
}

TEST_F(PortForwarderTest, AnUnreachableTargetClosesTheClientPromptly) {
  net::Endpoint nobody = Tcp0();
  {
    absl::StatusOr<net::Listener> l = net::Listen(Tcp0());
    ASSERT_TRUE(l.ok());
    nobody = l->local_endpoint();
  }  // closed: connecting there is refused
  Start(nobody);
  net::BlockingStream client = Connect();
  const absl::Time start = absl::Now();
  EXPECT_TRUE(SeesClose(client));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(WaitFor([&] { return metrics_.refused_unreachable() == 1; }));
  EXPECT_THAT(metrics_.RenderPrometheus(),
              HasSubstr("lockout_relay_forward_refused_total{reason=\"target_unreachable\"} 1"));
}

TEST_F(PortForwarderTest, PastTheCapANewClientIsClosedAndTheOthersKeepWorking) {
  TargetServer target([](net::BlockingStream& s) {
    std::vector<uint8_t> buf(1024);
    for (int i = 0; i < 1000; ++i) {  // echo until end of stream
      absl::StatusOr<size_t> n = s.ReadSome(absl::MakeSpan(buf), absl::Now() + kIo);
      if (!n.ok() || *n == 0) return;
      if (!s.WriteAll(ByteView(buf.data(), *n), absl::Now() + kIo).ok()) return;
    }
  });
  PortForwarderOptions options;
  options.max_connections = 2;
  Start(target.endpoint(), options);
  net::BlockingStream a = Connect();
  net::BlockingStream b = Connect();
  ASSERT_TRUE(WaitFor([&] { return forwarder_->connections() == 2; }));
  net::BlockingStream c = Connect();
  EXPECT_TRUE(SeesClose(c));
  EXPECT_TRUE(WaitFor([&] { return metrics_.refused_full() == 1; }));
  for (net::BlockingStream* s : {&a, &b}) {
    ASSERT_TRUE(s->WriteAll(std::string_view("ping"), absl::Now() + kIo).ok());
    std::array<uint8_t, 4> got{};
    ASSERT_TRUE(s->ReadExact(absl::MakeSpan(got), absl::Now() + kIo).ok());
    EXPECT_EQ(std::string(got.begin(), got.end()), "ping");
  }
  EXPECT_EQ(target.accepted(), 2);  // the refused client never reached the target
}

TEST_F(PortForwarderTest, ATargetThatDoesNotReadStopsTheForwarderReadingTheClient) {
  std::atomic<bool> release{false};
  TargetServer target(
      [&](net::BlockingStream&) { WaitFor([&] { return release.load(); }, absl::Seconds(30)); });
  PortForwarderOptions options;
  options.buffer_size = 16 * 1024;
  Start(target.endpoint(), options);
  net::BlockingStream client = Connect();
  ASSERT_TRUE(WaitFor([&] { return target.accepted() == 1; }));
  // Send without blocking until no byte has been taken for a second (kernel buffers on both
  // hops full), at most 256 MiB.
  const std::string chunk = RandomBytes(64 * 1024);
  constexpr size_t kCap = size_t{256} << 20;
  size_t sent = 0;
  absl::Time last_progress = absl::Now();
  while (sent < kCap && absl::Now() - last_progress < absl::Seconds(1)) {
    const ssize_t n =
        send(client.native_handle(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      last_progress = absl::Now();
      continue;
    }
    ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << errno;
    absl::SleepFor(absl::Milliseconds(5));
  }
  // The sender was stopped well before the cap, and the forwarder holds its two buffers only.
  EXPECT_LT(sent, kCap / 4) << sent;
  RecordProperty("bytes_accepted_before_back_pressure", static_cast<int>(sent));
  EXPECT_LE(forwarder_->memory_usage(), 2 * options.buffer_size);
  EXPECT_LT(metrics_.bytes_to_target(), sent);
  release.store(true);
}

TEST_F(PortForwarderTest, AConnectionIdleForTheTimeoutIsClosed) {
  std::atomic<bool> release{false};
  TargetServer target([&](net::BlockingStream& s) {
    (void)s.WriteAll(std::string_view("hi"), absl::Now() + kIo);
    WaitFor([&] { return release.load(); }, absl::Seconds(30));
  });
  PortForwarderOptions options;
  options.clock = &clock_;
  options.idle_timeout = absl::Seconds(60);
  options.sweep_interval = absl::Milliseconds(10);
  Start(target.endpoint(), options);
  net::BlockingStream client = Connect();
  std::array<uint8_t, 2> hi{};
  ASSERT_TRUE(client.ReadExact(absl::MakeSpan(hi), absl::Now() + kIo).ok());
  // The forwarder has counted the write (its last progress is on the clock before it moves).
  ASSERT_TRUE(WaitFor([&] { return metrics_.bytes_to_client() == 2; }));
  clock_.Advance(absl::Seconds(59));
  absl::SleepFor(absl::Milliseconds(50));  // several sweeps: not yet
  EXPECT_EQ(forwarder_->connections(), 1);
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(SeesClose(client));
  EXPECT_TRUE(WaitFor([&] { return metrics_.closed_idle() == 1; }));
  release.store(true);
}

TEST_F(PortForwarderTest, StopClosesEveryConnectionAndRenderShowsTheCounters) {
  std::atomic<bool> release{false};
  TargetServer target(
      [&](net::BlockingStream&) { WaitFor([&] { return release.load(); }, absl::Seconds(30)); });
  Start(target.endpoint());
  net::BlockingStream client = Connect();
  ASSERT_TRUE(WaitFor([&] { return forwarder_->connections() == 1; }));
  const std::string text = metrics_.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("lockout_relay_forward_connections_active 1\n"));
  EXPECT_THAT(text, HasSubstr("lockout_relay_forward_connections_total 1\n"));
  EXPECT_THAT(text, HasSubstr("lockout_relay_forward_bytes_total{direction=\"to_target\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("lockout_relay_forward_refused_total{reason=\"max_connections\"} 0"));
  forwarder_->Stop();
  EXPECT_TRUE(SeesClose(client));
  EXPECT_EQ(metrics_.closed_stopped(), 1u);
  release.store(true);
}

}  // namespace
}  // namespace lockout::relay
