#pragma once

// Measuring the process on the other end of an NSM socket: the SHA-384 of the executable it is
// running, the local stand-in for the enclave image measurement behind PCR0.
//
// The bytes hashed are those of the file the process actually runs: /proc/PID/exe is opened (the
// kernel resolves it to the mapped inode, even if the path was since replaced or deleted), not
// the path it was started from. readlink(/proc/PID/exe) is kept only for logs.
//
// Hashes are cached by (device, inode, size, mtime, ctime) so a 10 MB binary is hashed once, not
// per connection; a file rewritten in place changes mtime/ctime (ctime cannot be set back from
// user space) and is hashed again.

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/crypto/hash.h"

namespace lockout::localaws {

// Executables larger than this are refused (ResourceExhausted) rather than hashed.
inline constexpr size_t kMaxMeasuredExecutableSize = size_t{2} << 30;

struct ExecutableMeasurement {
  std::string path;             // readlink(/proc/PID/exe), for logs (may end in " (deleted)")
  crypto::Sha384Digest sha384;  // of the executable's bytes
};

// Thread-safe.
class ExecutableMeasurer final {
 public:
  explicit ExecutableMeasurer(size_t max_cache_entries = 64)
      : max_cache_entries_(max_cache_entries) {}

  // Measures the executable of process `pid`. Errors: NotFound (no such process),
  // PermissionDenied (not ours to inspect), FailedPrecondition (not a regular file),
  // ResourceExhausted (too large), Unavailable (read errors). Messages carry the pid and path.
  absl::StatusOr<ExecutableMeasurement> Measure(pid_t pid);

  // How many times a file was actually hashed (cache misses), for tests and metrics.
  size_t files_hashed() const;

 private:
  // (st_dev, st_ino, st_size, st_mtim ns, st_ctim ns)
  using Key = std::tuple<dev_t, ino_t, off_t, int64_t, int64_t>;

  const size_t max_cache_entries_;
  mutable absl::Mutex mu_;
  std::map<Key, crypto::Sha384Digest> cache_ ABSL_GUARDED_BY(mu_);
  size_t files_hashed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace lockout::localaws
