#include "src/enclave/key_manager.h"

#include <algorithm>
#include <random>
#include <set>
#include <utility>

#include "src/common/backoff.h"
#include "src/common/logger.h"

namespace lockout::enclave {

std::string_view LoadModeName(LoadMode mode) {
  switch (mode) {
    case LoadMode::kBoot:
      return "boot";
    case LoadMode::kFirstRequest:
      return "first-request";
    case LoadMode::kPerRequest:
      return "per-request";
  }
  return "unknown";
}

KeyManager::KeyManager(LoadFunction load, KeyManagerOptions options)
    : load_(std::move(load)), options_(options) {}

namespace {

std::unique_ptr<KeyManager> WithoutLoader() {
  return std::make_unique<KeyManager>(
      [](LoadFailure* f) -> absl::StatusOr<LoadedKey> {
        absl::Status s = absl::FailedPreconditionError("no loader");
        if (f != nullptr) *f = LoadFailure{s, "no loader", RetryClass::kFatal};
        return s;
      },
      KeyManagerOptions{});
}

}  // namespace

void KeyManager::KeepLocked(LoadedKey key) {
  if (key.hd != nullptr) {
    hd_.store(key.hd.get(), std::memory_order_release);
    owned_hd_ = std::move(key.hd);
  } else {
    signer_.store(key.signer.get(), std::memory_order_release);
    owned_ = std::move(key.signer);
  }
}

std::unique_ptr<KeyManager> KeyManager::WithSigner(std::unique_ptr<signer::Signer> signer) {
  std::unique_ptr<KeyManager> manager = WithoutLoader();
  absl::MutexLock lock(&manager->mu_);
  manager->KeepLocked(LoadedKey(std::move(signer)));
  manager->started_ = true;
  return manager;
}

std::unique_ptr<KeyManager> KeyManager::WithHd(std::unique_ptr<HdKeyring> hd) {
  std::unique_ptr<KeyManager> manager = WithoutLoader();
  absl::MutexLock lock(&manager->mu_);
  manager->KeepLocked(LoadedKey(std::move(hd)));
  manager->started_ = true;
  return manager;
}

KeyManager::~KeyManager() { Stop(); }

void KeyManager::Start() {
  if (options_.mode != LoadMode::kBoot) return;
  absl::MutexLock lock(&mu_);
  StartLocked();
}

void KeyManager::StartLocked() {
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { LoaderThread(); });
}

void KeyManager::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void KeyManager::LoaderThread() {
  std::mt19937_64 rng(std::random_device{}());
  std::set<std::string> reported;  // reasons already logged at warn level
  int transient_streak = 0;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const absl::Time start = absl::Now();
    LoadFailure failure;
    absl::StatusOr<LoadedKey> result = load_(&failure);
    const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);

    absl::MutexLock lock(&mu_);
    ++attempts_;
    if (loaded()) return;  // a key was installed meanwhile (Install): it wins
    if (result.ok()) {
      LogInfo("key_loaded", {{"key_type", signer::KeyTypeName(result->primary()->key_type())},
                             {"hd", result->hd != nullptr},
                             {"attempts", attempts_},
                             {"latency_ms", ms}});
      KeepLocked(*std::move(result));
      reason_.clear();
      detail_.clear();
      cv_.SignalAll();
      return;
    }
    reason_ = failure.reason.empty() ? std::string("load failed") : failure.reason;
    detail_ = std::string(result.status().message());
    // Each distinct reason is logged once at warn (with the detailed status); repeats at debug,
    // so a relay that is down for an hour does not flood the log.
    const bool first = reported.insert(reason_).second;
    Logger::Default().Log(first ? LogLevel::kWarn : LogLevel::kDebug, "key_load_failed",
                          {{"reason", reason_},
                           {"error", std::string(result.status().message())},
                           {"attempt", attempts_},
                           {"latency_ms", ms}});
    if (failure.retry == RetryClass::kFatal) {
      failed_ = true;
      LogError("key_load_gave_up", {{"reason", reason_}, {"attempts", attempts_}});
      cv_.SignalAll();
      return;
    }
    absl::Duration delay;
    if (failure.retry == RetryClass::kTransient) {
      ++transient_streak;
      delay = FullJitterBackoff(options_.initial_backoff, options_.max_backoff, transient_streak,
                                std::uniform_real_distribution<double>(0.0, 1.0)(rng));
    } else {
      transient_streak = 0;
      delay = options_.slow_retry * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
    }
    cv_.SignalAll();  // waiters re-check (a kFirstRequest waiter may want the new reason)
    const absl::Time until = absl::Now() + delay;
    while (!stopping_ && !loaded() && absl::Now() < until) {
      cv_.WaitWithDeadline(&mu_, until);
    }
    if (loaded()) return;
  }
}

absl::StatusOr<const signer::Signer*> KeyManager::AcquireSigner() {
  absl::StatusOr<KeyRef> key = AcquireKey();
  if (!key.ok()) return key.status();
  if (key->signer == nullptr) return absl::FailedPreconditionError(std::string(kHdNeedsPath));
  return key->signer;
}

absl::StatusOr<KeyRef> KeyManager::AcquireKey() {
  if (const signer::Signer* s = signer(); s != nullptr) return KeyRef{.signer = s, .hd = nullptr};
  if (const HdKeyring* h = hd(); h != nullptr) return KeyRef{.signer = nullptr, .hd = h};
  absl::MutexLock lock(&mu_);
  if (failed_) return absl::FailedPreconditionError("key loading failed: " + reason_);
  if (options_.mode == LoadMode::kFirstRequest) {
    StartLocked();
    const absl::Time deadline = absl::Now() + options_.load_wait;
    while (!loaded() && !failed_ && !stopping_ && absl::Now() < deadline) {
      cv_.WaitWithDeadline(&mu_, deadline);
    }
    if (const signer::Signer* s = signer(); s != nullptr) return KeyRef{.signer = s, .hd = nullptr};
    if (const HdKeyring* h = hd(); h != nullptr) return KeyRef{.signer = nullptr, .hd = h};
    if (failed_) return absl::FailedPreconditionError("key loading failed: " + reason_);
  }
  return absl::UnavailableError("key not loaded: " +
                                (reason_.empty() ? std::string("loading") : reason_));
}

absl::StatusOr<LoadedKey> KeyManager::LoadForRequest() {
  LoadFailure failure;
  absl::StatusOr<LoadedKey> result = load_(&failure);
  absl::MutexLock lock(&mu_);
  ++attempts_;
  reason_ = result.ok() ? std::string() : failure.reason;
  detail_ = result.ok() ? std::string() : std::string(result.status().message());
  return result;
}

absl::Status KeyManager::Install(std::unique_ptr<signer::Signer> key) {
  if (key == nullptr) return absl::InvalidArgumentError("no key to install");
  return InstallKey(LoadedKey(std::move(key)));
}

absl::Status KeyManager::Install(std::unique_ptr<HdKeyring> hd) {
  if (hd == nullptr) return absl::InvalidArgumentError("no key to install");
  return InstallKey(LoadedKey(std::move(hd)));
}

absl::Status KeyManager::InstallKey(LoadedKey key) {
  absl::MutexLock lock(&mu_);
  if (options_.mode == LoadMode::kPerRequest) {
    return absl::FailedPreconditionError("per-request mode keeps no key");
  }
  if (loaded()) return absl::FailedPreconditionError("a key is loaded already");
  if (failed_) return absl::FailedPreconditionError("key loading failed: " + reason_);
  const signer::KeyType type = key.primary()->key_type();
  const bool is_hd = key.hd != nullptr;
  KeepLocked(std::move(key));
  reason_.clear();
  detail_.clear();
  cv_.SignalAll();
  LogInfo("key_installed", {{"key_type", signer::KeyTypeName(type)}, {"hd", is_hd}});
  return absl::OkStatus();
}

KeyHealth KeyManager::Health() const {
  absl::MutexLock lock(&mu_);
  KeyHealth h;
  h.attempts = attempts_;
  h.reason = reason_;
  h.detail = detail_;
  if (loaded()) {
    h.state = "ok";
  } else if (failed_) {
    h.state = "failed";
  } else if (options_.mode == LoadMode::kPerRequest) {
    h.state = reason_.empty() ? "ok" : "degraded";
  } else if (!started_) {
    h.state = "idle";
  } else {
    h.state = "loading";
  }
  return h;
}

bool KeyManager::WaitUntilLoaded(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (!loaded() && !failed_ && absl::Now() < deadline) {
    cv_.WaitWithDeadline(&mu_, deadline);
  }
  return loaded();
}

}  // namespace lockout::enclave
