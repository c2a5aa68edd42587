#include "src/relay/relay_service.h"

#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/relay/relay_protocol.h"
#include "tests/relay/fake_upstream.h"

namespace lockout::relay {
namespace {

using ::testing::HasSubstr;
using testing::kAllowedSecret;
using testing::kCanaryCiphertext;
using ::testing::Not;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

net::Frame RequestFrame(std::string_view json, net::FrameKind kind = net::FrameKind::kV1) {
  return net::Frame{kind, std::string(json), 0};
}

net::Frame GetSecretFrame(const std::string& name) {
  return RequestFrame(*EncodeGetSecretRequest({name}));
}

class RelayServiceTest : public ::testing::Test {
 protected:
  RelayServiceTest()
      : clock_(kT0),
        upstream_(kT0 + absl::Hours(1)),
        metrics_(&clock_),
        service_(&upstream_, *SecretAllowlist::Create({kAllowedSecret, "other/allowed"}), &metrics_,
                 &clock_) {}

  // Handles one frame and decodes the v1 reply.
  absl::StatusOr<GetSecretReply> Call(const net::Frame& frame) {
    SecretBytes reply = service_.Handle(frame, 1, "tcp://127.0.0.1:1");
    std::string_view text = reply.RevealAsString();
    EXPECT_TRUE(text.ends_with("$$$"));
    return DecodeReply(text.substr(0, text.size() - 3));
  }

  // Every test ends by checking no log line carried a credential or the secret.
  void TearDown() override {
    const std::string text = logs_.str();
    EXPECT_THAT(text, Not(HasSubstr("CANARY")));
    EXPECT_THAT(text, Not(HasSubstr(Base64Encode(AsBytes(kCanaryCiphertext)))));
  }

  testing::LogCapture logs_;
  FakeClock clock_;
  testing::FakeUpstream upstream_;
  RelayMetrics metrics_;
  RelayService service_;
};

TEST_F(RelayServiceTest, AllowedSecretGetsCiphertextAndCredentials) {
  absl::StatusOr<GetSecretReply> reply = Call(GetSecretFrame(kAllowedSecret));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ToString(reply->secret), kCanaryCiphertext);
  EXPECT_EQ(reply->credentials.access_key_id, "ASIAFAKEEXAMPLE");
  EXPECT_EQ(reply->credentials.secret_access_key.RevealAsString(), testing::kCanarySecretKey);
  EXPECT_EQ(reply->credentials.session_token.RevealAsString(), testing::kCanaryToken);
  EXPECT_EQ(reply->expiration, kT0 + absl::Hours(1));
  EXPECT_EQ(metrics_.requests("get_secret", "ok"), 1u);
  EXPECT_EQ(metrics_.upstream_calls(kOpGetSecretValue), 1u);

  nlohmann::json line = nlohmann::json::parse(logs_.str());
  EXPECT_EQ(line["event"], "relay_request");
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["op"], "get_secret");
  EXPECT_EQ(line["status"], "ok");
  EXPECT_EQ(line["secret_name"], kAllowedSecret);
  EXPECT_EQ(line["request_id"], 1);
  EXPECT_EQ(line["secret_bytes"], sizeof(kCanaryCiphertext) - 1);
  EXPECT_EQ(line["credentials_expire_in_s"], 3600);
  EXPECT_TRUE(line.contains("latency_ms"));
  EXPECT_TRUE(line.contains("reply_bytes"));
}

TEST_F(RelayServiceTest, V2RequestGetsAV2Reply) {
  SecretBytes reply = service_.Handle(
      RequestFrame(*EncodeGetSecretRequest({kAllowedSecret}), net::FrameKind::kV2), 1, "peer");
  net::FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(reply.Reveal()).ok());
  absl::StatusOr<std::optional<net::Frame>> frame = decoder.Next();
  ASSERT_TRUE(frame.ok() && frame->has_value());
  EXPECT_EQ((*frame)->kind, net::FrameKind::kV2);
  EXPECT_TRUE(DecodeReply((*frame)->payload).ok());
}

TEST_F(RelayServiceTest, NameNotOnTheAllowlistIsDeniedWithoutTouchingUpstream) {
  absl::StatusOr<GetSecretReply> reply = Call(GetSecretFrame("someone/elses/key"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(upstream_.credential_calls(), 0);
  EXPECT_EQ(upstream_.secret_calls(), 0);
  EXPECT_EQ(metrics_.requests("get_secret", "denied"), 1u);
  EXPECT_EQ(metrics_.errors(kKindDenied), 1u);
  nlohmann::json line = nlohmann::json::parse(logs_.str());
  EXPECT_EQ(line["status"], "denied");
  EXPECT_EQ(line["level"], "warn");
  EXPECT_EQ(line["secret_name"], "someone/elses/key");
}

TEST_F(RelayServiceTest, MalformedRequestsGetBadRequest) {
  for (std::string_view text :
       {std::string_view("{"), std::string_view("{}"),
        std::string_view(R"({"request_type":"get_secret"})"),
        std::string_view(R"({"request_type":"get_secret","payload":{"secret_name":7}})")}) {
    absl::StatusOr<GetSecretReply> reply = Call(RequestFrame(text));
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_EQ(metrics_.requests("invalid", "bad_request"), 4u);
  EXPECT_EQ(upstream_.credential_calls(), 0);
}

TEST_F(RelayServiceTest, UnknownRequestTypeIsAnsweredAsSuch) {
  absl::StatusOr<GetSecretReply> reply =
      Call(RequestFrame(R"({"request_type":"get_everything","payload":{}})"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(metrics_.requests("unknown", "unknown_request_type"), 1u);
  EXPECT_THAT(logs_.str(), Not(HasSubstr("get_everything")));
}

TEST_F(RelayServiceTest, SigningPolicyIsServedOnlyWhenConfiguredAndWithoutUpstreamCalls) {
  const net::Frame request = RequestFrame(EncodeGetSigningPolicyRequest());
  auto call = [&](const net::Frame& frame) {
    SecretBytes reply = service_.Handle(frame, 1, "tcp://127.0.0.1:1");
    std::string text(reply.RevealAsString());
    EXPECT_TRUE(text.ends_with("$$$"));
    return DecodeGetSigningPolicyReply(text.substr(0, text.size() - 3));
  };
  absl::StatusOr<std::string> none = call(request);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(metrics_.requests("get_signing_policy", "denied"), 1u);

  service_.ServeSigningPolicy(R"({"version": 1})");
  absl::StatusOr<std::string> served = call(request);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, R"({"version": 1})");
  EXPECT_EQ(metrics_.requests("get_signing_policy", "ok"), 1u);

  // v2 in, v2 out.
  SecretBytes v2 = service_.Handle(
      RequestFrame(EncodeGetSigningPolicyRequest(), net::FrameKind::kV2), 2, "tcp://127.0.0.1:1");
  const std::string_view text = v2.RevealAsString();
  ASSERT_GT(text.size(), 4u);
  EXPECT_TRUE(DecodeGetSigningPolicyReply(text.substr(4)).ok());

  absl::StatusOr<std::string> bad =
      call(RequestFrame(R"({"request_type":"get_signing_policy","payload":{}})"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(upstream_.credential_calls(), 0);
}

TEST_F(RelayServiceTest, EnclaveLogLinesAreWrittenAsTheRelaysOwnJsonLinesMarkedAsTheEnclaves) {
  AppendLogRequest log;
  log.lines.push_back({{"ts", "2026-12-06T18:00:00.000Z"},
                       {"level", "warn"},
                       {"event", "key_load_failed"},
                       {"source", "relay"},  // cannot pass for the relay's own line
                       {"reason", "invalid signing key"}});
  log.lines.push_back({{"event", "second"}});
  log.counters = {{"attested_replies_served", 5}, {"load_attempts", 2}};
  log.dropped = 3;
  SecretBytes reply =
      service_.Handle(RequestFrame(*EncodeAppendLogRequest(log)), 1, "vsock://16:1");
  std::string_view text = reply.RevealAsString();
  ASSERT_TRUE(text.ends_with("$$$"));
  absl::StatusOr<size_t> appended = DecodeAppendLogReply(text.substr(0, text.size() - 3));
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(*appended, 2u);
  EXPECT_EQ(upstream_.credential_calls(), 0);
  EXPECT_EQ(metrics_.requests("append_log", "ok"), 1u);
  EXPECT_EQ(metrics_.enclave_counter("attested_replies_served"), 5u);
  EXPECT_THAT(metrics_.RenderPrometheus(), HasSubstr("lockout_enclave_log_lines_dropped 3\n"));
  EXPECT_THAT(metrics_.RenderPrometheus(), HasSubstr("lockout_relay_enclave_log_lines_total 2\n"));

  // Each line is one JSON line of the relay's log: ts, level, event first, then "source".
  std::vector<nlohmann::json> enclave_lines;
  std::istringstream in(logs_.str());
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);  // every line of the log is JSON
    if (j.value("source", "") == "enclave") enclave_lines.push_back(j);
  }
  ASSERT_EQ(enclave_lines.size(), 2u);
  EXPECT_EQ(enclave_lines[0]["event"], "key_load_failed");
  EXPECT_EQ(enclave_lines[0]["level"], "warn");
  EXPECT_EQ(enclave_lines[0]["ts"], "2026-12-06T18:00:00.000Z");
  EXPECT_EQ(enclave_lines[0]["reason"], "invalid signing key");
  EXPECT_EQ(enclave_lines[1]["event"], "second");
  EXPECT_THAT(
      logs_.str(),
      HasSubstr(
          R"({"ts":"2026-12-06T18:00:00.000Z","level":"warn","event":"key_load_failed","source":"enclave")"));

  // A malformed report is a bad request and writes nothing.
  SecretBytes bad = service_.Handle(
      RequestFrame(
          R"({"request_type":"append_log","lines":[{"event":"x"}],"counters":{"BAD":1},"dropped":0})"),
      2, "vsock://16:1");
  EXPECT_EQ(metrics_.requests("append_log", "bad_request"), 0u);  // op unknown until decoded
  EXPECT_EQ(metrics_.errors(kKindBadRequest), 1u);
  EXPECT_EQ(metrics_.enclave_counter("BAD"), std::nullopt);
}

// Counts the relay's log lines that are the enclave's, and its rate-limit warnings.
std::pair<size_t, size_t> EnclaveLinesAndWarnings(const std::string& log_text) {
  size_t lines = 0;
  size_t warnings = 0;
  std::istringstream in(log_text);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.value("source", "") == "enclave") ++lines;
    if (j.value("event", "") == "enclave_log_rate_limited") ++warnings;
  }
  return {lines, warnings};
}

TEST_F(RelayServiceTest, EnclaveLogLinesAreRateLimitedInLinesAndBytes) {
  // 10 lines/s with a burst of 5 s' worth, raised to one full request (kMaxLogLines = 128).
  service_.LimitEnclaveLog({.lines_per_second = 10, .bytes_per_second = 1e6, .burst_seconds = 5});
  AppendLogRequest log;
  for (size_t i = 0; i < kMaxLogLines; ++i) log.lines.push_back({{"event", "flood"}, {"i", i}});
  const std::string frame = *EncodeAppendLogRequest(log);
  auto appended = [&](uint64_t id) {
    SecretBytes reply = service_.Handle(RequestFrame(frame), id, "tcp://127.0.0.1:1");
    std::string_view text = reply.RevealAsString();
    return *DecodeAppendLogReply(text.substr(0, text.size() - 3));
  };
  EXPECT_EQ(appended(1), kMaxLogLines);  // the burst takes one whole request
  EXPECT_EQ(appended(2), 0u);            // then nothing until it refills
  EXPECT_EQ(appended(3), 0u);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(appended(4), 20u);  // 10 lines/s
  auto [lines, warnings] = EnclaveLinesAndWarnings(logs_.str());
  EXPECT_EQ(lines, kMaxLogLines + 20);
  EXPECT_EQ(warnings, 1u);  // one warning per 10 s, however many requests were cut
  EXPECT_EQ(metrics_.enclave_log_lines_dropped(), 3 * kMaxLogLines - 20);
  EXPECT_THAT(metrics_.RenderPrometheus(),
              HasSubstr(absl::StrCat("lockout_relay_enclave_log_lines_dropped_total ",
                                     3 * kMaxLogLines - 20, "\n")));
  EXPECT_THAT(
      metrics_.RenderPrometheus(),
      HasSubstr(absl::StrCat("lockout_relay_enclave_log_lines_total ", kMaxLogLines + 20, "\n")));
  EXPECT_EQ(metrics_.requests("append_log", "ok"), 4u);  // dropping lines is not an error
  clock_.Advance(absl::Seconds(60));
  EXPECT_EQ(appended(5), kMaxLogLines);  // refilled to the burst, not beyond
  EXPECT_EQ(appended(6), 0u);
  EXPECT_EQ(EnclaveLinesAndWarnings(logs_.str()).second, 2u);  // the next 10 s's warning

  // Bytes: a line budget of one request's bytes per 5 s admits lines until the bytes run out.
  service_.LimitEnclaveLog({.lines_per_second = 1e5, .bytes_per_second = 10, .burst_seconds = 5});
  AppendLogRequest big;
  const std::string filler(8000, 'x');
  for (int i = 0; i < 6; ++i) big.lines.push_back({{"event", "big"}, {"filler", filler}});
  const std::string big_frame = *EncodeAppendLogRequest(big);
  auto appended_big = [&](uint64_t id) {
    SecretBytes reply = service_.Handle(RequestFrame(big_frame), id, "tcp://127.0.0.1:1");
    std::string_view text = reply.RevealAsString();
    return *DecodeAppendLogReply(text.substr(0, text.size() - 3));
  };
  EXPECT_EQ(appended_big(7), 6u);  // ~48 KiB of the 64 KiB burst
  EXPECT_EQ(appended_big(8), 2u);  // the last ~16 KiB
  EXPECT_EQ(appended_big(9), 0u);
}

TEST_F(RelayServiceTest, CredentialFailureIsUpstreamUnavailable) {
  upstream_.FailCredentials(absl::UnavailableError("IMDS down"));
  absl::StatusOr<GetSecretReply> reply = Call(GetSecretFrame(kAllowedSecret));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(upstream_.secret_calls(), 0);
  EXPECT_THAT(reply.status().message(), Not(HasSubstr("IMDS down")));  // only in the log
  EXPECT_THAT(logs_.str(), HasSubstr("IMDS down"));
}

TEST_F(RelayServiceTest, PermanentSecretsManagerErrorsAreSecretUnavailable) {
  upstream_.FailSecrets(absl::PermissionDeniedError("AccessDeniedException"));
  EXPECT_EQ(Call(GetSecretFrame(kAllowedSecret)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  upstream_.FailSecrets(absl::OkStatus());
  // Allowed, but not in Secrets Manager.
  EXPECT_EQ(Call(GetSecretFrame("other/allowed")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(metrics_.requests("get_secret", "secret_unavailable"), 2u);
}

TEST_F(RelayServiceTest, TransientSecretsManagerErrorsAreUpstreamUnavailable) {
  for (absl::Status s : {absl::UnavailableError("throttled"), absl::DeadlineExceededError("slow"),
                         absl::InternalError("malformed reply")}) {
    upstream_.FailSecrets(s);
    EXPECT_EQ(Call(GetSecretFrame(kAllowedSecret)).status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(metrics_.requests("get_secret", "upstream_unavailable"), 3u);
}

TEST_F(RelayServiceTest, Base64SecretStringIsForwardedAsItsBytes) {
  upstream_.SetSecret("other/allowed", awsclient::SecretKind::kString, "AQIDBA==");
  absl::StatusOr<GetSecretReply> reply = Call(GetSecretFrame("other/allowed"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->secret, (Bytes{1, 2, 3, 4}));
}

TEST_F(RelayServiceTest, NonBase64SecretStringIsRefused) {
  upstream_.SetSecret("other/allowed", awsclient::SecretKind::kString, "CANARY plain text");
  EXPECT_EQ(Call(GetSecretFrame("other/allowed")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RelayServiceTest, ConnectionErrorsAreCountedAndAnsweredGenerically) {
  SecretBytes reply = service_.ConnectionError(kKindFraming, kErrorBadRequest);
  EXPECT_EQ(reply.RevealAsString(), R"({"error":"bad request"}$$$)");
  EXPECT_EQ(metrics_.errors(kKindFraming), 1u);
  EXPECT_EQ(metrics_.requests("invalid", "framing"), 1u);
}

// ---- get_credentials and put_secret ----

std::string V1Text(const SecretBytes& reply) {
  std::string_view text = reply.RevealAsString();
  EXPECT_TRUE(text.ends_with("$$$"));
  return std::string(text.substr(0, text.size() - 3));
}

TEST_F(RelayServiceTest, GetCredentialsGivesTheRoleCredentialsAlone) {
  SecretBytes reply = service_.Handle(RequestFrame(EncodeGetCredentialsRequest()), 1, "peer");
  absl::StatusOr<GetCredentialsReply> decoded = DecodeGetCredentialsReply(V1Text(reply));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->credentials.secret_access_key.RevealAsString(), testing::kCanarySecretKey);
  EXPECT_EQ(upstream_.secret_calls(), 0);
  EXPECT_EQ(metrics_.requests("get_credentials", "ok"), 1u);
  nlohmann::json line = nlohmann::json::parse(logs_.str());
  EXPECT_EQ(line["op"], "get_credentials");
  EXPECT_EQ(line["status"], "ok");

  upstream_.FailCredentials(absl::UnavailableError("imds down"));
  SecretBytes failed = service_.Handle(RequestFrame(EncodeGetCredentialsRequest()), 2, "peer");
  EXPECT_EQ(DecodeGetCredentialsReply(V1Text(failed)).status().code(),
            absl::StatusCode::kUnavailable);
  SecretBytes bad =
      service_.Handle(RequestFrame(R"({"request_type":"get_credentials","extra":1})"), 3, "peer");
  EXPECT_EQ(DecodeGetCredentialsReply(V1Text(bad)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

absl::StatusOr<std::string> PutCall(RelayService& service, const std::string& name,
                                    std::string_view value) {
  absl::StatusOr<std::string> text = EncodePutSecretRequest({name, ToBytes(value)});
  if (!text.ok()) return text.status();
  SecretBytes reply = service.Handle(RequestFrame(*text), 1, "peer");
  return DecodePutSecretReply(V1Text(reply));
}

TEST_F(RelayServiceTest, PutSecretCreatesOnceAndRefusesAnExistingSecret) {
  absl::StatusOr<std::string> created = PutCall(service_, "other/allowed", "new-ciphertext");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(upstream_.StoredSecret("other/allowed"), "new-ciphertext");
  EXPECT_EQ(metrics_.requests("put_secret", "ok"), 1u);
  EXPECT_EQ(metrics_.upstream_calls(kOpPutSecret), 1u);

  // Write-once: neither the secret just made nor the one that existed is replaced.
  EXPECT_EQ(PutCall(service_, "other/allowed", "second").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(PutCall(service_, kAllowedSecret, "second").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(upstream_.StoredSecret("other/allowed"), "new-ciphertext");
  EXPECT_EQ(upstream_.StoredSecret(kAllowedSecret), kCanaryCiphertext);
  EXPECT_EQ(metrics_.requests("put_secret", "denied"), 2u);
  EXPECT_THAT(logs_.str(), Not(HasSubstr(Base64Encode(AsBytes("second")))));
}

TEST_F(RelayServiceTest, PutSecretOverwritesOnlyWhenAllowed) {
  service_.AllowOverwrite(true);
  absl::StatusOr<std::string> v = PutCall(service_, kAllowedSecret, "replacement");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(upstream_.StoredSecret(kAllowedSecret), "replacement");
}

TEST_F(RelayServiceTest, PutSecretNeedsAnAllowlistedNameAndAWorkingUpstream) {
  EXPECT_EQ(PutCall(service_, "someone/elses/key", "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(upstream_.put_calls(), 0);
  upstream_.FailSecrets(absl::PermissionDeniedError("AccessDeniedException"));
  EXPECT_EQ(PutCall(service_, "other/allowed", "x").status().code(),
            absl::StatusCode::kFailedPrecondition);
  upstream_.FailSecrets(absl::UnavailableError("throttled"));
  EXPECT_EQ(PutCall(service_, "other/allowed", "x").status().code(),
            absl::StatusCode::kUnavailable);
  SecretBytes bad = service_.Handle(
      RequestFrame(R"({"request_type":"put_secret","secret_name":"other/allowed","secret":"!"})"),
      1, "peer");
  EXPECT_EQ(DecodePutSecretReply(V1Text(bad)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RelayServiceTest, AFloodOfBadRequestsIsCountedButItsWarningsAreRateLimited) {
  for (uint64_t i = 0; i < 3000; ++i) {  // at one instant: only the burst of warnings is written
    const std::string name = absl::StrCat("not/allowed/", i);
    SecretBytes reply = service_.Handle(i % 3 == 0   ? RequestFrame("not json")
                                        : i % 3 == 1 ? RequestFrame(R"({"request_type":"nope"})")
                                                     : GetSecretFrame(name),
                                        i, "tcp://127.0.0.1:1");
    EXPECT_THAT(reply.RevealAsString(), HasSubstr("error"));
  }
  EXPECT_EQ(metrics_.errors(kKindBadRequest), 1000u);
  EXPECT_EQ(metrics_.errors(kKindUnknownRequestType), 1000u);
  EXPECT_EQ(metrics_.errors(kKindDenied), 1000u);
  const RefusalLogLimits limits;
  EXPECT_EQ(metrics_.log_suppressed(kKindBadRequest) +
                metrics_.log_suppressed(kKindUnknownRequestType) +
                metrics_.log_suppressed(kKindDenied),
            3000u - limits.burst);
  size_t requests = 0;
  size_t summaries = 0;
  std::istringstream in(logs_.str());
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j["event"] == "relay_request") ++requests;
    if (j["event"] == "relay_log_suppressed") ++summaries;
  }
  EXPECT_EQ(requests, limits.burst);
  EXPECT_EQ(summaries, 1u);

  // A good request still gets its line, and reports what was suppressed since, 10 s on.
  clock_.Set(kT0 + absl::Seconds(10));
  ASSERT_TRUE(Call(GetSecretFrame(kAllowedSecret)).ok());
  EXPECT_THAT(logs_.str(), HasSubstr(R"("status":"ok")"));
  size_t summaries_after = 0;
  std::istringstream again(logs_.str());
  for (std::string line; std::getline(again, line);) {
    if (nlohmann::json::parse(line)["event"] == "relay_log_suppressed") ++summaries_after;
  }
  EXPECT_EQ(summaries_after, 2u);
}

}  // namespace
}  // namespace lockout::relay
