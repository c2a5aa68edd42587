#include "src/nsm/unix_socket_nsm_device.h"

#include <unistd.h>

#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/nsm/nsm_client.h"
#include "src/nsm/nsm_socket_framing.h"
#include "tests/nsm/fake_nsm_server.h"
#include "tests/testing/fake_clock_ticker.h"

namespace lockout::nsm {
namespace {

using ::lockout::nsm::testing::FakeNsmServer;
using ::testing::HasSubstr;

constexpr absl::Duration kServerTimeout = absl::Seconds(10);

// A handler that answers every request frame with respond(request) until the client hangs up.
FakeNsmServer::Handler AnswerEach(std::function<Bytes(const Bytes&)> respond) {
  return [respond](int fd) {
    for (;;) {
      absl::StatusOr<Bytes> request = ReadFrame(fd, kMaxRequestSize, kServerTimeout);
      if (!request.ok()) return;
      if (!WriteFrame(fd, respond(*request), 1 << 20, kServerTimeout).ok()) return;
    }
  };
}

// Reads one request, then runs `misbehave` on the fd and waits for the client to hang up.
FakeNsmServer::Handler AfterOneRequest(std::function<void(int)> misbehave) {
  return [misbehave](int fd) {
    if (!ReadFrame(fd, kMaxRequestSize, kServerTimeout).ok()) return;
    misbehave(fd);
  };
}

void SendRaw(int fd, const Bytes& bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

std::unique_ptr<UnixSocketNsmDevice> MakeDevice(const std::string& path,
                                                UnixSocketNsmDeviceOptions options = {}) {
  absl::StatusOr<std::unique_ptr<UnixSocketNsmDevice>> d =
      UnixSocketNsmDevice::Create(path, options);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? std::move(*d) : nullptr;
}

TEST(UnixSocketNsmDeviceTest, SendsTheRequestFrameAndReturnsTheResponseFrame) {
  std::mutex mu;
  std::vector<Bytes> seen;
  FakeNsmServer server(AnswerEach([&](const Bytes& req) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(req);
    return Bytes(req.rbegin(), req.rend());
  }));
  auto device = MakeDevice(server.path());
  absl::StatusOr<Bytes> r = device->Call(Bytes{1, 2, 3, 4});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (Bytes{4, 3, 2, 1}));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (Bytes{1, 2, 3, 4}));
}

TEST(UnixSocketNsmDeviceTest, KeepsOneConnectionAcrossCalls) {
  FakeNsmServer server(AnswerEach([](const Bytes& req) { return req; }));
  auto device = MakeDevice(server.path());
  for (uint8_t i = 0; i < 5; ++i) {
    absl::StatusOr<Bytes> r = device->Call(Bytes{i});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, Bytes{i});
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(UnixSocketNsmDeviceTest, OversizedResponseIsRefusedAndTheNextCallReconnects) {
  std::atomic<int> calls{0};
  FakeNsmServer server([&](int fd) {
    if (calls++ == 0) {
      AfterOneRequest([](int f) {
        const uint32_t n = kMaxSocketResponseSize + 1;
        SendRaw(f, Bytes{static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                         static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
        (void)ReadFrame(f, kMaxRequestSize, kServerTimeout);  // until the client hangs up
      })(fd);
      return;
    }
    AnswerEach([](const Bytes&) { return Bytes{0x42}; })(fd);
  });
  auto device = MakeDevice(server.path());
  absl::StatusOr<Bytes> r = device->Call(Bytes{1});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(server.path()));

  absl::StatusOr<Bytes> again = device->Call(Bytes{1});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, Bytes{0x42});
  EXPECT_EQ(server.connections(), 2);
}

TEST(UnixSocketNsmDeviceTest, ConnectionClosedByTheServiceWhileIdleIsReplacedBeforeSending) {
  // This service answers one request per connection, then hangs up.
  FakeNsmServer server([](int fd) {
    absl::StatusOr<Bytes> request = ReadFrame(fd, kMaxRequestSize, kServerTimeout);
    if (request.ok()) (void)WriteFrame(fd, *request, kMaxRequestSize, kServerTimeout);
  });
  auto device = MakeDevice(server.path());
  ASSERT_TRUE(device->Call(Bytes{1}).ok());
  while (server.closed() < 1) std::this_thread::yield();
  absl::StatusOr<Bytes> second = device->Call(Bytes{2});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, Bytes{2});
  EXPECT_EQ(server.connections(), 2);
}

TEST(UnixSocketNsmDeviceTest, ResponseSizeLimitIsConfigurable) {
  FakeNsmServer server(AnswerEach([](const Bytes& req) { return Bytes(req[0], 0x11); }));
  UnixSocketNsmDeviceOptions options;
  options.max_response_size = 16;
  auto device = MakeDevice(server.path(), options);
  absl::StatusOr<Bytes> at_limit = device->Call(Bytes{16});
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(at_limit->size(), 16u);
  EXPECT_EQ(device->Call(Bytes{17}).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(UnixSocketNsmDeviceTest, ServerClosingMidResponseIsDataLoss) {
  FakeNsmServer server(AfterOneRequest([](int fd) {
    SendRaw(fd, Bytes{0x00, 0x00, 0x00, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  }));
  auto device = MakeDevice(server.path());
  absl::StatusOr<Bytes> r = device->Call(Bytes{1});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("10 of 100"));
}

TEST(UnixSocketNsmDeviceTest, ServerClosingWithoutAnsweringIsUnavailable) {
  FakeNsmServer server(AfterOneRequest([](int) {}));
  auto device = MakeDevice(server.path());
  absl::StatusOr<Bytes> r = device->Call(Bytes{1});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("without answering"));
}

TEST(UnixSocketNsmDeviceTest, SilentServerTimesOut) {
  FakeNsmServer server(AfterOneRequest([](int fd) {
    (void)ReadFrame(fd, kMaxRequestSize, kServerTimeout);  // never answers
  }));
  FakeClock clock(absl::UnixEpoch());
  UnixSocketNsmDeviceOptions options;
  options.timeout = absl::Hours(1);  // on the fake clock: passes in real milliseconds
  options.clock = &clock;
  auto device = MakeDevice(server.path(), options);
  lockout::testing::FakeClockTicker ticker(clock, absl::Minutes(1));
  absl::StatusOr<Bytes> r = device->Call(Bytes{1});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(server.path()));
}

TEST(UnixSocketNsmDeviceTest, MissingServiceIsUnavailable) {
  const std::string path = ::testing::TempDir() + "no-such-nsm-service.sock";
  auto device = MakeDevice(path);
  absl::StatusOr<Bytes> r = device->Call(Bytes{1});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(path));
}

TEST(UnixSocketNsmDeviceTest, ARelativePathIsTakenFromTheCurrentDirectory) {
  FakeNsmServer server(AnswerEach([](const Bytes& req) { return req; }));
  const std::string dir = server.path().substr(0, server.path().rfind('/'));
  char saved[4096];
  ASSERT_NE(getcwd(saved, sizeof(saved)), nullptr);
  ASSERT_EQ(chdir(dir.c_str()), 0);
  auto device = MakeDevice("nsm.sock");
  ASSERT_EQ(chdir(saved), 0);
  ASSERT_NE(device, nullptr);
  absl::StatusOr<Bytes> r = device->Call(Bytes{5});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Bytes{5});
}

TEST(UnixSocketNsmDeviceTest, PathsThatDoNotFitASocketAddressAreRejected) {
  EXPECT_EQ(UnixSocketNsmDevice::Create(std::string(200, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UnixSocketNsmDevice::Create("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UnixSocketNsmDevice::Create(std::string("a\0b", 3)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UnixSocketNsmDeviceTest, OversizedRequestIsRefusedWithoutConnecting) {
  FakeNsmServer server(AnswerEach([](const Bytes& req) { return req; }));
  auto device = MakeDevice(server.path());
  EXPECT_EQ(device->Call(Bytes(kMaxRequestSize + 1, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.connections(), 0);
  EXPECT_TRUE(device->Call(Bytes(kMaxRequestSize, 0)).ok());
}

TEST(UnixSocketNsmDeviceTest, ConcurrentCallsEachGetTheirOwnAnswer) {
  FakeNsmServer server(AnswerEach([](const Bytes& req) { return req; }));
  auto device = MakeDevice(server.path());
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (uint8_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint8_t i = 0; i < 20; ++i) {
        const Bytes req = {t, i};
        absl::StatusOr<Bytes> r = device->Call(req);
        if (!r.ok() || *r != req) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(UnixSocketNsmDeviceTest, TypedClientTalksToACodecServerThroughTheSharedFraming) {
  // What the local NSM service will do: decode requests, encode responses.
  FakeNsmServer server(AnswerEach([](const Bytes& wire) {
    absl::StatusOr<NsmRequest> req = DecodeRequest(wire);
    NsmResponse resp = ErrorResponse{ErrorCode::kInvalidArgument};
    if (req.ok()) {
      if (const auto* d = std::get_if<DescribePcrRequest>(&*req)) {
        resp = d->index < 32 ? NsmResponse(DescribePcrResponse{false, Bytes(48, 0)})
                             : NsmResponse(ErrorResponse{ErrorCode::kInvalidIndex});
      } else if (const auto* a = std::get_if<AttestationRequest>(&*req)) {
        resp = AttestationResponse{a->nonce.value_or(Bytes{})};
      }
    }
    return *EncodeResponse(resp);
  }));
  auto device = MakeDevice(server.path());
  NsmClient client(*device);
  absl::StatusOr<DescribePcrResponse> pcr = client.DescribePcr(0);
  ASSERT_TRUE(pcr.ok()) << pcr.status();
  EXPECT_EQ(pcr->data, Bytes(48, 0));
  absl::StatusOr<DescribePcrResponse> bad = client.DescribePcr(40);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("InvalidIndex"));
  const Bytes nonce = {0xde, 0xad};
  absl::StatusOr<Bytes> doc = client.Attestation(std::nullopt, ByteView(nonce), std::nullopt);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(*doc, nonce);
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace lockout::nsm
