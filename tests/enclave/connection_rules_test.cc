#include "src/enclave/connection_rules.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::enclave {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr size_t kChunk = 16 * 1024;

TEST(ConnectionRulesTest, UnprocessedInputCapFitsTheLargestFrame) {
  const size_t cap = MaxUnprocessedInput(/*max_frame_size=*/1 << 20, kChunk);
  EXPECT_GE(cap, (size_t{1} << 20) + 4);
  EXPECT_LE(cap, (size_t{1} << 20) + 4 + 3 + kChunk);
}

TEST(ConnectionRulesTest, ReadAllowanceStopsAtTheCap) {
  EXPECT_EQ(ReadAllowance(/*unprocessed=*/0, /*max_unprocessed=*/100000, kChunk), kChunk);
  EXPECT_EQ(ReadAllowance(99000, 100000, kChunk), 1000u);
  EXPECT_EQ(ReadAllowance(100000, 100000, kChunk), 0u);
  EXPECT_EQ(ReadAllowance(200000, 100000, kChunk), 0u);
}

TEST(ConnectionRulesTest, BudgetChargesOnlyWhatFits) {
  MemoryBudget budget(1000);
  EXPECT_TRUE(budget.TryCharge(600));
  EXPECT_FALSE(budget.TryCharge(401));
  EXPECT_EQ(budget.used(), 600u);
  EXPECT_TRUE(budget.TryCharge(400));
  EXPECT_FALSE(budget.TryCharge(1));
  budget.Release(500);
  EXPECT_EQ(budget.used(), 500u);
  EXPECT_FALSE(budget.over());
  EXPECT_FALSE(budget.TryCharge(size_t{1} << 40));
}

TEST(ConnectionRulesTest, ForcedChargeMayExceedAndSaysSo) {
  MemoryBudget budget(1000);
  EXPECT_TRUE(budget.ForceCharge(1000));
  EXPECT_FALSE(budget.ForceCharge(1));
  EXPECT_TRUE(budget.over());
  EXPECT_FALSE(budget.TryCharge(1));
  budget.Release(1001);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(ConnectionRulesTest, BudgetIsExactUnderConcurrentCharges) {
  MemoryBudget budget(100000);
  std::vector<std::thread> threads;
  std::atomic<size_t> charged{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) {
        if (budget.TryCharge(3)) charged.fetch_add(3);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(budget.used(), charged.load());
  EXPECT_LE(budget.used(), 100000u);
  EXPECT_GT(budget.used(), 100000u - 3);
}

TEST(ConnectionRulesTest, VictimsAreTheBiggestOffendersFirst) {
  std::vector<ConnectionUsage> usages = {{.id = 1, .bytes = 10},
                                         {.id = 2, .bytes = 5000},
                                         {.id = 3, .bytes = 300},
                                         {.id = 4, .bytes = 2000}};
  EXPECT_THAT(ChooseVictims(usages, 1), ElementsAre(2));
  EXPECT_THAT(ChooseVictims(usages, 5000), ElementsAre(2));
  EXPECT_THAT(ChooseVictims(usages, 5001), ElementsAre(2, 4));
  EXPECT_THAT(ChooseVictims(usages, 7301), ElementsAre(2, 4, 3, 1));
  EXPECT_THAT(ChooseVictims(usages, 0), IsEmpty());
}

TEST(ConnectionRulesTest, VictimsNeverIncludeConnectionsHoldingNothing) {
  std::vector<ConnectionUsage> usages = {{.id = 1, .bytes = 0}, {.id = 2, .bytes = 7}};
  EXPECT_THAT(ChooseVictims(usages, 1000), ElementsAre(2));
}

TEST(ConnectionRulesTest, VictimTiesCloseTheNewerConnection) {
  std::vector<ConnectionUsage> usages = {{.id = 5, .bytes = 100}, {.id = 9, .bytes = 100}};
  EXPECT_THAT(ChooseVictims(usages, 50), ElementsAre(9));
}

TEST(ConnectionRulesTest, IdleTimerCountsCompleteFramesOnly) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  IdleTimer timer(t0);
  const absl::Duration timeout = absl::Seconds(120);
  EXPECT_FALSE(timer.Expired(t0 + absl::Seconds(120), timeout, /*busy=*/false));
  EXPECT_TRUE(timer.Expired(t0 + absl::Seconds(121), timeout, /*busy=*/false));
  // A reply still owed keeps it.
  EXPECT_FALSE(timer.Expired(t0 + absl::Seconds(121), timeout, /*busy=*/true));
  timer.OnCompleteFrame(t0 + absl::Seconds(100));
  EXPECT_FALSE(timer.Expired(t0 + absl::Seconds(219), timeout, false));
  EXPECT_TRUE(timer.Expired(t0 + absl::Seconds(221), timeout, false));
}

TEST(ConnectionRulesTest, DescriptorLimitThatFitsIsKept) {
  DescriptorPlan plan = FitDescriptorLimit(/*max_connections=*/100, /*soft=*/1024,
                                           /*hard=*/4096, /*headroom=*/64);
  EXPECT_EQ(plan.soft_limit, 1024u);
  EXPECT_EQ(plan.max_connections, 100);
  EXPECT_FALSE(plan.raised);
  EXPECT_FALSE(plan.lowered);
  EXPECT_THAT(plan.Describe(100, 1024), HasSubstr("fits"));
}

TEST(ConnectionRulesTest, DescriptorSoftLimitIsRaisedWhenTheHardLimitAllows) {
  DescriptorPlan plan = FitDescriptorLimit(4096, 1024, 1048576, 64);
  EXPECT_EQ(plan.soft_limit, 4096u + 64u);
  EXPECT_EQ(plan.max_connections, 4096);
  EXPECT_TRUE(plan.raised);
  EXPECT_FALSE(plan.lowered);
  EXPECT_THAT(plan.Describe(4096, 1024), HasSubstr("raised from 1024 to 4160"));
  EXPECT_TRUE(FitDescriptorLimit(4096, 1024, RLIM_INFINITY, 64).raised);
}

TEST(ConnectionRulesTest, ConnectionCapIsLoweredToFitTheHardLimit) {
  DescriptorPlan plan = FitDescriptorLimit(4096, 256, 1024, 64);
  EXPECT_EQ(plan.soft_limit, 1024u);
  EXPECT_EQ(plan.max_connections, 1024 - 64);
  EXPECT_TRUE(plan.lowered);
  EXPECT_THAT(plan.Describe(4096, 256), HasSubstr("lowered from 4096 to 960"));
  // A hard limit below the headroom still leaves one connection.
  EXPECT_EQ(FitDescriptorLimit(4096, 32, 32, 64).max_connections, 1);
}

}  // namespace
}  // namespace lockout::enclave
