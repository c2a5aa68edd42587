#pragma once

// FakeClockTicker: moves a FakeClock forward by `step` every `period` of real time, on a thread of
// its own, until destroyed. A blocking call with a deadline on that clock (computed before the
// call or inside it) then gives up after about (timeout / step) * period of real time plus one
// net::kFakeClockSlice, however long the timeout: tests of timeouts need not sleep for them.

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "src/common/clock.h"

namespace lockout::testing {

class FakeClockTicker final {
 public:
  explicit FakeClockTicker(FakeClock& clock, absl::Duration step = absl::Seconds(1),
                           absl::Duration period = absl::Milliseconds(1))
      : thread_([this, &clock, step, period] {
          while (!stop_.WaitForNotificationWithTimeout(period)) clock.Advance(step);
        }) {}
  ~FakeClockTicker() {
    stop_.Notify();
    thread_.join();
  }
  FakeClockTicker(const FakeClockTicker&) = delete;
  FakeClockTicker& operator=(const FakeClockTicker&) = delete;

 private:
  absl::Notification stop_;
  std::thread thread_;  // last: starts after stop_ exists
};

}  // namespace lockout::testing
