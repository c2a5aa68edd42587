#include "src/http/http_server.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"

namespace lockout::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.max_body_bytes = 1024;
    options.threads = 2;
    server_ = std::make_unique<HttpServer>(options);
    ASSERT_TRUE(server_
                    ->Start([this](const aws::HttpRequest& req) {
                      ++calls_;
                      std::string target(req.FindHeader("X-Amz-Target").value_or("none"));
                      return HttpResponse::Json(200, req.method + " " + req.target + " " + target +
                                                         " " + std::to_string(req.body.size()));
                    })
                    .ok());
    ASSERT_NE(server_->port(), 0);
  }

  void Connect(beast::tcp_stream& stream) {
    tcp::endpoint ep(net::ip::make_address("127.0.0.1"), server_->port());
    stream.connect(ep);
  }

  net::io_context ioc_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> calls_{0};
};

TEST_F(HttpServerTest, ServesManyRequestsOnOneKeepAliveConnection) {
  beast::tcp_stream stream(ioc_);
  Connect(stream);
  for (int i = 0; i < 5; ++i) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/", 11};
    req.set(bhttp::field::host, "localhost");
    req.set("X-Amz-Target", "TrentService.Encrypt");
    req.body() = std::string(static_cast<size_t>(i), 'x');
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buf, res);
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), "POST / TrentService.Encrypt " + std::to_string(i));
    EXPECT_EQ(res[bhttp::field::content_type], "application/x-amz-json-1.1");
  }
  EXPECT_EQ(calls_.load(), 5);
}

TEST_F(HttpServerTest, RejectsOversizedBodyWithoutCallingHandlerAndKeepsServing) {
  {
    beast::tcp_stream stream(ioc_);
    Connect(stream);
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/", 11};
    req.set(bhttp::field::host, "localhost");
    req.body() = std::string(4096, 'x');
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buf, res);
    EXPECT_EQ(res.result_int(), 413u);
  }
  EXPECT_EQ(calls_.load(), 0);
  beast::tcp_stream stream(ioc_);
  Connect(stream);
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/ok", 11};
  req.set(bhttp::field::host, "localhost");
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buf, res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(HttpServerTest, AnswersGarbageWith400) {
  beast::tcp_stream stream(ioc_);
  Connect(stream);
  std::string garbage = "NOT HTTP AT ALL\r\n\r\n";
  net::write(stream, net::buffer(garbage));
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  beast::error_code ec;
  bhttp::read(stream, buf, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(calls_.load(), 0);
}

// Sends one GET on `stream` and returns the status, or 0 if the connection failed.
unsigned GetStatus(beast::tcp_stream& stream) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/", 11};
  req.set(bhttp::field::host, "localhost");
  beast::error_code ec;
  bhttp::write(stream, req, ec);
  if (ec) return 0;
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buf, res, ec);
  return ec ? 0 : res.result_int();
}

TEST(HttpServerCapTest, AConnectionBeyondTheCapIsClosedAndTheNextIsServedOnceOneCloses) {
  HttpServerOptions options;
  options.threads = 1;
  options.max_connections = 2;
  HttpServer server(options);
  ASSERT_TRUE(
      server.Start([](const aws::HttpRequest&) { return HttpResponse::Text(200, "ok"); }).ok());
  net::io_context ioc;
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), server.port());
  auto first = std::make_unique<beast::tcp_stream>(ioc);
  first->connect(ep);
  ASSERT_EQ(GetStatus(*first), 200u);
  beast::tcp_stream second(ioc);
  second.connect(ep);
  ASSERT_EQ(GetStatus(second), 200u);
  EXPECT_EQ(server.open_connections(), 2);

  beast::tcp_stream third(ioc);
  third.connect(ep);  // the kernel completes the handshake; the server then closes it
  EXPECT_EQ(GetStatus(third), 0u);
  EXPECT_EQ(server.open_connections(), 2);
  EXPECT_EQ(GetStatus(second), 200u);  // the connections within the cap are untouched

  first.reset();
  bool served = false;
  for (int attempt = 0; attempt < 100 && !served; ++attempt) {
    beast::tcp_stream again(ioc);
    again.connect(ep);
    served = GetStatus(again) == 200u;
    if (!served) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(served);
}

TEST(HttpServerCapTest, AZeroCapIsRefused) {
  HttpServerOptions options;
  options.max_connections = 0;
  HttpServer server(options);
  EXPECT_EQ(server.Start([](const aws::HttpRequest&) { return HttpResponse{}; }).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpServerStartTest, FailsClearlyOnBadHost) {
  HttpServerOptions options;
  options.host = "not-an-ip";
  HttpServer server(options);
  absl::Status s = server.Start([](const aws::HttpRequest&) { return HttpResponse{}; });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockout::http
