#include "src/net/socket.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock_ticker.h"
#include "tests/testing/temp_dir.h"

namespace lockout::net {
namespace {

using ::lockout::testing::FakeClockTicker;
using ::testing::HasSubstr;

constexpr absl::Duration kGenerous = absl::Seconds(20);
constexpr absl::Duration kShort = absl::Milliseconds(200);
// Timeouts on a FakeClock: far longer than a test may run in real time.
constexpr absl::Duration kLongFakeTimeout = absl::Hours(1);

// `fd` as a stream on `clock`.
BlockingStream StreamOn(UniqueFd fd, const Clock& clock) {
  absl::StatusOr<BlockingStream> s = BlockingStream::Adopt(std::move(fd), clock);
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

using ::lockout::testing::TempDir;

Endpoint MustParse(std::string_view uri) {
  absl::StatusOr<Endpoint> e = Endpoint::Parse(uri);
  EXPECT_TRUE(e.ok()) << uri << ": " << e.status();
  return e.ok() ? *e : Endpoint::Vsock(0, 0);
}

// A server thread echoes every frame back with the same kind until the client closes; the client
// sends v1 and v2 frames (some pipelined in one write) and checks the replies.
void ExchangeFramesOver(absl::StatusOr<Listener> listener) {
  ASSERT_TRUE(listener.ok()) << listener.status();
  const Endpoint bound = listener->local_endpoint();

  std::atomic<int> echoed{0};
  absl::Status server_status;
  std::thread server([&] {
    absl::StatusOr<UniqueFd> conn = Accept(*listener, kGenerous);
    if (!conn.ok()) {
      server_status = conn.status();
      return;
    }
    FrameDecoder decoder;
    for (;;) {
      absl::StatusOr<std::optional<Frame>> frame = ReadFrame(conn->get(), decoder, kGenerous);
      if (!frame.ok()) {
        server_status = frame.status();
        return;
      }
      if (!frame->has_value()) return;  // client closed cleanly
      server_status = WriteFrame(conn->get(), (*frame)->kind, (*frame)->payload, kGenerous);
      if (!server_status.ok()) return;
      ++echoed;
    }
  });

  absl::StatusOr<UniqueFd> client = Connect(bound, kGenerous);
  ASSERT_TRUE(client.ok()) << client.status();
  const std::vector<std::pair<FrameKind, std::string>> requests = {
      {FrameKind::kV1, R"({"bytes": "aGVsbG8="})"},
      {FrameKind::kV2, R"({"id": 1, "op": "health"})"},
      {FrameKind::kV2, R"({"id": 2, "op": "public_key"})"},
      {FrameKind::kV1, R"({"bytes": ""})"},
      {FrameKind::kV2, "{\"id\": 3, \"pad\": \"" + std::string(200000, 'x') + "\"}"},
  };
  // Pipelined: all requests in one write, then read all replies.
  std::string wire;
  for (const auto& [kind, payload] : requests) wire += *EncodeFrame(kind, payload);
  ASSERT_TRUE(WriteAll(client->get(), wire, kGenerous).ok());
  FrameDecoder decoder;
  for (const auto& [kind, payload] : requests) {
    absl::StatusOr<std::optional<Frame>> reply = ReadFrame(client->get(), decoder, kGenerous);
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_TRUE(reply->has_value());
    EXPECT_EQ((*reply)->kind, kind);
    EXPECT_EQ((*reply)->payload, payload);
  }
  // One more request/reply after the pipelined batch.
  ASSERT_TRUE(WriteFrame(client->get(), FrameKind::kV1, "{}", kGenerous).ok());
  absl::StatusOr<std::optional<Frame>> last = ReadFrame(client->get(), decoder, kGenerous);
  ASSERT_TRUE(last.ok() && last->has_value()) << last.status();
  EXPECT_EQ((*last)->payload, "{}");

  ASSERT_TRUE(ShutdownWrite(client->get()).ok());
  // The server sees a clean end of stream and closes; we see one too.
  absl::StatusOr<std::optional<Frame>> eof = ReadFrame(client->get(), decoder, kGenerous);
  server.join();
  EXPECT_TRUE(server_status.ok()) << server_status;
  EXPECT_EQ(echoed.load(), static_cast<int>(requests.size()) + 1);
  ASSERT_TRUE(eof.ok()) << eof.status();
  EXPECT_FALSE(eof->has_value());
}

TEST(SocketTest, ExchangesV1AndV2FramesOverTcp) {
  ExchangeFramesOver(Listen(MustParse("tcp://127.0.0.1:0")));
}

TEST(SocketTest, ExchangesV1AndV2FramesOverUnixSocket) {
  TempDir dir;
  ExchangeFramesOver(Listen(MustParse("unix://" + dir.path() + "/enclave.sock")));
}

TEST(SocketTest, ExchangesFramesOverTcpIpv6WhenTheHostHasIt) {
  absl::StatusOr<Listener> probe = Listen(MustParse("tcp://[::1]:0"));
  if (!probe.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << probe.status();
  ExchangeFramesOver(std::move(probe));
}

TEST(SocketTest, TcpListenerOnPortZeroReportsTheBoundPort) {
  absl::StatusOr<Listener> listener = Listen(MustParse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_TRUE(listener->local_endpoint().is_tcp());
  EXPECT_EQ(listener->local_endpoint().host(), "127.0.0.1");
  EXPECT_NE(listener->local_endpoint().port(), 0u);
}

TEST(SocketTest, TcpListenerResolvesLocalhost) {
  absl::StatusOr<Listener> listener = Listen(MustParse("tcp://localhost:0"));
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_NE(listener->local_endpoint().port(), 0u);
  absl::StatusOr<UniqueFd> client =
      Connect(*Endpoint::Tcp("localhost", static_cast<uint16_t>(listener->local_endpoint().port())),
              kGenerous);
  // localhost may resolve to ::1 first while we bound 127.0.0.1: Connect tries each address.
  EXPECT_TRUE(client.ok()) << client.status();
}

// Accepts one connection on a fresh tcp listener; returns {server side, client side}.
std::pair<UniqueFd, UniqueFd> ConnectedPair() {
  absl::StatusOr<Listener> listener = Listen(MustParse("tcp://127.0.0.1:0"));
  EXPECT_TRUE(listener.ok()) << listener.status();
  if (!listener.ok()) return {};
  absl::StatusOr<UniqueFd> client = Connect(listener->local_endpoint(), kGenerous);
  EXPECT_TRUE(client.ok()) << client.status();
  absl::StatusOr<UniqueFd> server = Accept(*listener, kGenerous);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!client.ok() || !server.ok()) return {};
  return {std::move(*server), std::move(*client)};
}

TEST(SocketTest, ReadTimesOutOnASilentPeer) {
  auto [server, client] = ConnectedPair();
  ASSERT_TRUE(server.valid());
  FakeClock clock(absl::UnixEpoch());
  BlockingStream stream = StreamOn(std::move(server), clock);
  FakeClockTicker ticker(clock, absl::Minutes(1));
  FrameDecoder decoder;
  absl::StatusOr<std::optional<Frame>> frame =
      ReadFrame(stream, decoder, clock.Now() + kLongFakeTimeout);
  EXPECT_TRUE(absl::IsDeadlineExceeded(frame.status())) << frame.status();
}

TEST(SocketTest, ReadTimesOutOnAPeerThatStopsMidFrame) {
  auto [server, client] = ConnectedPair();
  ASSERT_TRUE(server.valid());
  ASSERT_TRUE(WriteAll(client.get(), std::string_view("{\"bytes\": \"AA"), kGenerous).ok());
  FakeClock clock(absl::UnixEpoch());
  BlockingStream stream = StreamOn(std::move(server), clock);
  FakeClockTicker ticker(clock, absl::Minutes(1));
  FrameDecoder decoder;
  absl::StatusOr<std::optional<Frame>> frame =
      ReadFrame(stream, decoder, clock.Now() + kLongFakeTimeout);
  EXPECT_TRUE(absl::IsDeadlineExceeded(frame.status())) << frame.status();
  EXPECT_TRUE(decoder.InFrame());
}

// A peer that keeps sending bytes that never finish a frame is cut off at the deadline, although
// no single wait ever times out.
TEST(SocketTest, ReadTimesOutOnAPeerTricklingBytesInsideAFrame) {
  auto [server, client] = ConnectedPair();
  ASSERT_TRUE(server.valid());
  ASSERT_TRUE(WriteAll(client.get(), std::string_view("{"), kGenerous).ok());
  std::atomic<bool> stop{false};
  std::thread trickle([&stop, fd = client.get()] {
    while (!stop) {
      if (send(fd, "a", 1, MSG_NOSIGNAL) != 1) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  FakeClock clock(absl::UnixEpoch());
  BlockingStream stream = StreamOn(std::move(server), clock);
  absl::StatusOr<std::optional<Frame>> frame;
  {
    FakeClockTicker ticker(clock, absl::Minutes(1));
    FrameDecoder decoder;
    frame = ReadFrame(stream, decoder, clock.Now() + kLongFakeTimeout);
  }
  stop = true;
  trickle.join();
  EXPECT_TRUE(absl::IsDeadlineExceeded(frame.status())) << frame.status();
}

TEST(SocketTest, PeerClosingMidFrameIsACleanDataLossErrorForBothKinds) {
  for (const std::string& wire : {*EncodeV1("{\"bytes\":\"AAAA\"}"), *EncodeV2("{\"id\":9}")}) {
    for (size_t cut : {size_t{1}, size_t{3}, wire.size() - 1}) {
      auto [server, client] = ConnectedPair();
      ASSERT_TRUE(server.valid());
      ASSERT_TRUE(WriteAll(client.get(), std::string_view(wire).substr(0, cut), kGenerous).ok());
      client.reset();
      FrameDecoder decoder;
      absl::StatusOr<std::optional<Frame>> frame = ReadFrame(server.get(), decoder, kGenerous);
      EXPECT_TRUE(absl::IsDataLoss(frame.status())) << cut << ": " << frame.status();
      EXPECT_THAT(std::string(frame.status().message()), HasSubstr("closed by peer mid-frame"));
    }
  }
}

TEST(SocketTest, PeerClosingBetweenFramesIsEndOfStream) {
  auto [server, client] = ConnectedPair();
  ASSERT_TRUE(server.valid());
  ASSERT_TRUE(WriteFrame(client.get(), FrameKind::kV1, "{}", kGenerous).ok());
  client.reset();
  FrameDecoder decoder;
  absl::StatusOr<std::optional<Frame>> first = ReadFrame(server.get(), decoder, kGenerous);
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status();
  absl::StatusOr<std::optional<Frame>> end = ReadFrame(server.get(), decoder, kGenerous);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_FALSE(end->has_value());
}

TEST(SocketTest, OversizedAndGarbageFramesFailTheRead) {
  {
    auto [server, client] = ConnectedPair();
    ASSERT_TRUE(server.valid());
    // Claims 2 MiB; nothing more is sent, yet the read fails at once instead of waiting.
    ASSERT_TRUE(WriteAll(client.get(), std::string_view("\x00\x20\x00\x00", 4), kGenerous).ok());
    FrameDecoder decoder;
    absl::StatusOr<std::optional<Frame>> frame = ReadFrame(server.get(), decoder, kGenerous);
    EXPECT_TRUE(absl::IsResourceExhausted(frame.status())) << frame.status();
  }
  {
    auto [server, client] = ConnectedPair();
    ASSERT_TRUE(server.valid());
    ASSERT_TRUE(WriteAll(client.get(), std::string_view("GET / HTTP/1.1\r\n"), kGenerous).ok());
    FrameDecoder decoder;
    absl::StatusOr<std::optional<Frame>> frame = ReadFrame(server.get(), decoder, kGenerous);
    EXPECT_TRUE(absl::IsInvalidArgument(frame.status())) << frame.status();
  }
}

TEST(SocketTest, WriteAllFinishesLargePartialWrites) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd writer(fds[0]);
  UniqueFd reader(fds[1]);
  const int small = 4096;
  ASSERT_EQ(setsockopt(writer.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  std::string data(4 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  std::string received;
  std::thread drain([&] {
    char buf[8192];
    for (;;) {
      const ssize_t n = read(reader.get(), buf, sizeof(buf));
      if (n <= 0) return;
      received.append(buf, static_cast<size_t>(n));
    }
  });
  absl::Status status = WriteAll(writer.get(), data, kGenerous);
  writer.reset();
  drain.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data);
}

TEST(SocketTest, WriteAllTimesOutWhenThePeerDoesNotRead) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  FakeClock clock(absl::UnixEpoch());
  BlockingStream writer = StreamOn(UniqueFd(fds[0]), clock);
  UniqueFd reader(fds[1]);
  FakeClockTicker ticker(clock, absl::Minutes(1));
  const std::string data(16 << 20, 'x');
  absl::Status status = writer.WriteAll(data, clock.Now() + kLongFakeTimeout);
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
}

TEST(SocketTest, WriteToAClosedPeerIsAnErrorNotSigpipe) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd writer(fds[0]);
  close(fds[1]);
  absl::Status status = WriteAll(writer.get(), std::string_view("{}$$$"), kGenerous);
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
}

TEST(SocketTest, AcceptTimesOutWithoutClients) {
  absl::StatusOr<Listener> listener = Listen(MustParse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener.ok()) << listener.status();
  FakeClock clock(absl::UnixEpoch());
  FakeClockTicker ticker(clock, absl::Minutes(1));
  absl::StatusOr<UniqueFd> conn = Accept(*listener, kLongFakeTimeout, clock);
  EXPECT_TRUE(absl::IsDeadlineExceeded(conn.status())) << conn.status();
  EXPECT_THAT(std::string(conn.status().message()),
              HasSubstr(listener->local_endpoint().ToString()));
}

TEST(SocketTest, AcceptReturnsAConnectionThatArrivesWhileWaiting) {
  absl::StatusOr<Listener> listener = Listen(MustParse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::thread later([endpoint = listener->local_endpoint()] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    absl::StatusOr<UniqueFd> client = Connect(endpoint, kGenerous);
    EXPECT_TRUE(client.ok()) << client.status();
    if (client.ok()) {
      char byte;
      (void)recv(client->get(), &byte, 1, 0);  // until the server side closes
    }
  });
  absl::StatusOr<UniqueFd> conn = Accept(*listener, kGenerous);
  EXPECT_TRUE(conn.ok()) << conn.status();
  conn = absl::UnknownError("closed");
  later.join();
}

TEST(SocketTest, AcceptNowWithoutClientsReturnsNothing) {
  absl::StatusOr<Listener> listener = Listen(MustParse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<std::optional<UniqueFd>> conn = AcceptNow(*listener);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_FALSE(conn->has_value());
}

// Out of descriptors, accept() fails with EMFILE while the connection stays queued: Accept and
// AcceptNow say ResourceExhausted (so callers back off) and the connection is still there once a
// descriptor is free.
TEST(SocketTest, AcceptOutOfDescriptorsIsResourceExhaustedAndKeepsTheConnection) {
  absl::StatusOr<Listener> listener = Listen(MustParse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<UniqueFd> client = Connect(listener->local_endpoint(), kGenerous);
  ASSERT_TRUE(client.ok()) << client.status();

  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // The lowest free descriptor number: with the soft limit there, no new descriptor can be made.
  const int lowest_free = dup(0);
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  absl::StatusOr<std::optional<UniqueFd>> now = AcceptNow(*listener);
  absl::StatusOr<UniqueFd> waited = Accept(*listener, kShort);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);

  EXPECT_TRUE(absl::IsResourceExhausted(now.status())) << now.status();
  EXPECT_TRUE(absl::IsResourceExhausted(waited.status())) << waited.status();
  EXPECT_THAT(std::string(now.status().message()),
              HasSubstr(listener->local_endpoint().ToString()));
  absl::StatusOr<UniqueFd> later = Accept(*listener, kGenerous);
  EXPECT_TRUE(later.ok()) << later.status();
}

TEST(SocketTest, ConnectToAClosedTcpPortIsUnavailable) {
  Endpoint closed = Endpoint::Vsock(0, 0);
  {
    absl::StatusOr<Listener> listener = Listen(MustParse("tcp://127.0.0.1:0"));
    ASSERT_TRUE(listener.ok()) << listener.status();
    closed = listener->local_endpoint();
  }
  absl::StatusOr<UniqueFd> conn = Connect(closed, kGenerous);
  EXPECT_TRUE(absl::IsUnavailable(conn.status())) << conn.status();
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr(closed.ToString()));
}

TEST(SocketTest, ConnectToAMissingUnixSocketFails) {
  TempDir dir;
  absl::StatusOr<UniqueFd> conn = Connect(MustParse("unix://" + dir.path() + "/none"), kGenerous);
  EXPECT_FALSE(conn.ok());
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr("/none"));
}

TEST(SocketTest, UnixListenerReplacesAStaleSocketFile) {
  TempDir dir;
  const std::string path = dir.path() + "/stale.sock";
  {
    // A socket file whose server died: bound, never listening, closed.
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  absl::StatusOr<Listener> listener = Listen(MustParse("unix://" + path));
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_TRUE(Connect(listener->local_endpoint(), kGenerous).ok());
}

TEST(SocketTest, UnixListenerRefusesAPathALiveServerHolds) {
  TempDir dir;
  const Endpoint endpoint = MustParse("unix://" + dir.path() + "/live.sock");
  absl::StatusOr<Listener> first = Listen(endpoint);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Listener> second = Listen(endpoint);
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use"));
  // The first listener still works.
  EXPECT_TRUE(Connect(endpoint, kGenerous).ok());
}

TEST(SocketTest, UnixListenerNeverRemovesARegularFile) {
  TempDir dir;
  const std::string path = dir.path() + "/important.txt";
  std::ofstream(path) << "keep me";
  absl::StatusOr<Listener> listener = Listen(MustParse("unix://" + path));
  EXPECT_TRUE(absl::IsInvalidArgument(listener.status())) << listener.status();
  std::ifstream in(path);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "keep me");
}

TEST(SocketTest, UnixListenerRemovesItsSocketFileWhenDestroyed) {
  TempDir dir;
  const std::string path = dir.path() + "/gone.sock";
  {
    absl::StatusOr<Listener> listener = Listen(MustParse("unix://" + path));
    ASSERT_TRUE(listener.ok()) << listener.status();
    Listener moved = std::move(*listener);  // the moved-from listener must not unlink
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SocketTest, UnixListenInAMissingDirectoryFailsClearly) {
  absl::StatusOr<Listener> listener = Listen(MustParse("unix:///nonexistent-lockout-dir/x.sock"));
  EXPECT_FALSE(listener.ok());
  EXPECT_THAT(std::string(listener.status().message()), HasSubstr("/nonexistent-lockout-dir"));
}

// vsock loopback does not carry traffic on this machine: test the socket level only. Either the
// host has a vsock transport (bind works, local endpoint is vsock) or the error says so clearly.
TEST(SocketTest, VsockListenBindsOrReportsMissingSupportClearly) {
  // Port 4294967295 is VMADDR_PORT_ANY: the kernel picks a free port.
  absl::StatusOr<Listener> listener = Listen(MustParse("vsock://ANY:4294967295"));
  if (listener.ok()) {
    EXPECT_TRUE(listener->local_endpoint().is_vsock());
    EXPECT_NE(listener->local_endpoint().port(), 0xFFFFFFFFu);
  } else {
    EXPECT_TRUE(absl::IsUnavailable(listener.status())) << listener.status();
    EXPECT_THAT(std::string(listener.status().message()), HasSubstr("AF_VSOCK"));
    EXPECT_THAT(std::string(listener.status().message()), HasSubstr("vsock://ANY:4294967295"));
  }
}

TEST(SocketTest, VsockConnectFailsCleanlyWithoutAPeer) {
  absl::StatusOr<UniqueFd> conn = Connect(MustParse("vsock://3:5011"), kShort);
  // Here (no vsock host transport) this is ENODEV; elsewhere it may be refused or time out.
  if (!conn.ok()) {
    EXPECT_TRUE(absl::IsUnavailable(conn.status()) || absl::IsDeadlineExceeded(conn.status()))
        << conn.status();
    EXPECT_THAT(std::string(conn.status().message()), HasSubstr("vsock://3:5011"));
  }
}

void NoOpHandler(int) {}

TEST(SocketTest, ReadFrameSurvivesSignals) {
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = NoOpHandler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: poll() and recv() see EINTR
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);

  auto [server, client] = ConnectedPair();
  ASSERT_TRUE(server.valid());
  std::atomic<bool> started{false};
  absl::StatusOr<std::optional<Frame>> result = absl::UnknownError("not run");
  std::thread reader([&, fd = server.get()] {
    FrameDecoder decoder;
    started = true;
    result = ReadFrame(fd, decoder, kGenerous);
  });
  while (!started) std::this_thread::yield();
  for (int i = 0; i < 20; ++i) {
    pthread_kill(reader.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(WriteFrame(client.get(), FrameKind::kV2, "{\"id\":1}", kGenerous).ok());
  reader.join();
  sigaction(SIGUSR1, &previous, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->has_value());
  EXPECT_EQ((*result)->payload, "{\"id\":1}");
}

}  // namespace
}  // namespace lockout::net
