#include "src/awsclient/aws_call_error.h"

#include <string>

#include "gtest/gtest.h"

namespace lockout::awsclient {
namespace {

TEST(ParseAwsErrorResponseTest, TakesTypeAndMessageFromJsonBody) {
  AwsCallError e = ParseAwsErrorResponse(
      400, {}, R"({"__type":"AccessDeniedException","message":"not allowed"})");
  EXPECT_EQ(e.type, "AccessDeniedException");
  EXPECT_EQ(e.message, "not allowed");
  EXPECT_EQ(e.http_status, 400);
}

TEST(ParseAwsErrorResponseTest, StripsNamespacePrefixFromType) {
  EXPECT_EQ(ParseAwsErrorResponse(
                400, {}, R"({"__type":"com.amazonaws.kms#NotFoundException","Message":"x"})")
                .type,
            "NotFoundException");
  EXPECT_EQ(ParseAwsErrorResponse(400, {}, R"({"__type":"ns#ThrottlingException"})").type,
            "ThrottlingException");
}

TEST(ParseAwsErrorResponseTest, FallsBackToErrorTypeHeaderThenHttpStatus) {
  EXPECT_EQ(
      ParseAwsErrorResponse(
          400, {{"x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/x"}}, "{}")
          .type,
      "ValidationException");
  AwsCallError html = ParseAwsErrorResponse(502, {}, "<html>Bad Gateway secret-canary</html>");
  EXPECT_EQ(html.type, "HttpStatus502");
  EXPECT_TRUE(html.message.empty());  // a non-JSON body is never quoted
}

TEST(ParseAwsErrorResponseTest, SanitisesAndBoundsTheMessage) {
  AwsCallError e = ParseAwsErrorResponse(
      400, {}, R"({"__type":"X","message":"line1\nline2\u0000)" + std::string(2000, 'a') + "\"}");
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
  EXPECT_EQ(e.message.find('\0'), std::string::npos);
  EXPECT_LE(e.message.size(), kMaxAwsErrorMessage + 3);
}

TEST(ParseAwsErrorResponseTest, RejectsTypesThatAreNotIdentifiers) {
  EXPECT_EQ(ParseAwsErrorResponse(400, {}, R"({"__type":"Bad Type<script>"})").type,
            "HttpStatus400");
  EXPECT_EQ(ParseAwsErrorResponse(400, {}, R"({"__type":42})").type, "HttpStatus400");
}

TEST(ParseAwsErrorResponseTest, EveryTruncationOfAnErrorBodyStillYieldsAType) {
  const std::string body = R"({"__type":"com.amazonaws.kms#AccessDeniedException","message":"m"})";
  for (size_t n = 0; n <= body.size(); ++n) {
    AwsCallError e = ParseAwsErrorResponse(400, {}, body.substr(0, n));
    EXPECT_FALSE(e.type.empty());
    if (n < body.size()) {
      EXPECT_EQ(e.type, "HttpStatus400") << n;
    }
  }
}

TEST(ParseAwsErrorResponseTest, BitFlippedBodiesNeverCrash) {
  const std::string body = R"({"__type":"ThrottlingException","message":"Rate exceeded"})";
  for (size_t i = 0; i < body.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = body;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      AwsCallError e = ParseAwsErrorResponse(400, {}, flipped);
      EXPECT_FALSE(e.type.empty());
    }
  }
}

TEST(StatusCodeForAwsErrorTest, MapsAwsErrorsToStatusCodes) {
  auto code = [](std::string type, int http) {
    return StatusCodeForAwsError(AwsCallError{std::move(type), "", http});
  };
  EXPECT_EQ(code("AccessDeniedException", 400), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code("NotFoundException", 400), absl::StatusCode::kNotFound);
  EXPECT_EQ(code("ResourceNotFoundException", 400), absl::StatusCode::kNotFound);
  EXPECT_EQ(code("ResourceExistsException", 400), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(code("UnrecognizedClientException", 400), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code("ExpiredTokenException", 400), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code("InvalidCiphertextException", 400), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("MalformedPolicyDocumentException", 400), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("ThrottlingException", 400), absl::StatusCode::kUnavailable);
  EXPECT_EQ(code("KMSInternalException", 500), absl::StatusCode::kUnavailable);
  EXPECT_EQ(code("DisabledException", 400), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(code("SomethingNew", 400), absl::StatusCode::kFailedPrecondition);
}

TEST(IsRetryableAwsErrorTest, RetriesThrottlingAnd5xxButNotAccessDenied) {
  EXPECT_TRUE(IsRetryableAwsError({"ThrottlingException", "", 400}));
  EXPECT_TRUE(IsRetryableAwsError({"TooManyRequestsException", "", 400}));
  EXPECT_TRUE(IsRetryableAwsError({"HttpStatus429", "", 429}));
  EXPECT_TRUE(IsRetryableAwsError({"KMSInternalException", "", 500}));
  EXPECT_TRUE(IsRetryableAwsError({"HttpStatus503", "", 503}));
  EXPECT_FALSE(IsRetryableAwsError({"AccessDeniedException", "", 400}));
  EXPECT_FALSE(IsRetryableAwsError({"ValidationException", "", 400}));
  EXPECT_FALSE(IsRetryableAwsError({"NotFoundException", "", 404}));
}

TEST(MakeAwsCallStatusTest, CarriesARecoverableAwsCallError) {
  absl::Status s = MakeAwsCallStatus("kms.Decrypt", {"AccessDeniedException", "no", 400});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "kms.Decrypt: AccessDeniedException: no (HTTP 400)");
  std::optional<AwsCallError> e = GetAwsCallError(s);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type, "AccessDeniedException");
  EXPECT_EQ(e->message, "no");
  EXPECT_EQ(e->http_status, 400);
  EXPECT_TRUE(IsAwsErrorType(s, "AccessDeniedException"));
  EXPECT_FALSE(IsAwsErrorType(s, "AccessDenied"));
}

TEST(MakeAwsCallStatusTest, PlainStatusesCarryNoAwsCallError) {
  EXPECT_FALSE(GetAwsCallError(absl::UnavailableError("connection refused")).has_value());
  EXPECT_FALSE(GetAwsCallError(absl::OkStatus()).has_value());
  EXPECT_FALSE(IsAwsErrorType(absl::PermissionDeniedError("x"), "AccessDeniedException"));
}

}  // namespace
}  // namespace lockout::awsclient
