#pragma once

// The durable state of the local KMS: keys (metadata, key policy, tags, 32-byte AES-256 key
// material) and aliases, under <state>/kms/.
//
// Layout:
//   <state>/kms/keys/<key-id>.json   one file per key, mode 0600
//   <state>/kms/aliases.json         every alias, mode 0600
// Every Put* writes the whole file with WriteFileAtomic (temp file, fsync, rename, fsync of the
// directory) BEFORE it changes the in-memory view, so an acknowledged write survives a crash or
// kill -9, and a failed write changes nothing (ARCHITECTURE §5, issue 3 item 7).
//
// SECURITY NOTE: this is an emulator's store. Key files hold the key material IN CLEAR (base64);
// the directory is the local-aws --state directory (0700) and files are 0600. Never point it at
// anything that protects real data.
//
// Thread-safety: thread-compatible. KmsService serialises all access with its own mutex; keys
// are immutable values handed out as shared_ptr<const KmsKey>, so a reader may keep using a
// snapshot after the lock is released.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/secret_bytes.h"
#include "src/localaws/policy.h"

namespace lockout::localaws {

enum class KmsKeyState { kEnabled, kDisabled, kPendingDeletion };

// "Enabled", "Disabled", "PendingDeletion" (AWS's KeyState values).
std::string_view KmsKeyStateName(KmsKeyState state);

struct KmsKey {
  std::string id;  // lower-case UUID
  int64_t creation_ms = 0;
  std::string description;
  KmsKeyState state = KmsKeyState::kEnabled;
  std::optional<int64_t> deletion_ms;    // kPendingDeletion only
  int pending_window_days = 0;           // kPendingDeletion only
  std::shared_ptr<const Policy> policy;  // never null; its text() is what GetKeyPolicy returns
  std::map<std::string, std::string> tags;
  std::shared_ptr<const SecretBytes> material;  // 32 bytes, never null
};

struct KmsAlias {
  std::string name;  // "alias/..."
  std::string target_key_id;
  int64_t creation_ms = 0;
  int64_t updated_ms = 0;
};

class KmsKeyStore final {
 public:
  // Creates <dir>/keys (mode 0700) if needed and loads every key file and the alias file.
  // Fails (naming the file, never its content) on a file that does not parse, a key whose file
  // name differs from its id, material that is not 32 bytes, a policy that does not parse, or
  // an alias whose target key does not exist. Leftover temporary files are ignored.
  static absl::StatusOr<std::unique_ptr<KmsKeyStore>> Open(const std::string& dir);

  // The key with this id (exact, lower-case), or null.
  std::shared_ptr<const KmsKey> FindKey(const std::string& id) const;
  // All keys in id order.
  std::vector<std::shared_ptr<const KmsKey>> Keys() const;
  // Persists `key` (new or replacing the key with the same id), then makes it visible.
  absl::Status PutKey(KmsKey key);

  std::optional<KmsAlias> FindAlias(const std::string& name) const;
  // All aliases in name order.
  std::vector<KmsAlias> Aliases() const;
  // Persists the alias set with `alias` added or replaced, then makes it visible.
  absl::Status PutAlias(KmsAlias alias);

 private:
  explicit KmsKeyStore(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Load();
  absl::Status SaveAliases(const std::map<std::string, KmsAlias>& aliases) const;
  std::string KeyPath(const std::string& id) const;

  const std::string dir_;
  std::map<std::string, std::shared_ptr<const KmsKey>> keys_;
  std::map<std::string, KmsAlias> aliases_;
};

}  // namespace lockout::localaws
