#include "src/http/http_server.h"

#include <atomic>
#include <string>

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

TEST(HttpServerStartTest, FailsClearlyOnBadHost) {
  HttpServerOptions options;
  options.host = "not-an-ip";
  HttpServer server(options);
  absl::Status s = server.Start([](const aws::HttpRequest&) { return HttpResponse{}; });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockout::http
