#include "src/auth/replay_guard.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "src/crypto/hash.h"

namespace lockout::auth {

ReplayGuard::ReplayGuard(absl::Duration window, size_t max_nonces, const Clock& clock)
    : window_(window),
      window_ms_(std::max<int64_t>(absl::ToInt64Milliseconds(window), 0)),
      max_nonces_(std::max<size_t>(max_nonces, 1)),
      clock_(clock) {}

ReplayGuard::Key ReplayGuard::KeyOf(std::string_view client, ByteView nonce) {
  std::string input;
  input.reserve(4 + client.size() + nonce.size());
  const size_t n = client.size();
  input.push_back(static_cast<char>((n >> 24) & 0xFF));
  input.push_back(static_cast<char>((n >> 16) & 0xFF));
  input.push_back(static_cast<char>((n >> 8) & 0xFF));
  input.push_back(static_cast<char>(n & 0xFF));
  input.append(client);
  input.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  const crypto::Sha256Digest digest = crypto::Sha256(AsBytes(input));
  Key key;
  std::memcpy(key.data(), digest.data(), key.size());
  return key;
}

bool ReplayGuard::Fresh(int64_t timestamp_ms) const {
  // timestamp_ms >= 0 and now is a few 10^12 ms: neither difference can overflow.
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  const int64_t diff = now_ms >= timestamp_ms ? now_ms - timestamp_ms : timestamp_ms - now_ms;
  return timestamp_ms >= 0 && diff <= window_ms_;
}

void ReplayGuard::Expire(int64_t now_ms) {
  // A nonce can be replayed while its timestamp is fresh, i.e. until timestamp + window.
  while (!expiries_.empty() && expiries_.top().at_ms < now_ms) {
    seen_.erase(expiries_.top().key);
    expiries_.pop();
  }
}

ReplayGuard::Verdict ReplayGuard::Decide(const Key& key, int64_t timestamp_ms, int64_t now_ms) {
  const int64_t diff = now_ms >= timestamp_ms ? now_ms - timestamp_ms : timestamp_ms - now_ms;
  if (timestamp_ms < 0 || diff > window_ms_) return Verdict::kStale;
  Expire(now_ms);
  if (seen_.contains(key)) return Verdict::kReplayed;
  if (seen_.size() >= max_nonces_) return Verdict::kFull;
  return Verdict::kAccepted;
}

ReplayGuard::Verdict ReplayGuard::Admit(std::string_view client, ByteView nonce,
                                        int64_t timestamp_ms) {
  const Key key = KeyOf(client, nonce);
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  absl::MutexLock lock(&mu_);
  const Verdict v = Decide(key, timestamp_ms, now_ms);
  if (v != Verdict::kAccepted) return v;
  seen_.insert(key);
  // Fresh means timestamp <= now + window, so this cannot overflow.
  expiries_.push(Expiry{.at_ms = timestamp_ms + window_ms_, .key = key});
  return v;
}

ReplayGuard::Verdict ReplayGuard::Check(std::string_view client, ByteView nonce,
                                        int64_t timestamp_ms) {
  const Key key = KeyOf(client, nonce);
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  absl::MutexLock lock(&mu_);
  return Decide(key, timestamp_ms, now_ms);
}

size_t ReplayGuard::size() const {
  absl::MutexLock lock(&mu_);
  return seen_.size();
}

std::string_view VerdictName(ReplayGuard::Verdict verdict) {
  switch (verdict) {
    case ReplayGuard::Verdict::kAccepted:
      return "accepted";
    case ReplayGuard::Verdict::kStale:
      return "stale";
    case ReplayGuard::Verdict::kReplayed:
      return "replayed";
    case ReplayGuard::Verdict::kFull:
      return "full";
  }
  return "unknown";
}

}  // namespace lockout::auth
