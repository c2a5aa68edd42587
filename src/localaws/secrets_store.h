#pragma once

// The durable state of the local Secrets Manager: one JSON file per secret in
// <state>/secretsmanager/<hex sha256(name)>.json (mode 0600, directory 0700).
//
// SecretsStore keeps every secret in memory (values in SecretBytes) and mirrors each change to
// disk before the caller acknowledges it: Save() writes the whole record with WriteFileAtomic
// (temp file, fsync, rename, fsync of the directory); Remove() unlinks the file and fsyncs the
// directory. A crash therefore leaves either the old or the new record, never a torn one.
//
// Open() loads every record and refuses to start (DataLoss) if a file does not parse, does not
// match its file name, or breaks an invariant: silently dropping a secret would be worse than
// failing loudly. Left-over temp files of an interrupted write are removed.
//
// The on-disk values are base64 plaintext protected only by file permissions: this is a local
// emulator, not a vault. Errors name files and fields, never values.
//
// Thread-safety: none; SecretsService serialises access with its own mutex.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/secret_bytes.h"

namespace lockout::localaws {

// AWS limits (Secrets Manager quotas and API constraints).
inline constexpr size_t kMaxSecretNameLength = 512;
inline constexpr size_t kMaxSecretValueBytes = 65536;
inline constexpr size_t kMaxVersionsPerSecret = 100;
inline constexpr size_t kMaxTagsPerSecret = 50;

struct SecretVersion {
  std::string id;                   // the VersionId (ClientRequestToken), 32..64 characters
  std::vector<std::string> stages;  // staging labels, e.g. AWSCURRENT; may be empty (deprecated)
  absl::Time created;
  bool binary = false;  // SecretBinary rather than SecretString
  SecretBytes value;    // 1..kMaxSecretValueBytes bytes

  bool HasStage(std::string_view stage) const;
  SecretVersion Clone() const;
};

struct SecretRecord {
  std::string name;
  std::string arn;  // arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX
  std::optional<std::string> description;
  std::optional<std::string> kms_key_id;
  absl::Time created;
  absl::Time last_changed;
  std::optional<absl::Time> last_accessed;                // truncated to the day, as AWS reports it
  std::optional<absl::Time> deletion_date;                // set while scheduled for deletion
  std::vector<std::pair<std::string, std::string>> tags;  // in the order given
  std::vector<SecretVersion> versions;                    // oldest first

  // The version carrying `stage`, or nullptr.
  const SecretVersion* FindStage(std::string_view stage) const;
  const SecretVersion* FindVersion(std::string_view version_id) const;
  SecretRecord Clone() const;
};

class SecretsStore final {
 public:
  // Opens (creating if needed) <state_dir>/secretsmanager and loads every record.
  static absl::StatusOr<SecretsStore> Open(const std::string& state_dir);

  SecretsStore(SecretsStore&&) = default;
  SecretsStore& operator=(SecretsStore&&) = default;

  // All records by name.
  const std::map<std::string, SecretRecord, std::less<>>& records() const { return records_; }
  const SecretRecord* Find(std::string_view name) const;

  // Writes `record` durably, then replaces (or adds) the in-memory record of that name. On
  // error nothing changed in memory; the file holds either the old or the new record.
  absl::Status Save(SecretRecord record);
  // Removes the file durably, then the in-memory record. NotFound if there is no such record.
  absl::Status Remove(std::string_view name);

  // The file that holds the record named `name` (for tests).
  std::string PathFor(std::string_view name) const;

  // Serialisation, exposed for tests. Serialize's output holds secret values: the caller wipes
  // it. Parse is strict (DataLoss on any defect) and takes ownership of nothing.
  static std::string Serialize(const SecretRecord& record);
  static absl::StatusOr<SecretRecord> Parse(std::string_view text);

 private:
  explicit SecretsStore(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;
  std::map<std::string, SecretRecord, std::less<>> records_;
};

// True for 1..512 characters from ASCII letters, digits and /_+=.@- (CreateSecret's rule).
bool IsValidSecretName(std::string_view name);

}  // namespace lockout::localaws
