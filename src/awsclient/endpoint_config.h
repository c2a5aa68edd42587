#pragma once

// Where an AWS client sends its requests.
//
// An endpoint is an AWS endpoint URL (http://127.0.0.1:4566 for local-aws,
// https://kms.us-east-1.amazonaws.com in production) plus, optionally, a "connect via" socket
// endpoint (src/net/endpoint.h, e.g. vsock://3:8000 for the parent's vsock-proxy). The TCP/vsock
// connection goes to `connect_via` when set, to the URL's host and port otherwise; the Host header,
// the TLS SNI and the name the server certificate must carry always come from the URL.
//
// Endpoint URLs come from configuration (flags, environment), never from peers; they carry no
// secrets, so errors quote them.
// Value types: copyable, thread-compatible.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/net/endpoint.h"

namespace lockout::awsclient {

// Debian's (and the enclave image's) bundle of trusted CA certificates.
inline constexpr std::string_view kDefaultCaBundlePath = "/etc/ssl/certs/ca-certificates.crt";

// A parsed endpoint URL: scheme "http" or "https" (lower case), a host (DNS name, IPv4 dotted
// quad or bracketed IPv6 literal), an optional port, an optional absolute path. No user info,
// query or fragment.
class EndpointUrl final {
 public:
  // Errors: InvalidArgument naming the URL and what is wrong with it.
  static absl::StatusOr<EndpointUrl> Parse(std::string_view url);

  bool tls() const { return tls_; }
  // The host without brackets ("kms.us-east-1.amazonaws.com", "127.0.0.1", "::1").
  const std::string& host() const { return host_; }
  bool host_is_ip_literal() const { return host_is_ip_; }
  // The explicit port, or 443 / 80 by scheme.
  uint16_t port() const { return port_; }
  // The request path JSON calls POST to: the URL's path, "/" when it has none.
  const std::string& path() const { return path_; }

  // The Host header value: the host (IPv6 in brackets) plus ":port" when the port is not the
  // scheme's default.
  std::string HostHeader() const;
  // Canonical form, e.g. "https://kms.us-east-1.amazonaws.com/".
  std::string ToString() const;

 private:
  EndpointUrl() = default;

  bool tls_ = false;
  std::string host_;
  bool host_is_ip_ = false;
  uint16_t port_ = 0;
  std::string path_ = "/";
};

struct EndpointConfig {
  EndpointUrl url;
  // Where the socket actually connects (nullopt: the URL's host and port over TCP).
  std::optional<net::Endpoint> connect_via;
  // PEM file of CA certificates that may sign the server's certificate (https only).
  std::string ca_bundle_path = std::string(kDefaultCaBundlePath);

  // Parses `url` (EndpointUrl::Parse) into a config with the given routing and CA bundle.
  static absl::StatusOr<EndpointConfig> FromUrl(
      std::string_view url, std::optional<net::Endpoint> connect_via = std::nullopt,
      std::string ca_bundle_path = std::string(kDefaultCaBundlePath));

  // The socket endpoint to connect to: `connect_via`, else tcp://HOST:PORT from the URL.
  net::Endpoint ConnectEndpoint() const;
  // For logs: "https://kms.us-east-1.amazonaws.com/ via vsock://3:8000".
  std::string ToString() const;
};

}  // namespace lockout::awsclient
