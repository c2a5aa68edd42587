#include "src/nsm/open_nsm_device.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/nsm/nsm_message.h"
#include "src/nsm/nsm_socket_framing.h"
#include "tests/nsm/fake_nsm_server.h"

namespace lockout::nsm {
namespace {

using ::lockout::nsm::testing::FakeNsmServer;
using ::testing::HasSubstr;

// Answers one request with its bytes reversed, so a reply proves the socket was used.
FakeNsmServer::Handler Reverse() {
  return [](int fd) {
    absl::StatusOr<Bytes> request = ReadFrame(fd, kMaxRequestSize, absl::Seconds(10));
    if (!request.ok()) return;
    (void)WriteFrame(fd, Bytes(request->rbegin(), request->rend()), 1 << 20, absl::Seconds(10));
  };
}

// The guest of `lockout run-enclave` reaches the NSM service over TCP (QEMU's guestfwd):
// the same framing on a TCP stream.
TEST(OpenNsmDeviceTest, TcpSchemeSpeaksTheSameFramingOverTcp) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::thread server([listener] {
    const int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    Reverse()(fd);
    close(fd);
  });
  absl::StatusOr<std::unique_ptr<NsmDevice>> d =
      OpenNsmDevice("tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  ASSERT_TRUE(d.ok()) << d.status();
  absl::StatusOr<Bytes> reply = (*d)->Call(Bytes{1, 2, 3});
  server.join();
  close(listener);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, (Bytes{3, 2, 1}));
}

TEST(OpenNsmDeviceTest, TcpSchemeNeedsAHostAndAPort) {
  for (const char* bad : {"tcp://", "tcp://127.0.0.1", "tcp://127.0.0.1:0", "tcp://:9000",
                          "tcp://10.0.2.100:9000/x"}) {
    absl::StatusOr<std::unique_ptr<NsmDevice>> d = OpenNsmDevice(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(d.status())) << bad << ": " << d.status();
  }
}

TEST(OpenNsmDeviceTest, UnixSchemeOpensTheSocket) {
  FakeNsmServer server(Reverse());
  absl::StatusOr<std::unique_ptr<NsmDevice>> d = OpenNsmDevice("unix://" + server.path());
  ASSERT_TRUE(d.ok()) << d.status();
  absl::StatusOr<Bytes> reply = (*d)->Call(Bytes{1, 2, 3});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, (Bytes{3, 2, 1}));
}

TEST(OpenNsmDeviceTest, APlainPathThatIsASocketOpensTheSocket) {
  FakeNsmServer server(Reverse());
  absl::StatusOr<std::unique_ptr<NsmDevice>> d = OpenNsmDevice(server.path());
  ASSERT_TRUE(d.ok()) << d.status();
  absl::StatusOr<Bytes> reply = (*d)->Call(Bytes{7, 8});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, (Bytes{8, 7}));
}

TEST(OpenNsmDeviceTest, UnixSchemeNeedsAnAbsolutePath) {
  for (const char* spec : {"unix://", "unix://relative/nsm.sock"}) {
    absl::StatusOr<std::unique_ptr<NsmDevice>> d = OpenNsmDevice(spec);
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_THAT(d.status().message(), HasSubstr("absolute path")) << spec;
  }
}

TEST(OpenNsmDeviceTest, AMissingDeviceIsNotFound) {
  absl::StatusOr<std::unique_ptr<NsmDevice>> d = OpenNsmDevice("/nonexistent/lockout-nsm");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lockout::nsm
