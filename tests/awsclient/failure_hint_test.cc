#include "src/awsclient/failure_hint.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/awsclient/aws_call_error.h"

namespace lockout::awsclient {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

absl::Status Aws(std::string type, std::string message, int http = 400) {
  return MakeAwsCallStatus("secretsmanager.GetSecretValue",
                           AwsCallError{std::move(type), std::move(message), http});
}

const AwsCallContext kSecret = {.action = "secretsmanager:GetSecretValue",
                                .resource = "the secret \"lockout/key\"",
                                .region = "eu-west-1",
                                .if_missing = "lockout create-key stores a new one"};

TEST(ExplainAwsFailureTest, ConnectionRefusedNamesTheEndpointVariables) {
  AwsFailureHint h = ExplainAwsFailure(
      absl::UnavailableError("secretsmanager.GetSecretValue: connect to tcp://127.0.0.1:9: "
                             "Connection refused"),
      kSecret);
  EXPECT_EQ(h.cause, AwsFailureCause::kConnection);
  EXPECT_EQ(AwsFailureCauseName(h.cause), "connection");
  EXPECT_THAT(h.Text(),
              AllOf(HasSubstr("could not reach AWS"), HasSubstr("Connection refused"),
                    HasSubstr("AWS_ENDPOINT_URL"), HasSubstr("AWS_REGION (now eu-west-1)"),
                    Not(HasSubstr("GetSecretValue, e.g."))));
}

TEST(ExplainAwsFailureTest, AProgramWithItsOwnSettingsIsToldThoseNotTheVariables) {
  // lockout-enclave takes its KMS endpoint, region and CA bundle from flags.
  const AwsCallContext enclave = {.action = "kms:Decrypt",
                                  .resource = "",
                                  .region = "",
                                  .if_missing = "",
                                  .endpoint_setting = "--kms-endpoint (or AWS_ENDPOINT_URL_KMS)",
                                  .region_setting = "--region",
                                  .ca_bundle_setting = "--ca-bundle"};
  AwsFailureHint h =
      ExplainAwsFailure(absl::UnavailableError("kms.Decrypt: Connection refused"), enclave);
  EXPECT_EQ(h.cause, AwsFailureCause::kConnection);
  EXPECT_THAT(h.next_step, AllOf(HasSubstr("--kms-endpoint (or AWS_ENDPOINT_URL_KMS) if set"),
                                 HasSubstr("the region (--region)"), HasSubstr("(--ca-bundle)"),
                                 Not(HasSubstr("AWS_ENDPOINT_URL_<SERVICE>")),
                                 Not(HasSubstr("AWS_CA_BUNDLE")), Not(HasSubstr("AWS_REGION"))));
  h = ExplainAwsFailure(Aws("InvalidSignatureException", "scoped to a valid region, not 'x'"),
                        enclave);
  EXPECT_EQ(h.cause, AwsFailureCause::kRegion);
  EXPECT_THAT(h.next_step, AllOf(HasSubstr("set --region to"), HasSubstr("point --kms-endpoint"),
                                 Not(HasSubstr("AWS_REGION"))));
}

TEST(ExplainAwsFailureTest, TimeoutsAndTlsAreConnectionProblems) {
  EXPECT_EQ(ExplainAwsFailure(absl::DeadlineExceededError("timed out reading")).cause,
            AwsFailureCause::kConnection);
  EXPECT_EQ(
      ExplainAwsFailure(absl::FailedPreconditionError("TLS certificate of https://x rejected"))
          .cause,
      AwsFailureCause::kConnection);
  EXPECT_EQ(ExplainAwsFailure(Aws("InvalidSignatureException",
                                  "Credential should be scoped to correct service: 'kms'."))
                .cause,
            AwsFailureCause::kConnection);
}

TEST(ExplainAwsFailureTest, WrongRegionSaysSetAwsRegion) {
  AwsFailureHint h = ExplainAwsFailure(Aws("InvalidSignatureException",
                                           "Credential should be scoped to a valid region, not "
                                           "'eu-west-1'."),
                                       kSecret);
  EXPECT_EQ(h.cause, AwsFailureCause::kRegion);
  EXPECT_THAT(h.Text(), AllOf(HasSubstr("another region"), HasSubstr("set AWS_REGION"),
                              HasSubstr("now eu-west-1")));
}

TEST(ExplainAwsFailureTest, NoCredentialsNamesWhatToSet) {
  AwsFailureHint h = ExplainAwsFailure(absl::NotFoundError("no credentials: lost"));
  EXPECT_EQ(h.cause, AwsFailureCause::kCredentials);
  EXPECT_THAT(h.Text(),
              AllOf(HasSubstr("AWS_ACCESS_KEY_ID"), HasSubstr("AWS_PROFILE"),
                    HasSubstr("~/.aws/credentials"), HasSubstr("AWS_EC2_METADATA_DISABLED")));
}

TEST(ExplainAwsFailureTest, BadExpiredAndSkewedCredentials) {
  EXPECT_THAT(ExplainAwsFailure(Aws("UnrecognizedClientException", "invalid token")).Text(),
              AllOf(HasSubstr("does not recognise"), HasSubstr("AWS_ACCESS_KEY_ID")));
  EXPECT_THAT(ExplainAwsFailure(Aws("InvalidSignatureException",
                                    "The request signature we "
                                    "calculated does not match"))
                  .Text(),
              HasSubstr("AWS_SECRET_ACCESS_KEY"));
  EXPECT_THAT(ExplainAwsFailure(Aws("ExpiredTokenException", "expired")).Text(),
              AllOf(HasSubstr("expired"), HasSubstr("AWS_SESSION_TOKEN")));
  EXPECT_THAT(ExplainAwsFailure(Aws("InvalidSignatureException", "Signature expired: 2020")).Text(),
              HasSubstr("clock"));
  for (const char* type : {"UnrecognizedClientException", "ExpiredTokenException"}) {
    EXPECT_EQ(ExplainAwsFailure(Aws(type, "")).cause, AwsFailureCause::kCredentials) << type;
  }
}

TEST(ExplainAwsFailureTest, AccessDeniedNamesPrincipalActionAndResource) {
  AwsFailureHint h = ExplainAwsFailure(
      Aws("AccessDeniedException",
          "User: arn:aws:iam::1:user/bob is not authorized to perform: "
          "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:eu-west-1:1:secret:x "
          "because no identity-based policy allows it"),
      kSecret);
  EXPECT_EQ(h.cause, AwsFailureCause::kPermission);
  EXPECT_THAT(h.what, HasSubstr("arn:aws:iam::1:user/bob may not call "
                                "secretsmanager:GetSecretValue on "
                                "arn:aws:secretsmanager:eu-west-1:1:secret:x"));
  EXPECT_THAT(h.next_step,
              HasSubstr("allow secretsmanager:GetSecretValue to arn:aws:iam::1:user/bob"));
  // A denial that names nobody falls back to the caller's context.
  AwsFailureHint bare = ExplainAwsFailure(Aws("AccessDeniedException", "denied"), kSecret);
  EXPECT_THAT(bare.what, HasSubstr("these credentials may not call secretsmanager:GetSecretValue "
                                   "on the secret \"lockout/key\""));
}

TEST(ExplainAwsFailureTest, MissingResourceIsNotAPermissionProblem) {
  AwsFailureHint h = ExplainAwsFailure(
      Aws("ResourceNotFoundException", "Secrets Manager can't find the specified secret."),
      kSecret);
  EXPECT_EQ(h.cause, AwsFailureCause::kNotFound);
  EXPECT_THAT(h.Text(), AllOf(HasSubstr("the secret \"lockout/key\" does not exist in eu-west-1"),
                              HasSubstr("check the name, AWS_REGION (now eu-west-1)"),
                              HasSubstr("lockout create-key"), Not(HasSubstr("permission"))));
  EXPECT_EQ(ExplainAwsFailure(Aws("NotFoundException", "")).cause, AwsFailureCause::kNotFound);
}

TEST(ExplainAwsFailureTest, ThrottlingAndServerErrorsSayRetry) {
  AwsFailureHint t = ExplainAwsFailure(Aws("ThrottlingException", "Rate exceeded"));
  EXPECT_EQ(t.cause, AwsFailureCause::kThrottled);
  EXPECT_THAT(t.next_step, HasSubstr("try again"));
  AwsFailureHint s = ExplainAwsFailure(Aws("InternalFailure", "", 500));
  EXPECT_EQ(s.cause, AwsFailureCause::kOther);
  EXPECT_THAT(s.next_step, HasSubstr("try again later"));
}

TEST(ExplainAwsFailureTest, OtherErrorsQuoteTheCallWithoutAHint) {
  AwsFailureHint h = ExplainAwsFailure(Aws("ValidationException", "bad field"));
  EXPECT_EQ(h.cause, AwsFailureCause::kOther);
  EXPECT_TRUE(h.next_step.empty());
  EXPECT_EQ(h.Text(), "secretsmanager.GetSecretValue: ValidationException: bad field (HTTP 400)");
}

}  // namespace
}  // namespace lockout::awsclient
