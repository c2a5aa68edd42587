#pragma once

// What a local process is running, read from /proc, and the rules under which local-aws's NSM
// service will vouch for it with the PCR0 of its executable (localaws/nsm_service_measure.h).
//
// Local measurement hashes one file, the executable. A process whose code in memory is not just
// that file plus system libraries must not get that file's PCR0, or the genuine enclave binary
// started with LD_PRELOAD=evil.so would hand a production-PCR0 document to whoever wrote
// evil.so. The rules (each refusal names the rule and the object, never environment values):
//
//   environment   no variable named LD_* (ld.so(8): LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH and
//                 the others change which code the dynamic loader maps) and no GCONV_PATH (iconv
//                 loads modules from it). The environment is only evidence of how the process
//                 was started: a process can overwrite /proc/PID/environ afterwards, so the
//                 mappings are checked as well.
//   mappings      every executable mapping is either the executable itself (same device and
//                 inode as /proc/PID/exe) or a file in a system library directory (/lib*,
//                 /usr/lib*) owned by root and writable only by root (the loader, libc and what
//                 the package manager installed), still the file that was mapped (same device
//                 and inode at its path), and
//                   - not anonymous memory, memfd or another deleted file,
//                   - not writable and executable at once,
//                   - without private (copy-on-write) pages (/proc/PID/pagemap; what smaps
//                     calls "Anonymous"), i.e. the code in memory is still the file's.
//                 [vdso] and [vsyscall] (kernel-provided) are allowed; the executable itself must
//                 be mapped executable.
//   tracing       TracerPid is 0 (no debugger or other ptrace()r can change it behind our back).
//
// Thread-safety: pure functions except ReadProcessImage, which only reads /proc.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/measure/proc_text.h"

namespace lockout::measure {

// A file as /proc/PID/maps and stat(2) identify it.
struct FileId {
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  uint64_t inode = 0;
  friend bool operator==(const FileId&, const FileId&) = default;
};

// What stat(2) says about the file at a mapping's path.
struct FileOwner {
  FileId id;
  uint32_t uid = 0;
  uint32_t mode = 0;  // st_mode
};

// Looks up the file at `path` (as the process sees it). NotFound when it is gone.
using StatFn = std::function<absl::StatusOr<FileOwner>(const std::string& path)>;

// FailedPrecondition naming the first variable that breaks the environment rule.
absl::Status CheckEnvironment(const std::vector<std::string>& environment);

// FailedPrecondition naming the first mapping that breaks the mapping rules; errors of `stat`
// other than NotFound are passed on. `executable` identifies /proc/PID/exe.
absl::Status CheckMappings(const std::vector<Mapping>& mappings, const FileId& executable,
                           const StatFn& stat);

// FailedPrecondition when traced.
absl::Status CheckTracer(pid_t tracer_pid);

// The /proc evidence about one process, read in this order: stat, status, environ, maps, then
// pagemap for the private pages of each executable file mapping.
struct ProcessImage {
  uint64_t start_time = 0;  // /proc/PID/stat field 22: same value = same process
  pid_t tracer_pid = 0;
  std::vector<std::string> environment;
  std::vector<Mapping> mappings;
};

// Reads ProcessImage for `pid`. Errors: NotFound (no such process), PermissionDenied (not ours
// to inspect), InvalidArgument (a file not in its documented shape), ResourceExhausted (a file
// over 64 MiB), Unavailable (other read errors).
absl::StatusOr<ProcessImage> ReadProcessImage(pid_t pid);

// The start time alone (for re-checking that a pid still names the same process).
absl::StatusOr<uint64_t> ReadStartTime(pid_t pid);

// stat(2) of `path` inside the root directory of `pid` (/proc/PID/root/PATH), so a process in
// another mount namespace is judged by its own files.
absl::StatusOr<FileOwner> StatInRootOf(pid_t pid, const std::string& path);

// All three checks above.
absl::Status CheckProcessImage(const ProcessImage& image, const FileId& executable,
                               const StatFn& stat);

}  // namespace lockout::measure
