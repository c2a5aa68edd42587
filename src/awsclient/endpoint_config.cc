#include "src/awsclient/endpoint_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

absl::Status Invalid(std::string_view url, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid AWS endpoint URL \"", Absl(url),
                                                 "\": ", Absl(why),
                                                 " (expected http(s)://HOST[:PORT][/PATH])"));
}

bool IsIpLiteral(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// RFC 3986 "pchar" plus '/': unreserved, percent escapes (checked loosely: '%' + 2 hex digits),
// sub-delims, ':' and '@'.
bool IsValidPath(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
    if (c == '%') {
      if (i + 2 >= path.size()) return false;
      for (size_t j = i + 1; j <= i + 2; ++j) {
        const char h = path[j];
        const bool hex = (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
        if (!hex) return false;
      }
      i += 2;
      continue;
    }
    if (std::string_view("/-._~!$&'()*+,;=:@").find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<EndpointUrl> EndpointUrl::Parse(std::string_view url) {
  EndpointUrl out;
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    out.tls_ = true;
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else {
    return Invalid(url, "scheme must be http:// or https://");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Invalid(url, "query and fragment are not allowed");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view path = rest.substr(slash);
    if (!IsValidPath(path)) return Invalid(url, "path has characters that need escaping");
    out.path_ = std::string(path);
  }
  if (authority.find('@') != std::string_view::npos) {
    return Invalid(url, "user info is not allowed");
  }
  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid(url, "unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    bracketed = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid(url, "junk after IPv6 literal");
      port_text = after.substr(1);
      if (port_text.empty()) return Invalid(url, "empty port");
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Invalid(url, "empty port");
    }
  }
  if (host.empty()) return Invalid(url, "empty host");
  out.port_ = out.tls_ ? 443 : 80;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || (port_text.size() > 1 && port_text.front() == '0')) {
      return Invalid(url, "port is not a decimal number 1..65535");
    }
    uint32_t port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return Invalid(url, "port is not a decimal number 1..65535");
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) return Invalid(url, "port is not a decimal number 1..65535");
    out.port_ = static_cast<uint16_t>(port);
  }
  if (bracketed && host.find(':') == std::string_view::npos) {
    return Invalid(url, "brackets are only for IPv6 literals");
  }
  if (!bracketed && host.find(':') != std::string_view::npos) {
    return Invalid(url, "IPv6 literals must be in brackets");
  }
  // The host rules are net::Endpoint's (DNS name, IPv4, IPv6); reuse them.
  absl::StatusOr<net::Endpoint> tcp = net::Endpoint::Tcp(host, out.port_);
  if (!tcp.ok()) return Invalid(url, "host is not a valid host name or IP address");
  out.host_ = std::string(host);
  out.host_is_ip_ = IsIpLiteral(out.host_);
  return out;
}

std::string EndpointUrl::HostHeader() const {
  const bool v6 = host_.find(':') != std::string::npos;
  std::string h = v6 ? absl::StrCat("[", host_, "]") : host_;
  if (port_ != (tls_ ? 443 : 80)) absl::StrAppend(&h, ":", port_);
  return h;
}

std::string EndpointUrl::ToString() const {
  return absl::StrCat(tls_ ? "https://" : "http://", HostHeader(), path_);
}

absl::StatusOr<EndpointConfig> EndpointConfig::FromUrl(std::string_view url,
                                                       std::optional<net::Endpoint> connect_via,
                                                       std::string ca_bundle_path) {
  absl::StatusOr<EndpointUrl> parsed = EndpointUrl::Parse(url);
  if (!parsed.ok()) return parsed.status();
  return EndpointConfig{*std::move(parsed), std::move(connect_via), std::move(ca_bundle_path)};
}

net::Endpoint EndpointConfig::ConnectEndpoint() const {
  if (connect_via.has_value()) return *connect_via;
  // Parse() already validated host and port with the same rules, so this cannot fail.
  return *net::Endpoint::Tcp(url.host(), url.port());
}

std::string EndpointConfig::ToString() const {
  std::string s = url.ToString();
  if (connect_via.has_value()) absl::StrAppend(&s, " via ", connect_via->ToString());
  return s;
}

}  // namespace lockout::awsclient
