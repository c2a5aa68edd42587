#include "src/net/endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::net {
namespace {

absl::Status Invalid(std::string_view uri, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid endpoint \"", Absl(uri), "\": ", Absl(why),
                   " (expected vsock://CID:PORT, tcp://HOST:PORT or unix:///ABSOLUTE/PATH)"));
}

// Canonical unsigned decimal: digits only, no leading zeros (except "0" itself), <= max.
std::optional<uint64_t> ParseDecimal(std::string_view s, uint64_t max) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

bool IsIpv4Literal(std::string_view host) {
  in_addr addr{};
  return inet_pton(AF_INET, std::string(host).c_str(), &addr) == 1;
}

bool IsIpv6Literal(std::string_view host) {
  in6_addr addr{};
  return inet_pton(AF_INET6, std::string(host).c_str(), &addr) == 1;
}

// RFC 1123 host name: dot-separated labels of 1..63 letters, digits and hyphens, not starting or
// ending with a hyphen; at most 253 characters; one trailing dot is not accepted (canonical form).
bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label_start = 0;
  while (label_start <= host.size()) {
    size_t dot = host.find('.', label_start);
    if (dot == std::string_view::npos) dot = host.size();
    const std::string_view label = host.substr(label_start, dot - label_start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    label_start = dot + 1;
  }
  return true;
}

// Hosts made only of digits and dots must be IPv4 literals ("1.2.3" is not a name either).
absl::Status CheckTcpHost(std::string_view uri, std::string_view host, bool bracketed) {
  if (bracketed) {
    if (!IsIpv6Literal(host)) return Invalid(uri, "bracketed host is not an IPv6 address");
    return absl::OkStatus();
  }
  if (host.empty()) return Invalid(uri, "empty host");
  if (host.find(':') != std::string_view::npos) {
    return Invalid(uri, "IPv6 addresses must be in brackets, e.g. tcp://[::1]:5010");
  }
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
    if (!IsIpv4Literal(host)) return Invalid(uri, "host is not a valid IPv4 address");
    return absl::OkStatus();
  }
  if (!IsHostName(host)) return Invalid(uri, "host is not a valid host name");
  return absl::OkStatus();
}

}  // namespace

size_t MaxUnixPathLength() { return sizeof(sockaddr_un::sun_path) - 1; }

Endpoint Endpoint::Vsock(uint32_t cid, uint32_t port) {
  Endpoint e;
  e.transport_ = Transport::kVsock;
  e.cid_ = cid;
  e.port_ = port;
  return e;
}

absl::StatusOr<Endpoint> Endpoint::Tcp(std::string_view host, uint16_t port) {
  const bool bracketed = host.find(':') != std::string_view::npos;
  const std::string uri =
      absl::StrCat("tcp://", bracketed ? "[" : "", Absl(host), bracketed ? "]" : "", ":", port);
  if (absl::Status s = CheckTcpHost(uri, host, bracketed); !s.ok()) return s;
  Endpoint e;
  e.transport_ = Transport::kTcp;
  e.host_ = std::string(host);
  e.port_ = port;
  return e;
}

absl::StatusOr<Endpoint> Endpoint::Unix(std::string_view path) {
  const std::string uri = absl::StrCat("unix://", Absl(path));
  if (path.empty() || path.front() != '/') {
    return Invalid(uri, "unix socket path must be absolute (unix:///path)");
  }
  if (path.size() == 1 || path.back() == '/') {
    return Invalid(uri, "unix socket path names a directory");
  }
  if (path.find('\0') != std::string_view::npos) {
    return Invalid(uri, "unix socket path contains a NUL byte");
  }
  if (path.size() > MaxUnixPathLength()) {
    return Invalid(uri, absl::StrCat("unix socket path is ", path.size(), " bytes, longer than ",
                                     MaxUnixPathLength()));
  }
  Endpoint e;
  e.transport_ = Transport::kUnix;
  e.path_ = std::string(path);
  return e;
}

absl::StatusOr<Endpoint> Endpoint::Parse(std::string_view uri) {
  const size_t sep = uri.find("://");
  if (sep == std::string_view::npos) return Invalid(uri, "missing scheme");
  const std::string_view scheme = uri.substr(0, sep);
  const std::string_view rest = uri.substr(sep + 3);

  if (scheme == "unix") {
    // unix:///abs/path: the authority is empty and `rest` is the absolute path.
    if (rest.empty() || rest.front() != '/') {
      return Invalid(uri, "unix socket path must be absolute (unix:///path)");
    }
    return Unix(rest);
  }

  if (scheme == "vsock") {
    const size_t colon = rest.find(':');
    if (colon == std::string_view::npos) return Invalid(uri, "missing :PORT");
    const std::string_view cid_text = rest.substr(0, colon);
    const std::string_view port_text = rest.substr(colon + 1);
    uint32_t cid = 0;
    if (absl::AsciiStrToUpper(Absl(cid_text)) == "ANY") {
      cid = kVsockCidAny;
    } else {
      const std::optional<uint64_t> parsed = ParseDecimal(cid_text, UINT32_MAX);
      if (!parsed) return Invalid(uri, "CID must be \"ANY\" or a decimal 32-bit number");
      cid = static_cast<uint32_t>(*parsed);
    }
    const std::optional<uint64_t> port = ParseDecimal(port_text, UINT32_MAX);
    if (!port) return Invalid(uri, "vsock port must be a decimal 32-bit number");
    return Vsock(cid, static_cast<uint32_t>(*port));
  }

  if (scheme == "tcp") {
    std::string_view host;
    std::string_view after_host;
    bool bracketed = false;
    if (!rest.empty() && rest.front() == '[') {
      const size_t close = rest.find(']');
      if (close == std::string_view::npos) return Invalid(uri, "unterminated '['");
      host = rest.substr(1, close - 1);
      after_host = rest.substr(close + 1);
      bracketed = true;
    } else {
      const size_t colon = rest.rfind(':');
      if (colon == std::string_view::npos) return Invalid(uri, "missing :PORT");
      host = rest.substr(0, colon);
      after_host = rest.substr(colon);
    }
    if (after_host.empty() || after_host.front() != ':') return Invalid(uri, "missing :PORT");
    const std::optional<uint64_t> port = ParseDecimal(after_host.substr(1), 65535);
    if (!port) return Invalid(uri, "TCP port must be a decimal number 0..65535");
    if (absl::Status s = CheckTcpHost(uri, host, bracketed); !s.ok()) return s;
    Endpoint e;
    e.transport_ = Transport::kTcp;
    e.host_ = std::string(host);
    e.port_ = static_cast<uint32_t>(*port);
    return e;
  }

  return Invalid(uri, absl::StrCat("unknown scheme \"", Absl(scheme), "\""));
}

std::string Endpoint::ToString() const {
  switch (transport_) {
    case Transport::kVsock:
      if (cid_ == kVsockCidAny) return absl::StrCat("vsock://ANY:", port_);
      return absl::StrCat("vsock://", cid_, ":", port_);
    case Transport::kTcp:
      if (host_.find(':') != std::string::npos) {
        return absl::StrCat("tcp://[", host_, "]:", port_);
      }
      return absl::StrCat("tcp://", host_, ":", port_);
    case Transport::kUnix:
      return absl::StrCat("unix://", path_);
  }
  return "invalid://";
}

}  // namespace lockout::net
