#pragma once

// Endpoint URIs for every socket lockout opens or listens on.
//
//   vsock://CID:PORT    CID decimal u32 or "ANY" (VMADDR_CID_ANY), PORT decimal u32
//   tcp://HOST:PORT     HOST an IPv4 dotted quad, a bracketed IPv6 literal "[::1]" or a DNS
//                       name (RFC 1123 labels, e.g. localhost); PORT 0..65535 (0 = any, for
//                       listening)
//   unix:///ABS/PATH    an absolute filesystem path, taken literally (no percent-decoding),
//                       shorter than sockaddr_un.sun_path
//
// Parsing is strict and canonical: lower-case scheme, decimal numbers without sign or leading
// zeros, nothing after the port. ToString() gives back a string that parses to an equal
// Endpoint. Errors are InvalidArgument and quote the offending URI (endpoints come from
// configuration and command lines, never from peers; they carry no secrets).
// Value type: copyable, thread-compatible.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lockout::net {

// VMADDR_CID_ANY, spelled "ANY" in URIs.
inline constexpr uint32_t kVsockCidAny = 0xFFFFFFFFu;
// The parent instance's CID as seen from an enclave (VMADDR_CID_HOST).
inline constexpr uint32_t kVsockCidHost = 3;

// Defaults (ARCHITECTURE §4).
inline constexpr std::string_view kDefaultEnclaveListen = "vsock://ANY:5010";
inline constexpr std::string_view kDefaultRelayListen = "vsock://ANY:5011";
inline constexpr std::string_view kDefaultEnclaveToRelay = "vsock://3:5011";

class Endpoint final {
 public:
  enum class Transport { kVsock, kTcp, kUnix };

  // Parses one URI as described above.
  static absl::StatusOr<Endpoint> Parse(std::string_view uri);

  // Builders; they validate like Parse (e.g. Tcp rejects an invalid host, Unix a relative path).
  static Endpoint Vsock(uint32_t cid, uint32_t port);
  static absl::StatusOr<Endpoint> Tcp(std::string_view host, uint16_t port);
  static absl::StatusOr<Endpoint> Unix(std::string_view path);

  Transport transport() const { return transport_; }
  bool is_vsock() const { return transport_ == Transport::kVsock; }
  bool is_tcp() const { return transport_ == Transport::kTcp; }
  bool is_unix() const { return transport_ == Transport::kUnix; }

  // vsock only.
  uint32_t vsock_cid() const { return cid_; }
  // tcp only: the host without brackets ("::1", "127.0.0.1", "localhost").
  const std::string& host() const { return host_; }
  // vsock and tcp.
  uint32_t port() const { return port_; }
  // unix only.
  const std::string& path() const { return path_; }

  // Canonical URI ("vsock://ANY:5010", "tcp://[::1]:80", "unix:///run/x.sock").
  std::string ToString() const;

  friend bool operator==(const Endpoint& a, const Endpoint& b) = default;

 private:
  Endpoint() = default;

  Transport transport_ = Transport::kTcp;
  uint32_t cid_ = 0;
  std::string host_;
  uint32_t port_ = 0;
  std::string path_;
};

// Maximum unix socket path length in bytes (sizeof(sockaddr_un::sun_path) - 1 for the NUL).
size_t MaxUnixPathLength();

}  // namespace lockout::net
