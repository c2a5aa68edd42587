#pragma once

// The durable state of the local KMS: keys (metadata, key policy, tags, 32-byte AES-256 key
// material), aliases and grants, under <state>/kms/.
//
// Layout:
//   <state>/kms/keys/<key-id>.json     one file per key, mode 0600
//   <state>/kms/aliases.json           every alias, mode 0600
//   <state>/kms/grants/<key-id>.json   the grants of one key, mode 0600 (absent: no grants)
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
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/secret_bytes.h"
#include "src/policy/policy.h"

namespace lockout::localaws {

enum class KmsKeyState { kEnabled, kDisabled, kPendingDeletion };

// "Enabled", "Disabled", "PendingDeletion" (AWS's KeyState values).
std::string_view KmsKeyStateName(KmsKeyState state);

struct KmsKey {
  std::string id;  // lower-case UUID
  int64_t creation_ms = 0;
  std::string description;
  KmsKeyState state = KmsKeyState::kEnabled;
  std::optional<int64_t> deletion_ms;  // kPendingDeletion only
  int pending_window_days = 0;         // kPendingDeletion only
  std::shared_ptr<const policy::Policy>
      policy;  // never null; its text() is what GetKeyPolicy returns
  std::map<std::string, std::string> tags;
  std::shared_ptr<const SecretBytes> material;  // 32 bytes, never null
};

struct KmsAlias {
  std::string name;  // "alias/..."
  std::string target_key_id;
  int64_t creation_ms = 0;
  int64_t updated_ms = 0;
};

// How a grant constrains the encryption context of the requests it allows (AWS
// GrantConstraints: at most one of EncryptionContextEquals / EncryptionContextSubset).
enum class KmsGrantConstraint { kNone, kEncryptionContextEquals, kEncryptionContextSubset };

struct KmsGrant {
  std::string id;      // 64 lower-case hex digits
  std::string key_id;  // the key it is on
  std::string name;    // may be empty
  int64_t creation_ms = 0;
  std::string issuing_account;          // arn:aws:iam::ACCT:root
  std::string grantee_principal;        // an ARN as given (or a service principal name)
  std::string retiring_principal;       // may be empty
  std::vector<std::string> operations;  // AWS GrantOperation names, no duplicates, as given
  KmsGrantConstraint constraint = KmsGrantConstraint::kNone;
  std::map<std::string, std::string> constraint_context;  // kNone: empty
};

// True for a grant id as local-aws makes them: 64 lower-case hex digits (AWS's grant ids are
// 64 hex digits too).
bool IsKmsGrantId(std::string_view id);

// "EncryptionContextEquals", "EncryptionContextSubset" ("" for kNone).
std::string_view KmsGrantConstraintName(KmsGrantConstraint constraint);

class KmsKeyStore final {
 public:
  // Creates <dir>/keys (mode 0700) if needed and loads every key file and the alias file.
  // Fails (naming the file, never its content) on a file that does not parse, a key whose file
  // name differs from its id, material that is not 32 bytes, a policy that does not parse, an
  // alias whose target key does not exist, or a grant file that does not parse or whose grants
  // are not on the key it is named after. Leftover temporary files are ignored.
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
  // Persists the alias set without `name` (which must exist), then makes it visible.
  absl::Status DeleteAlias(const std::string& name);

  // The grant `grant_id` on key `key_id`, or nullopt.
  std::optional<KmsGrant> FindGrant(const std::string& key_id, const std::string& grant_id) const;
  // The grant `grant_id` on any key, or nullopt.
  std::optional<KmsGrant> FindGrantById(const std::string& grant_id) const;
  // The first grant of `key_id` (grant id order) for which `pred` is true, or nullopt. Copies
  // only that grant (the authorisation path runs this on every request).
  std::optional<KmsGrant> FindGrantWhere(const std::string& key_id,
                                         const std::function<bool(const KmsGrant&)>& pred) const;
  // The grants of `key_id`, in grant id order.
  std::vector<KmsGrant> Grants(const std::string& key_id) const;
  // Every grant of every key, in (key id, grant id) order.
  std::vector<KmsGrant> AllGrants() const;
  // Persists the key's grant set with `grant` added or replaced, then makes it visible. The
  // key must exist.
  absl::Status PutGrant(KmsGrant grant);
  // Persists the key's grant set without `grant_id` (which must exist), then makes it visible.
  absl::Status DeleteGrant(const std::string& key_id, const std::string& grant_id);

 private:
  explicit KmsKeyStore(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Load();
  absl::Status SaveAliases(const std::map<std::string, KmsAlias>& aliases) const;
  std::string KeyPath(const std::string& id) const;
  std::string GrantPath(const std::string& key_id) const;
  absl::Status LoadGrants();
  absl::Status SaveGrants(const std::string& key_id,
                          const std::map<std::string, KmsGrant>& grants) const;

  const std::string dir_;
  std::map<std::string, std::shared_ptr<const KmsKey>> keys_;
  std::map<std::string, KmsAlias> aliases_;
  // key id -> grant id -> grant.
  std::map<std::string, std::map<std::string, KmsGrant>> grants_;
};

}  // namespace lockout::localaws
