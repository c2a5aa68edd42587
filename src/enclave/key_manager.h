#pragma once

// KeyManager: when the signing key is loaded, and who waits for it.
//
// Modes (lockout-enclave --load-at / --decrypt-per-request):
//   kBoot          Start() loads in a background thread and keeps retrying (jittered backoff)
//                  until it succeeds or fails fatally; requests that need the key before then
//                  fail at once with "key not loaded" and health says why ("loading: relay
//                  unavailable").
//   kFirstRequest  the first request that needs the key starts the same background loader and
//                  waits for it up to `load_wait`; later ones find the key loaded.
//   kPerRequest    the seed's design, for comparison: every request runs one full load (relay,
//                  attestation, KMS Decrypt) and the key is dropped after use.
//
// The secret may be an HD seed (hd_keyring.h): then hd() is set instead of signer(), and every
// request that signs names a derivation path (request_handler.h).
//
// The signing path is lock-free: signer() is one atomic load. The loaded Signer lives as long as
// the manager. The mutex only guards the loading state (health, waiters).
// Thread-safety: all methods are thread-safe.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/enclave/key_loader.h"
#include "src/signer/signer.h"

namespace lockout::enclave {

enum class LoadMode { kBoot, kFirstRequest, kPerRequest };

// AcquireSigner's error message when the loaded key is an HD seed.
inline constexpr std::string_view kHdNeedsPath = "the key is an HD seed: the request needs a path";

// "boot", "first-request", "per-request".
std::string_view LoadModeName(LoadMode mode);

// One load attempt (KeyLoader::LoadKey, or a fake in tests): a single key or an HD keyring.
using LoadFunction = std::function<absl::StatusOr<LoadedKey>(LoadFailure*)>;

// What a request signs with once the key is loaded: exactly one of the two is set.
struct KeyRef {
  const signer::Signer* signer = nullptr;  // a single key
  const HdKeyring* hd = nullptr;           // an HD seed: a signer per derivation path
};

struct KeyManagerOptions {
  LoadMode mode = LoadMode::kBoot;
  // Transient failures: full-jitter exponential backoff from initial to max.
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
  // Failures that need an operator (AccessDenied, name not allowed): retried this often.
  absl::Duration slow_retry = absl::Seconds(30);
  // kFirstRequest: how long a request waits for the loader.
  absl::Duration load_wait = absl::Seconds(30);
};

struct KeyHealth {
  // "ok", "loading" (not loaded yet, still trying; kFirstRequest before the first request:
  // "idle"), "failed" (gave up: fatal error).
  std::string state;
  // Short, generic reason of the last failure ("relay unavailable"); empty when ok.
  std::string reason;
  // The last failure in full ("invalid signing key: p521, expected secp256k1"): what the log
  // says, for an operator who cannot read the enclave's console. Errors never carry secrets.
  std::string detail;
  int attempts = 0;
};

class KeyManager final {
 public:
  KeyManager(LoadFunction load, KeyManagerOptions options);
  // A manager that already holds `signer` (tests, benchmarks, a key generated in-enclave).
  static std::unique_ptr<KeyManager> WithSigner(std::unique_ptr<signer::Signer> signer);
  // A manager that already holds an HD keyring (tests).
  static std::unique_ptr<KeyManager> WithHd(std::unique_ptr<HdKeyring> hd);
  ~KeyManager();  // Stops.
  KeyManager(const KeyManager&) = delete;
  KeyManager& operator=(const KeyManager&) = delete;

  // kBoot: starts the background loader. Otherwise does nothing. Idempotent.
  void Start();
  // Stops the background loader (an attempt in progress finishes first). Idempotent.
  void Stop();

  LoadMode mode() const { return options_.mode; }

  // The loaded single key, or null (also when the secret is an HD seed). Lock-free.
  const signer::Signer* signer() const { return signer_.load(std::memory_order_acquire); }
  // The loaded HD keyring, or null. Lock-free.
  const HdKeyring* hd() const { return hd_.load(std::memory_order_acquire); }
  // A key (single or HD) is loaded.
  bool loaded() const { return signer() != nullptr || hd() != nullptr; }
  // The single key's signer or the HD master's, or null: what health and logs describe.
  const signer::Signer* primary() const {
    if (const HdKeyring* h = hd(); h != nullptr) return &h->master();
    return signer();
  }

  // For a request that needs the key (kBoot, kFirstRequest). Unavailable("key not loaded: ...")
  // if it is not loaded (kBoot) or not loaded within load_wait (kFirstRequest);
  // FailedPrecondition if loading failed fatally.
  absl::StatusOr<KeyRef> AcquireKey();
  // AcquireKey() for a single key: FailedPrecondition (kHdNeedsPath) when the key is an HD seed.
  absl::StatusOr<const signer::Signer*> AcquireSigner();

  // kPerRequest: one full load for one request; the caller owns (and drops) the key.
  absl::StatusOr<LoadedKey> LoadForRequest();

  KeyHealth Health() const;

  // Installs a key made in the enclave (key_generation.h) when none is loaded: the background
  // loader (still retrying, e.g. "secret unavailable") stops and discards whatever it loads
  // later. FailedPrecondition if a key is loaded already, loading failed fatally, or the mode is
  // kPerRequest (which keeps no key).
  absl::Status Install(std::unique_ptr<signer::Signer> key);
  // The same for an HD seed generated in the enclave (its keyring).
  absl::Status Install(std::unique_ptr<HdKeyring> hd);

  // Blocks until the key is loaded or loading failed fatally, at most `timeout`; true if loaded.
  bool WaitUntilLoaded(absl::Duration timeout);

 private:
  void StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void KeepLocked(LoadedKey key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InstallKey(LoadedKey key);
  void LoaderThread();

  const LoadFunction load_;
  const KeyManagerOptions options_;
  std::atomic<const signer::Signer*> signer_{nullptr};
  std::atomic<const HdKeyring*> hd_{nullptr};

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::unique_ptr<signer::Signer> owned_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<HdKeyring> owned_hd_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  std::string reason_ ABSL_GUARDED_BY(mu_);
  std::string detail_ ABSL_GUARDED_BY(mu_);
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace lockout::enclave
