#include "src/localaws/aws_query.h"

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::localaws {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> Decode(std::string_view s, size_t index) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) {
        return absl::InvalidArgumentError(absl::StrCat("form parameter ", index, ": bad %-escape"));
      }
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  if (out.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("form parameter ", index, ": NUL byte"));
  }
  return out;
}

}  // namespace

absl::StatusOr<QueryParams> ParseQueryForm(std::string_view body) {
  QueryParams params;
  size_t index = 0;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body.remove_prefix(amp == std::string_view::npos ? body.size() : amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    if (++index > kMaxQueryParams) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxQueryParams, " form parameters"));
    }
    const size_t eq = pair.find('=');
    absl::StatusOr<std::string> name = Decode(pair.substr(0, eq), index);
    if (!name.ok()) return name.status();
    if (name->empty()) {
      return absl::InvalidArgumentError(absl::StrCat("form parameter ", index, ": empty name"));
    }
    absl::StatusOr<std::string> value =
        eq == std::string_view::npos ? std::string() : Decode(pair.substr(eq + 1), index);
    if (!value.ok()) return value.status();
    if (!params.emplace(*std::move(name), *std::move(value)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("form parameter ", index, ": name given twice"));
    }
  }
  return params;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

http::HttpResponse ToQueryHttpResponse(const QueryResult& result, std::string_view xml_namespace,
                                       std::string_view request_id) {
  http::HttpResponse r;
  if (const std::string* document = std::get_if<std::string>(&result)) {
    r.status = 200;
    r.body = *document;
  } else {
    const AwsError& e = std::get<AwsError>(result);
    r.status = e.status;
    r.body = absl::StrCat("<ErrorResponse xmlns=\"", XmlEscape(xml_namespace), "\">\n  <Error>\n",
                          "    <Type>", e.status >= 500 ? "Receiver" : "Sender", "</Type>\n",
                          "    <Code>", XmlEscape(e.type), "</Code>\n", "    <Message>",
                          XmlEscape(e.message), "</Message>\n  </Error>\n  <RequestId>",
                          XmlEscape(request_id), "</RequestId>\n</ErrorResponse>\n");
  }
  r.headers.push_back({"Content-Type", "text/xml"});
  return r;
}

}  // namespace lockout::localaws
