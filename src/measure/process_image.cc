#include "src/measure/process_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/common/unique_fd.h"

namespace lockout::measure {
namespace {

// /proc/PID/smaps of a large process is a few MB; anything near this is not a process we serve.
constexpr size_t kMaxProcFileSize = size_t{64} << 20;
constexpr std::string_view kDeleted = " (deleted)";

// /proc files have no size; read until EOF, bounded.
absl::StatusOr<std::string> ReadProcFile(const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxProcFileSize) {
      return absl::ResourceExhaustedError(
          absl::StrCat(path, " is over ", kMaxProcFileSize, " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Fills anonymous_kb of every executable file mapping from /proc/PID/pagemap (one 64-bit entry
// per page; kernel Documentation/admin-guide/mm/pagemap.rst): a page that is present (bit 63) or
// swapped (bit 62) but not a file page (bit 61) is a private copy, i.e. code changed in memory.
// This is what smaps "Anonymous:" counts, read only for code ranges: smaps walks every mapping
// (tens of ms for an ASan process), pagemap of the code a few hundred microseconds.
absl::Status CountPrivatePagesOfCode(pid_t pid, std::vector<Mapping>& mappings) {
  const long page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0) return absl::InternalError("no page size");
  const auto page_size = static_cast<uint64_t>(page);
  const std::string path = absl::StrCat("/proc/", pid, "/pagemap");
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
  constexpr uint64_t kPresent = uint64_t{1} << 63;
  constexpr uint64_t kSwapped = uint64_t{1} << 62;
  constexpr uint64_t kFilePage = uint64_t{1} << 61;
  uint64_t budget = kMaxProcFileSize / sizeof(uint64_t);  // pages read in all
  std::vector<uint64_t> entries(4096);
  for (Mapping& m : mappings) {
    if (!m.executable || m.inode == 0) continue;
    uint64_t private_pages = 0;
    const uint64_t first = m.start / page_size;
    const uint64_t last = m.end / page_size;
    if (last - first > budget) {
      return absl::ResourceExhaustedError(absl::StrCat(path, ": too much code to inspect"));
    }
    budget -= last - first;
    for (uint64_t at = first; at < last;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(entries.size(), last - at));
      const ssize_t n = ::pread(fd.get(), entries.data(), want * sizeof(uint64_t),
                                static_cast<off_t>(at * sizeof(uint64_t)));
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
      }
      if (n == 0 || n % static_cast<ssize_t>(sizeof(uint64_t)) != 0) {
        return absl::UnavailableError(absl::StrCat(path, ": short read"));
      }
      const size_t got = static_cast<size_t>(n) / sizeof(uint64_t);
      for (size_t i = 0; i < got; ++i) {
        const uint64_t e = entries[i];
        if ((e & (kPresent | kSwapped)) != 0 && (e & kFilePage) == 0) ++private_pages;
      }
      at += got;
    }
    m.anonymous_kb = private_pages * (page_size / 1024);
  }
  return absl::OkStatus();
}

absl::Status Refuse(std::string_view why) { return absl::FailedPreconditionError(Absl(why)); }

// Where the dynamic loader finds system libraries (ld.so(8) defaults and the multiarch and gcc
// directories below them). /proc prints canonical paths, so /lib on a merged-/usr system shows as
// /usr/lib. Ownership alone is not enough: a process run as root creates root-owned files
// anywhere (a build tree, /tmp).
bool InSystemLibraryDirectory(std::string_view path) {
  constexpr std::string_view kDirs[] = {"/lib/",     "/lib64/",     "/lib32/",     "/libx32/",
                                        "/usr/lib/", "/usr/lib64/", "/usr/lib32/", "/usr/libx32/"};
  for (std::string_view dir : kDirs) {
    if (absl::StartsWith(Absl(path), Absl(dir))) return true;
  }
  return false;
}

bool IsKernelProvided(const Mapping& m) {
  return m.inode == 0 && (m.path == "[vdso]" || m.path == "[vsyscall]");
}

FileId IdOf(const Mapping& m) { return FileId{m.dev_major, m.dev_minor, m.inode}; }

absl::Status CheckOneMapping(const Mapping& m, const FileId& executable, const StatFn& stat) {
  if (IsKernelProvided(m)) return absl::OkStatus();
  const std::string where = absl::StrCat(absl::Hex(m.start), "-", absl::Hex(m.end));
  if (m.inode == 0 || m.path.empty() || m.path.front() != '/') {
    return Refuse(absl::StrCat("executable memory at ", where, " (",
                               m.path.empty() ? "anonymous" : m.path,
                               ") is not backed by a file: code the measurement does not cover"));
  }
  if (absl::EndsWith(m.path, Absl(kDeleted))) {
    return Refuse(absl::StrCat("code is mapped from a deleted file (", m.path,
                               "): a memfd or a replaced library the measurement cannot check"));
  }
  if (m.writable) {
    return Refuse(absl::StrCat(m.path, " is mapped writable and executable at ", where));
  }
  if (m.anonymous_kb.value_or(0) != 0) {
    return Refuse(
        absl::StrCat(m.path, " has ", *m.anonymous_kb, " kB of code changed in memory at ", where));
  }
  if (IdOf(m) == executable) return absl::OkStatus();
  absl::StatusOr<FileOwner> owner = stat(m.path);
  if (!owner.ok() && !absl::IsNotFound(owner.status())) return owner.status();
  if (!owner.ok() || !(owner->id == IdOf(m))) {
    return Refuse(
        absl::StrCat("code is mapped from ", m.path, ", which has since been replaced or removed"));
  }
  if (!InSystemLibraryDirectory(m.path) || owner->uid != 0 ||
      (owner->mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Refuse(absl::StrCat(
        "code is mapped from ", m.path,
        ", which is not a root-owned, root-only-writable file in a system library directory "
        "(a preloaded or substituted library?)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEnvironment(const std::vector<std::string>& environment) {
  for (const std::string& entry : environment) {
    const std::string_view name = std::string_view(entry).substr(0, entry.find('='));
    if (absl::StartsWith(Absl(name), "LD_") || name == "GCONV_PATH") {
      // The name only: values can be anything, including secrets.
      const std::string shown(name.substr(0, 64));
      return Refuse(absl::StrCat("the environment sets ", shown,
                                 ", which changes what code the dynamic loader maps"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckMappings(const std::vector<Mapping>& mappings, const FileId& executable,
                           const StatFn& stat) {
  bool executable_mapped = false;
  for (const Mapping& m : mappings) {
    if (!m.executable) continue;
    if (absl::Status s = CheckOneMapping(m, executable, stat); !s.ok()) return s;
    if (IdOf(m) == executable) executable_mapped = true;
  }
  if (!executable_mapped) return Refuse("the executable itself is not mapped as code");
  return absl::OkStatus();
}

absl::Status CheckTracer(pid_t tracer_pid) {
  if (tracer_pid != 0) {
    return Refuse(absl::StrCat("the process is traced by pid ", tracer_pid,
                               " (a debugger can change its code and data)"));
  }
  return absl::OkStatus();
}

absl::Status CheckProcessImage(const ProcessImage& image, const FileId& executable,
                               const StatFn& stat) {
  if (absl::Status s = CheckTracer(image.tracer_pid); !s.ok()) return s;
  if (absl::Status s = CheckEnvironment(image.environment); !s.ok()) return s;
  return CheckMappings(image.mappings, executable, stat);
}

absl::StatusOr<uint64_t> ReadStartTime(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadProcFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return stat.status();
  return ParseStartTime(*stat);
}

absl::StatusOr<ProcessImage> ReadProcessImage(pid_t pid) {
  const std::string dir = absl::StrCat("/proc/", pid, "/");
  ProcessImage image;
  absl::StatusOr<uint64_t> start = ReadStartTime(pid);
  if (!start.ok()) return start.status();
  image.start_time = *start;

  absl::StatusOr<std::string> status = ReadProcFile(dir + "status");
  if (!status.ok()) return status.status();
  absl::StatusOr<pid_t> tracer = ParseTracerPid(*status);
  if (!tracer.ok()) return tracer.status();
  image.tracer_pid = *tracer;

  absl::StatusOr<std::string> environ = ReadProcFile(dir + "environ");
  if (!environ.ok()) return environ.status();
  image.environment = ParseEnviron(*environ);

  absl::StatusOr<std::string> maps = ReadProcFile(dir + "maps");
  if (!maps.ok()) return maps.status();
  absl::StatusOr<std::vector<Mapping>> mappings = ParseMaps(*maps);
  if (!mappings.ok()) return mappings.status();
  image.mappings = *std::move(mappings);
  RETURN_IF_ERROR(CountPrivatePagesOfCode(pid, image.mappings));
  return image;
}

absl::StatusOr<FileOwner> StatInRootOf(pid_t pid, const std::string& path) {
  const std::string in_root = absl::StrCat("/proc/", pid, "/root", path);
  struct stat st {};
  if (::stat(in_root.c_str(), &st) != 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", in_root));
  FileOwner owner;
  owner.id = FileId{major(st.st_dev), minor(st.st_dev), st.st_ino};
  owner.uid = st.st_uid;
  owner.mode = st.st_mode;
  return owner;
}

}  // namespace lockout::measure
