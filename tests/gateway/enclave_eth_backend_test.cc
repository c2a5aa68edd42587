// EnclaveEthBackend's connection pool against a fake enclave (a v2 server on loopback): reuse,
// reconnect after the enclave closes or restarts, timeouts, the bound on connections, and the
// backoff when the enclave is unreachable.
#include "src/gateway/enclave_eth_backend.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "src/net/blocking_stream.h"
#include "src/net/frame_decoder.h"
#include "src/net/socket.h"

namespace lockout::gateway {
namespace {

constexpr std::string_view kCow = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";
constexpr std::string_view kMailSignature =
    "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
    "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c";

// Answers eth_address and eth_personal_sign; each connection on its own thread.
class FakeEnclave {
 public:
  explicit FakeEnclave(std::string uri = "tcp://127.0.0.1:0") {
    absl::StatusOr<net::Listener> listener = net::Listen(*net::Endpoint::Parse(uri));
    EXPECT_TRUE(listener.ok()) << listener.status();
    listener_.emplace(*std::move(listener));
    acceptor_ = std::thread([this] { Serve(); });
  }
  ~FakeEnclave() { Stop(); }
  void Stop() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    listener_.reset();
  }
  std::string uri() const { return listener_->local_endpoint().ToString(); }

  std::atomic<int> accepted{0};
  std::atomic<int> requests{0};
  std::atomic<int> concurrent{0};
  std::atomic<int> max_concurrent{0};
  // Close each connection after this many replies (0: never).
  std::atomic<int> close_after_replies{0};
  // Request number N (1-based, over all connections) is answered only after `slow_ms`.
  std::atomic<int> slow_request{0};
  std::atomic<int> slow_ms{0};
  // Every request waits this long before its reply.
  std::atomic<int> every_ms{0};

 private:
  void Serve() {
    std::vector<std::thread> connections;
    while (!stop_) {
      absl::StatusOr<UniqueFd> fd = net::Accept(*listener_, absl::Milliseconds(20));
      if (!fd.ok()) continue;
      ++accepted;
      connections.emplace_back(
          [this, fd = std::make_shared<UniqueFd>(*std::move(fd))] { Handle(std::move(*fd)); });
    }
    for (auto& t : connections) t.join();
  }

  void Handle(UniqueFd fd) {
    absl::StatusOr<net::BlockingStream> stream = net::BlockingStream::Adopt(std::move(fd));
    if (!stream.ok()) return;
    net::FrameDecoder decoder;
    int replies = 0;
    while (!stop_) {
      absl::StatusOr<std::optional<net::Frame>> frame =
          net::ReadFrame(*stream, decoder, absl::Now() + absl::Milliseconds(20));
      if (!frame.ok() && absl::IsDeadlineExceeded(frame.status())) continue;
      if (!frame.ok() || !frame->has_value()) return;
      nlohmann::json request = nlohmann::json::parse((*frame)->payload);
      const int n = ++requests;
      const int now = ++concurrent;
      for (int seen = max_concurrent;
           now > seen && !max_concurrent.compare_exchange_weak(seen, now);) {
      }
      int wait = every_ms;
      if (n == slow_request) wait += slow_ms;
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
      --concurrent;
      nlohmann::json reply = {{"id", request["id"]}, {"ok", true}};
      if (request["op"] == "eth_address") reply["address"] = kCow;
      if (request["op"] == "eth_personal_sign") reply["signature"] = kMailSignature;
      if (!net::WriteFrame(*stream, net::FrameKind::kV2, reply.dump(),
                           absl::Now() + absl::Seconds(5))
               .ok()) {
        return;
      }
      if (++replies == close_after_replies) return;
    }
  }

  std::optional<net::Listener> listener_;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
};

EnclavePoolOptions Options(int connections = 2, absl::Duration timeout = absl::Seconds(5)) {
  EnclavePoolOptions options;
  options.connections = connections;
  options.timeout = timeout;
  options.busy_timeout = timeout;
  return options;
}

std::unique_ptr<EnclaveEthBackend> Backend(const std::string& uri, EnclavePoolOptions options) {
  return std::make_unique<EnclaveEthBackend>(*net::Endpoint::Parse(uri), options, nullptr);
}

const Bytes kHello = {'h', 'i'};

TEST(EnclaveEthBackendTest, SequentialCallsShareOneConnection) {
  FakeEnclave enclave;
  auto backend = Backend(enclave.uri(), Options());
  ASSERT_TRUE(backend->Address().ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(backend->PersonalSign(kHello).ok()) << i;
  EXPECT_EQ(enclave.accepted, 1);
  EXPECT_EQ(enclave.requests, 51);
  EnclaveEthBackend::Stats stats = backend->stats();
  EXPECT_EQ(stats.connects, 1u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.open, 1);
}

TEST(EnclaveEthBackendTest, ConcurrentCallsStayWithinTheConnectionBound) {
  FakeEnclave enclave;
  enclave.every_ms = 5;
  auto backend = Backend(enclave.uri(), Options(/*connections=*/2));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (!backend->PersonalSign(kHello).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(enclave.requests, 60);
  EXPECT_LE(enclave.accepted, 2);
  EXPECT_LE(enclave.max_concurrent, 2);
  EXPECT_LE(backend->stats().open, 2);
}

TEST(EnclaveEthBackendTest, WaitingForAFreeConnectionIsBounded) {
  FakeEnclave enclave;
  enclave.every_ms = 600;
  EnclavePoolOptions options = Options(/*connections=*/1, absl::Seconds(5));
  options.busy_timeout = absl::Milliseconds(100);  // shorter than the enclave's 600 ms
  auto backend = Backend(enclave.uri(), options);
  std::thread first([&] { (void)backend->PersonalSign(kHello); });
  while (enclave.requests == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  absl::StatusOr<eth::RecoverableSignature> second = backend->PersonalSign(kHello);
  first.join();
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("enclave busy"), std::string::npos);
  EXPECT_EQ(enclave.accepted, 1);
}

TEST(EnclaveEthBackendTest, ReconnectsWhenTheEnclaveClosesAnIdleConnection) {
  FakeEnclave enclave;
  enclave.close_after_replies = 1;  // every connection serves one request
  auto backend = Backend(enclave.uri(), Options());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(backend->PersonalSign(kHello).ok()) << i;
  EXPECT_EQ(enclave.requests, 5);  // the stale connection's failure is not a request
  EXPECT_EQ(backend->stats().connects, 5u);
}

TEST(EnclaveEthBackendTest, RecoversWhenTheEnclaveRestarts) {
  auto enclave = std::make_unique<FakeEnclave>();
  const std::string uri = enclave->uri();
  EnclavePoolOptions options = Options(2, absl::Milliseconds(500));
  options.backoff_initial = absl::Milliseconds(20);
  options.backoff_max = absl::Milliseconds(50);
  auto backend = Backend(uri, options);
  ASSERT_TRUE(backend->PersonalSign(kHello).ok());
  enclave.reset();  // down: the pooled connection is closed by the peer, nobody listens

  absl::StatusOr<eth::RecoverableSignature> down = backend->PersonalSign(kHello);
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(absl::IsUnavailable(down.status())) << down.status();
  EXPECT_NE(down.status().message().find("enclave unreachable"), std::string::npos);

  enclave = std::make_unique<FakeEnclave>(uri);  // back, same address
  absl::Status last;
  for (int i = 0; i < 100; ++i) {  // within the backoff, calls fail fast; then one reconnects
    last = backend->PersonalSign(kHello).status();
    if (last.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(last.ok()) << last;
  EXPECT_EQ(enclave->accepted, 1);
  EXPECT_EQ(backend->stats().connects, 2u);
}

TEST(EnclaveEthBackendTest, UnreachableEnclaveFailsFastDuringTheBackoff) {
  std::string uri;
  {
    FakeEnclave gone;
    uri = gone.uri();
  }
  EnclavePoolOptions options = Options();
  options.backoff_initial = absl::Seconds(30);
  options.backoff_max = absl::Seconds(30);
  options.jitter = [] { return 1.0; };  // the whole 30 s, not a random part of it
  auto backend = Backend(uri, options);
  absl::Status first = backend->PersonalSign(kHello).status();
  EXPECT_TRUE(absl::IsUnavailable(first)) << first;
  absl::Status second = backend->PersonalSign(kHello).status();
  EXPECT_TRUE(absl::IsUnavailable(second)) << second;
  EXPECT_NE(second.message().find("next attempt in"), std::string::npos) << second;
  EXPECT_EQ(backend->stats().connect_failures, 1u);  // the second call did not try
}

TEST(EnclaveEthBackendTest, ATimedOutCallDoesNotConfuseTheNextOne) {
  FakeEnclave enclave;
  enclave.slow_request = 2;
  enclave.slow_ms = 400;
  auto backend = Backend(enclave.uri(), Options(1, absl::Milliseconds(150)));
  ASSERT_TRUE(backend->PersonalSign(kHello).ok());
  absl::Status timed_out = backend->PersonalSign(kHello).status();
  EXPECT_TRUE(absl::IsDeadlineExceeded(timed_out)) << timed_out;
  // The late reply to request 2 arrives on the closed connection; request 3 is answered on a
  // new one, by its own reply.
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(backend->PersonalSign(kHello).ok()) << i;
  EnclaveEthBackend::Stats stats = backend->stats();
  EXPECT_EQ(stats.connects, 2u);
  EXPECT_EQ(stats.dropped, 1u);
  EXPECT_EQ(enclave.accepted, 2);
}

}  // namespace
}  // namespace lockout::gateway
