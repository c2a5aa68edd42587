#pragma once

// Parsers for the /proc files that say what a local process is running (proc(5)):
// /proc/PID/maps and /proc/PID/smaps, /proc/PID/environ, /proc/PID/status and /proc/PID/stat.
//
// The text is untrusted in the sense that matters here: the process chooses its own file names,
// its command name (which appears inside /proc/PID/stat) and its environment bytes, and may
// rewrite the environment after start. Every parser is a bounded, line-by-line walk that refuses
// (InvalidArgument, naming the line number, never echoing bytes) anything not in the documented
// shape, so a surprise makes the caller refuse rather than guess. A text that does not end in a
// newline is treated as truncated. Thread-safety: pure functions.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::measure {

// One line of /proc/PID/maps (or one entry of /proc/PID/smaps).
struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  bool readable = false;
  bool writable = false;
  bool executable = false;
  bool shared = false;  // 's' rather than 'p'
  uint64_t offset = 0;
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  uint64_t inode = 0;
  // As the kernel prints it: "" (anonymous), "[vdso]"-style pseudo names, or an absolute path,
  // possibly ending in " (deleted)".
  std::string path;
  // smaps only: "Anonymous:" in kB, the private (copy-on-write) pages of the mapping. For a file
  // mapping of code, non-zero means the code in memory is no longer the file's.
  std::optional<uint64_t> anonymous_kb;
};

// At most this many mappings are parsed (Linux's default vm.max_map_count is 65530).
inline constexpr size_t kMaxMappings = 1 << 18;

// Parses /proc/PID/maps or /proc/PID/smaps (smaps's "Key: value" lines attach to the mapping
// above them; only "Anonymous:" is kept, the others are checked for shape and skipped).
absl::StatusOr<std::vector<Mapping>> ParseMaps(std::string_view text);

// Splits /proc/PID/environ into its NUL-terminated entries, as bytes. Empty entries (a process
// that zeroed part of its environment) are dropped; a last entry without its NUL is kept. Never
// fails: any bytes are a possible environment.
std::vector<std::string> ParseEnviron(std::string_view bytes);

// The "TracerPid:" field of /proc/PID/status: 0 when no process ptrace()s it. Missing,
// duplicated or non-decimal fields are InvalidArgument.
absl::StatusOr<pid_t> ParseTracerPid(std::string_view status);

// Field 22 (starttime, in clock ticks since boot) of /proc/PID/stat. The command name (field 2)
// is parenthesised and may itself contain spaces and parentheses, so fields are counted after
// the last ')'.
absl::StatusOr<uint64_t> ParseStartTime(std::string_view stat);

}  // namespace lockout::measure
