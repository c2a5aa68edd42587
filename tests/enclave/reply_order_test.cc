#include "src/enclave/reply_order.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace lockout::enclave {
namespace {

std::string Take(ReplyOrder& order, bool* close = nullptr) {
  std::string out;
  bool ignored = false;
  order.TakeReady(out, close != nullptr ? close : &ignored);
  return out;
}

TEST(ReplyOrderTest, RepliesCompletedInOrderAreTakenAtOnce) {
  ReplyOrder order;
  const uint64_t first = order.Reserve(3);
  EXPECT_EQ(order.outstanding(), 3u);
  ASSERT_TRUE(order.Complete(first, 2, "ab", false).ok());
  EXPECT_EQ(Take(order), "ab");
  EXPECT_EQ(order.outstanding(), 1u);
  ASSERT_TRUE(order.Complete(first + 2, 1, "c", false).ok());
  EXPECT_EQ(Take(order), "c");
  EXPECT_EQ(order.outstanding(), 0u);
}

TEST(ReplyOrderTest, ALaterReplyWaitsForAnEarlierOne) {
  ReplyOrder order;
  const uint64_t first = order.Reserve(4);
  ASSERT_TRUE(order.Complete(first + 3, 1, "d", false).ok());
  ASSERT_TRUE(order.Complete(first + 1, 2, "bc", false).ok());
  EXPECT_EQ(Take(order), "");  // request `first` is still being handled
  EXPECT_EQ(order.ready_bytes(), 3u);
  EXPECT_EQ(order.outstanding(), 4u);
  ASSERT_TRUE(order.Complete(first, 1, "a", false).ok());
  EXPECT_EQ(Take(order), "abcd");
  EXPECT_EQ(order.ready_bytes(), 0u);
  EXPECT_EQ(order.outstanding(), 0u);
}

TEST(ReplyOrderTest, ManyWorkersCompletingInAnyOrderGiveRequestOrder) {
  // Batches of 1..7 requests completed in a random order, taken at random moments.
  std::mt19937 rng(12345);
  for (int round = 0; round < 50; ++round) {
    ReplyOrder order;
    struct Batch {
      uint64_t first;
      size_t count;
    };
    std::vector<Batch> batches;
    std::string want;
    for (int i = 0; i < 40; ++i) {
      const size_t count = 1 + rng() % 7;
      const uint64_t first = order.Reserve(count);
      batches.push_back({first, count});
      for (size_t k = 0; k < count; ++k) absl::StrAppend(&want, "<", first + k, ">");
    }
    std::shuffle(batches.begin(), batches.end(), rng);
    std::string got;
    for (const Batch& b : batches) {
      std::string replies;
      for (size_t k = 0; k < b.count; ++k) absl::StrAppend(&replies, "<", b.first + k, ">");
      ASSERT_TRUE(order.Complete(b.first, b.count, replies, false).ok());
      if (rng() % 3 == 0) got += Take(order);
    }
    got += Take(order);
    EXPECT_EQ(got, want);
    EXPECT_EQ(order.outstanding(), 0u);
    EXPECT_EQ(order.ready_bytes(), 0u);
  }
}

TEST(ReplyOrderTest, CloseIsReportedWhenItsReplyIsTaken) {
  ReplyOrder order;
  const uint64_t first = order.Reserve(2);
  ASSERT_TRUE(order.Complete(first + 1, 1, "bye", /*close=*/true).ok());
  bool close = false;
  EXPECT_EQ(Take(order, &close), "");
  EXPECT_FALSE(close);
  ASSERT_TRUE(order.Complete(first, 1, "a", false).ok());
  EXPECT_EQ(Take(order, &close), "abye");
  EXPECT_TRUE(close);
}

TEST(ReplyOrderTest, CompletingWhatWasNotReservedFails) {
  ReplyOrder order;
  EXPECT_EQ(order.Complete(0, 1, "x", false).code(), absl::StatusCode::kFailedPrecondition);
  const uint64_t first = order.Reserve(2);
  EXPECT_FALSE(order.Complete(first, 3, "xyz", false).ok());  // runs past the reservation
  EXPECT_FALSE(order.Complete(first + 2, 1, "z", false).ok());
  EXPECT_FALSE(order.Complete(first, 0, "", false).ok());  // empty range
  EXPECT_EQ(order.ready_bytes(), 0u);
  ASSERT_TRUE(order.Complete(first, 2, "ab", false).ok());
  EXPECT_EQ(Take(order), "ab");
  // Taken: completing it again is refused too.
  EXPECT_FALSE(order.Complete(first, 1, "a", false).ok());
}

TEST(ReplyOrderTest, CompletingTwiceFails) {
  ReplyOrder order;
  const uint64_t first = order.Reserve(5);
  ASSERT_TRUE(order.Complete(first + 1, 2, "bc", false).ok());
  EXPECT_FALSE(order.Complete(first + 1, 1, "b", false).ok());   // same start
  EXPECT_FALSE(order.Complete(first + 2, 2, "cd", false).ok());  // overlaps the end
  EXPECT_FALSE(order.Complete(first, 2, "ab", false).ok());      // overlaps the start
  EXPECT_EQ(order.ready_bytes(), 2u);
  ASSERT_TRUE(order.Complete(first, 1, "a", false).ok());
  ASSERT_TRUE(order.Complete(first + 3, 2, "de", false).ok());
  EXPECT_EQ(Take(order), "abcde");
}

}  // namespace
}  // namespace lockout::enclave
