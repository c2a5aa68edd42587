#pragma once

// ReplayGuard: the freshness half of request authentication. A signed request is accepted at
// most once, and only near the time it was signed:
//   * its timestamp must be within `window` of now (either side: clocks differ), and
//   * its (client, nonce) must not have been accepted before while it could still be fresh.
//
// A nonce is remembered until its own timestamp + window: after that the timestamp check alone
// refuses any replay of it, so it can be forgotten. Memory is bounded by `max_nonces` entries of
// fixed size (about 60 bytes each with the index: 2^20 nonces ~ 60 MiB); see Admit() for what
// happens when it is full.
//
// Fairness: each client holds at most `max_nonces_per_client` of them (RequestVerifier gives each
// of the policy's N clients max_nonces / N), so one client that floods fills only its own share
// and is refused (kFull) while every other client keeps its share: with shares that add up to at
// most max_nonces, the cache as a whole can never be full for a client within its share.
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
#include "absl/container/flat_hash_map.h"
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
    kFull,      // max_nonces nonces, or this client's max_nonces_per_client, are still inside
                // their window: refused, nothing forgotten
  };

  // `clock` must outlive the guard. `window` > 0, `max_nonces` >= 1; `max_nonces_per_client`
  // 0 means max_nonces (one client may fill the cache), else it is capped at max_nonces.
  ReplayGuard(absl::Duration window, size_t max_nonces, const Clock& clock,
              size_t max_nonces_per_client = 0);

  // Decides on a request signed by `client` at `timestamp_ms` (unix ms) with `nonce`, and records
  // the nonce when it is accepted. Call it only after the request's signature has verified:
  // otherwise anyone could fill the cache with nonces, or burn a client's future nonce.
  //
  // When the cache, or this client's share of it, is full of nonces still inside their window, the
  // request is refused (kFull) rather than one of them forgotten. Forgetting a nonce inside its
  // window would let that exact signed request be replayed - the one thing this guard exists to
  // prevent - and an attacker able to fill the cache would choose when. Refusing costs availability
  // only, only until the oldest nonces expire (at most 2 x window), and only an authorized client
  // can fill the cache (nonces are recorded after the signature verifies): a client that floods is
  // a client the policy trusts, and with per-client shares it denies only itself. Each client's
  // share must cover its own rate x window of honest traffic.
  Verdict Admit(std::string_view client, ByteView nonce, int64_t timestamp_ms);

  // Admit's decision without recording anything (kAccepted: Admit would accept now).
  Verdict Check(std::string_view client, ByteView nonce, int64_t timestamp_ms);

  // True if `timestamp_ms` is within the window of now.
  bool Fresh(int64_t timestamp_ms) const;

  // Nonces remembered now, in all and for `client`.
  size_t size() const;
  size_t size_for(std::string_view client) const;

  absl::Duration window() const { return window_; }
  size_t max_nonces() const { return max_nonces_; }
  size_t max_nonces_per_client() const { return max_per_client_; }

 private:
  // The first 16 bytes of SHA-256(u32be(len(client)) || client || nonce): a fixed-size key per
  // (client, nonce). Collisions need 2^64 work even with chosen nonces, and would only refuse a
  // request, never accept one.
  using Key = std::array<uint8_t, 16>;
  // The first 8 bytes of SHA-256(u32be(len(client)) || client): whose share a nonce counts in.
  // Clients are the policy's (only verified requests are admitted), so these never collide in
  // practice; a collision would only make two clients share one quota.
  using ClientId = uint64_t;
  struct Expiry {
    int64_t at_ms;
    Key key;
    ClientId client;
    bool operator>(const Expiry& o) const { return at_ms > o.at_ms; }
  };
  static Key KeyOf(std::string_view client, ByteView nonce);
  static ClientId ClientIdOf(std::string_view client);
  Verdict Decide(const Key& key, ClientId client, int64_t timestamp_ms, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets nonces whose timestamp + window is before now.
  void Expire(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration window_;
  const int64_t window_ms_;
  const size_t max_nonces_;
  const size_t max_per_client_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<Key> seen_ ABSL_GUARDED_BY(mu_);
  // Nonces remembered per client (no entry for a client with none: at most max_nonces entries).
  absl::flat_hash_map<ClientId, size_t> per_client_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiries_
      ABSL_GUARDED_BY(mu_);
};

std::string_view VerdictName(ReplayGuard::Verdict verdict);

}  // namespace lockout::auth
