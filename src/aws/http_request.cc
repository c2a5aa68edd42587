#include "src/aws/http_request.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/secret_bytes.h"
#include "src/common/strings.h"

namespace lockout::aws {
namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 7230 §3.2.6 tchar.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

absl::Status LineError(std::string_view what, size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat("http request: ", Absl(what), " at offset ", offset));
}

}  // namespace

bool HeaderNameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

std::string_view HttpRequest::Path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view HttpRequest::Query() const {
  std::string_view t = target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

std::vector<std::string_view> HttpRequest::HeaderValues(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const HttpHeader& h : headers) {
    if (HeaderNameEquals(h.name, name)) out.push_back(h.value);
  }
  return out;
}

std::optional<std::string_view> HttpRequest::FindHeader(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (HeaderNameEquals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

size_t HttpRequest::CountHeader(std::string_view name) const {
  return static_cast<size_t>(
      std::count_if(headers.begin(), headers.end(),
                    [&](const HttpHeader& h) { return HeaderNameEquals(h.name, name); }));
}

void HttpRequest::RemoveHeader(std::string_view name) {
  for (HttpHeader& h : headers) {
    if (HeaderNameEquals(h.name, name)) WipeString(h.value);
  }
  std::erase_if(headers, [&](const HttpHeader& h) { return HeaderNameEquals(h.name, name); });
}

void HttpRequest::SetHeader(std::string_view name, std::string_view value) {
  RemoveHeader(name);
  headers.push_back(HttpHeader{std::string(name), std::string(value)});
}

void HttpRequest::Wipe() {
  WipeString(body);
  for (HttpHeader& h : headers) WipeString(h.value);
}

absl::StatusOr<HttpRequest> ParseHttpRequestText(std::string_view text, size_t max_size,
                                                 size_t max_headers) {
  if (text.size() > max_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("http request: ", text.size(), " bytes exceeds the limit of ", max_size));
  }
  HttpRequest req;
  size_t pos = 0;
  bool first_line = true;
  bool saw_blank_line = false;
  while (pos < text.size()) {
    const size_t line_start = pos;
    size_t eol = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return LineError("bare CR", line_start);
    if (line.find('\0') != std::string_view::npos) return LineError("NUL byte", line_start);

    if (first_line) {
      first_line = false;
      size_t sp1 = line.find(' ');
      size_t sp2 = line.rfind(' ');
      if (sp1 == std::string_view::npos || sp1 == 0 || sp2 <= sp1 + 1) {
        return LineError("malformed request line", line_start);
      }
      std::string_view method = line.substr(0, sp1);
      std::string_view version = line.substr(sp2 + 1);
      if (!std::all_of(method.begin(), method.end(), IsTokenChar)) {
        return LineError("invalid method", line_start);
      }
      if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        return LineError("unsupported HTTP version", line_start + sp2 + 1);
      }
      req.method = std::string(method);
      req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
      continue;
    }
    if (line.empty()) {
      saw_blank_line = true;
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (req.headers.empty()) return LineError("continuation line before any header", line_start);
      absl::StrAppend(&req.headers.back().value, "\n", Absl(line));
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return LineError("header line without ':'", line_start);
    std::string_view name = line.substr(0, colon);
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return LineError("invalid header name", line_start);
    }
    if (req.headers.size() >= max_headers) {
      return LineError(absl::StrCat("more than ", max_headers, " headers"), line_start);
    }
    req.headers.push_back(HttpHeader{std::string(name), std::string(line.substr(colon + 1))});
  }
  if (first_line) return absl::InvalidArgumentError("http request: empty input");
  if (saw_blank_line) req.body = std::string(text.substr(pos));
  return req;
}

}  // namespace lockout::aws
