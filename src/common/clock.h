#pragma once

// Time source. Production code takes a Clock& so tests can fix or advance time.
// RealClock is thread-safe; FakeClock is thread-safe (internally locked).

#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace lockout {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // The process-wide real clock.
  static Clock& Real();
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// Parses an RFC 3339 timestamp ("2023-09-18T15:03:30Z", fractional seconds and offsets allowed).
absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text);
// Formats as RFC 3339 UTC with millisecond precision.
std::string FormatRfc3339(absl::Time t);

}  // namespace lockout
