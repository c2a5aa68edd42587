#include "src/nsm/nsm_socket_framing.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock_ticker.h"

namespace lockout::nsm {
namespace {

using ::lockout::testing::FakeClockTicker;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A connected pair of Unix stream sockets, closed on destruction.
class SocketPair {
 public:
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0); }
  ~SocketPair() {
    CloseA();
    CloseB();
  }
  int a() const { return fds_[0]; }
  int b() const { return fds_[1]; }
  void CloseA() { CloseFd(0); }
  void CloseB() { CloseFd(1); }
  void SendRawToA(ByteView bytes) {
    ASSERT_EQ(send(b(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

 private:
  void CloseFd(int i) {
    if (fds_[i] >= 0) close(fds_[i]);
    fds_[i] = -1;
  }
  int fds_[2] = {-1, -1};
};

constexpr absl::Duration kLongTimeout = absl::Seconds(10);
// Timeouts on a FakeClock: far longer than a test may run in real time.
constexpr absl::Duration kLongFakeTimeout = absl::Hours(1);

// `fd` borrowed as a stream whose deadlines run on `clock`.
net::BlockingStream StreamOn(int fd, const Clock& clock) {
  absl::StatusOr<net::BlockingStream> s = net::BlockingStream::Borrow(fd, clock);
  EXPECT_TRUE(s.ok()) << s.status();
  return *std::move(s);
}

TEST(NsmSocketFramingTest, WritesFourByteBigEndianLengthThenPayload) {
  SocketPair p;
  const Bytes payload(0x0102, 0xab);
  ASSERT_TRUE(WriteFrame(p.a(), payload, 0x1000, kLongTimeout).ok());
  uint8_t header[4];
  ASSERT_EQ(recv(p.b(), header, 4, MSG_WAITALL), 4);
  EXPECT_EQ(header[0], 0x00);
  EXPECT_EQ(header[1], 0x00);
  EXPECT_EQ(header[2], 0x01);
  EXPECT_EQ(header[3], 0x02);
  Bytes body(payload.size());
  ASSERT_EQ(recv(p.b(), body.data(), body.size(), MSG_WAITALL), static_cast<ssize_t>(body.size()));
  EXPECT_EQ(body, payload);
}

TEST(NsmSocketFramingTest, ReadsBackWhatWasWrittenIncludingEmptyFrames) {
  SocketPair p;
  const Bytes first = {1, 2, 3};
  ASSERT_TRUE(WriteFrame(p.a(), first, 16, kLongTimeout).ok());
  ASSERT_TRUE(WriteFrame(p.a(), {}, 16, kLongTimeout).ok());
  absl::StatusOr<Bytes> r1 = ReadFrame(p.b(), 16, kLongTimeout);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(*r1, first);
  absl::StatusOr<Bytes> r2 = ReadFrame(p.b(), 16, kLongTimeout);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_TRUE(r2->empty());
}

TEST(NsmSocketFramingTest, FrameLargerThanTheSocketBufferArrivesWhole) {
  SocketPair p;
  Bytes big(1 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  absl::Status written;
  std::thread writer([&] { written = WriteFrame(p.a(), big, big.size(), kLongTimeout); });
  absl::StatusOr<Bytes> got = ReadFrame(p.b(), big.size(), kLongTimeout);
  writer.join();
  ASSERT_TRUE(written.ok()) << written;
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, big);
}

TEST(NsmSocketFramingTest, AnnouncedLengthOverTheLimitIsRefusedBeforeReadingTheBody) {
  SocketPair p;
  p.SendRawToA(Bytes{0x00, 0x00, 0x30, 0x01});  // 0x3001 bytes announced, none sent
  absl::StatusOr<Bytes> r = ReadFrame(p.a(), 0x3000, kLongTimeout);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("12289"));
}

TEST(NsmSocketFramingTest, HugeAnnouncedLengthIsRefused) {
  SocketPair p;
  p.SendRawToA(Bytes{0xff, 0xff, 0xff, 0xff});
  EXPECT_EQ(ReadFrame(p.a(), 0x4000, kLongTimeout).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(NsmSocketFramingTest, PeerClosingBetweenFramesIsOutOfRange) {
  SocketPair p;
  p.CloseB();
  EXPECT_EQ(ReadFrame(p.a(), 16, kLongTimeout).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(NsmSocketFramingTest, PeerClosingInsideTheLengthIsDataLoss) {
  SocketPair p;
  p.SendRawToA(Bytes{0x00, 0x00});
  p.CloseB();
  absl::StatusOr<Bytes> r = ReadFrame(p.a(), 16, kLongTimeout);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("2 of 4 length bytes"));
}

TEST(NsmSocketFramingTest, PeerClosingInsideTheBodyIsDataLoss) {
  SocketPair p;
  p.SendRawToA(Bytes{0x00, 0x00, 0x00, 0x0a, 1, 2, 3});
  p.CloseB();
  absl::StatusOr<Bytes> r = ReadFrame(p.a(), 16, kLongTimeout);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("3 of 10 frame bytes"));
}

TEST(NsmSocketFramingTest, SilentPeerTimesOut) {
  SocketPair p;
  FakeClock clock(absl::UnixEpoch());
  net::BlockingStream stream = StreamOn(p.a(), clock);
  FakeClockTicker ticker(clock, absl::Minutes(1));
  EXPECT_EQ(ReadFrame(stream, 16, clock.Now() + kLongFakeTimeout).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(NsmSocketFramingTest, StalledBodyTimesOut) {
  SocketPair p;
  p.SendRawToA(Bytes{0x00, 0x00, 0x00, 0x08, 1});
  FakeClock clock(absl::UnixEpoch());
  net::BlockingStream stream = StreamOn(p.a(), clock);
  FakeClockTicker ticker(clock, absl::Minutes(1));
  absl::StatusOr<Bytes> r = ReadFrame(stream, 16, clock.Now() + kLongFakeTimeout);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nsm socket"));
}

// The fd overloads keep the blocking mode of a descriptor they borrow.
TEST(NsmSocketFramingTest, FdOverloadsLeaveABlockingDescriptorBlocking) {
  SocketPair p;
  ASSERT_EQ(fcntl(p.a(), F_GETFL) & O_NONBLOCK, 0);
  ASSERT_TRUE(WriteFrame(p.a(), Bytes{7}, 16, kLongTimeout).ok());
  absl::StatusOr<Bytes> r = ReadFrame(p.b(), 16, kLongTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(fcntl(p.a(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(fcntl(p.b(), F_GETFL) & O_NONBLOCK, 0);
}

// With SO_PASSCRED on the reader, every frame says which process wrote it (here: this one).
TEST(NsmSocketFramingTest, ReadFrameReportsTheSendersOfTheFrame) {
  SocketPair p;
  const int on = 1;
  ASSERT_EQ(setsockopt(p.b(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
  ASSERT_TRUE(WriteFrame(p.a(), Bytes{1, 2, 3}, 16, kLongTimeout).ok());
  FrameSenders senders;
  senders.pids = {12345};  // cleared by ReadFrame
  absl::StatusOr<Bytes> r = ReadFrame(p.b(), 16, kLongTimeout, &senders);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (Bytes{1, 2, 3}));
  EXPECT_THAT(senders.pids, ElementsAre(getpid()));
}

// The recvmsg path waits through the stream too: it times out on the stream's clock, and a
// frame that arrives in pieces while it waits is read whole.
TEST(NsmSocketFramingTest, ReadFrameWithSendersWaitsForPiecesAndTimesOut) {
  SocketPair p;
  const int on = 1;
  ASSERT_EQ(setsockopt(p.b(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
  FakeClock clock(absl::UnixEpoch());
  net::BlockingStream stream = StreamOn(p.b(), clock);
  std::thread writer([&p] {
    const Bytes frame = {0x00, 0x00, 0x00, 0x02, 0xaa, 0xbb};
    for (uint8_t byte : frame) {
      ASSERT_EQ(send(p.a(), &byte, 1, MSG_NOSIGNAL), 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  FrameSenders senders;
  absl::StatusOr<Bytes> r = ReadFrame(stream, 16, clock.Now() + kLongFakeTimeout, &senders);
  writer.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (Bytes{0xaa, 0xbb}));
  EXPECT_THAT(senders.pids, ElementsAre(getpid()));

  FakeClockTicker ticker(clock, absl::Minutes(1));
  absl::StatusOr<Bytes> silent = ReadFrame(stream, 16, clock.Now() + kLongFakeTimeout, &senders);
  EXPECT_EQ(silent.status().code(), absl::StatusCode::kDeadlineExceeded) << silent.status();
}

TEST(NsmSocketFramingTest, WritingMoreThanTheLimitIsInvalidArgument) {
  SocketPair p;
  EXPECT_EQ(WriteFrame(p.a(), Bytes(17, 0), 16, kLongTimeout).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NsmSocketFramingTest, WritingToAClosedPeerFailsWithoutSigpipe) {
  SocketPair p;
  p.CloseB();
  absl::Status s = WriteFrame(p.a(), Bytes{1, 2, 3}, 16, kLongTimeout);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

TEST(NsmSocketFramingTest, WriterBlockedByAFullPeerTimesOut) {
  SocketPair p;
  FakeClock clock(absl::UnixEpoch());
  net::BlockingStream stream = StreamOn(p.a(), clock);
  FakeClockTicker ticker(clock, absl::Minutes(1));
  // Nobody reads p.b(): a frame bigger than both socket buffers cannot complete.
  absl::Status s = WriteFrame(stream, Bytes(8 << 20, 0), 8 << 20, clock.Now() + kLongFakeTimeout);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
}

}  // namespace
}  // namespace lockout::nsm
