#include "src/awsclient/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "src/common/backoff.h"

namespace lockout::awsclient {
namespace {

double DefaultUniform01() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// The same status with `suffix` appended to its message; payloads (AwsCallError) are kept.
absl::Status AppendToMessage(const absl::Status& status, std::string_view suffix) {
  absl::Status out(status.code(),
                   absl::StrCat(status.message(), absl::string_view(suffix.data(), suffix.size())));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace

absl::Duration BackoffDelay(const RetryPolicy& policy, int retry, double u) {
  return FullJitterBackoff(policy.initial_backoff, policy.max_backoff, retry, u);
}

absl::Status RunWithRetries(const RetryPolicy& policy, const RetryEnvironment& env,
                            const std::function<AttemptResult(int, absl::Duration)>& attempt,
                            int* attempts_made) {
  const Clock& clock = env.clock != nullptr ? *env.clock : Clock::Real();
  const absl::Time deadline = clock.Now() + policy.total_timeout;
  const int max_attempts = std::max(1, policy.max_attempts);
  absl::Status last = absl::DeadlineExceededError("no attempt made before the deadline");
  int made = 0;
  for (int n = 1; n <= max_attempts; ++n) {
    const absl::Duration left = deadline - clock.Now();
    if (left <= absl::ZeroDuration()) break;
    ++made;
    AttemptResult result = attempt(n, std::min(policy.attempt_timeout, left));
    last = std::move(result.status);
    if (last.ok() || !result.retryable) break;
    if (n == max_attempts) {
      if (max_attempts > 1) {
        last = AppendToMessage(last, absl::StrCat(" (gave up after ", made, " attempts)"));
      }
      break;
    }
    const double u = env.uniform01 ? env.uniform01() : DefaultUniform01();
    const absl::Duration delay = BackoffDelay(policy, n, u);
    if (clock.Now() + delay >= deadline) {
      last = AppendToMessage(
          last, absl::StrCat(" (gave up after ", made, " attempts: retry deadline reached)"));
      break;
    }
    if (env.sleep) {
      env.sleep(delay);
    } else {
      absl::SleepFor(delay);
    }
  }
  if (attempts_made != nullptr) *attempts_made = made;
  return last;
}

}  // namespace lockout::awsclient
