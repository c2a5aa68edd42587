#include "src/net/endpoint.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::net {
namespace {

using ::testing::HasSubstr;

struct ValidCase {
  const char* uri;
  Endpoint::Transport transport;
  uint32_t cid;
  const char* host;
  uint32_t port;
  const char* path;
  const char* canonical;
};

TEST(EndpointTest, ParsesValidUrisIntoTheirParts) {
  using T = Endpoint::Transport;
  const ValidCase cases[] = {
      {"vsock://ANY:5010", T::kVsock, kVsockCidAny, "", 5010, "", "vsock://ANY:5010"},
      {"vsock://any:5011", T::kVsock, kVsockCidAny, "", 5011, "", "vsock://ANY:5011"},
      {"vsock://3:5011", T::kVsock, 3, "", 5011, "", "vsock://3:5011"},
      {"vsock://20:5010", T::kVsock, 20, "", 5010, "", "vsock://20:5010"},
      {"vsock://0:0", T::kVsock, 0, "", 0, "", "vsock://0:0"},
      {"vsock://4294967295:4294967295", T::kVsock, kVsockCidAny, "", 4294967295u, "",
       "vsock://ANY:4294967295"},
      {"tcp://127.0.0.1:5010", T::kTcp, 0, "127.0.0.1", 5010, "", "tcp://127.0.0.1:5010"},
      {"tcp://0.0.0.0:0", T::kTcp, 0, "0.0.0.0", 0, "", "tcp://0.0.0.0:0"},
      {"tcp://localhost:65535", T::kTcp, 0, "localhost", 65535, "", "tcp://localhost:65535"},
      {"tcp://kms.eu-central-1.amazonaws.com:443", T::kTcp, 0, "kms.eu-central-1.amazonaws.com",
       443, "", "tcp://kms.eu-central-1.amazonaws.com:443"},
      {"tcp://[::1]:8000", T::kTcp, 0, "::1", 8000, "", "tcp://[::1]:8000"},
      {"tcp://[::]:0", T::kTcp, 0, "::", 0, "", "tcp://[::]:0"},
      {"tcp://[2001:db8::17]:80", T::kTcp, 0, "2001:db8::17", 80, "", "tcp://[2001:db8::17]:80"},
      {"unix:///run/lockout/enclave.sock", T::kUnix, 0, "", 0, "/run/lockout/enclave.sock",
       "unix:///run/lockout/enclave.sock"},
      {"unix:///tmp/a b:c", T::kUnix, 0, "", 0, "/tmp/a b:c", "unix:///tmp/a b:c"},
  };
  for (const ValidCase& c : cases) {
    absl::StatusOr<Endpoint> e = Endpoint::Parse(c.uri);
    ASSERT_TRUE(e.ok()) << c.uri << ": " << e.status();
    EXPECT_EQ(e->transport(), c.transport) << c.uri;
    if (c.transport == T::kVsock) {
      EXPECT_EQ(e->vsock_cid(), c.cid) << c.uri;
    }
    EXPECT_EQ(e->host(), c.host) << c.uri;
    if (c.transport != T::kUnix) {
      EXPECT_EQ(e->port(), c.port) << c.uri;
    }
    EXPECT_EQ(e->path(), c.path) << c.uri;
    EXPECT_EQ(e->ToString(), c.canonical) << c.uri;
    absl::StatusOr<Endpoint> again = Endpoint::Parse(e->ToString());
    ASSERT_TRUE(again.ok()) << c.canonical;
    EXPECT_EQ(*again, *e) << c.canonical;
  }
}

TEST(EndpointTest, RejectsMalformedUrisWithAClearMessage) {
  const std::string too_long_path = "unix:///" + std::string(MaxUnixPathLength(), 'p');
  const std::string too_long_host = "tcp://" + std::string(254, 'a') + ":1";
  const std::string long_label = "tcp://" + std::string(64, 'a') + ".com:1";
  const char* cases[] = {
      "",
      "5010",
      "localhost:5010",
      "tcp:/127.0.0.1:1",
      "TCP://127.0.0.1:1",
      "http://127.0.0.1:80",
      "udp://127.0.0.1:53",
      "vsock://",
      "vsock://3",
      "vsock://3:",
      "vsock://:5010",
      "vsock://-1:5010",
      "vsock://03:5010",
      "vsock://4294967296:1",
      "vsock://3:4294967296",
      "vsock://3:50x",
      "vsock://3:5010:1",
      "vsock://ANYX:1",
      "vsock://3:+5",
      "tcp://",
      "tcp://127.0.0.1",
      "tcp://127.0.0.1:",
      "tcp://:80",
      "tcp://127.0.0.1:65536",
      "tcp://127.0.0.1:-1",
      "tcp://127.0.0.1:080",
      "tcp://127.0.0.1:80/",
      "tcp://127.0.0.1:80?x",
      "tcp://256.0.0.1:80",
      "tcp://1.2.3:80",
      "tcp://01.2.3.4:80",
      "tcp://::1:80",
      "tcp://[::1]",
      "tcp://[::1:80",
      "tcp://[::1]80",
      "tcp://[127.0.0.1]:80",
      "tcp://[fe80::1%eth0]:80",
      "tcp://-bad.example:80",
      "tcp://bad-.example:80",
      "tcp://under_score:80",
      "tcp://trailing.dot.:80",
      "tcp://a..b:80",
      "tcp://user@host:80",
      "unix://",
      "unix://relative/path",
      "unix:/tmp/x",
      "unix:///",
      "unix:///tmp/dir/",
  };
  for (const char* uri : cases) {
    absl::StatusOr<Endpoint> e = Endpoint::Parse(uri);
    EXPECT_TRUE(absl::IsInvalidArgument(e.status())) << "accepted: \"" << uri << "\"";
    EXPECT_THAT(std::string(e.status().message()), HasSubstr("invalid endpoint")) << uri;
  }
  for (const std::string& uri : {too_long_path, too_long_host, long_label}) {
    EXPECT_TRUE(absl::IsInvalidArgument(Endpoint::Parse(uri).status())) << uri;
  }
  EXPECT_TRUE(
      absl::IsInvalidArgument(Endpoint::Parse(std::string("unix:///tmp/a\0b", 15)).status()));
}

TEST(EndpointTest, AcceptsTheLongestUnixPathThatFits) {
  const std::string path = "/" + std::string(MaxUnixPathLength() - 1, 'p');
  absl::StatusOr<Endpoint> e = Endpoint::Parse("unix://" + path);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->path(), path);
}

TEST(EndpointTest, NamesTheProblemInTheError) {
  EXPECT_THAT(std::string(Endpoint::Parse("tcp://::1:80").status().message()),
              HasSubstr("brackets"));
  EXPECT_THAT(std::string(Endpoint::Parse("ftp://x:1").status().message()),
              HasSubstr("unknown scheme \"ftp\""));
  EXPECT_THAT(std::string(Endpoint::Parse("unix://x").status().message()), HasSubstr("absolute"));
}

TEST(EndpointTest, DefaultsParse) {
  for (std::string_view uri :
       {kDefaultEnclaveListen, kDefaultRelayListen, kDefaultEnclaveToRelay}) {
    absl::StatusOr<Endpoint> e = Endpoint::Parse(uri);
    ASSERT_TRUE(e.ok()) << uri;
    EXPECT_TRUE(e->is_vsock());
    EXPECT_EQ(e->ToString(), uri);
  }
  EXPECT_EQ(Endpoint::Parse(kDefaultEnclaveToRelay)->vsock_cid(), kVsockCidHost);
}

TEST(EndpointTest, BuildersValidateLikeParse) {
  EXPECT_EQ(Endpoint::Vsock(3, 5011).ToString(), "vsock://3:5011");
  absl::StatusOr<Endpoint> v6 = Endpoint::Tcp("::1", 80);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "tcp://[::1]:80");
  EXPECT_FALSE(Endpoint::Tcp("bad host", 80).ok());
  EXPECT_FALSE(Endpoint::Tcp("", 80).ok());
  EXPECT_TRUE(Endpoint::Unix("/tmp/x.sock").ok());
  EXPECT_FALSE(Endpoint::Unix("x.sock").ok());
}

TEST(EndpointTest, EqualityComparesAllParts) {
  EXPECT_EQ(*Endpoint::Parse("vsock://ANY:1"), Endpoint::Vsock(kVsockCidAny, 1));
  EXPECT_NE(*Endpoint::Parse("vsock://3:1"), *Endpoint::Parse("vsock://3:2"));
  EXPECT_NE(*Endpoint::Parse("tcp://localhost:1"), *Endpoint::Parse("tcp://127.0.0.1:1"));
}

}  // namespace
}  // namespace lockout::net
