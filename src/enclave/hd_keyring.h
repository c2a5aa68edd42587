#pragma once

// HdKeyring: the enclave's secret when it is an HD seed (hd/seed_secret.h; docs/WALLET.md
// "HD keys"): signers for derivation paths, derived on demand.
//
//   seed (SecretBytes, mlocked) ──► BIP-32 / SLIP-10 master (hd::ExtendedPrivateKey)
//        ──► Derive(path) ──► PKCS#8 (SecretBytes, wiped) ──► signer::Signer
//
// Only the seed is kept; each derivation starts from it and its intermediate keys are
// SecretBytes, wiped when they go out of scope. Derived signers are cached (least recently used
// first out) up to `max_cached` of them, so a busy path costs one derivation, and memory stays
// bounded however many paths clients ask for. The master key's signer (path m) is kept for the
// policy's key pin and health: a pin of a seed secret names m.
// A cached signer keeps up to kMaxIdleContexts signing contexts for reuse (DerivedSigner), so a
// busy path also costs no SigningContext per signature (see docs/WALLET.md for the figures).
// Thread-safety: all methods are thread-safe; a returned signer stays valid while its
// shared_ptr lives (eviction only drops the cache's reference).

#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/common/secret_bytes.h"
#include "src/hd/derivation_path.h"
#include "src/hd/extended_key.h"
#include "src/signer/signer.h"

namespace lockout::enclave {

inline constexpr size_t kDefaultHdCacheSize = 256;

// A derived child's signer with the signing contexts kept for it. Making a SigningContext per
// signature (what signer::Signer::Sign does) costs a secp256k1 context's blinding or OpenSSL
// fetches each time; Sign here takes an idle context (or makes one), signs without a lock and
// puts the context back unless kMaxIdleContexts are already idle: at most that many stay per
// signer, so memory is bounded by the keyring's size. Thread-safe.
class DerivedSigner final {
 public:
  static constexpr size_t kMaxIdleContexts = 4;

  explicit DerivedSigner(std::unique_ptr<signer::Signer> signer) : signer_(std::move(signer)) {}
  DerivedSigner(const DerivedSigner&) = delete;
  DerivedSigner& operator=(const DerivedSigner&) = delete;

  const signer::Signer& signer() const { return *signer_; }
  // As signer::Signer::Sign, through a reused context.
  absl::StatusOr<Bytes> Sign(ByteView message, const signer::SignOptions& options) const;
  size_t idle_contexts() const;

 private:
  const std::unique_ptr<signer::Signer> signer_;
  mutable absl::Mutex mu_;
  // Declared after signer_: the contexts (which borrow it) are destroyed first.
  mutable std::vector<std::unique_ptr<signer::SigningContext>> idle_ ABSL_GUARDED_BY(mu_);
};

class HdKeyring final {
 public:
  // Takes the seed (locked in memory here). Errors: those of hd::ExtendedPrivateKey::FromSeed
  // (seed size, an invalid master) and of making the master's signer.
  static absl::StatusOr<std::unique_ptr<HdKeyring>> FromSeed(
      hd::Curve curve, SecretBytes seed, size_t max_cached = kDefaultHdCacheSize);

  HdKeyring(const HdKeyring&) = delete;
  HdKeyring& operator=(const HdKeyring&) = delete;

  hd::Curve curve() const { return curve_; }
  signer::KeyType key_type() const { return master_->key_type(); }
  // The signer of the master key m.
  const signer::Signer& master() const { return *master_; }

  // The signer for `path` (from the cache, or derived now). Errors: InvalidArgument for a path
  // the curve cannot derive (a normal index on ed25519); FailedPrecondition for an invalid
  // secp256k1 child (BIP-32: probability below 2^-127); Internal if the crypto fails.
  absl::StatusOr<std::shared_ptr<const signer::Signer>> SignerFor(
      const hd::DerivationPath& path) const;
  // The same, with the contexts to sign through (what the request handler signs with).
  absl::StatusOr<std::shared_ptr<const DerivedSigner>> DerivedFor(
      const hd::DerivationPath& path) const;

  size_t cached() const;
  size_t max_cached() const { return max_cached_; }
  // Derivations done (cache misses), for tests and health.
  uint64_t derivations() const;

 private:
  HdKeyring(hd::Curve curve, SecretBytes seed, std::unique_ptr<signer::Signer> master,
            size_t max_cached);

  using Entry = std::pair<std::vector<uint32_t>, std::shared_ptr<const DerivedSigner>>;

  const hd::Curve curve_;
  const SecretBytes seed_;
  const std::unique_ptr<signer::Signer> master_;
  const size_t max_cached_;
  mutable absl::Mutex mu_;
  mutable std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  mutable std::map<std::vector<uint32_t>, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  mutable uint64_t derivations_ ABSL_GUARDED_BY(mu_) = 0;
};

// Derives the signer for `path` from `seed` without a keyring (the operator's side: create-key
// prints the master's public key and pin). Errors: as HdKeyring::SignerFor.
absl::StatusOr<std::unique_ptr<signer::Signer>> DeriveSigner(hd::Curve curve,
                                                             const SecretBytes& seed,
                                                             const hd::DerivationPath& path);

// The master key m's xpub (BIP-32 serialization) for a secp256k1 seed; nullopt for the SLIP-10
// curves (no standard serialization here). Errors: those of hd::ExtendedPrivateKey::FromSeed.
absl::StatusOr<std::optional<std::string>> MasterXpub(hd::Curve curve, const SecretBytes& seed);

}  // namespace lockout::enclave
