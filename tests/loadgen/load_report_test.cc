#include "src/loadgen/load_report.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::loadgen {
namespace {

using ::testing::HasSubstr;

LoadReport Sample() {
  LoadReport r;
  r.endpoint = "tcp://127.0.0.1:5010";
  r.connections = 2;
  r.pipeline = 64;
  r.threads = 1;
  r.duration_s = 2;
  r.warmup_s = 1;
  r.sent = 2000;
  r.signatures_ok = 2000;
  for (int i = 1; i <= 2000; ++i) r.latency.Record(int64_t{i} * 1000);  // 1 µs .. 2 ms
  r.verify_requested = 100;
  r.verified = 100;
  return r;
}

TEST(LoadReportTest, JsonHasEveryField) {
  const nlohmann::json j = ReportToJson(Sample());
  for (const char* key :
       {"endpoint", "protocol", "mode", "connections", "pipeline", "threads", "duration_s",
        "warmup_s", "requested_rate", "achieved_rate", "scheduled", "sent", "signatures_ok",
        "errors", "error_count", "throughput_per_s", "latency_ms", "verify", "ok"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* key : {"min", "mean", "p50", "p90", "p99", "p99_9", "max"}) {
    EXPECT_TRUE(j["latency_ms"].contains(key)) << key;
  }
  EXPECT_EQ(j["mode"], "closed");
  EXPECT_TRUE(j["requested_rate"].is_null());
  EXPECT_EQ(j["throughput_per_s"], 1000.0);
  EXPECT_NEAR(j["latency_ms"]["p50"].get<double>(), 1.0, 0.01);
  EXPECT_NEAR(j["latency_ms"]["p99"].get<double>(), 1.98, 0.02);
  EXPECT_EQ(j["latency_ms"]["max"], 2.0);
  EXPECT_EQ(j["ok"], true);
}

TEST(LoadReportTest, OpenLoopReportsRequestedAndAchievedRate) {
  LoadReport r = Sample();
  r.requested_rate = 1250;
  r.scheduled = 2500;
  const nlohmann::json j = ReportToJson(r);
  EXPECT_EQ(j["mode"], "open");
  EXPECT_EQ(j["requested_rate"], 1250.0);
  EXPECT_EQ(j["achieved_rate"], 1000.0);
  EXPECT_THAT(ReportToText(r), HasSubstr("80.0% of requested"));
}

TEST(LoadReportTest, ErrorsOrVerificationFailuresMakeTheRunFail) {
  LoadReport r = Sample();
  EXPECT_TRUE(r.ok());
  r.errors["busy"] = 3;
  r.errors["timeout"] = 1;
  EXPECT_EQ(r.error_count(), 4u);
  EXPECT_FALSE(r.ok());
  const std::string text = ReportToText(r);
  EXPECT_THAT(text, HasSubstr("busy"));
  EXPECT_THAT(text, HasSubstr("FAILED"));
  EXPECT_EQ(ReportToJson(r)["errors"]["busy"], 3);

  LoadReport v = Sample();
  v.verify_failures = 1;
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(ReportToJson(v)["verify"]["failed"], 1);
}

TEST(LoadReportTest, ARunThatSignedNothingIsNotOk) {
  LoadReport r;
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(ReportToText(r), HasSubstr("no successful request"));
}

}  // namespace
}  // namespace lockout::loadgen
