#pragma once

// Loading the AWS SigV4 test suite (shared/vectors/sigv4/aws-sig-v4-test-suite) for the signer and
// verifier tests. The suite is enumerated at run time; nothing from it is copied into the repo.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/aws/http_request.h"
#include "src/aws/sigv4.h"
#include "src/common/bytes.h"
#include "tests/testing/vectors.h"

namespace lockout::aws::testing {

// The suite's fixed parameters (its README and SOURCES.md): the AWS documentation's example
// credentials, 2015-08-30T12:36:00Z, us-east-1, service "service".
inline constexpr char kSuiteAccessKeyId[] = "AKIDEXAMPLE";
inline constexpr char kSuiteSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
inline constexpr char kSuiteRegion[] = "us-east-1";
inline constexpr char kSuiteService[] = "service";
inline constexpr char kSuiteAnchor[] = "sigv4/aws-sig-v4-test-suite/get-vanilla/get-vanilla.req";
inline constexpr size_t kSuiteCaseCount = 31;

inline absl::Time SuiteTime() {
  return absl::FromCivil(absl::CivilSecond(2015, 8, 30, 12, 36, 0), absl::UTCTimeZone());
}

struct SuiteCase {
  std::string name;  // e.g. "normalize-path/get-space"
  std::string req, creq, sts, authz, sreq;
};

inline std::string ReadText(const std::filesystem::path& p) {
  return ToString(::lockout::testing::ReadTestFile(p.string()));
}

// Every directory under the suite root that holds "<dirname>.req", sorted by name.
inline std::vector<SuiteCase> LoadSuite(const std::string& anchor_path) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(anchor_path).parent_path().parent_path();
  std::vector<SuiteCase> cases;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_directory()) continue;
    const std::string base = e.path().filename().string();
    const fs::path req = e.path() / (base + ".req");
    if (!fs::is_regular_file(req)) continue;
    SuiteCase c;
    c.name = fs::relative(e.path(), root).generic_string();
    c.req = ReadText(req);
    c.creq = ReadText(e.path() / (base + ".creq"));
    c.sts = ReadText(e.path() / (base + ".sts"));
    c.authz = ReadText(e.path() / (base + ".authz"));
    c.sreq = ReadText(e.path() / (base + ".sreq"));
    cases.push_back(std::move(c));
  }
  std::sort(cases.begin(), cases.end(),
            [](const SuiteCase& a, const SuiteCase& b) { return a.name < b.name; });
  return cases;
}

inline bool IsTokenCase(const SuiteCase& c) { return c.name.starts_with("post-sts-token/"); }

// The session token the suite uses, read from post-sts-header-before.req (never copied here).
inline std::string SuiteSessionToken(const std::vector<SuiteCase>& cases) {
  for (const SuiteCase& c : cases) {
    if (c.name != "post-sts-token/post-sts-header-before") continue;
    absl::StatusOr<HttpRequest> req = ParseHttpRequestText(c.req);
    if (!req.ok()) return "";
    return std::string(req->FindHeader("x-amz-security-token").value_or(""));
  }
  return "";
}

inline AwsCredentials SuiteCredentials(std::string_view session_token = "") {
  return AwsCredentials{kSuiteAccessKeyId, SecretBytes::CopyFrom(std::string_view(kSuiteSecret)),
                        SecretBytes::CopyFrom(session_token)};
}

// The "Signature=..." part of an Authorization value.
inline std::string SignatureOf(std::string_view authz) {
  size_t p = authz.find("Signature=");
  return p == std::string_view::npos ? "" : std::string(authz.substr(p + 10));
}

// The Authorization header value from a .sreq text.
inline std::string AuthorizationOf(const std::string& sreq_text) {
  absl::StatusOr<HttpRequest> r = ParseHttpRequestText(sreq_text);
  if (!r.ok()) return "";
  std::string_view v = r->FindHeader("authorization").value_or("");
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return std::string(v);
}

}  // namespace lockout::aws::testing
