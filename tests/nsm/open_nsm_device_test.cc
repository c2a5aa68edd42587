#include "src/nsm/open_nsm_device.h"

#include <string>

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
