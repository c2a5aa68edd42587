#include "src/auth/replay_guard.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "src/crypto/hash.h"

namespace lockout::auth {

ReplayGuard::ReplayGuard(absl::Duration window, size_t max_nonces, const Clock& clock,
                         size_t max_nonces_per_client)
    : window_(window),
      window_ms_(std::max<int64_t>(absl::ToInt64Milliseconds(window), 0)),
      max_nonces_(std::max<size_t>(max_nonces, 1)),
      max_per_client_(max_nonces_per_client == 0 ? max_nonces_
                                                 : std::min(max_nonces_per_client, max_nonces_)),
      clock_(clock) {}

namespace {

// u32be(len(client)) || client || suffix.
std::string LengthPrefixed(std::string_view client, ByteView suffix) {
  std::string input;
  input.reserve(4 + client.size() + suffix.size());
  const size_t n = client.size();
  input.push_back(static_cast<char>((n >> 24) & 0xFF));
  input.push_back(static_cast<char>((n >> 16) & 0xFF));
  input.push_back(static_cast<char>((n >> 8) & 0xFF));
  input.push_back(static_cast<char>(n & 0xFF));
  input.append(client);
  input.append(reinterpret_cast<const char*>(suffix.data()), suffix.size());
  return input;
}

}  // namespace

ReplayGuard::Key ReplayGuard::KeyOf(std::string_view client, ByteView nonce) {
  const crypto::Sha256Digest digest = crypto::Sha256(AsBytes(LengthPrefixed(client, nonce)));
  Key key;
  std::memcpy(key.data(), digest.data(), key.size());
  return key;
}

ReplayGuard::ClientId ReplayGuard::ClientIdOf(std::string_view client) {
  const crypto::Sha256Digest digest = crypto::Sha256(AsBytes(LengthPrefixed(client, {})));
  ClientId id = 0;
  for (size_t i = 0; i < sizeof(id); ++i) id = (id << 8) | static_cast<ClientId>(digest[i]);
  return id;
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
    const Expiry& e = expiries_.top();
    seen_.erase(e.key);
    if (auto it = per_client_.find(e.client); it != per_client_.end() && --it->second == 0) {
      per_client_.erase(it);
    }
    expiries_.pop();
  }
}

ReplayGuard::Verdict ReplayGuard::Decide(const Key& key, ClientId client, int64_t timestamp_ms,
                                         int64_t now_ms) {
  const int64_t diff = now_ms >= timestamp_ms ? now_ms - timestamp_ms : timestamp_ms - now_ms;
  if (timestamp_ms < 0 || diff > window_ms_) return Verdict::kStale;
  Expire(now_ms);
  if (seen_.contains(key)) return Verdict::kReplayed;
  if (seen_.size() >= max_nonces_) return Verdict::kFull;
  if (auto it = per_client_.find(client);
      it != per_client_.end() && it->second >= max_per_client_) {
    return Verdict::kFull;
  }
  return Verdict::kAccepted;
}

ReplayGuard::Verdict ReplayGuard::Admit(std::string_view client, ByteView nonce,
                                        int64_t timestamp_ms) {
  const Key key = KeyOf(client, nonce);
  const ClientId id = ClientIdOf(client);
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  absl::MutexLock lock(&mu_);
  const Verdict v = Decide(key, id, timestamp_ms, now_ms);
  if (v != Verdict::kAccepted) return v;
  seen_.insert(key);
  ++per_client_[id];
  // Fresh means timestamp <= now + window, so this cannot overflow.
  expiries_.push(Expiry{.at_ms = timestamp_ms + window_ms_, .key = key, .client = id});
  return v;
}

ReplayGuard::Verdict ReplayGuard::Check(std::string_view client, ByteView nonce,
                                        int64_t timestamp_ms) {
  const Key key = KeyOf(client, nonce);
  const ClientId id = ClientIdOf(client);
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  absl::MutexLock lock(&mu_);
  return Decide(key, id, timestamp_ms, now_ms);
}

size_t ReplayGuard::size() const {
  absl::MutexLock lock(&mu_);
  return seen_.size();
}

size_t ReplayGuard::size_for(std::string_view client) const {
  const ClientId id = ClientIdOf(client);
  absl::MutexLock lock(&mu_);
  auto it = per_client_.find(id);
  return it == per_client_.end() ? 0 : it->second;
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
