#include "src/enclave/log_forwarder.h"

#include <algorithm>
#include <atomic>
#include <sstream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace lockout::enclave {
namespace {

// A relay that records what it was sent and fails while told to.
class FakeRelay {
 public:
  LogForwarder::Send Sender() {
    return [this](const relay::AppendLogRequest& r) -> absl::StatusOr<size_t> {
      absl::MutexLock lock(&mu_);
      ++calls_;
      if (failing_) return absl::UnavailableError("relay down");
      for (const nlohmann::json& line : r.lines) lines_.push_back(line);
      last_ = r;
      return r.lines.size();
    };
  }
  void SetFailing(bool failing) {
    absl::MutexLock lock(&mu_);
    failing_ = failing;
  }
  std::vector<nlohmann::json> lines() const {
    absl::MutexLock lock(&mu_);
    return lines_;
  }
  relay::AppendLogRequest last() const {
    absl::MutexLock lock(&mu_);
    return last_;
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Waits (bounded) until `n` lines arrived.
  bool WaitForLines(size_t n) const {
    for (int i = 0; i < 500; ++i) {
      if (lines().size() >= n) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

 private:
  mutable absl::Mutex mu_;
  bool failing_ = false;
  int calls_ = 0;
  std::vector<nlohmann::json> lines_;
  relay::AppendLogRequest last_;
};

std::string Line(int i) { return nlohmann::json{{"event", "e"}, {"i", i}}.dump(); }

LogForwarderOptions Fast() {
  LogForwarderOptions o;
  o.interval = absl::Milliseconds(10);
  o.max_retry_interval = absl::Milliseconds(40);
  return o;
}

TEST(LogForwarderTest, LinesReachTheRelayInOrderWithTheCounters) {
  FakeRelay relay;
  auto forwarder = LogForwarder::Start(Fast(), relay.Sender(), [] {
    return std::vector<std::pair<std::string, uint64_t>>{{"load_attempts", 2}};
  });
  Logger::Tee tee = forwarder->Tee();
  for (int i = 0; i < 300; ++i) tee(Line(i));
  ASSERT_TRUE(relay.WaitForLines(300));
  const std::vector<nlohmann::json> got = relay.lines();
  for (size_t i = 0; i < 300; ++i) EXPECT_EQ(got[i]["i"], i);
  EXPECT_EQ(relay.last().counters.size(), 1u);
  EXPECT_EQ(relay.last().dropped, 0u);
  EXPECT_EQ(forwarder->sent(), 300u);
  EXPECT_EQ(forwarder->pending(), 0u);
}

TEST(LogForwarderTest, ABatchNeverExceedsWhatTheRelayTakes) {
  FakeRelay relay;
  size_t biggest = 0;
  std::atomic<int> requests{0};
  auto send = relay.Sender();
  auto forwarder = LogForwarder::Start(
      Fast(),
      [&](const relay::AppendLogRequest& r) {
        absl::StatusOr<std::string> text = relay::EncodeAppendLogRequest(r);
        EXPECT_TRUE(text.ok()) << text.status();  // always within the protocol's limits
        if (text.ok()) biggest = std::max(biggest, text->size());
        ++requests;
        return send(r);
      },
      nullptr);
  Logger::Tee tee = forwarder->Tee();
  const std::string padding(1500, 'p');
  for (int i = 0; i < 200; ++i) tee(nlohmann::json{{"event", "big"}, {"i", i}, {"p", padding}}.dump());
  ASSERT_TRUE(relay.WaitForLines(200));
  forwarder->Stop();
  EXPECT_LE(biggest, relay::kMaxRequestSize);
  EXPECT_GE(requests.load(), 5);  // 300 KB of lines cannot go in one request
}

TEST(LogForwarderTest, WhileTheRelayIsDownLinesWaitThenOverflowIsDroppedAndCounted) {
  FakeRelay relay;
  relay.SetFailing(true);
  LogForwarderOptions o = Fast();
  o.max_buffer_lines = 50;
  auto forwarder = LogForwarder::Start(o, relay.Sender(), nullptr);
  Logger::Tee tee = forwarder->Tee();
  for (int i = 0; i < 80; ++i) tee(Line(i));
  EXPECT_EQ(forwarder->pending(), 50u);
  EXPECT_EQ(forwarder->dropped(), 30u);
  // It keeps retrying, backing off (bounded by max_retry_interval), and then delivers.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_GE(relay.calls(), 3);
  EXPECT_LE(relay.calls(), 30);
  relay.SetFailing(false);
  ASSERT_TRUE(relay.WaitForLines(50));
  const std::vector<nlohmann::json> got = relay.lines();
  EXPECT_EQ(got.front()["i"], 0);  // the oldest kept lines first
  EXPECT_EQ(relay.last().dropped, 30u);
  EXPECT_EQ(forwarder->pending(), 0u);
}

TEST(LogForwarderTest, ByteBoundAndUnsendableLinesAreCountedNotKept) {
  FakeRelay relay;
  relay.SetFailing(true);
  LogForwarderOptions o = Fast();
  o.max_buffer_bytes = 1000;
  auto forwarder = LogForwarder::Start(o, relay.Sender(), nullptr);
  Logger::Tee tee = forwarder->Tee();
  tee(std::string(2000, 'x'));  // over the byte bound
  tee("not json");              // kept, but can never be sent
  tee(Line(1));
  EXPECT_EQ(forwarder->dropped(), 1u);
  relay.SetFailing(false);
  ASSERT_TRUE(relay.WaitForLines(1));
  forwarder->Stop();
  EXPECT_EQ(relay.lines().size(), 1u);
  EXPECT_EQ(forwarder->dropped(), 2u);
  EXPECT_EQ(forwarder->pending(), 0u);
}

TEST(LogForwarderTest, StopSendsWhatIsLeftAndTheTeeOutlivesTheForwarder) {
  FakeRelay relay;
  LogForwarderOptions o;
  o.interval = absl::Hours(1);  // only Stop's last report sends
  auto forwarder = LogForwarder::Start(o, relay.Sender(), nullptr);
  Logger::Tee tee = forwarder->Tee();
  tee(Line(1));
  forwarder->Stop();
  EXPECT_EQ(relay.lines().size(), 1u);
  forwarder.reset();
  tee(Line(2));  // a logger still holding the tee: buffered, never sent, no crash
  EXPECT_EQ(relay.lines().size(), 1u);
}

TEST(LogForwarderTest, TheLoggerHandsEveryLineToTheTee) {
  FakeRelay relay;
  auto forwarder = LogForwarder::Start(Fast(), relay.Sender(), nullptr);
  std::ostringstream sink;
  Logger logger;
  logger.SetStream(&sink);
  logger.SetTee(forwarder->Tee());
  logger.Log(LogLevel::kInfo, "hello", {{"n", 1}});
  logger.Log(LogLevel::kDebug, "filtered");  // below the level: neither written nor forwarded
  ASSERT_TRUE(relay.WaitForLines(1));
  EXPECT_EQ(relay.lines()[0]["event"], "hello");
  EXPECT_EQ(relay.lines()[0]["level"], "info");
  logger.SetTee(nullptr);
  logger.Log(LogLevel::kInfo, "after");
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(relay.lines().size(), 1u);
  EXPECT_THAT(sink.str(), ::testing::HasSubstr("after"));
}

TEST(HealthCountersTest, NumbersAndBooleansByPathInNameOrder) {
  const nlohmann::json health = {
      {"status", "ok"},
      {"load_attempts", 2},
      {"key_memory_locked", true},
      {"attested_replies", {{"served", 5}, {"rate_per_second", 100.5}, {"burst", 20}}},
      {"refusals", {{"replay", 1}, {"Bad-Name", 3}}},
      {"negative", -1},
      {"pcr0", "abcd"}};
  const std::vector<std::pair<std::string, uint64_t>> expected = {
      {"attested_replies_burst", 20},
      {"attested_replies_served", 5},
      {"key_memory_locked", 1},
      {"load_attempts", 2},
      {"refusals_replay", 1}};
  EXPECT_EQ(HealthCounters(health), expected);
  nlohmann::json many = nlohmann::json::object();
  for (int i = 0; i < 100; ++i) many["c" + std::to_string(i)] = i;
  EXPECT_EQ(HealthCounters(many).size(), relay::kMaxLogCounters);
}

}  // namespace
}  // namespace lockout::enclave
