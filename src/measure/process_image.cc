#include "src/measure/process_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::measure {
namespace {

// /proc/PID/smaps of a large process is a few MB; anything near this is not a process we serve.
constexpr size_t kMaxProcFileSize = size_t{64} << 20;
constexpr std::string_view kDeleted = " (deleted)";

absl::Status ErrnoStatus(int err, std::string_view what) {
  const std::string text = absl::StrCat("cannot read ", Absl(what), ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ESRCH:
      return absl::NotFoundError(text);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(text);
    default:
      return absl::UnavailableError(text);
  }
}

// /proc files have no size; read until EOF, bounded.
absl::StatusOr<std::string> ReadProcFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoStatus(err, path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxProcFileSize) {
      ::close(fd);
      return absl::ResourceExhaustedError(
          absl::StrCat(path, " is over ", kMaxProcFileSize, " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::Status Refuse(std::string_view why) {
  return absl::FailedPreconditionError(Absl(why));
}

bool IsKernelProvided(const Mapping& m) {
  return m.inode == 0 && (m.path == "[vdso]" || m.path == "[vsyscall]");
}

FileId IdOf(const Mapping& m) { return FileId{m.dev_major, m.dev_minor, m.inode}; }

absl::Status CheckOneMapping(const Mapping& m, const FileId& executable, const StatFn& stat) {
  if (IsKernelProvided(m)) return absl::OkStatus();
  const std::string where = absl::StrCat(absl::Hex(m.start), "-", absl::Hex(m.end));
  if (m.inode == 0 || m.path.empty() || m.path.front() != '/') {
    return Refuse(absl::StrCat("executable memory at ", where, " (", m.path.empty() ? "anonymous"
                                                                                  : m.path,
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
    return Refuse(absl::StrCat(m.path, " has ", *m.anonymous_kb,
                               " kB of code changed in memory at ", where));
  }
  if (IdOf(m) == executable) return absl::OkStatus();
  absl::StatusOr<FileOwner> owner = stat(m.path);
  if (!owner.ok() && !absl::IsNotFound(owner.status())) return owner.status();
  if (!owner.ok() || !(owner->id == IdOf(m))) {
    return Refuse(absl::StrCat("code is mapped from ", m.path,
                               ", which has since been replaced or removed"));
  }
  if (owner->uid != 0 || (owner->mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Refuse(absl::StrCat("code is mapped from ", m.path,
                               ", which is not a root-owned, root-only-writable system file "
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

  absl::StatusOr<std::string> smaps = ReadProcFile(dir + "smaps");
  if (!smaps.ok()) return smaps.status();
  absl::StatusOr<std::vector<Mapping>> mappings = ParseMaps(*smaps);
  if (!mappings.ok()) return mappings.status();
  image.mappings = *std::move(mappings);
  return image;
}

absl::StatusOr<FileOwner> StatInRootOf(pid_t pid, const std::string& path) {
  const std::string in_root = absl::StrCat("/proc/", pid, "/root", path);
  struct stat st {};
  if (::stat(in_root.c_str(), &st) != 0) return ErrnoStatus(errno, in_root);
  FileOwner owner;
  owner.id = FileId{major(st.st_dev), minor(st.st_dev), st.st_ino};
  owner.uid = st.st_uid;
  owner.mode = st.st_mode;
  return owner;
}

}  // namespace lockout::measure
