#pragma once

// Servers the awsclient tests talk to.
//
// FakeAwsServer: local-aws in miniature. An http::HttpServer that checks every request's SigV4
// signature with the real verifier (src/aws/sigv4_verifier.h) and answers AWS JSON 1.1 calls
// from a test-supplied handler. It records what it received so tests can assert request shapes
// and count attempts.
//
// RawTestServer: a small Boost.Asio HTTP/1.1 server, optionally TLS with a certificate the test
// generates, with behaviours HttpServer does not offer: close the connection after every reply
// (without saying so), never answer, answer with a huge body.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "src/aws/http_request.h"
#include "src/aws/sigv4.h"
#include "src/http/http_server.h"

namespace lockout::awsclient::testing {

inline constexpr char kTestRegion[] = "us-east-1";
inline constexpr char kTestAccessKeyId[] = "AKIDEXAMPLETEST00001";
inline constexpr char kTestSecretKey[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
inline constexpr char kTestSessionToken[] = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";

// Credentials the FakeAwsServer accepts (with the session token).
aws::AwsCredentials TestCredentials();

struct FakeReply {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
  std::vector<aws::HttpHeader> headers;
  std::optional<std::string> raw_body;  // sent instead of `body` when set
};

// Convenience: {"__type": type, "message": message} with `status`.
FakeReply AwsErrorReply(int status, std::string type, std::string message);

struct RecordedCall {
  std::string target;  // X-Amz-Target
  nlohmann::json body;
  aws::HttpRequest request;
};

class FakeAwsServer {
 public:
  // Answers `operation` ("Decrypt") of a verified call with `request` body.
  using Handler =
      std::function<FakeReply(const std::string& operation, const nlohmann::json& request)>;

  // `services`: the SigV4 signing names accepted ("kms", "secretsmanager").
  explicit FakeAwsServer(std::vector<std::string> services = {"kms", "secretsmanager"});
  ~FakeAwsServer();

  void Start(Handler handler);
  // Stops serving; the port is closed.
  void Stop();
  std::string url() const;  // http://127.0.0.1:PORT
  uint16_t port() const;

  std::vector<RecordedCall> calls() const;
  int call_count() const;
  int auth_failures() const { return auth_failures_.load(); }

 private:
  http::HttpResponse Handle(const aws::HttpRequest& request);

  std::vector<std::string> services_;
  Handler handler_;
  http::HttpServer server_;
  mutable absl::Mutex mu_;
  std::vector<RecordedCall> calls_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> auth_failures_{0};
};

// A self-signed certificate (P-256) usable as its own CA, with the given DNS and IP SANs.
struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
};
TestCertificate MakeSelfSignedCertificate(const std::string& common_name,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ip_addresses);

// Writes `contents` to a fresh file under the test's temp dir and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& contents);

struct RawReply {
  int status = 200;
  std::string body;
  std::vector<aws::HttpHeader> headers;
};

class RawTestServer {
 public:
  enum class Mode {
    kNormal,              // keep-alive, answers every request
    kCloseAfterResponse,  // answers, then closes the connection (no "Connection: close")
    kNeverAnswer,         // accepts and reads nothing, answers nothing
  };
  using Handler = std::function<RawReply(const aws::HttpRequest&)>;

  // `tls`: serve TLS with this certificate.
  RawTestServer(Mode mode, Handler handler, std::optional<TestCertificate> tls = std::nullopt);
  ~RawTestServer();

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  int tls_handshake_failures() const { return tls_failures_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> tls_failures_{0};
};

}  // namespace lockout::awsclient::testing
