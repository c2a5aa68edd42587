#include "src/net/blocking_stream.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/net/socket.h"
#include "tests/testing/fake_clock_ticker.h"
#include "tests/testing/temp_dir.h"

namespace lockout::net {
namespace {

using ::lockout::testing::FakeClockTicker;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr absl::Duration kGenerous = absl::Seconds(20);
// Far longer than any test may run: a test that waited for it in real time would time out.
constexpr absl::Duration kLongFakeTimeout = absl::Hours(1);

absl::Time Generous() { return absl::Now() + kGenerous; }

// Real time elapsed since `start`.
absl::Duration Since(std::chrono::steady_clock::time_point start) {
  return absl::FromChrono(std::chrono::steady_clock::now() - start);
}

using ::lockout::testing::TempDir;

// A listener on `uri` and one accepted connection: {server side, client stream}.
struct Connected {
  std::optional<Listener> listener;
  UniqueFd server;
  std::optional<BlockingStream> client;
};

Connected ConnectOver(std::string_view uri, const Clock& clock = Clock::Real()) {
  Connected c;
  absl::StatusOr<Listener> listener = Listen(*Endpoint::Parse(uri));
  EXPECT_TRUE(listener.ok()) << listener.status();
  if (!listener.ok()) return c;
  c.listener.emplace(*std::move(listener));
  absl::StatusOr<BlockingStream> client =
      BlockingStream::Connect(c.listener->local_endpoint(), clock.Now() + kGenerous, clock);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return c;
  c.client.emplace(*std::move(client));
  absl::StatusOr<UniqueFd> server = Accept(*c.listener, kGenerous);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return c;
  c.server = *std::move(server);
  // The test's side of the connection uses plain blocking calls.
  EXPECT_EQ(fcntl(c.server.get(), F_SETFL, fcntl(c.server.get(), F_GETFL) & ~O_NONBLOCK), 0);
  return c;
}

void SendRaw(int fd, std::string_view bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

std::string AsString(absl::Span<const uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// Round trip, partial reads and end of stream, for one transport.
void ExchangeOver(std::string_view uri) {
  Connected c = ConnectOver(uri);
  ASSERT_TRUE(c.client.has_value() && c.server.valid());
  BlockingStream& client = *c.client;
  EXPECT_EQ(client.peer(), c.listener->local_endpoint().ToString());

  // ReadSome returns what is there (3 bytes), not what was asked for (16).
  SendRaw(c.server.get(), "abc");
  uint8_t buf[16];
  absl::StatusOr<size_t> n = client.ReadSome(absl::MakeSpan(buf), Generous());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(AsString(absl::MakeConstSpan(buf, *n)), "abc");

  // ReadExact collects a message that arrives in pieces.
  std::thread trickle([fd = c.server.get()] {
    for (std::string_view piece : {"he", "ll", "o, w", "orld"}) {
      SendRaw(fd, piece);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  uint8_t exact[12];
  size_t received = 0;
  absl::Status s = client.ReadExact(absl::MakeSpan(exact), Generous(), &received);
  trickle.join();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(received, sizeof(exact));
  EXPECT_EQ(AsString(exact), "hello, world");

  // Writes arrive whole, however large.
  const std::string big(1 << 20, 'z');
  std::string got;
  std::thread drain([&got, fd = c.server.get(), size = big.size()] {
    char chunk[65536];
    while (got.size() < size) {
      const ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
      if (r <= 0) return;
      got.append(chunk, static_cast<size_t>(r));
    }
  });
  s = client.WriteAll(big, Generous());
  drain.join();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(got == big);

  // ShutdownWrite: the server reads end of stream; it closes, we read end of stream too.
  ASSERT_TRUE(client.ShutdownWrite().ok());
  char tail;
  EXPECT_EQ(recv(c.server.get(), &tail, 1, 0), 0);
  c.server.reset();
  n = client.ReadSome(absl::MakeSpan(buf), Generous());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0u);
}

TEST(BlockingStreamTest, ExchangesBytesOverTcp) { ExchangeOver("tcp://127.0.0.1:0"); }

TEST(BlockingStreamTest, ExchangesBytesOverAUnixSocket) {
  TempDir dir;
  ExchangeOver("unix://" + dir.path() + "/s.sock");
}

TEST(BlockingStreamTest, ConnectedDescriptorIsNonBlockingAndCloseOnExec) {
  Connected c = ConnectOver("tcp://127.0.0.1:0");
  ASSERT_TRUE(c.client.has_value());
  const int fd = c.client->native_handle();
  EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
}

TEST(BlockingStreamTest, ConnectToAClosedTcpPortIsUnavailable) {
  Endpoint closed = Endpoint::Vsock(0, 0);
  {
    absl::StatusOr<Listener> listener = Listen(*Endpoint::Parse("tcp://127.0.0.1:0"));
    ASSERT_TRUE(listener.ok()) << listener.status();
    closed = listener->local_endpoint();
  }
  absl::StatusOr<BlockingStream> s = BlockingStream::Connect(closed, Generous());
  EXPECT_TRUE(absl::IsUnavailable(s.status())) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("connect to " + closed.ToString()));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("refused"));
}

TEST(BlockingStreamTest, ConnectToAMissingUnixSocketIsUnavailable) {
  TempDir dir;
  const Endpoint missing = *Endpoint::Unix(dir.path() + "/none.sock");
  absl::StatusOr<BlockingStream> s = BlockingStream::Connect(missing, Generous());
  EXPECT_TRUE(absl::IsUnavailable(s.status())) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(missing.ToString()));
}

// Connects to `listener` (which never accepts) until a connect fails, at most 64 times, holding
// every connection made; the failure (OK if all 64 connected).
absl::Status ConnectUntilRefused(const Listener& listener, const FakeClock& clock) {
  std::vector<BlockingStream> queued;
  for (int i = 0; i < 64; ++i) {
    absl::StatusOr<BlockingStream> s =
        BlockingStream::Connect(listener.local_endpoint(), clock.Now() + kLongFakeTimeout, clock);
    if (!s.ok()) return s.status();
    queued.push_back(*std::move(s));
  }
  return absl::OkStatus();
}

// A unix listener whose backlog is full refuses at once (EAGAIN): the call fails instead of
// hanging until its deadline.
TEST(BlockingStreamTest, ConnectToAUnixListenerWithAFullBacklogFailsAtOnce) {
  TempDir dir;
  absl::StatusOr<Listener> listener =
      Listen(*Endpoint::Unix(dir.path() + "/full.sock"), /*backlog=*/0);
  ASSERT_TRUE(listener.ok()) << listener.status();
  FakeClock clock(absl::UnixEpoch());
  // Should a connect wait after all, it ends as DeadlineExceeded, failing the test, not hanging.
  FakeClockTicker ticker(clock, absl::Minutes(1));
  const absl::Status failure = ConnectUntilRefused(*listener, clock);
  EXPECT_TRUE(absl::IsUnavailable(failure)) << failure;
}

// A tcp listener whose accept queue is full drops further SYNs: connect() stays in progress. With
// a FakeClock the call ends at the (fake) deadline within real milliseconds.
TEST(BlockingStreamTest, ConnectThatNeverCompletesTimesOutOnTheFakeClock) {
  absl::StatusOr<Listener> listener = Listen(*Endpoint::Parse("tcp://127.0.0.1:0"), 0);
  ASSERT_TRUE(listener.ok()) << listener.status();
  FakeClock clock(absl::UnixEpoch());
  FakeClockTicker ticker(clock, /*step=*/absl::Minutes(1));
  const auto start = std::chrono::steady_clock::now();
  const absl::Status failure = ConnectUntilRefused(*listener, clock);
  EXPECT_TRUE(absl::IsDeadlineExceeded(failure)) << failure;
  EXPECT_THAT(std::string(failure.message()), HasSubstr(listener->local_endpoint().ToString()));
  EXPECT_LT(Since(start), absl::Seconds(10));
}

TEST(BlockingStreamTest, ReadTimesOutWhenTheFakeClockPassesTheDeadline) {
  FakeClock clock(absl::UnixEpoch());
  Connected c = ConnectOver("tcp://127.0.0.1:0", clock);
  ASSERT_TRUE(c.client.has_value());
  const absl::Time deadline = clock.Now() + absl::Seconds(30);
  // The read is waiting (nothing was sent) when the clock jumps past its deadline.
  std::thread jump([&clock] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    clock.Advance(absl::Seconds(31));
  });
  const auto start = std::chrono::steady_clock::now();
  uint8_t buf[8];
  absl::StatusOr<size_t> n = c.client->ReadSome(absl::MakeSpan(buf), deadline);
  const absl::Duration took = Since(start);
  jump.join();
  EXPECT_TRUE(absl::IsDeadlineExceeded(n.status())) << n.status();
  EXPECT_THAT(std::string(n.status().message()), HasSubstr(c.client->peer()));
  EXPECT_GE(took, absl::Milliseconds(40));  // it did wait for the clock
  EXPECT_LT(took, absl::Seconds(10));       // and not for 30 real seconds
}

TEST(BlockingStreamTest, ReadExactTimesOutMidMessageAndCountsTheBytes) {
  FakeClock clock(absl::UnixEpoch());
  Connected c = ConnectOver("tcp://127.0.0.1:0", clock);
  ASSERT_TRUE(c.client.has_value());
  SendRaw(c.server.get(), "abc");
  FakeClockTicker ticker(clock, absl::Minutes(1));
  uint8_t buf[10];
  size_t received = 0;
  absl::Status s =
      c.client->ReadExact(absl::MakeSpan(buf), clock.Now() + kLongFakeTimeout, &received);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_EQ(received, 3u);
  EXPECT_THAT(std::string(s.message()), HasSubstr("3 of 10"));
}

TEST(BlockingStreamTest, ReadExactAtEndOfStreamIsDataLoss) {
  Connected c = ConnectOver("tcp://127.0.0.1:0");
  ASSERT_TRUE(c.client.has_value());
  SendRaw(c.server.get(), "abcd");
  c.server.reset();
  uint8_t buf[10];
  size_t received = 0;
  absl::Status s = c.client->ReadExact(absl::MakeSpan(buf), Generous(), &received);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_EQ(received, 4u);
  EXPECT_THAT(std::string(s.message()), HasSubstr("4 of 10"));
}

TEST(BlockingStreamTest, WriteTimesOutWhenThePeerDoesNotRead) {
  FakeClock clock(absl::UnixEpoch());
  Connected c = ConnectOver("tcp://127.0.0.1:0", clock);
  ASSERT_TRUE(c.client.has_value());
  FakeClockTicker ticker(clock, absl::Minutes(1));
  const std::string data(16 << 20, 'x');  // more than both socket buffers hold
  absl::Status s = c.client->WriteAll(data, clock.Now() + kLongFakeTimeout);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("bytes written"));
}

// A deadline that has already passed still lets the bytes through that need no wait, and then
// ends the call instead of waiting for the rest.
TEST(BlockingStreamTest, PassedDeadlineEndsWritesAndReadsThatProgressedOnce) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  FakeClock clock(absl::UnixEpoch());  // never advanced
  absl::StatusOr<BlockingStream> writer = BlockingStream::Adopt(UniqueFd(fds[0]), clock);
  absl::StatusOr<BlockingStream> reader = BlockingStream::Adopt(UniqueFd(fds[1]), clock);
  ASSERT_TRUE(writer.ok() && reader.ok());
  const absl::Time passed = clock.Now() - absl::Seconds(1);

  const std::string data(8 << 20, 'x');  // the first send fits partly, the rest cannot
  absl::Status w = writer->WriteAll(data, passed);
  EXPECT_TRUE(absl::IsDeadlineExceeded(w)) << w;

  std::vector<uint8_t> buf(data.size());  // part of it is queued, the rest never comes
  size_t received = 0;
  absl::Status r = reader->ReadExact(absl::MakeSpan(buf), passed, &received);
  EXPECT_TRUE(absl::IsDeadlineExceeded(r)) << r;
  EXPECT_GT(received, 0u);
  EXPECT_LT(received, data.size());
}

// With SIGPIPE at its default action a send without MSG_NOSIGNAL would kill this process.
TEST(BlockingStreamTest, WriteToAClosedPeerIsUnavailableNotSigpipe) {
  struct sigaction previous {};
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ASSERT_EQ(sigaction(SIGPIPE, &dfl, &previous), 0);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  close(fds[1]);
  absl::StatusOr<BlockingStream> stream = BlockingStream::Adopt(UniqueFd(fds[0]));
  ASSERT_TRUE(stream.ok()) << stream.status();
  absl::Status s = stream->WriteAll(std::string_view("{}$$$"), Generous());
  sigaction(SIGPIPE, &previous, nullptr);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("write to fd"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("Broken pipe"));
}

TEST(BlockingStreamTest, WaitReadableSeesDataAlreadyQueuedAndTimesOutWithoutIt) {
  FakeClock clock(absl::UnixEpoch());
  Connected c = ConnectOver("tcp://127.0.0.1:0", clock);
  ASSERT_TRUE(c.client.has_value());
  {
    FakeClockTicker ticker(clock, absl::Minutes(1));
    absl::Status idle = c.client->WaitReadable(clock.Now() + kLongFakeTimeout);
    EXPECT_TRUE(absl::IsDeadlineExceeded(idle)) << idle;
  }
  EXPECT_FALSE(c.client->ReadableNow());
  SendRaw(c.server.get(), "x");
  // The byte is queued before the wait starts: the wait must still see it. The clock is not
  // advanced, so only readiness can end the wait.
  while (!c.client->ReadableNow()) std::this_thread::yield();
  absl::Status ready = c.client->WaitReadable(clock.Now() + kLongFakeTimeout);
  EXPECT_TRUE(ready.ok()) << ready;
}

TEST(BlockingStreamTest, ReadableNowReportsDataAndHangUpWithoutWaiting) {
  Connected c = ConnectOver("tcp://127.0.0.1:0");
  ASSERT_TRUE(c.client.has_value());
  EXPECT_FALSE(c.client->ReadableNow());
  c.server.reset();  // hang-up
  const auto start = std::chrono::steady_clock::now();
  while (!c.client->ReadableNow() && Since(start) < kGenerous) std::this_thread::yield();
  EXPECT_TRUE(c.client->ReadableNow());
}

TEST(BlockingStreamTest, ReadSurvivesSignals) {
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: epoll_wait and recv see EINTR
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);
  Connected c = ConnectOver("tcp://127.0.0.1:0");
  ASSERT_TRUE(c.client.has_value());
  std::atomic<bool> started{false};
  absl::StatusOr<size_t> result = absl::UnknownError("not run");
  uint8_t buf[8];
  std::thread reader([&] {
    started = true;
    result = c.client->ReadSome(absl::MakeSpan(buf), Generous());
  });
  while (!started) std::this_thread::yield();
  for (int i = 0; i < 20; ++i) {
    pthread_kill(reader.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  SendRaw(c.server.get(), "ok");
  reader.join();
  sigaction(SIGUSR1, &previous, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(AsString(absl::MakeConstSpan(buf, *result)), "ok");
}

// The real clock's path: one short real timeout (the other timeout tests use a FakeClock).
TEST(BlockingStreamTest, ReadTimesOutOnTheRealClock) {
  Connected c = ConnectOver("tcp://127.0.0.1:0");
  ASSERT_TRUE(c.client.has_value());
  uint8_t buf[8];
  absl::StatusOr<size_t> n =
      c.client->ReadSome(absl::MakeSpan(buf), absl::Now() + absl::Milliseconds(20));
  EXPECT_TRUE(absl::IsDeadlineExceeded(n.status())) << n.status();
}

TEST(BlockingStreamTest, AdoptRefusesWhatIsNotAStreamSocket) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  UniqueFd keep_write(pipe_fds[1]);
  absl::StatusOr<BlockingStream> pipe_stream = BlockingStream::Adopt(UniqueFd(pipe_fds[0]));
  EXPECT_TRUE(absl::IsInvalidArgument(pipe_stream.status())) << pipe_stream.status();

  int dgram[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram), 0);
  UniqueFd other(dgram[1]);
  absl::StatusOr<BlockingStream> dgram_stream = BlockingStream::Adopt(UniqueFd(dgram[0]));
  EXPECT_TRUE(absl::IsInvalidArgument(dgram_stream.status())) << dgram_stream.status();
  EXPECT_THAT(std::string(dgram_stream.status().message()), HasSubstr("not a stream socket"));
}

TEST(BlockingStreamTest, AdoptMakesTheDescriptorNonBlockingAndCloseOnExec) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd peer(fds[1]);
  absl::StatusOr<BlockingStream> stream = BlockingStream::Adopt(UniqueFd(fds[0]));
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_NE(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(stream->peer(), "fd " + std::to_string(fds[0]));
  stream = absl::UnknownError("destroyed");
  EXPECT_EQ(fcntl(fds[0], F_GETFD), -1);  // the stream owned it and closed it
}

TEST(BlockingStreamTest, BorrowHandsTheDescriptorBackOpenAndBlockingAsItWas) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd mine(fds[0]);
  UniqueFd peer(fds[1]);
  ASSERT_EQ(fcntl(mine.get(), F_GETFL) & O_NONBLOCK, 0);
  {
    absl::StatusOr<BlockingStream> stream = BlockingStream::Borrow(mine.get());
    ASSERT_TRUE(stream.ok()) << stream.status();
    ASSERT_TRUE(stream->WriteAll(std::string_view("hi"), Generous()).ok());
    EXPECT_FALSE(stream->Release().valid());  // borrowed: nothing to hand over
  }
  EXPECT_NE(fcntl(mine.get(), F_GETFL), -1);
  EXPECT_EQ(fcntl(mine.get(), F_GETFL) & O_NONBLOCK, 0);
  char buf[2];
  ASSERT_EQ(recv(peer.get(), buf, 2, MSG_WAITALL), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
}

TEST(BlockingStreamTest, ReleaseGivesTheConnectedDescriptorToTheCaller) {
  Connected c = ConnectOver("tcp://127.0.0.1:0");
  ASSERT_TRUE(c.client.has_value());
  UniqueFd fd = c.client->Release();
  ASSERT_TRUE(fd.valid());
  EXPECT_FALSE(c.client->is_open());
  EXPECT_EQ(c.client->native_handle(), -1);
  EXPECT_TRUE(absl::IsFailedPrecondition(c.client->WriteAll(std::string_view("x"), Generous())));
  SendRaw(fd.get(), "after release");
  char buf[13];
  ASSERT_EQ(recv(c.server.get(), buf, sizeof(buf), MSG_WAITALL), 13);
}

TEST(BlockingStreamTest, MovedFromStreamFailsCleanly) {
  Connected c = ConnectOver("tcp://127.0.0.1:0");
  ASSERT_TRUE(c.client.has_value());
  BlockingStream moved = std::move(*c.client);
  uint8_t buf[1];
  EXPECT_TRUE(
      absl::IsFailedPrecondition(c.client->ReadSome(absl::MakeSpan(buf), Generous()).status()));
  EXPECT_TRUE(moved.is_open());
}

// vsock does not carry traffic on this machine: test the socket level. Either the host has a
// vsock transport (then nobody listens on the parent's port: refused or timed out) or the error
// says plainly that AF_VSOCK is unusable here.
TEST(BlockingStreamTest, VsockConnectWithoutVsockSupportIsAClearUnavailable) {
  FakeClock clock(absl::UnixEpoch());
  FakeClockTicker ticker(clock, absl::Minutes(1));
  const Endpoint parent = *Endpoint::Parse("vsock://3:5011");
  absl::StatusOr<BlockingStream> s =
      BlockingStream::Connect(parent, clock.Now() + kLongFakeTimeout, clock);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsUnavailable(s.status()) || absl::IsDeadlineExceeded(s.status()))
      << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("vsock://3:5011"));
  const bool host_has_vsock = [] {
    UniqueFd probe(socket(AF_VSOCK, SOCK_STREAM, 0));
    return probe.valid();
  }();
  if (!host_has_vsock) {
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("AF_VSOCK"));
  } else if (absl::IsUnavailable(s.status())) {
    EXPECT_THAT(std::string(s.status().message()),
                AnyOf(HasSubstr("AF_VSOCK"), HasSubstr("refused"), HasSubstr("reset")));
  }
}

}  // namespace
}  // namespace lockout::net
