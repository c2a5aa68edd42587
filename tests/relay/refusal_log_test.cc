#include "src/relay/refusal_log.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/relay/fake_upstream.h"

namespace lockout::relay {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

struct Counts {
  size_t refusals = 0;                    // event "refused"
  std::vector<nlohmann::json> summaries;  // event "relay_log_suppressed"
};

Counts Count(const std::string& text) {
  Counts c;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["event"] == "refused") ++c.refusals;
    if (j["event"] == "relay_log_suppressed") c.summaries.push_back(j);
  }
  return c;
}

TEST(RefusalLogTest, BurstThenRateThenOneSummaryPerInterval) {
  testing::LogCapture logs;
  FakeClock clock(kT0);
  RelayMetrics metrics(&clock);
  RefusalLog log(&metrics, &clock, {.lines_per_second = 2, .burst = 5});

  // 1000 at one instant: the burst is written, the rest counted, one summary.
  for (int i = 0; i < 1000; ++i) {
    log.Warn("refused", i % 2 == 0 ? kKindBadRequest : kKindFraming, {{"i", i}});
  }
  Counts c = Count(logs.str());
  EXPECT_EQ(c.refusals, 5u);
  ASSERT_EQ(c.summaries.size(), 1u);
  EXPECT_EQ(c.summaries[0]["level"], "warn");
  EXPECT_EQ(c.summaries[0]["suppressed"], 1u);  // written as soon as the first is suppressed
  EXPECT_EQ(metrics.log_suppressed(kKindBadRequest) + metrics.log_suppressed(kKindFraming), 995u);

  // 9 s later: 18 tokens (capped at the burst of 5), still no second summary.
  clock.Set(kT0 + absl::Seconds(9));
  for (int i = 0; i < 100; ++i) log.Warn("refused", kKindDenied, {});
  c = Count(logs.str());
  EXPECT_EQ(c.refusals, 10u);
  EXPECT_EQ(c.summaries.size(), 1u);

  // 10 s after the first summary, a summary counts everything since, by reason.
  clock.Set(kT0 + absl::Seconds(10));
  log.MaybeSummarize();
  c = Count(logs.str());
  ASSERT_EQ(c.summaries.size(), 2u);
  EXPECT_EQ(c.summaries[1]["suppressed"], 994u + 95u);
  EXPECT_EQ(c.summaries[1]["by_reason"]["bad_request"], 497u);
  EXPECT_EQ(c.summaries[1]["by_reason"]["framing"], 497u);
  EXPECT_EQ(c.summaries[1]["by_reason"]["denied"], 95u);
  EXPECT_EQ(metrics.log_suppressed(kKindDenied), 95u);
  EXPECT_THAT(metrics.RenderPrometheus(),
              HasSubstr("lockout_relay_log_lines_suppressed_total{reason=\"denied\"} 95\n"));

  // Nothing suppressed since: no summary, however long it is.
  clock.Set(kT0 + absl::Hours(1));
  log.MaybeSummarize();
  log.Warn("refused", kKindDenied, {});
  c = Count(logs.str());
  EXPECT_EQ(c.summaries.size(), 2u);
  EXPECT_EQ(c.refusals, 11u);
}

TEST(RefusalLogTest, LinesAtTheRateAreAllWritten) {
  testing::LogCapture logs;
  FakeClock clock(kT0);
  RelayMetrics metrics(&clock);
  RefusalLog log(&metrics, &clock, {.lines_per_second = 20, .burst = 100});
  for (int i = 0; i < 1000; ++i) {  // 10 per second for 100 s
    clock.Set(kT0 + absl::Milliseconds(100 * i));
    log.Warn("refused", kKindBadRequest, {});
  }
  Counts c = Count(logs.str());
  EXPECT_EQ(c.refusals, 1000u);
  EXPECT_TRUE(c.summaries.empty());
  EXPECT_EQ(metrics.log_suppressed(kKindBadRequest), 0u);
}

}  // namespace
}  // namespace lockout::relay
