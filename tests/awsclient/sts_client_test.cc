// The XML reader and STS reply parsers on good, hostile and malformed replies (the client's
// calls against a real STS are in tests/localaws/sts_service_test.cc and the interop tests).

#include "src/awsclient/sts_client.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/awsclient/xml_reply.h"
#include "src/common/clock.h"

namespace lockout::awsclient {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAssumeRoleReply[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>DevUser123</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLE&amp;tok</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
)";

TEST(StsRepliesTest, ParsesAssumeRole) {
  absl::StatusOr<AssumeRoleResult> r = ParseAssumeRoleResponse(kAssumeRoleReply);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->credentials.access_key_id, "ASIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(r->credentials.secret_access_key.RevealAsString(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
  EXPECT_EQ(r->credentials.session_token.RevealAsString(), "AQoDYXdzEPT//////////wEXAMPLE&tok");
  EXPECT_EQ(r->credentials.expiration, *ParseRfc3339("2019-11-09T13:34:41Z"));
  EXPECT_EQ(r->assumed_role_arn, "arn:aws:sts::123456789012:assumed-role/demo/John");
  EXPECT_EQ(r->assumed_role_id, "ARO123EXAMPLE123:John");
}

TEST(StsRepliesTest, ParsesGetCallerIdentityWithPrefixesCommentsAndCdata) {
  absl::StatusOr<CallerIdentity> r = ParseGetCallerIdentityResponse(
      "<!-- hi --><sts:GetCallerIdentityResponse xmlns:sts='x'><GetCallerIdentityResult>"
      "<Arn><![CDATA[arn:aws:iam::123456789012:user/Alice]]></Arn>"
      "<UserId>AIDA&#65;&#x42;</UserId><Account>123456789012</Account>"
      "</GetCallerIdentityResult></sts:GetCallerIdentityResponse>\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->arn, "arn:aws:iam::123456789012:user/Alice");
  EXPECT_EQ(r->user_id, "AIDAAB");
  EXPECT_EQ(r->account, "123456789012");
}

TEST(StsRepliesTest, MissingOrMisplacedElementsAreNamedNotQuoted) {
  std::string no_secret = kAssumeRoleReply;
  no_secret.replace(no_secret.find("<SecretAccessKey>"),
                    std::string("<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
                                "</SecretAccessKey>")
                        .size(),
                    "");
  absl::StatusOr<AssumeRoleResult> r = ParseAssumeRoleResponse(no_secret);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(r.status().ToString(), HasSubstr("SecretAccessKey"));

  std::string bad_time = kAssumeRoleReply;
  bad_time.replace(bad_time.find("2019-11-09T13:34:41Z"), 20, "tomorrow");
  EXPECT_THAT(ParseAssumeRoleResponse(bad_time).status().ToString(), HasSubstr("Expiration"));

  std::string nested = kAssumeRoleReply;
  nested.replace(nested.find("ASIAIOSFODNN7EXAMPLE"), 20, "<x>ASIA</x>");
  EXPECT_THAT(ParseAssumeRoleResponse(nested).status().ToString(), HasSubstr("AccessKeyId"));

  EXPECT_THAT(ParseAssumeRoleResponse("<GetCallerIdentityResponse/>").status().ToString(),
              HasSubstr("not an AssumeRoleResponse"));
  EXPECT_THAT(ParseGetCallerIdentityResponse(kAssumeRoleReply).status().ToString(),
              HasSubstr("not a GetCallerIdentityResponse"));
}

TEST(StsRepliesTest, MalformedXmlIsRefusedWithoutQuotingIt) {
  const char* bad[] = {
      "",
      "SECRETVALUE",
      "<a>SECRETVALUE",
      "<a>SECRETVALUE</b>",
      "<a><b>SECRETVALUE</a></b>",
      "<a>SECRETVALUE</a><c/>",
      "<a x=SECRETVALUE/>",
      "<a x='SECRETVALUE/>",
      "<a>&bogus;SECRETVALUE</a>",
      "<a>&#0;</a>",
      "<a>&#300;</a>",
      "<a>&#xZZ;</a>",
      "<a>SECRETVALUE &amp</a>",
      "<!DOCTYPE a [<!ENTITY e 'SECRETVALUE'>]><a>&e;</a>",
      "<a><!DOCTYPE x></a>",
      "<a><?pi SECRETVALUE?></a>",
      "<a><!-- SECRETVALUE </a>",
      "<a><![CDATA[SECRETVALUE</a>",
      "<?xml version='1.0'",
  };
  for (const char* text : bad) {
    absl::StatusOr<XmlElement> x = ParseXml(text);
    ASSERT_FALSE(x.ok()) << text;
    EXPECT_EQ(x.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(x.status().ToString(), Not(HasSubstr("SECRETVALUE"))) << text;
  }
}

TEST(StsRepliesTest, XmlLimitsHold) {
  std::string deep;
  for (int i = 0; i < kMaxXmlDepth + 1; ++i) deep += "<a>";
  for (int i = 0; i < kMaxXmlDepth + 1; ++i) deep += "</a>";
  EXPECT_THAT(ParseXml(deep).status().ToString(), HasSubstr("nested too deeply"));
  std::string wide = "<a>";
  for (size_t i = 0; i < kMaxXmlElements; ++i) wide += "<b/>";
  wide += "</a>";
  EXPECT_THAT(ParseXml(wide).status().ToString(), HasSubstr("too many elements"));
  EXPECT_THAT(ParseXml(std::string(kMaxXmlBytes + 1, ' ')).status().ToString(),
              HasSubstr("larger than"));
}

TEST(StsRepliesTest, ErrorRepliesGiveCodeAndMessage) {
  AwsCallError e = ParseQueryErrorResponse(
      403, R"(<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
    <Message>User: arn:aws:iam::1:user/x is not authorized to perform: sts:AssumeRole</Message>
  </Error><RequestId>r</RequestId></ErrorResponse>)");
  EXPECT_EQ(e.type, "AccessDenied");
  EXPECT_EQ(e.http_status, 403);
  EXPECT_THAT(e.message, HasSubstr("is not authorized to perform: sts:AssumeRole"));
  EXPECT_EQ(StatusCodeForAwsError(e), absl::StatusCode::kPermissionDenied);

  e = ParseQueryErrorResponse(400,
                              "<ErrorResponse><Error><Code>ValidationError</Code></Error>"
                              "</ErrorResponse>");
  EXPECT_EQ(StatusCodeForAwsError(e), absl::StatusCode::kInvalidArgument);
  e = ParseQueryErrorResponse(502, "<html>bad gateway SECRETVALUE</html>");
  EXPECT_EQ(e.type, "HttpStatus502");
  EXPECT_EQ(e.message, "");
  e = ParseQueryErrorResponse(400,
                              "<ErrorResponse><Error><Code>Throttling</Code></Error>"
                              "</ErrorResponse>");
  EXPECT_TRUE(IsRetryableAwsError(e));
}

}  // namespace
}  // namespace lockout::awsclient
