#include "src/common/blocking_pool.h"

#include <atomic>
#include <memory>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace lockout {
namespace {

// Waits (bounded) until `pred` holds.
template <typename Pred>
bool Eventually(Pred pred) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return pred();
}

TEST(BlockingPoolTest, RunsEveryJobWithAThreadIndexInRange) {
  BlockingPool pool({.threads = 3, .queue_limit = 100});
  std::atomic<int> done{0};
  absl::Mutex mu;
  std::set<int> indexes;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(pool.Submit([&](int index) {
                      absl::MutexLock lock(&mu);
                      indexes.insert(index);
                      done.fetch_add(1);
                    })
                    .ok());
  }
  ASSERT_TRUE(Eventually([&] { return done.load() == 50; }));
  absl::MutexLock lock(&mu);
  for (int index : indexes) {
    EXPECT_GE(index, 0);
    EXPECT_LT(index, 3);
  }
}

TEST(BlockingPoolTest, FullQueueIsBusyAndFreesUpOnceJobsFinish) {
  BlockingPool pool({.threads = 2, .queue_limit = 3});
  absl::Notification release;
  absl::Cleanup always_release = [&] {
    if (!release.HasBeenNotified()) release.Notify();
  };
  std::atomic<int> started{0}, done{0};
  const auto blocker = [&](int) {
    started.fetch_add(1);
    release.WaitForNotification();
    done.fetch_add(1);
  };
  // Two run, three wait: five accepted, the sixth is busy.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.Submit(blocker).ok()) << i;
  absl::Status busy = pool.Submit(blocker);
  EXPECT_TRUE(absl::IsResourceExhausted(busy)) << busy;
  EXPECT_NE(busy.message().find("busy"), std::string_view::npos) << busy;
  ASSERT_TRUE(Eventually([&] { return started.load() == 2; }));
  EXPECT_EQ(pool.running(), 2);
  EXPECT_EQ(pool.queued(), 3u);

  release.Notify();
  ASSERT_TRUE(Eventually([&] { return done.load() == 5; }));
  ASSERT_TRUE(Eventually([&] { return pool.running() == 0; }));
  EXPECT_TRUE(pool.Submit(blocker).ok());
  ASSERT_TRUE(Eventually([&] { return done.load() == 6; }));
}

TEST(BlockingPoolTest, ZeroQueueLimitTakesOnlyAsManyJobsAsThreads) {
  BlockingPool pool({.threads = 1, .queue_limit = 0});
  absl::Notification release;
  absl::Cleanup always_release = [&] {
    if (!release.HasBeenNotified()) release.Notify();
  };
  ASSERT_TRUE(pool.Submit([&](int) { release.WaitForNotification(); }).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(pool.Submit([](int) {})));
}

TEST(BlockingPoolTest, StopDropsQueuedJobsUnrunAndRefusesNewOnes) {
  auto pool = std::make_unique<BlockingPool>(BlockingPoolOptions{.threads = 1, .queue_limit = 4});
  absl::Notification release;
  std::atomic<bool> started{false};
  ASSERT_TRUE(pool->Submit([&](int) {
                    started = true;
                    release.WaitForNotification();
                  })
                  .ok());
  absl::Cleanup always_release = [&] {
    if (!release.HasBeenNotified()) release.Notify();
  };
  ASSERT_TRUE(Eventually([&] { return started.load(); }));
  std::atomic<int> ran{0};
  auto token = std::make_shared<int>(7);
  std::weak_ptr<int> watch = token;
  ASSERT_TRUE(pool->Submit([&ran, token](int) { ran.fetch_add(1); }).ok());
  token.reset();
  std::thread stopper([&] { pool->Stop(); });
  // Stop waits for the running job; the queued one is dropped (its captures destroyed).
  EXPECT_TRUE(Eventually([&] { return watch.expired(); }));
  release.Notify();
  stopper.join();
  EXPECT_EQ(ran.load(), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(pool->Submit([](int) {})));
}

TEST(BlockingPoolTest, ValidateRejectsBadOptions) {
  EXPECT_TRUE(BlockingPool::Validate({.threads = 2, .queue_limit = 16}).ok());
  EXPECT_TRUE(BlockingPool::Validate({.threads = 1, .queue_limit = 0}).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(BlockingPool::Validate({.threads = 0, .queue_limit = 1})));
  EXPECT_TRUE(absl::IsInvalidArgument(BlockingPool::Validate({.threads = 257, .queue_limit = 1})));
  EXPECT_TRUE(
      absl::IsInvalidArgument(BlockingPool::Validate({.threads = 1, .queue_limit = 65537})));
}

}  // namespace
}  // namespace lockout
