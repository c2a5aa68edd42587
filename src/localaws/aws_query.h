#pragma once

// The AWS query protocol as local-aws serves it (STS): form-encoded POST bodies in, XML out.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html
//
// Requests: "Action=AssumeRole&Version=2011-06-15&RoleArn=..." (application/x-www-form-urlencoded:
// '&'-separated name=value pairs, '+' is a space, %XX escapes). Replies: the operation's
// <ActionResponse xmlns="..."> document; errors:
//   <ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>AccessDenied</Code>
//   <Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>
// with the error's HTTP status, as AWS sends them (botocore reads Code and Message).
// Thread-safety: pure functions.

#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "src/http/http_server.h"
#include "src/localaws/aws_json.h"

namespace lockout::localaws {

inline constexpr size_t kMaxQueryParams = 128;

using QueryParams = std::map<std::string, std::string, std::less<>>;

// Parses a form body. Untrusted: InvalidArgument (naming the rule and the pair's index, never
// the text) for a bad %-escape, an empty name, a name given twice, more than kMaxQueryParams
// pairs, or a NUL byte (raw or escaped).
absl::StatusOr<QueryParams> ParseQueryForm(std::string_view body);

// Escapes &, <, >, " and ' for XML text and attribute values.
std::string XmlEscape(std::string_view text);

// A query-protocol result: the complete XML reply document, or an error.
using QueryResult = std::variant<std::string, AwsError>;

// The reply for `result` (text/xml). `xml_namespace` goes on the error document's root.
http::HttpResponse ToQueryHttpResponse(const QueryResult& result, std::string_view xml_namespace,
                                       std::string_view request_id);

}  // namespace lockout::localaws
