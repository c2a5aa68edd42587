#include "src/awsclient/http_transport.h"

#include <poll.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/common/strings.h"
#include "src/http/http_server.h"
#include "src/net/socket.h"
#include "tests/awsclient/test_servers.h"

namespace lockout::awsclient {
namespace {

using testing::MakeSelfSignedCertificate;
using testing::RawReply;
using testing::RawTestServer;
using testing::TestCertificate;
using testing::WriteTempFile;

aws::HttpRequest Post(std::string body) {
  aws::HttpRequest r;
  r.method = "POST";
  r.target = "/";
  r.SetHeader("Content-Type", "application/x-amz-json-1.1");
  r.body = std::move(body);
  return r;
}

std::unique_ptr<HttpTransport> MakeTransport(const std::string& url,
                                             std::optional<net::Endpoint> via = std::nullopt,
                                             std::string ca = std::string(kDefaultCaBundlePath),
                                             HttpTransportOptions options = {}) {
  absl::StatusOr<EndpointConfig> config = EndpointConfig::FromUrl(url, via, ca);
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::unique_ptr<HttpTransport>> t =
      HttpTransport::Create(*config, std::move(options));
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

// An http::HttpServer that echoes method, target, Host and body.
class EchoServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::HttpServerOptions options;
    options.threads = 2;
    server_ = std::make_unique<http::HttpServer>(options);
    ASSERT_TRUE(server_
                    ->Start([this](const aws::HttpRequest& r) {
                      ++requests_;
                      return http::HttpResponse::Json(
                          200, absl::StrCat(r.method, " ", r.target, " ",
                                            Absl(r.FindHeader("Host").value_or("-")), " ", r.body));
                    })
                    .ok());
    url_ = absl::StrCat("http://127.0.0.1:", server_->port());
  }

  std::unique_ptr<http::HttpServer> server_;
  std::atomic<int> requests_{0};
  std::string url_;
};

TEST_F(EchoServerTest, SendsRequestAndReturnsStatusHeadersAndBody) {
  auto transport = MakeTransport(url_);
  absl::StatusOr<HttpResponse> r = transport->Send(Post("hello"), absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, absl::StrCat("POST / 127.0.0.1:", server_->port(), " hello"));
  EXPECT_EQ(r->FindHeader("content-type"), "application/x-amz-json-1.1");
}

TEST_F(EchoServerTest, ReusesOneKeepAliveConnectionForSequentialRequests) {
  auto transport = MakeTransport(url_);
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<HttpResponse> r = transport->Send(Post(std::to_string(i)), absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->body.back(), static_cast<char>('0' + i));
  }
  EXPECT_EQ(transport->connections_opened(), 1u);
  EXPECT_EQ(requests_.load(), 5);
}

TEST_F(EchoServerTest, ConnectViaRoutesTheSocketWhileHostHeaderFollowsTheUrl) {
  auto transport = MakeTransport("http://kms.us-east-1.amazonaws.com:8000",
                                 *net::Endpoint::Tcp("127.0.0.1", server_->port()));
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "POST / kms.us-east-1.amazonaws.com:8000 x");
}

TEST_F(EchoServerTest, ResponseBodyOverTheLimitIsResourceExhausted) {
  HttpTransportOptions options;
  options.max_response_body_bytes = 8;
  auto transport = MakeTransport(url_, std::nullopt, std::string(kDefaultCaBundlePath), options);
  absl::StatusOr<HttpResponse> r =
      transport->Send(Post("a body that makes the echo too long"), absl::Seconds(10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
}

TEST(HttpTransportTest, ConnectionRefusedIsUnavailable) {
  // Bind a port, then close it: nothing listens there.
  uint16_t port;
  {
    absl::StatusOr<net::Listener> l = net::Listen(*net::Endpoint::Tcp("127.0.0.1", 0));
    ASSERT_TRUE(l.ok());
    port = static_cast<uint16_t>(l->local_endpoint().port());
  }
  auto transport = MakeTransport(absl::StrCat("http://127.0.0.1:", port));
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST(HttpTransportTest, ServerThatNeverAnswersHitsTheDeadline) {
  RawTestServer server(RawTestServer::Mode::kNeverAnswer, nullptr);
  auto transport = MakeTransport(absl::StrCat("http://127.0.0.1:", server.port()));
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Milliseconds(300));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
}

TEST(HttpTransportTest, ResendsOnAFreshConnectionWhenTheServerClosedTheKeptAliveOne) {
  RawTestServer server(RawTestServer::Mode::kCloseAfterResponse, [](const aws::HttpRequest& r) {
    return RawReply{200, "ok:" + r.body, {}};
  });
  auto transport = MakeTransport(absl::StrCat("http://127.0.0.1:", server.port()));
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<HttpResponse> r = transport->Send(Post(std::to_string(i)), absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    EXPECT_EQ(r->body, "ok:" + std::to_string(i));
  }
  EXPECT_EQ(server.requests(), 3);  // each request reached the server exactly once
  EXPECT_EQ(transport->connections_opened(), 3u);
}

// Reads one HTTP/1.1 request (headers, then Content-Length bytes of body) from a socket the
// net layer made non-blocking; false on timeout, error or end of stream.
bool ReadWholeRequest(int fd) {
  std::string in;
  size_t need = std::string::npos;  // total request size, once the headers are in
  while (need == std::string::npos || in.size() < need) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, /*timeout_ms=*/10000) != 1) return false;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
    const size_t end = in.find("\r\n\r\n");
    if (need == std::string::npos && end != std::string::npos) {
      size_t body = 0;
      const std::string headers = absl::AsciiStrToLower(in.substr(0, end));
      if (const size_t at = headers.find("content-length:"); at != std::string::npos) {
        const size_t eol = headers.find("\r\n", at);
        const std::string value =
            headers.substr(at + 15, eol == std::string::npos ? eol : eol - at - 15);
        if (!absl::SimpleAtoi(value, &body)) return false;
      }
      need = end + 4 + body;
    }
  }
  return true;
}

TEST(HttpTransportTest, MalformedResponseIsInternal) {
  // A server that answers with something that is not HTTP.
  absl::StatusOr<net::Listener> listener = net::Listen(*net::Endpoint::Tcp("127.0.0.1", 0));
  ASSERT_TRUE(listener.ok());
  std::thread t([&] {
    absl::StatusOr<UniqueFd> fd = net::Accept(*listener, absl::Seconds(10));
    if (!fd.ok()) return;
    // Reply only once the whole request is in: closing with unread bytes makes the kernel send
    // a reset, which the client would rightly report as a connection failure instead.
    if (!ReadWholeRequest(fd->get())) return;
    (void)net::WriteAll(fd->get(), std::string_view("SSH-2.0-OpenSSH\r\n\r\n"), absl::Seconds(5));
  });
  auto transport =
      MakeTransport(absl::StrCat("http://127.0.0.1:", listener->local_endpoint().port()));
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(10));
  t.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal) << r.status();
}

TEST(HttpTransportTest, MissingCaBundleFailsAtCreate) {
  absl::StatusOr<EndpointConfig> config =
      EndpointConfig::FromUrl("https://localhost:1", std::nullopt, "/nonexistent/ca.pem");
  ASSERT_TRUE(config.ok());
  absl::StatusOr<std::unique_ptr<HttpTransport>> t = HttpTransport::Create(*config);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition) << t.status();
}

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = MakeSelfSignedCertificate("localhost", {"localhost"}, {"127.0.0.1"});
    ca_path_ = WriteTempFile("ca.pem", cert_.cert_pem);
    server_ = std::make_unique<RawTestServer>(
        RawTestServer::Mode::kNormal,
        [](const aws::HttpRequest& r) {
          return RawReply{200, std::string(r.FindHeader("Host").value_or("-")), {}};
        },
        cert_);
  }

  TestCertificate cert_;
  std::string ca_path_;
  std::unique_ptr<RawTestServer> server_;
};

TEST_F(TlsTransportTest, VerifiesServerWhenItsCertificateIsInTheCaBundle) {
  auto transport =
      MakeTransport(absl::StrCat("https://localhost:", server_->port()), std::nullopt, ca_path_);
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->body, absl::StrCat("localhost:", server_->port()));
  }
  EXPECT_EQ(transport->connections_opened(), 1u);  // the TLS session is kept alive too
}

TEST_F(TlsTransportTest, VerifiesAnIpAddressUrlAgainstTheCertificatesIpSan) {
  auto transport =
      MakeTransport(absl::StrCat("https://127.0.0.1:", server_->port()), std::nullopt, ca_path_);
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_F(TlsTransportTest, ConnectViaKeepsTlsNameFromTheUrl) {
  // Connect to 127.0.0.1 directly, but expect the certificate of "localhost" (as the enclave
  // connects to vsock-proxy but verifies kms.REGION.amazonaws.com).
  auto transport = MakeTransport(absl::StrCat("https://localhost:", server_->port()),
                                 *net::Endpoint::Tcp("127.0.0.1", server_->port()), ca_path_);
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, absl::StrCat("localhost:", server_->port()));
}

TEST_F(TlsTransportTest, RejectsServerSignedByAnotherCa) {
  TestCertificate other = MakeSelfSignedCertificate("localhost", {"localhost"}, {"127.0.0.1"});
  const std::string other_ca = WriteTempFile("other-ca.pem", other.cert_pem);
  auto transport =
      MakeTransport(absl::StrCat("https://localhost:", server_->port()), std::nullopt, other_ca);
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(TlsTransportTest, RejectsCertificateForAnotherHostName) {
  auto transport =
      MakeTransport(absl::StrCat("https://kms.us-east-1.amazonaws.com:", server_->port()),
                    *net::Endpoint::Tcp("127.0.0.1", server_->port()), ca_path_);
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("hostname mismatch"), std::string::npos)
      << r.status();
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(TlsTransportTest, RejectsCertificateWithoutTheUrlsIpAddress) {
  TestCertificate names_only = MakeSelfSignedCertificate("localhost", {"localhost"}, {});
  const std::string ca = WriteTempFile("names-only.pem", names_only.cert_pem);
  RawTestServer server(
      RawTestServer::Mode::kNormal,
      [](const aws::HttpRequest&) {
        return RawReply{200, "", {}};
      },
      names_only);
  auto transport =
      MakeTransport(absl::StrCat("https://127.0.0.1:", server.port()), std::nullopt, ca);
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
}

TEST_F(TlsTransportTest, PlainHttpClientAgainstTlsServerFailsCleanly) {
  auto transport = MakeTransport(absl::StrCat("http://127.0.0.1:", server_->port()));
  absl::StatusOr<HttpResponse> r = transport->Send(Post("x"), absl::Seconds(5));
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace lockout::awsclient
