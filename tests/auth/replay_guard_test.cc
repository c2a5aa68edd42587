#include "src/auth/replay_guard.h"

#include <atomic>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace lockout::auth {
namespace {

using Verdict = ReplayGuard::Verdict;

constexpr int64_t kStartMs = 1765000000000;

Bytes Nonce(int i) {
  Bytes n(16, 0);
  n[0] = static_cast<uint8_t>(i & 0xFF);
  n[1] = static_cast<uint8_t>((i >> 8) & 0xFF);
  n[2] = static_cast<uint8_t>((i >> 16) & 0xFF);
  return n;
}

class ReplayGuardTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixMillis(kStartMs)};
};

TEST_F(ReplayGuardTest, AcceptsOnceThenRefusesTheReplay) {
  ReplayGuard g(absl::Seconds(10), 100, clock_);
  EXPECT_EQ(g.Admit("a", Nonce(1), kStartMs), Verdict::kAccepted);
  EXPECT_EQ(g.Admit("a", Nonce(1), kStartMs), Verdict::kReplayed);
  EXPECT_EQ(g.Check("a", Nonce(1), kStartMs), Verdict::kReplayed);
  // The same nonce from another client is another request.
  EXPECT_EQ(g.Admit("b", Nonce(1), kStartMs), Verdict::kAccepted);
  // The timestamp is not part of the identity: a replay with another timestamp is a replay (the
  // signature covers the timestamp, so only the client could produce it anyway).
  EXPECT_EQ(g.Admit("a", Nonce(1), kStartMs + 5), Verdict::kReplayed);
  EXPECT_EQ(g.size(), 2u);
}

TEST_F(ReplayGuardTest, CheckRecordsNothing) {
  ReplayGuard g(absl::Seconds(10), 100, clock_);
  EXPECT_EQ(g.Check("a", Nonce(1), kStartMs), Verdict::kAccepted);
  EXPECT_EQ(g.Check("a", Nonce(1), kStartMs), Verdict::kAccepted);
  EXPECT_EQ(g.size(), 0u);
  EXPECT_EQ(g.Admit("a", Nonce(1), kStartMs), Verdict::kAccepted);
}

TEST_F(ReplayGuardTest, TimestampsMustBeWithinTheWindowEitherSide) {
  ReplayGuard g(absl::Seconds(10), 100, clock_);
  EXPECT_EQ(g.Admit("a", Nonce(1), kStartMs - 10000), Verdict::kAccepted);  // exactly the window
  EXPECT_EQ(g.Admit("a", Nonce(2), kStartMs + 10000), Verdict::kAccepted);
  EXPECT_EQ(g.Admit("a", Nonce(3), kStartMs - 10001), Verdict::kStale);
  EXPECT_EQ(g.Admit("a", Nonce(4), kStartMs + 10001), Verdict::kStale);
  EXPECT_EQ(g.Admit("a", Nonce(5), 0), Verdict::kStale);
  EXPECT_EQ(g.Admit("a", Nonce(6), -1), Verdict::kStale);
  EXPECT_EQ(g.Admit("a", Nonce(7), std::numeric_limits<int64_t>::max()), Verdict::kStale);
  EXPECT_TRUE(g.Fresh(kStartMs));
  EXPECT_FALSE(g.Fresh(kStartMs + 10001));
  EXPECT_EQ(g.size(), 2u);
}

TEST_F(ReplayGuardTest, ANonceIsRememberedUntilItsTimestampLeavesTheWindow) {
  ReplayGuard g(absl::Seconds(10), 100, clock_);
  ASSERT_EQ(g.Admit("a", Nonce(1), kStartMs), Verdict::kAccepted);
  clock_.Advance(absl::Seconds(10));  // timestamp + window: still replayable, still remembered
  EXPECT_EQ(g.Admit("a", Nonce(1), kStartMs), Verdict::kReplayed);
  clock_.Advance(absl::Milliseconds(1));  // now stale: the timestamp refuses it, memory is freed
  EXPECT_EQ(g.Admit("a", Nonce(1), kStartMs), Verdict::kStale);
  EXPECT_EQ(g.Admit("a", Nonce(2), kStartMs + 10001), Verdict::kAccepted);
  EXPECT_EQ(g.size(), 1u);
}

TEST_F(ReplayGuardTest, WhenFullItRefusesInsteadOfForgettingAndRecoversAsNoncesExpire) {
  ReplayGuard g(absl::Seconds(10), 3, clock_);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(g.Admit("a", Nonce(i), kStartMs), Verdict::kAccepted);
  EXPECT_EQ(g.Admit("a", Nonce(3), kStartMs), Verdict::kFull);
  EXPECT_EQ(g.Check("a", Nonce(3), kStartMs), Verdict::kFull);
  // Every remembered nonce is still refused as a replay (none was forgotten to make room).
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g.Admit("a", Nonce(i), kStartMs), Verdict::kReplayed);
  EXPECT_EQ(g.size(), 3u);
  clock_.Advance(absl::Milliseconds(10001));
  EXPECT_EQ(g.Admit("a", Nonce(3), kStartMs + 10001), Verdict::kAccepted);
  EXPECT_EQ(g.size(), 1u);
}

TEST_F(ReplayGuardTest, AClientThatFloodsFillsOnlyItsOwnShare) {
  ReplayGuard g(absl::Seconds(10), 6, clock_, /*max_nonces_per_client=*/3);
  EXPECT_EQ(g.max_nonces_per_client(), 3u);
  int full = 0;
  for (int i = 0; i < 1000; ++i) {
    if (g.Admit("flooder", Nonce(i), kStartMs) == Verdict::kFull) ++full;
  }
  EXPECT_EQ(full, 997);
  EXPECT_EQ(g.size_for("flooder"), 3u);
  // Others keep their shares: neither evicted nor refused.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(g.Check("b", Nonce(i), kStartMs), Verdict::kAccepted);
    EXPECT_EQ(g.Admit("b", Nonce(i), kStartMs), Verdict::kAccepted);
  }
  EXPECT_EQ(g.Admit("b", Nonce(3), kStartMs), Verdict::kFull);  // b's own share is full now
  EXPECT_EQ(g.Admit("c", Nonce(0), kStartMs), Verdict::kFull);  // and the cache as a whole
  // Nothing was forgotten to make room.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(g.Admit("flooder", Nonce(i), kStartMs), Verdict::kReplayed);
    EXPECT_EQ(g.Admit("b", Nonce(i), kStartMs), Verdict::kReplayed);
  }
  // Shares are given back as nonces expire, and a client with none holds no entry.
  clock_.Advance(absl::Milliseconds(10001));
  EXPECT_EQ(g.Admit("flooder", Nonce(5000), kStartMs + 10001), Verdict::kAccepted);
  EXPECT_EQ(g.size(), 1u);  // (expiry runs on the next Admit or Check)
  EXPECT_EQ(g.size_for("flooder"), 1u);
  EXPECT_EQ(g.size_for("b"), 0u);
}

TEST_F(ReplayGuardTest, PerClientQuotaDefaultsToAndIsCappedByTheGlobalBound) {
  EXPECT_EQ(ReplayGuard(absl::Seconds(1), 5, clock_).max_nonces_per_client(), 5u);
  EXPECT_EQ(ReplayGuard(absl::Seconds(1), 5, clock_, 50).max_nonces_per_client(), 5u);
  // The client names are length-prefixed: "ab"+nonce and "a"+"b"+nonce are different clients.
  ReplayGuard g(absl::Seconds(10), 10, clock_, 1);
  EXPECT_EQ(g.Admit("ab", Nonce(1), kStartMs), Verdict::kAccepted);
  EXPECT_EQ(g.Admit("a", Nonce(1), kStartMs), Verdict::kAccepted);
  EXPECT_EQ(g.size_for("ab"), 1u);
  EXPECT_EQ(g.size_for("a"), 1u);
}

TEST_F(ReplayGuardTest, ExpiresByTimestampNotByArrivalOrder) {
  ReplayGuard g(absl::Seconds(10), 100, clock_);
  ASSERT_EQ(g.Admit("a", Nonce(1), kStartMs + 9000), Verdict::kAccepted);  // expires late
  ASSERT_EQ(g.Admit("a", Nonce(2), kStartMs - 9000), Verdict::kAccepted);  // expires early
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(g.Admit("a", Nonce(3), kStartMs + 2000), Verdict::kAccepted);
  EXPECT_EQ(g.size(), 2u);  // nonce 2 expired at start + 1 s
  EXPECT_EQ(g.Admit("a", Nonce(1), kStartMs + 9000), Verdict::kReplayed);
}

TEST_F(ReplayGuardTest, MemoryStaysBoundedUnderAFloodOfFreshNonces) {
  ReplayGuard g(absl::Seconds(1), 1000, clock_);
  int accepted = 0, full = 0;
  for (int i = 0; i < 20000; ++i) {
    if (i % 100 == 0) clock_.Advance(absl::Milliseconds(10));
    const int64_t now = absl::ToUnixMillis(clock_.Now());
    const Verdict v = g.Admit("a", Nonce(i), now);
    if (v == Verdict::kAccepted) ++accepted;
    if (v == Verdict::kFull) ++full;
    ASSERT_LE(g.size(), 1000u);
  }
  EXPECT_GT(accepted, 1000);  // the cache drains as the window moves
  EXPECT_GT(full, 0);
}

TEST_F(ReplayGuardTest, ConcurrentAdmitsAcceptEachNonceExactlyOnce) {
  ReplayGuard g(absl::Seconds(60), 100000, clock_);
  constexpr int kThreads = 4;
  constexpr int kNonces = 2000;
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kNonces; ++i) {
        if (g.Admit("a", Nonce(i), kStartMs) == Verdict::kAccepted) accepted.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(accepted.load(), kNonces);
  EXPECT_EQ(g.size(), static_cast<size_t>(kNonces));
}

}  // namespace
}  // namespace lockout::auth
