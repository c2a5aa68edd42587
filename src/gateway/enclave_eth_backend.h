#pragma once

// EnclaveEthBackend: EthBackend over the enclave's v2 protocol, with a small bounded pool of
// persistent connections reused across calls (docs/WALLET.md, "JSON-RPC gateway").
//
// Each connection is an ops::EnclaveV2Client (the project's one v2 client: it numbers requests,
// checks that every reply echoes its request's id, and with a client key signs every request,
// docs/PROTOCOL.md §2 "Authenticated requests"). An EnclaveV2Client carries one request at a
// time, so the pool is what lets the HTTP server's workers call concurrently:
//
//   * At most options.connections connections exist, so at most that many requests are in
//     flight; a call waits up to options.busy_timeout for one to be free, then fails
//     (ResourceExhausted, "enclave busy").
//   * Idle connections are reused, most recently used first, so a sequential client is served
//     on one connection.
//   * A connection is returned to the pool only after an exchange that ended with a reply whose
//     id matched (OK, or the enclave's refusal). After anything else — a timeout, a reset, a
//     reply that did not check — it is closed, so a late reply to a timed-out request is never
//     read as the answer to the next one.
//   * A reused connection that turns out closed (Unavailable/DataLoss: the enclave restarted)
//     is dropped with every other idle one and the call is retried once on a new connection.
//     The enclave's eth ops have no side effects and RFC 6979 signatures are deterministic, so
//     a repeat is harmless; an authenticated repeat is signed afresh (new nonce).
//   * Connecting is paced with the project's backoff (src/common/backoff.h, full jitter): after
//     a failed connect, calls fail at once (Unavailable, "enclave unreachable: ...") until the
//     backoff has passed; then the next call tries again. Nothing runs in the background.
//
// Every new connection is logged ("gateway_enclave_connected", with the running count) and
// counted in stats().
// Thread-safety: thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/auth/client_key.h"
#include "src/gateway/eth_gateway.h"
#include "src/net/endpoint.h"

namespace lockout::gateway {

struct EnclavePoolOptions {
  // Most connections open (and requests in flight) at once: 1..kMaxEnclaveConnections.
  int connections = 2;
  // Per enclave request (the write and its reply) and per connect.
  absl::Duration timeout = absl::Seconds(10);
  // The longest wait for a free connection (`lockout gateway` sets it to `timeout`).
  absl::Duration busy_timeout = absl::Seconds(10);
  // Reconnect pacing after failed connects: FullJitterBackoff(initial, max, failures).
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(5);
  // The jitter draw in [0, 1] for each wait; empty: uniform random (tests fix it).
  std::function<double()> jitter{};
};

inline constexpr int kMaxEnclaveConnections = 16;

class EnclaveEthBackend final : public EthBackend {
 public:
  EnclaveEthBackend(net::Endpoint endpoint, EnclavePoolOptions options,
                    std::shared_ptr<const auth::ClientKey> client_key);

  absl::StatusOr<eth::Address> Address();
  absl::StatusOr<ops::EthSignedTransaction> SignTransaction(
      const nlohmann::json& transaction) override;
  absl::StatusOr<eth::RecoverableSignature> PersonalSign(ByteView message) override;
  absl::StatusOr<eth::RecoverableSignature> SignTypedData(
      const nlohmann::json& typed_data) override;

  struct Stats {
    uint64_t connects = 0;          // connections opened
    uint64_t connect_failures = 0;  // failed connects
    uint64_t dropped = 0;           // connections closed after a failed exchange
    uint64_t calls = 0;             // exchanges attempted (retries included)
    int open = 0;                   // connections open now (idle + in use)
  };
  Stats stats() const;

 private:
  using Client = ops::EnclaveV2Client;
  template <typename T>
  absl::StatusOr<T> WithClient(absl::FunctionRef<absl::StatusOr<T>(Client&)> call);
  // A connection for one exchange; `reused` says whether it served before.
  absl::StatusOr<std::unique_ptr<Client>> Acquire(bool& reused);
  absl::StatusOr<std::unique_ptr<Client>> Open();
  // Gives `client` back (healthy) or closes it.
  void Release(std::unique_ptr<Client> client, bool healthy, bool drop_idle);

  const net::Endpoint endpoint_;
  const EnclavePoolOptions options_;
  const std::shared_ptr<const auth::ClientKey> client_key_;

  mutable absl::Mutex mu_;
  absl::CondVar freed_;  // signalled when a connection is given back or closed
  std::vector<std::unique_ptr<Client>> idle_ ABSL_GUARDED_BY(mu_);
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int connect_failures_in_a_row_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_connect_error_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 jitter_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lockout::gateway
