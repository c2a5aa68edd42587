#pragma once

// Measuring the process on the other end of an NSM socket: the SHA-384 of the executable it is
// running, the local stand-in for the enclave image measurement behind PCR0
// (measure/local_pcr0.h), vouched for only if nothing but that executable and root-owned system
// libraries can run in the process (measure/process_image.h: no LD_* loader variables, no
// preloaded, substituted or in-memory code, not traced).
//
// The bytes hashed are those of the file the process actually runs: /proc/PID/exe is opened (the
// kernel resolves it to the mapped inode, even if the path was since replaced or deleted), not
// the path it was started from. readlink(/proc/PID/exe) is kept only for logs.
//
// Races: the start time (/proc/PID/stat) is read first and again last, and /proc/PID/exe must
// name the same inode at the end as when it was opened, so a pid that was reused, or a process
// that exec()ed, while it was being measured is refused rather than measured half-and-half.
//
// Hashes are cached by (device, inode, size, mtime, ctime) so a 10 MB binary is hashed once, not
// per request; a file rewritten in place changes mtime/ctime (ctime cannot be set back from
// user space) and is hashed again.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/crypto/hash.h"
#include "src/measure/local_pcr0.h"
#include "src/measure/process_image.h"

namespace lockout::localaws {

struct ExecutableMeasurement {
  std::string path;             // readlink(/proc/PID/exe), for logs (may end in " (deleted)")
  crypto::Sha384Digest sha384;  // of the executable's bytes
  measure::FileId executable;   // the inode measured
  uint64_t start_time = 0;      // /proc/PID/stat starttime: identifies the process with its pid
};

// Thread-safe.
class ExecutableMeasurer final {
 public:
  explicit ExecutableMeasurer(size_t max_cache_entries = 64)
      : max_cache_entries_(max_cache_entries) {}

  // Measures process `pid`. Errors: NotFound (no such process), PermissionDenied (not ours to
  // inspect), FailedPrecondition (the executable is not a regular file, the process breaks a
  // rule of measure/process_image.h, or it changed while measured), ResourceExhausted (too
  // large), InvalidArgument (unparsable /proc text), Unavailable (read errors). Messages carry
  // the pid, paths and the rule broken, never environment values.
  absl::StatusOr<ExecutableMeasurement> Measure(pid_t pid);

  // How many times a file was actually hashed (cache misses), for tests and metrics.
  size_t files_hashed() const;

 private:
  // (st_dev, st_ino, st_size, st_mtim ns, st_ctim ns)
  using Key = std::tuple<dev_t, ino_t, off_t, int64_t, int64_t>;

  absl::StatusOr<crypto::Sha384Digest> HashExecutable(int fd, const std::string& what);

  const size_t max_cache_entries_;
  mutable absl::Mutex mu_;
  std::map<Key, crypto::Sha384Digest> cache_ ABSL_GUARDED_BY(mu_);
  size_t files_hashed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace lockout::localaws
