#include "src/relay/relay_metrics.h"

#include <regex>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::relay {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(RelayMetricsTest, CountsRequestsByTypeAndResult) {
  FakeClock clock(kT0);
  RelayMetrics m(&clock);
  m.RecordRequest("get_secret", "ok");
  m.RecordRequest("get_secret", "ok");
  m.RecordRequest("get_secret", "denied");
  EXPECT_EQ(m.requests("get_secret", "ok"), 2u);
  EXPECT_EQ(m.requests("get_secret", "denied"), 1u);
  const std::string text = m.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE lockout_relay_requests_total counter\n"));
  EXPECT_THAT(text,
              HasSubstr("lockout_relay_requests_total{type=\"get_secret\",result=\"ok\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("lockout_relay_requests_total{type=\"get_secret\",result=\"denied\"} 1\n"));
}

TEST(RelayMetricsTest, ErrorKindsStartAtZero) {
  FakeClock clock(kT0);
  RelayMetrics m(&clock);
  const std::string text = m.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("lockout_relay_errors_total{kind=\"framing\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("lockout_relay_errors_total{kind=\"denied\"} 0\n"));
  m.RecordError(kKindFraming);
  EXPECT_THAT(m.RenderPrometheus(), HasSubstr("lockout_relay_errors_total{kind=\"framing\"} 1\n"));
  EXPECT_EQ(m.errors(kKindFraming), 1u);
}

TEST(RelayMetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  FakeClock clock(kT0);
  RelayMetrics m(&clock);
  m.ObserveUpstreamLatency(kOpGetSecretValue, absl::Milliseconds(3));   // <= 0.005
  m.ObserveUpstreamLatency(kOpGetSecretValue, absl::Milliseconds(70));  // <= 0.1
  m.ObserveUpstreamLatency(kOpGetSecretValue, absl::Seconds(100));      // only +Inf
  const std::string text = m.RenderPrometheus();
  const std::string p = "lockout_relay_upstream_latency_seconds";
  EXPECT_THAT(text, HasSubstr("# TYPE " + p + " histogram\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{operation=\"get_secret_value\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{operation=\"get_secret_value\",le=\"0.05\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{operation=\"get_secret_value\",le=\"0.1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{operation=\"get_secret_value\",le=\"30\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{operation=\"get_secret_value\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr(p + "_sum{operation=\"get_secret_value\"} 100.073\n"));
  EXPECT_THAT(text, HasSubstr(p + "_count{operation=\"get_secret_value\"} 3\n"));
  EXPECT_EQ(m.upstream_calls(kOpGetSecretValue), 3u);
  EXPECT_EQ(m.upstream_calls(kOpImdsCredentials), 0u);
}

TEST(RelayMetricsTest, CredentialExpiryGaugeCountsDownWithTheClock) {
  FakeClock clock(kT0);
  RelayMetrics m(&clock);
  EXPECT_THAT(m.RenderPrometheus(), Not(HasSubstr("\nlockout_relay_credentials_expiry_seconds ")));
  m.SetCredentialsExpiration(kT0 + absl::Hours(1));
  EXPECT_THAT(m.RenderPrometheus(), HasSubstr("lockout_relay_credentials_expiry_seconds 3600\n"));
  clock.Advance(absl::Minutes(61));
  EXPECT_THAT(m.RenderPrometheus(), HasSubstr("lockout_relay_credentials_expiry_seconds -60\n"));
}

TEST(RelayMetricsTest, ConnectionsAreTracked) {
  FakeClock clock(kT0);
  RelayMetrics m(&clock);
  m.ConnectionOpened();
  m.ConnectionOpened();
  m.ConnectionClosed();
  EXPECT_EQ(m.connections_active(), 1);
  const std::string text = m.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("lockout_relay_connections_active 1\n"));
  EXPECT_THAT(text, HasSubstr("lockout_relay_connections_total 2\n"));
}

TEST(RelayMetricsTest, EveryLineIsACommentOrASample) {
  FakeClock clock(kT0);
  RelayMetrics m(&clock);
  m.RecordRequest("invalid", "bad_request");
  m.ObserveUpstreamLatency(kOpImdsCredentials, absl::Milliseconds(12));
  m.SetCredentialsExpiration(kT0 + absl::Seconds(90));
  const std::regex comment(R"(# (HELP|TYPE) lockout_relay_[a-z_]+ .+)");
  const std::regex sample(
      R"(lockout_relay_[a-z_]+(\{([a-z_]+="[^"\\\n]*",?)+\})? -?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?)");
  std::istringstream lines(m.RenderPrometheus());
  int samples = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("#")) {
      EXPECT_TRUE(std::regex_match(line, comment)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
      ++samples;
    }
  }
  EXPECT_GT(samples, 10);
}

TEST(RelayMetricsTest, TheEnclavesReportIsServedAsItsLatestCounters) {
  FakeClock clock(kT0);
  RelayMetrics m(&clock);
  EXPECT_THAT(m.RenderPrometheus(), HasSubstr("lockout_relay_enclave_log_lines_total 0\n"));
  EXPECT_THAT(m.RenderPrometheus(), Not(HasSubstr("lockout_relay_enclave_report_age_seconds")));
  m.RecordEnclaveReport(4, 0, {{"load_attempts", 2}, {"log_lines_dropped", 99}}, 1);
  clock.Advance(absl::Seconds(3));
  std::string text = m.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("lockout_relay_enclave_log_lines_total 4\n"));
  EXPECT_THAT(text, HasSubstr("lockout_relay_enclave_report_age_seconds 3\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE lockout_enclave_load_attempts untyped\n"));
  EXPECT_THAT(text, HasSubstr("lockout_enclave_load_attempts 2\n"));
  // The enclave cannot shadow the relay's own series.
  EXPECT_THAT(text, HasSubstr("lockout_enclave_log_lines_dropped 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("lockout_enclave_log_lines_dropped 99")));
  // A new report replaces the counters (an enclave that restarted starts from zero).
  m.RecordEnclaveReport(1, 0, {{"attested_replies_served", 1}}, 0);
  text = m.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("lockout_relay_enclave_log_lines_total 5\n"));
  EXPECT_THAT(text, Not(HasSubstr("lockout_enclave_load_attempts")));
  EXPECT_EQ(m.enclave_counter("attested_replies_served"), 1u);
  EXPECT_EQ(m.enclave_counter("load_attempts"), std::nullopt);
}

}  // namespace
}  // namespace lockout::relay
