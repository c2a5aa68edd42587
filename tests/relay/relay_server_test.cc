// RelayServer and RelayClient over real loopback sockets, with a scripted upstream.

#include "src/relay/relay_server.h"

#include <sys/socket.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/net/socket.h"
#include "src/relay/relay_client.h"
#include "tests/relay/fake_upstream.h"
#include "tests/testing/fake_clock_ticker.h"

namespace lockout::relay {
namespace {

using ::testing::HasSubstr;
using testing::kAllowedSecret;
using ::testing::Not;

constexpr absl::Duration kIo = absl::Seconds(10);

// Reads from `fd` until EOF or `stop_after` (a full reply frame) is seen.
std::string ReadUntil(int fd, std::string_view stop_after = "$$$") {
  std::string out;
  char buf[4096];
  const absl::Time deadline = absl::Now() + kIo;
  while (absl::Now() < deadline) {
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (!stop_after.empty() && out.ends_with(stop_after)) return out;
      continue;
    }
    if (n == 0) return out;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return out;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return out;
}

class RelayServerTest : public ::testing::Test {
 protected:
  void StartServer(RelayServerOptions options = {}) {
    options.listen = *net::Endpoint::Parse("tcp://127.0.0.1:0");
    server_ = std::make_unique<RelayServer>(&service_, &metrics_, options);
    ASSERT_TRUE(server_->Start().ok());
  }
  void SetUp() override {
    RelayServerOptions options;
    options.read_timeout = absl::Seconds(5);
    StartServer(options);
  }
  void TearDown() override {
    server_->Stop();
    EXPECT_EQ(metrics_.connections_active(), 0);
    EXPECT_THAT(logs_.str(), Not(HasSubstr("CANARY")));
  }

  RelayClient Client(absl::Duration timeout = kIo) {
    RelayClientOptions options;
    options.endpoint = server_->local_endpoint();
    options.timeout = timeout;
    return RelayClient(options);
  }
  UniqueFd Connect() {
    absl::StatusOr<UniqueFd> fd = net::Connect(server_->local_endpoint(), kIo);
    EXPECT_TRUE(fd.ok()) << fd.status();
    return fd.ok() ? *std::move(fd) : UniqueFd();
  }
  // Sends raw bytes on a new connection, optionally half-closes, returns everything read.
  std::string Exchange(std::string_view bytes, bool half_close) {
    UniqueFd fd = Connect();
    EXPECT_TRUE(net::WriteAll(fd.get(), bytes, kIo).ok());
    if (half_close) {
      EXPECT_TRUE(net::ShutdownWrite(fd.get()).ok());
    }
    return ReadUntil(fd.get(), /*stop_after=*/"");
  }
  // ExpectStillServing after the secret was made large.
  void ExpectStillServingLarge() {
    absl::StatusOr<GetSecretReply> reply = Client().GetSecret(kAllowedSecret);
    ASSERT_TRUE(reply.ok()) << reply.status();
  }
  void ExpectStillServing() {
    absl::StatusOr<GetSecretReply> reply = Client().GetSecret(kAllowedSecret);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(ToString(reply->secret), testing::kCanaryCiphertext);
  }

  testing::LogCapture logs_;
  testing::FakeUpstream upstream_{absl::Now() + absl::Hours(1)};
  RelayMetrics metrics_;
  RelayService service_{&upstream_, *SecretAllowlist::Create({kAllowedSecret}), &metrics_};
  std::unique_ptr<RelayServer> server_;
};

TEST_F(RelayServerTest, ClientGetsSecretAndCredentials) {
  absl::StatusOr<GetSecretReply> reply = Client().GetSecret(kAllowedSecret);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ToString(reply->secret), testing::kCanaryCiphertext);
  EXPECT_EQ(reply->credentials.secret_access_key.RevealAsString(), testing::kCanarySecretKey);
  EXPECT_EQ(reply->credentials.session_token.RevealAsString(), testing::kCanaryToken);
  EXPECT_EQ(metrics_.requests("get_secret", "ok"), 1u);
}

TEST_F(RelayServerTest, SeedStyleRawExchangeGetsOneReplyFrame) {
  const std::string reply = Exchange(
      R"({"request_type": "get_secret", "payload": {"secret_name": "lockout/key"}}$$$)", true);
  ASSERT_TRUE(reply.ends_with("$$$")) << reply.size();
  absl::StatusOr<GetSecretReply> decoded = DecodeReply(reply.substr(0, reply.size() - 3));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
}

TEST_F(RelayServerTest, DeniedSecretIsPermissionDenied) {
  absl::StatusOr<GetSecretReply> reply = Client().GetSecret("not/allowed");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(upstream_.secret_calls(), 0);
}

TEST_F(RelayServerTest, SeveralRequestsOnOneConnectionAreAnsweredInOrder) {
  UniqueFd fd = Connect();
  const std::string ok = *EncodeGetSecretRequest({kAllowedSecret}) + "$$$";
  const std::string denied = *EncodeGetSecretRequest({"x"}) + "$$$";
  ASSERT_TRUE(net::WriteAll(fd.get(), ok + denied + ok, kIo).ok());
  net::FrameDecoder decoder;
  std::vector<absl::StatusCode> codes;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::optional<net::Frame>> frame = net::ReadFrame(fd.get(), decoder, kIo);
    ASSERT_TRUE(frame.ok() && frame->has_value());
    codes.push_back(DecodeReply((*frame)->payload).status().code());
  }
  EXPECT_EQ(codes, (std::vector<absl::StatusCode>{absl::StatusCode::kOk,
                                                  absl::StatusCode::kPermissionDenied,
                                                  absl::StatusCode::kOk}));
}

TEST_F(RelayServerTest, GarbageGetsBadRequestAndTheServerKeepsServing) {
  EXPECT_EQ(Exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n", false), R"({"error":"bad request"}$$$)");
  EXPECT_EQ(metrics_.errors(kKindFraming), 1u);
  ExpectStillServing();
}

TEST_F(RelayServerTest, OversizedRequestGetsRequestTooLargeAndTheServerKeepsServing) {
  const std::string huge = "{\"pad\":\"" + std::string(kMaxRequestSize + 10, 'a');
  EXPECT_EQ(Exchange(huge, false), R"({"error":"request too large"}$$$)");
  EXPECT_EQ(metrics_.errors(kKindFraming), 1u);
  ExpectStillServing();
}

// A v2 error reply: the 4-byte big-endian length, then the text.
std::string V2Reply(std::string_view text) {
  std::string out(4, '\0');
  out[2] = static_cast<char>((text.size() >> 8) & 0xFF);
  out[3] = static_cast<char>(text.size() & 0xFF);
  return out + std::string(text);
}

TEST_F(RelayServerTest, OversizedV2LengthPrefixIsRefusedBeforeThePayload) {
  const std::string prefix("\x00\x10\x00\x00", 4);  // claims 1 MiB
  // Answered in v2: the frame's kind is known from its first byte.
  EXPECT_EQ(Exchange(prefix, false), V2Reply(R"({"error":"request too large"})"));
  ExpectStillServing();
}

TEST_F(RelayServerTest, FramingErrorsAreAnsweredInTheFailedFramesKind) {
  const std::string request = *EncodeGetSecretRequest({kAllowedSecret});
  std::string v2 = V2Reply(request);  // a whole v2 get_secret frame
  // v2 cut short (in the prefix, after it, mid-payload) by a half-close: a v2 "bad request".
  for (size_t n : {size_t{1}, size_t{3}, size_t{4}, v2.size() - 1}) {
    EXPECT_EQ(Exchange(v2.substr(0, n), true), V2Reply(R"({"error":"bad request"})")) << n;
  }
  // A v1 frame cut short, and garbage whose framing is unknown: v1.
  EXPECT_EQ(Exchange(request.substr(0, 10), true), R"({"error":"bad request"}$$$)");
  EXPECT_EQ(Exchange("\x7f\x00\x00\x01x", false), R"({"error":"bad request"}$$$)");
  // A good v1 frame, then a v2 one over the limit: the error is the v2 frame's, in v2.
  const std::string both = request + "$$$" + std::string("\x00\x10\x00\x00", 4);
  const std::string reply = Exchange(both, false);
  ASSERT_TRUE(reply.ends_with(V2Reply(R"({"error":"request too large"})"))) << reply;
  EXPECT_TRUE(reply.find("$$$") != std::string::npos);  // the first reply, in v1
  EXPECT_EQ(metrics_.errors(kKindFraming), 7u);
  ExpectStillServing();
}

// lockout-relay --audit-log: frames of up to 1 MiB are read, but only for append_audit.
class AuditSizedRelayServerTest : public RelayServerTest {
 protected:
  void SetUp() override {
    RelayServerOptions options;
    options.read_timeout = absl::Seconds(5);
    options.max_audit_request_size = kMaxAuditRequestSize;
    StartServer(options);
  }
};

TEST_F(AuditSizedRelayServerTest, AGetSecretOverTheRequestLimitIsRefusedAsItArrives) {
  const std::string big = R"({"request_type":"get_secret","payload":{"secret_name":")" +
                          std::string(kAllowedSecret) + R"("})" +
                          std::string(kMaxRequestSize * 2, ' ') + "}";
  // Only a little over the limit is sent, and the connection is not half-closed: the reply
  // comes because the relay refused the frame as it arrived, not at its end.
  const std::string v1 = big.substr(0, kMaxRequestSize + 8192);
  EXPECT_EQ(Exchange(v1, false), R"({"error":"request too large"}$$$)");
  std::string v2(4, '\0');
  v2[1] = static_cast<char>((big.size() >> 16) & 0xFF);
  v2[2] = static_cast<char>((big.size() >> 8) & 0xFF);
  v2[3] = static_cast<char>(big.size() & 0xFF);
  v2 += big.substr(0, 100);  // the declared size and the first bytes are enough
  const std::string reply = Exchange(v2, false);
  ASSERT_GE(reply.size(), 4u);
  EXPECT_EQ(reply.substr(4), R"({"error":"request too large"})");
  EXPECT_EQ(metrics_.errors(kKindFraming), 2u);
  EXPECT_THAT(logs_.str(), HasSubstr("only append_audit may be larger"));
  ExpectStillServing();
}

TEST_F(AuditSizedRelayServerTest, AnAppendAuditFrameMayBeLargerThanTheRequestLimit) {
  // The service has no audit log ("no audit log"), but the frame
  // itself passed the frame limit.
  std::vector<std::string> lines(100, std::string(1000, 'x'));
  absl::StatusOr<std::string> audit = EncodeAppendAuditRequest(lines);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_GT(audit->size(), kMaxRequestSize);
  const std::string reply = Exchange(*audit + "$$$", true);
  EXPECT_EQ(reply, R"({"error":"no audit log"}$$$)");
  EXPECT_EQ(metrics_.errors(kKindFraming), 0u);
  // A frame that only pretends to be one in a member after the first is refused.
  std::string disguised = R"({"pad":")" + std::string(kMaxRequestSize, 'a') +
                          R"(","request_type":"append_audit","lines":["x"]}$$$)";
  EXPECT_EQ(Exchange(disguised, false), R"({"error":"request too large"}$$$)");
  ExpectStillServing();
}

TEST_F(RelayServerTest, TruncatedRequestGetsBadRequestWhenThePeerHalfCloses) {
  const std::string request = *EncodeGetSecretRequest({kAllowedSecret});
  for (size_t n : {size_t{1}, request.size() / 2, request.size()}) {
    EXPECT_EQ(Exchange(request.substr(0, n), true), R"({"error":"bad request"}$$$)") << n;
  }
  EXPECT_EQ(Exchange(request + "$$", true), R"({"error":"bad request"}$$$)");
  ExpectStillServing();
}

TEST_F(RelayServerTest, MalformedJsonAndUnknownTypesGetErrorsOnTheSameConnection) {
  UniqueFd fd = Connect();
  ASSERT_TRUE(net::WriteAll(fd.get(),
                            "{not json}$$$"
                            R"({"request_type":"rm -rf","payload":{}})"
                            "$$$",
                            kIo)
                  .ok());
  net::FrameDecoder decoder;
  absl::StatusOr<std::optional<net::Frame>> first = net::ReadFrame(fd.get(), decoder, kIo);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->payload, R"({"error":"bad request"})");
  absl::StatusOr<std::optional<net::Frame>> second = net::ReadFrame(fd.get(), decoder, kIo);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->payload, R"({"error":"unknown request_type"})");
}

TEST_F(RelayServerTest, SilentPeersDoNotBlockOthers) {
  std::vector<UniqueFd> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(Connect());
  ExpectStillServing();
}

TEST_F(RelayServerTest, ManyConcurrentClientsAreAllServed) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (Client().GetSecret(kAllowedSecret).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(metrics_.requests("get_secret", "ok"), 40u);
}

TEST_F(RelayServerTest, StopClosesIdleConnections) {
  UniqueFd idle = Connect();
  ExpectStillServing();  // the idle connection has been accepted by now
  server_->Stop();       // returns only after closing every connection
  EXPECT_EQ(server_->connections(), 0);
  EXPECT_EQ(ReadUntil(idle.get(), ""), "");
}

class ShortTimeoutRelayServerTest : public RelayServerTest {
 protected:
  void SetUp() override {
    RelayServerOptions options;
    options.read_timeout = absl::Milliseconds(300);
    options.max_connections = 1;
    StartServer(options);
  }
};

TEST_F(ShortTimeoutRelayServerTest, PeerStallingMidFrameGetsBadRequest) {
  UniqueFd fd = Connect();
  ASSERT_TRUE(net::WriteAll(fd.get(), R"({"request_type":)", kIo).ok());
  EXPECT_EQ(ReadUntil(fd.get(), ""), R"({"error":"bad request"}$$$)");
  EXPECT_EQ(metrics_.errors(kKindTimeout), 1u);
}

TEST_F(ShortTimeoutRelayServerTest, IdlePeerIsClosedSilently) {
  UniqueFd fd = Connect();
  EXPECT_EQ(ReadUntil(fd.get(), ""), "");
  EXPECT_EQ(metrics_.errors(kKindTimeout), 0u);
}

class OneSlotRelayServerTest : public RelayServerTest {
 protected:
  void SetUp() override {
    RelayServerOptions options;
    options.read_timeout = absl::Seconds(30);
    options.max_connections = 1;
    StartServer(options);
  }
};

TEST_F(OneSlotRelayServerTest, ConnectionsOverTheCapAreToldTheRelayIsBusy) {
  // Hold the only slot: a served connection, kept open (its thread waits for the next frame).
  UniqueFd held = Connect();
  ASSERT_TRUE(
      net::WriteAll(held.get(), *EncodeGetSecretRequest({kAllowedSecret}) + "$$$", kIo).ok());
  ASSERT_THAT(ReadUntil(held.get()), HasSubstr("\"result\""));
  absl::StatusOr<GetSecretReply> reply = Client().GetSecret(kAllowedSecret);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_THAT(reply.status().message(), HasSubstr("relay busy"));
  EXPECT_EQ(metrics_.errors(kKindBusy), 1u);  // counted, not only logged
  // Once the slot is free again, requests are served.
  held.reset();
  absl::Status served = absl::UnknownError("not yet");
  for (int i = 0; i < 100 && !served.ok(); ++i) {
    served = Client().GetSecret(kAllowedSecret).status();
    if (!served.ok()) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(served.ok()) << served;
}

// True if `fd` sees EOF (or a reset) within `timeout`, after reading and collecting whatever
// arrives first into `*read` (if given).
bool ClosedWithin(int fd, absl::Duration timeout, std::string* read = nullptr) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) return true;
    if (n > 0) {
      if (read != nullptr) read->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// Deadlines on a FakeClock: the tests advance it instead of sleeping for a timeout; they wait in
// real time only for the server's next sweep (every 20 ms here).
class FakeClockRelayServerTest : public RelayServerTest {
 protected:
  void SetUp() override {
    RelayServerOptions options;
    options.clock = &clock_;
    options.sweep_interval = absl::Milliseconds(20);
    options.read_timeout = absl::Seconds(10);
    options.write_timeout = absl::Seconds(10);
    StartServer(options);
  }
  // Connects and waits until the server holds the connection (its deadlines start from then).
  UniqueFd ConnectAccepted() {
    const int before = server_->connections();
    UniqueFd fd = Connect();
    for (int i = 0; i < 2000 && server_->connections() == before; ++i) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(server_->connections(), before + 1);
    absl::SleepFor(absl::Milliseconds(20));  // and has started it
    return fd;
  }
  // Long enough for several sweeps: what a timeout that should not have fired yet gets to show.
  static constexpr absl::Duration kSeveralSweeps = absl::Milliseconds(200);

  FakeClock clock_{absl::Now()};
};

TEST_F(FakeClockRelayServerTest, IdlePeerIsClosedSilentlyOnceTheReadTimeoutHasPassed) {
  UniqueFd fd = ConnectAccepted();
  clock_.Advance(absl::Seconds(9));
  EXPECT_FALSE(ClosedWithin(fd.get(), kSeveralSweeps));
  clock_.Advance(absl::Seconds(2));
  std::string read;
  EXPECT_TRUE(ClosedWithin(fd.get(), kIo, &read));
  EXPECT_EQ(read, "");
  EXPECT_EQ(metrics_.errors(kKindTimeout), 0u);
}

TEST_F(FakeClockRelayServerTest, PeerStallingMidFrameGetsBadRequestOnceTheReadTimeoutHasPassed) {
  UniqueFd fd = ConnectAccepted();
  ASSERT_TRUE(net::WriteAll(fd.get(), R"({"request_type":)", kIo).ok());
  clock_.Advance(absl::Seconds(9));
  EXPECT_FALSE(ClosedWithin(fd.get(), kSeveralSweeps));
  clock_.Advance(absl::Seconds(2));
  std::string read;
  EXPECT_TRUE(ClosedWithin(fd.get(), kIo, &read));
  EXPECT_EQ(read, R"({"error":"bad request"}$$$)");
  EXPECT_EQ(metrics_.errors(kKindTimeout), 1u);
}

TEST_F(FakeClockRelayServerTest, PeerStallingMidV2FrameGetsAV2BadRequest) {
  UniqueFd fd = ConnectAccepted();
  // A v2 prefix declaring 32 bytes, and 16 of them.
  ASSERT_TRUE(
      net::WriteAll(fd.get(), std::string("\x00\x00\x00\x20", 4) + R"({"request_type":)", kIo)
          .ok());
  clock_.Advance(absl::Seconds(11));
  std::string read;
  EXPECT_TRUE(ClosedWithin(fd.get(), kIo, &read));
  EXPECT_EQ(read, V2Reply(R"({"error":"bad request"})"));
  EXPECT_EQ(metrics_.errors(kKindTimeout), 1u);
}

TEST_F(FakeClockRelayServerTest, TrickledBytesDoNotExtendTheReadTimeout) {
  // The slot-holding attack: a byte now and then, never a complete frame.
  UniqueFd fd = ConnectAccepted();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(net::WriteAll(fd.get(), i == 0 ? "{" : " ", kIo).ok());
    absl::SleepFor(absl::Milliseconds(30));  // read by the server
    clock_.Advance(absl::Seconds(2));
  }
  clock_.Advance(absl::Seconds(1));  // 11 s after the connection: past the 10 s read timeout
  std::string read;
  EXPECT_TRUE(ClosedWithin(fd.get(), kIo, &read));
  EXPECT_EQ(read, R"({"error":"bad request"}$$$)");
}

TEST_F(FakeClockRelayServerTest, EachAnsweredRequestRestartsTheReadTimeout) {
  UniqueFd fd = ConnectAccepted();
  const std::string request = *EncodeGetSecretRequest({kAllowedSecret}) + "$$$";
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Seconds(8));
    ASSERT_TRUE(net::WriteAll(fd.get(), request, kIo).ok());
    ASSERT_THAT(ReadUntil(fd.get()), HasSubstr("\"result\"")) << i;
  }
  EXPECT_FALSE(ClosedWithin(fd.get(), kSeveralSweeps));
}

TEST_F(FakeClockRelayServerTest, PeerThatNeverReadsRepliesIsClosedAfterTheWriteTimeout) {
  // Replies of ~200 KiB to requests pipelined by a peer that never reads: the server's writes
  // stall once the socket buffers are full, and it reads nothing more meanwhile.
  upstream_.SetSecret(kAllowedSecret, awsclient::SecretKind::kBinary, std::string(150 << 10, 'x'));
  UniqueFd fd = ConnectAccepted();
  const int small = 4096;
  ASSERT_EQ(setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
  const std::string request = *EncodeGetSecretRequest({kAllowedSecret}) + "$$$";
  std::string requests;
  for (int i = 0; i < 200; ++i) requests += request;
  ASSERT_TRUE(net::WriteAll(fd.get(), requests, kIo).ok());
  // Wait until the server stops making progress (its write is stalled): no new upstream call for
  // half a second, not one 100 ms look, which a loaded machine's scheduling gap can fake (the
  // clock would then be advanced while the server still makes progress, and progress restarts
  // its write deadline).
  int calls = -1;
  for (int i = 0, unchanged = 0; i < 400 && unchanged < 5; ++i) {
    const int now = upstream_.secret_calls();
    unchanged = now == calls ? unchanged + 1 : 0;
    calls = now;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_LT(calls, 200) << "every reply was written: the buffers are larger than the test assumes";
  EXPECT_EQ(metrics_.errors(kKindWrite), 0u);
  clock_.Advance(absl::Seconds(11));
  const absl::Time deadline = absl::Now() + kIo;
  while (metrics_.connections_active() != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(metrics_.connections_active(), 0);
  EXPECT_EQ(metrics_.errors(kKindWrite), 1u);
  ExpectStillServingLarge();
}

class OneWorkerRelayServerTest : public RelayServerTest {
 protected:
  void SetUp() override {
    RelayServerOptions options;
    options.worker_threads = 1;
    options.worker_queue = 0;
    StartServer(options);
  }
  void TearDown() override {
    upstream_.Release();
    RelayServerTest::TearDown();
  }
};

TEST_F(OneWorkerRelayServerTest, ARequestBeyondThePoolIsToldBusyAndTheConnectionStaysUsable) {
  upstream_.Hold();
  const std::string request = *EncodeGetSecretRequest({kAllowedSecret}) + "$$$";
  UniqueFd slow = Connect();
  ASSERT_TRUE(net::WriteAll(slow.get(), request, kIo).ok());
  for (int i = 0; i < 1000 && upstream_.waiting() == 0; ++i) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(upstream_.waiting(), 1);

  // The one worker is busy and nothing may queue: answered at once, not after the slow one.
  UniqueFd other = Connect();
  ASSERT_TRUE(net::WriteAll(other.get(), request, kIo).ok());
  EXPECT_EQ(ReadUntil(other.get()), R"({"error":"relay busy"}$$$)");
  EXPECT_EQ(metrics_.errors(kKindBusy), 1u);

  upstream_.Release();
  EXPECT_THAT(ReadUntil(slow.get()), HasSubstr("\"result\""));
  ASSERT_TRUE(net::WriteAll(other.get(), request, kIo).ok());
  EXPECT_THAT(ReadUntil(other.get()), HasSubstr("\"result\""));
}

TEST_F(OneWorkerRelayServerTest, ASlowUpstreamDoesNotStallOtherConnectionsIo) {
  upstream_.Hold();
  UniqueFd slow = Connect();
  ASSERT_TRUE(
      net::WriteAll(slow.get(), *EncodeGetSecretRequest({kAllowedSecret}) + "$$$", kIo).ok());
  for (int i = 0; i < 1000 && upstream_.waiting() == 0; ++i) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(upstream_.waiting(), 1);
  // Framing errors are answered on the I/O thread while the worker waits.
  EXPECT_EQ(Exchange("GET / HTTP/1.1\r\n\r\n", false), R"({"error":"bad request"}$$$)");
  upstream_.Release();
  EXPECT_THAT(ReadUntil(slow.get()), HasSubstr("\"result\""));
}

// ---------------------------------------------------------------- RelayClient against fakes

// A one-shot server that answers the first connection with `reply` and then closes (or, with
// `hold`, keeps the connection open without answering).
class ScriptedRelay {
 public:
  ScriptedRelay(std::string reply, bool hold = false) {
    listener_.emplace(*net::Listen(*net::Endpoint::Parse("tcp://127.0.0.1:0")));
    thread_ = std::thread([this, reply = std::move(reply), hold] {
      absl::StatusOr<UniqueFd> fd = net::Accept(*listener_, kIo);
      if (!fd.ok()) return;
      // Read the whole request frame first: closing with unread bytes makes the kernel send a
      // reset, which the client would see as "unavailable" instead of the scripted reply.
      net::FrameDecoder decoder;
      if (!net::ReadFrame(fd->get(), decoder, kIo).ok()) return;
      (void)net::WriteAll(fd->get(), reply, kIo);
      if (hold) done_.WaitForNotification();
    });
  }
  ~ScriptedRelay() {
    done_.Notify();
    thread_.join();
  }
  RelayClient Client(absl::Duration timeout = kIo, size_t max_reply = kMaxReplySize,
                     const Clock* clock = &Clock::Real()) {
    RelayClientOptions options;
    options.endpoint = listener_->local_endpoint();
    options.connect_timeout = timeout;  // so a fake-clock test times only the phase it means to
    options.timeout = timeout;
    options.max_reply_size = max_reply;
    options.clock = clock;
    return RelayClient(options);
  }

 private:
  std::optional<net::Listener> listener_;
  absl::Notification done_;
  std::thread thread_;
};

TEST(RelayClientTest, ConnectionRefusedIsUnavailable) {
  absl::StatusOr<net::Listener> listener = net::Listen(*net::Endpoint::Parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener.ok());
  RelayClientOptions options;
  options.endpoint = listener->local_endpoint();
  listener = absl::UnavailableError("closed");  // frees the port: nobody listens there now
  EXPECT_EQ(RelayClient(options).GetSecret(kAllowedSecret).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(RelayClientTest, RelayClosingWithoutReplyIsUnavailable) {
  ScriptedRelay relay("");
  EXPECT_EQ(relay.Client().GetSecret(kAllowedSecret).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(RelayClientTest, RelayClosingMidReplyIsDataLoss) {
  ScriptedRelay relay(R"({"result": {"secret": ")");
  EXPECT_EQ(relay.Client().GetSecret(kAllowedSecret).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RelayClientTest, SilentRelayIsDeadlineExceeded) {
  ScriptedRelay relay("", /*hold=*/true);
  FakeClock clock(absl::UnixEpoch());
  // Steps small enough that the connect (real time, under load) finishes long before the hour.
  lockout::testing::FakeClockTicker ticker(clock, absl::Seconds(5));
  // An hour on the fake clock passes in under a real second.
  absl::StatusOr<GetSecretReply> reply =
      relay.Client(absl::Hours(1), kMaxReplySize, &clock).GetSecret(kAllowedSecret);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
  EXPECT_THAT(std::string(reply.status().message()), HasSubstr("0 bytes received"));
}

TEST(RelayClientTest, OversizedReplyIsResourceExhausted) {
  ScriptedRelay relay("{\"error\": \"" + std::string(5000, 'x') + "\"}$$$");
  EXPECT_EQ(relay.Client(kIo, /*max_reply=*/1024).GetSecret(kAllowedSecret).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(RelayClientTest, NonJsonReplyIsInvalidArgument) {
  ScriptedRelay relay("HTTP/1.1 400 Bad Request\r\n\r\n");
  EXPECT_EQ(relay.Client().GetSecret(kAllowedSecret).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RelayClientTest, ErrorReplyIsMapped) {
  ScriptedRelay relay(R"({"error": "upstream unavailable"}$$$)");
  absl::StatusOr<GetSecretReply> reply = relay.Client().GetSecret(kAllowedSecret);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
}

TEST(RelayClientTest, InvalidSecretNameIsRefusedBeforeConnecting) {
  RelayClient client;  // vsock default: never reached
  EXPECT_EQ(client.GetSecret("has space").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockout::relay
