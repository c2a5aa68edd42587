#include "src/enclave/hd_keyring.h"

#include <array>
#include <utility>

#include "src/signer/key_memory_lock.h"

namespace lockout::enclave {

absl::StatusOr<std::optional<std::string>> MasterXpub(hd::Curve curve, const SecretBytes& seed) {
  if (curve != hd::Curve::kSecp256k1) return std::optional<std::string>();
  absl::StatusOr<hd::ExtendedPrivateKey> m = hd::ExtendedPrivateKey::FromSeed(curve, seed);
  if (!m.ok()) return m.status();
  absl::StatusOr<std::string> xpub = m->Public().ToXpub();
  if (!xpub.ok()) return xpub.status();
  return std::optional<std::string>(*std::move(xpub));
}

absl::StatusOr<std::unique_ptr<signer::Signer>> DeriveSigner(hd::Curve curve,
                                                             const SecretBytes& seed,
                                                             const hd::DerivationPath& path) {
  absl::StatusOr<hd::ExtendedPrivateKey> master = hd::ExtendedPrivateKey::FromSeed(curve, seed);
  if (!master.ok()) return master.status();
  absl::StatusOr<hd::ExtendedPrivateKey> child = master->Derive(path);
  if (!child.ok()) return child.status();
  absl::StatusOr<SecretBytes> pkcs8 = child->ToPkcs8();
  if (!pkcs8.ok()) return pkcs8.status();
  absl::StatusOr<std::unique_ptr<signer::Signer>> signer = signer::Signer::FromPkcs8(*pkcs8);
  pkcs8->Clear();
  return signer;
}

absl::StatusOr<std::unique_ptr<HdKeyring>> HdKeyring::FromSeed(hd::Curve curve, SecretBytes seed,
                                                               size_t max_cached) {
  signer::KeyMemoryLock::Process().Record("hd_seed", seed.Lock());
  absl::StatusOr<std::unique_ptr<signer::Signer>> master =
      DeriveSigner(curve, seed, hd::DerivationPath());
  if (!master.ok()) return master.status();
  return std::unique_ptr<HdKeyring>(
      new HdKeyring(curve, std::move(seed), *std::move(master), max_cached == 0 ? 1 : max_cached));
}

HdKeyring::HdKeyring(hd::Curve curve, SecretBytes seed, std::unique_ptr<signer::Signer> master,
                     size_t max_cached)
    : curve_(curve), seed_(std::move(seed)), master_(std::move(master)), max_cached_(max_cached) {}

absl::StatusOr<Bytes> DerivedSigner::Sign(ByteView message,
                                          const signer::SignOptions& options) const {
  std::unique_ptr<signer::SigningContext> ctx;
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      ctx = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (ctx == nullptr) {
    absl::StatusOr<std::unique_ptr<signer::SigningContext>> made = signer_->NewContext();
    if (!made.ok()) return made.status();
    ctx = *std::move(made);
  }
  std::array<uint8_t, signer::kMaxSignatureSize> sig{};
  absl::StatusOr<size_t> n = ctx->Sign(message, options, absl::MakeSpan(sig));
  {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < kMaxIdleContexts) idle_.push_back(std::move(ctx));
  }
  ctx.reset();  // outside the lock, if it was not kept
  if (!n.ok()) return n.status();
  return Bytes(sig.begin(), sig.begin() + static_cast<std::ptrdiff_t>(*n));
}

size_t DerivedSigner::idle_contexts() const {
  absl::MutexLock lock(&mu_);
  return idle_.size();
}

absl::StatusOr<std::shared_ptr<const signer::Signer>> HdKeyring::SignerFor(
    const hd::DerivationPath& path) const {
  absl::StatusOr<std::shared_ptr<const DerivedSigner>> derived = DerivedFor(path);
  if (!derived.ok()) return derived.status();
  // Aliasing: the signer, keeping its DerivedSigner alive.
  const signer::Signer* signer = &(*derived)->signer();
  return std::shared_ptr<const signer::Signer>(*std::move(derived), signer);
}

absl::StatusOr<std::shared_ptr<const DerivedSigner>> HdKeyring::DerivedFor(
    const hd::DerivationPath& path) const {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = index_.find(path.indices()); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  // Derived outside the lock (two threads may derive the same path at once; one result is kept).
  absl::StatusOr<std::unique_ptr<signer::Signer>> derived = DeriveSigner(curve_, seed_, path);
  if (!derived.ok()) return derived.status();
  auto signer = std::make_shared<const DerivedSigner>(*std::move(derived));
  absl::MutexLock lock(&mu_);
  ++derivations_;
  if (auto it = index_.find(path.indices()); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  lru_.emplace_front(path.indices(), signer);
  index_[path.indices()] = lru_.begin();
  while (lru_.size() > max_cached_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return signer;
}

size_t HdKeyring::cached() const {
  absl::MutexLock lock(&mu_);
  return lru_.size();
}

uint64_t HdKeyring::derivations() const {
  absl::MutexLock lock(&mu_);
  return derivations_;
}

}  // namespace lockout::enclave
