#include "src/operator/client_key_file.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "src/common/file.h"
#include "src/common/secret_bytes.h"

namespace lockout::ops {

absl::StatusOr<std::shared_ptr<const auth::ClientKey>> LoadClientKeyFile(const std::string& path,
                                                                         std::string* warning) {
  absl::StatusOr<Bytes> bytes = ReadFile(path, auth::kMaxClientKeyFileSize);
  if (!bytes.ok()) {
    return absl::Status(bytes.status().code(),
                        absl::StrCat("client key ", path, ": ", bytes.status().message()));
  }
  // From here the text lives in secret memory only.
  const SecretBytes text = SecretBytes::CopyFrom(*bytes);
  WipeBytes(*bytes);
  absl::StatusOr<std::unique_ptr<auth::ClientKey>> key =
      auth::ClientKey::ParseFile(text.RevealAsString());
  if (!key.ok()) {
    return absl::Status(key.status().code(), absl::StrCat(path, ": ", key.status().message()));
  }
  struct stat st;
  if (warning != nullptr && stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    *warning = absl::StrCat("client key ", path,
                            " is readable by other users; anyone who reads it can sign as \"",
                            (*key)->name(), "\" (chmod 600 it)");
  }
  return std::shared_ptr<const auth::ClientKey>(*std::move(key));
}

absl::Status WriteClientKeyFile(const std::string& path, const auth::ClientKey& key,
                                bool overwrite) {
  struct stat st;
  if (!overwrite && lstat(path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " already exists; choose another --out (or --overwrite)"));
  }
  const SecretBytes file = key.ToFile();
  return WriteFileAtomic(path, file.Reveal(), 0600);
}

}  // namespace lockout::ops
