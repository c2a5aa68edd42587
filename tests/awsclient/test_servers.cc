#include "tests/awsclient/test_servers.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"
#include "src/aws/sigv4_verifier.h"
#include "src/common/clock.h"
#include "src/common/json.h"
#include "src/crypto/openssl_util.h"

namespace lockout::awsclient::testing {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

http::HttpServerOptions TwoThreads() {
  http::HttpServerOptions options;
  options.threads = 2;
  return options;
}

}  // namespace

aws::AwsCredentials TestCredentials() {
  aws::AwsCredentials c;
  c.access_key_id = kTestAccessKeyId;
  c.secret_access_key = SecretBytes::CopyFrom(std::string_view(kTestSecretKey));
  c.session_token = SecretBytes::CopyFrom(std::string_view(kTestSessionToken));
  return c;
}

FakeReply AwsErrorReply(int status, std::string type, std::string message) {
  FakeReply r;
  r.status = status;
  r.body = {{"__type", std::move(type)}, {"message", std::move(message)}};
  return r;
}

FakeAwsServer::FakeAwsServer(std::vector<std::string> services)
    : services_(std::move(services)), server_(TwoThreads()) {}

FakeAwsServer::~FakeAwsServer() { server_.Stop(); }

void FakeAwsServer::Start(Handler handler) {
  handler_ = std::move(handler);
  ASSERT_TRUE(server_.Start([this](const aws::HttpRequest& r) { return Handle(r); }).ok());
}

void FakeAwsServer::Stop() { server_.Stop(); }

std::string FakeAwsServer::url() const { return absl::StrCat("http://127.0.0.1:", port()); }
uint16_t FakeAwsServer::port() const { return server_.port(); }

std::vector<RecordedCall> FakeAwsServer::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

int FakeAwsServer::call_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(calls_.size());
}

http::HttpResponse FakeAwsServer::Handle(const aws::HttpRequest& request) {
  aws::SigV4VerifierOptions options;
  options.region = kTestRegion;
  options.services = services_;
  aws::SigV4Verifier verifier(
      [](std::string_view key_id) -> std::optional<aws::VerifierCredential> {
        if (key_id != kTestAccessKeyId) return std::nullopt;
        aws::VerifierCredential c;
        c.secret_access_key = SecretBytes::CopyFrom(std::string_view(kTestSecretKey));
        c.principal = "arn:aws:sts::111122223333:assumed-role/test/i-0123";
        c.session_token = kTestSessionToken;
        return c;
      },
      options, Clock::Real());
  aws::VerifyResult verified = verifier.Verify(request);
  if (!verified.ok()) {
    ++auth_failures_;
    nlohmann::json error = {{"__type", std::string(verified.error().TypeName())},
                            {"message", verified.error().message}};
    return http::HttpResponse::Json(verified.error().HttpStatus(), error.dump());
  }
  absl::StatusOr<nlohmann::json> body = ParseJson(request.body);
  if (!body.ok() || !body->is_object()) {
    return http::HttpResponse::Json(
        400, nlohmann::json{{"__type", "SerializationException"}, {"message", "bad body"}}.dump());
  }
  const std::string target(request.FindHeader("X-Amz-Target").value_or(""));
  const std::string operation = target.substr(target.find('.') + 1);
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back(RecordedCall{target, *body, request});
  }
  FakeReply reply = handler_(operation, *body);
  http::HttpResponse out = http::HttpResponse::Json(
      reply.status, reply.raw_body.has_value() ? *reply.raw_body : reply.body.dump());
  for (auto& h : reply.headers) out.headers.push_back(h);
  return out;
}

TestCertificate MakeSelfSignedCertificate(const std::string& common_name,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ip_addresses) {
  crypto::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EXPECT_NE(key, nullptr);
  crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  uint8_t serial[8];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  crypto::BignumPtr bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());

  std::vector<std::string> sans;
  for (const auto& d : dns_names) sans.push_back("DNS:" + d);
  for (const auto& ip : ip_addresses) sans.push_back("IP:" + ip);
  std::vector<std::pair<int, std::string>> extensions = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,digitalSignature,keyCertSign"}};
  if (!sans.empty()) extensions.push_back({NID_subject_alt_name, absl::StrJoin(sans, ",")});
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    EXPECT_NE(ext, nullptr);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);

  TestCertificate out;
  crypto::BioPtr cert_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  out.cert_pem = BioToString(cert_bio.get());
  crypto::BioPtr key_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = BioToString(key_bio.get());
  return out;
}

std::string WriteTempFile(const std::string& name, const std::string& contents) {
  static std::atomic<int> counter{0};
  const std::string path = absl::StrCat(::testing::TempDir(), "awsclient_", getpid(), "_",
                                        counter.fetch_add(1), "_", name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return path;
}

struct RawTestServer::Impl {
  RawTestServer* owner = nullptr;
  Mode mode = Mode::kNormal;
  Handler handler;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<ssl::context> tls;
  std::thread accept_thread;

  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::vector<std::thread> workers ABSL_GUARDED_BY(mu);
  std::vector<int> fds ABSL_GUARDED_BY(mu);

  void AcceptLoop() {
    while (true) {
      tcp::socket socket(ioc);
      beast::error_code ec;
      acceptor.accept(socket, ec);
      absl::MutexLock lock(&mu);
      if (stopping) return;
      if (ec) continue;
      ++owner->connections_;
      fds.push_back(socket.native_handle());
      workers.emplace_back([this, s = std::move(socket)]() mutable {
        Serve(s);
        // Forget the descriptor before it is closed, so Stop never shuts down a reused number.
        {
          absl::MutexLock worker_lock(&mu);
          std::erase(fds, s.native_handle());
        }
        beast::error_code ignored;
        s.close(ignored);
      });
    }
  }

  void Serve(tcp::socket& socket) {
    if (mode == Mode::kNeverAnswer) {
      mu.LockWhen(absl::Condition(&stopping));
      mu.Unlock();
      return;
    }
    if (tls) {
      ssl::stream<tcp::socket&> stream(socket, *tls);
      beast::error_code ec;
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) {
        ++owner->tls_failures_;
        return;
      }
      ServeStream(stream, socket);
    } else {
      ServeStream(socket, socket);
    }
  }

  template <typename Stream>
  void ServeStream(Stream& stream, tcp::socket& socket) {
    beast::flat_buffer buffer;
    while (true) {
      bhttp::request<bhttp::string_body> req;
      beast::error_code ec;
      bhttp::read(stream, buffer, req, ec);
      if (ec) return;
      ++owner->requests_;
      aws::HttpRequest request;
      request.method = std::string(req.method_string());
      request.target = std::string(req.target());
      for (const auto& f : req) {
        request.headers.push_back({std::string(f.name_string()), std::string(f.value())});
      }
      request.body = req.body();
      RawReply reply = handler(request);
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), 11};
      for (const auto& h : reply.headers) res.insert(h.name, h.value);
      res.body() = reply.body;
      res.prepare_payload();
      bhttp::write(stream, res, ec);
      if (ec) return;
      if (mode == Mode::kCloseAfterResponse) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
    }
  }
};

RawTestServer::RawTestServer(Mode mode, Handler handler, std::optional<TestCertificate> tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->owner = this;
  impl_->mode = mode;
  impl_->handler = std::move(handler);
  if (tls.has_value()) {
    impl_->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    impl_->tls->use_certificate_chain(asio::buffer(tls->cert_pem));
    impl_->tls->use_private_key(asio::buffer(tls->key_pem), ssl::context::pem);
  }
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread([this] { impl_->AcceptLoop(); });
}

RawTestServer::~RawTestServer() {
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopping = true;
    for (int fd : impl_->fds) ::shutdown(fd, SHUT_RDWR);
  }
  // Wake the blocking accept().
  {
    asio::io_context ioc;
    tcp::socket s(ioc);
    beast::error_code ec;
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  }
  impl_->accept_thread.join();
  {
    absl::MutexLock lock(&impl_->mu);
    workers.swap(impl_->workers);
  }
  for (auto& t : workers) t.join();
}

}  // namespace lockout::awsclient::testing
