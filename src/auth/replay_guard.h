#pragma once

// ReplayGuard: the freshness half of request authentication. A signed request is accepted at
// most once, and only near the time it was signed:
//   * its timestamp must be within `window` of now (either side: clocks differ), and
//   * its (client, nonce) must not have been accepted before while it could still be fresh.
//
// A nonce is remembered until its own timestamp + window: after that the timestamp check alone
// refuses any replay of it, so it can be forgotten. Memory is bounded by `max_nonces` entries of
// fixed size (about 50 bytes each with the index: 2^20 nonces ~ 50 MiB); see Admit() for what
// happens when it is full.
//
// Thread-safety: thread-safe (one mutex; the enclave's workers verify concurrently).

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/bytes.h"
#include "src/common/clock.h"

namespace lockout::auth {

class ReplayGuard final {
 public:
  enum class Verdict {
    kAccepted,  // fresh, never seen: now recorded
    kStale,     // timestamp further than `window` from now
    kReplayed,  // this client's nonce was accepted before, within its window
    kFull,      // max_nonces nonces are still inside their window: refused, nothing forgotten
  };

  // `clock` must outlive the guard. `window` > 0, `max_nonces` >= 1.
  ReplayGuard(absl::Duration window, size_t max_nonces, const Clock& clock);

  // Decides on a request signed by `client` at `timestamp_ms` (unix ms) with `nonce`, and records
  // the nonce when it is accepted. Call it only after the request's signature has verified:
  // otherwise anyone could fill the cache with nonces, or burn a client's future nonce.
  //
  // When the cache is full of nonces still inside their window, the request is refused (kFull)
  // rather than one of them forgotten. Forgetting a nonce inside its window would let that exact
  // signed request be replayed - the one thing this guard exists to prevent - and an attacker
  // able to fill the cache would choose when. Refusing costs availability only, only until the
  // oldest nonces expire (at most 2 x window), and only an authorized client can fill the cache
  // (nonces are recorded after the signature verifies): a client that floods is a client the
  // policy trusts, and the policy's max_nonces must cover rate x window of honest traffic.
  Verdict Admit(std::string_view client, ByteView nonce, int64_t timestamp_ms);

  // Admit's decision without recording anything (kAccepted: Admit would accept now).
  Verdict Check(std::string_view client, ByteView nonce, int64_t timestamp_ms);

  // True if `timestamp_ms` is within the window of now.
  bool Fresh(int64_t timestamp_ms) const;

  // Nonces remembered now.
  size_t size() const;

  absl::Duration window() const { return window_; }
  size_t max_nonces() const { return max_nonces_; }

 private:
  // The first 16 bytes of SHA-256(u32be(len(client)) || client || nonce): a fixed-size key per
  // (client, nonce). Collisions need 2^64 work even with chosen nonces, and would only refuse a
  // request, never accept one.
  using Key = std::array<uint8_t, 16>;
  struct Expiry {
    int64_t at_ms;
    Key key;
    bool operator>(const Expiry& o) const { return at_ms > o.at_ms; }
  };
  static Key KeyOf(std::string_view client, ByteView nonce);
  Verdict Decide(const Key& key, int64_t timestamp_ms, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets nonces whose timestamp + window is before now.
  void Expire(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration window_;
  const int64_t window_ms_;
  const size_t max_nonces_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<Key> seen_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiries_
      ABSL_GUARDED_BY(mu_);
};

std::string_view VerdictName(ReplayGuard::Verdict verdict);

}  // namespace lockout::auth
