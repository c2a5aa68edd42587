#include "src/qemu/guest_measure.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/common/bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/common/unique_fd.h"
#include "src/eif/eif_boot.h"
#include "src/measure/proc_text.h"
#include "src/measure/process_image.h"

namespace lockout::qemu {
namespace {

constexpr size_t kMaxCmdline = 256 << 10;
constexpr int kRequiredSeals = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;

absl::Status ErrnoStatus(std::string_view what, const std::string& path) {
  const int e = errno;
  const std::string msg = absl::StrCat(Absl(what), " ", path, ": ", std::strerror(e));
  if (e == ENOENT || e == ESRCH) return absl::NotFoundError(msg);
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(msg);
  return absl::UnavailableError(msg);
}

// Reads `fd` from offset 0 up to `max` bytes (more is ResourceExhausted).
absl::StatusOr<Bytes> ReadAll(int fd, size_t max, const std::string& what) {
  Bytes out;
  uint8_t chunk[1 << 16];
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, chunk, sizeof(chunk), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot read", what);
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max) {
      return absl::ResourceExhaustedError(absl::StrCat(what, " is larger than ", max, " bytes"));
    }
    out.insert(out.end(), chunk, chunk + n);
    offset += n;
  }
}

// The content of the sealed memfd at /proc/PID/fd/N.
absl::StatusOr<Bytes> ReadSealedFd(pid_t pid, int n) {
  const std::string path = absl::StrCat("/proc/", pid, "/fd/", n);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return ErrnoStatus("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  }
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0 || (seals & kRequiredSeals) != kRequiredSeals) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a sealed memfd (its content could change)"));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxGuestEifSize) {
    return absl::ResourceExhaustedError(absl::StrCat(path, " is too large"));
  }
  return ReadAll(fd.get(), kMaxGuestEifSize, path);
}

absl::StatusOr<std::vector<std::string>> ReadArguments(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/cmdline");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("cannot open", path);
  ASSIGN_OR_RETURN(Bytes raw, ReadAll(fd.get(), kMaxCmdline, path));
  if (raw.empty() || raw.back() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("pid ", pid, ": its command line is not NUL-terminated (rewritten)"));
  }
  std::vector<std::string> args;
  std::string current;
  for (uint8_t b : raw) {
    if (b == 0) {
      args.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(static_cast<char>(b));
    }
  }
  args.erase(args.begin());  // argv[0]: how it was named, not what it runs
  return args;
}

}  // namespace

absl::Status RecheckGuest(pid_t pid, uint64_t start_time) {
  const std::string exe_link = absl::StrCat("/proc/", pid, "/exe");
  struct stat exe {};
  if (::stat(exe_link.c_str(), &exe) != 0) return ErrnoStatus("cannot stat", exe_link);
  ASSIGN_OR_RETURN(measure::ProcessImage image, measure::ReadProcessImage(pid));
  if (image.start_time != start_time) {
    return absl::FailedPreconditionError(
        absl::StrCat("pid ", pid, " is no longer the QEMU that was measured"));
  }
  // QEMU's own code must be QEMU's and the system's (no LD_PRELOAD into the emulator, which
  // could rewrite guest memory); its anonymous executable memory is TCG's translated guest code.
  std::vector<measure::Mapping> files;
  for (measure::Mapping& m : image.mappings) {
    if (!m.path.empty()) files.push_back(std::move(m));
  }
  image.mappings = std::move(files);
  const measure::FileId executable{
      .dev_major = major(exe.st_dev), .dev_minor = minor(exe.st_dev), .inode = exe.st_ino};
  return measure::CheckProcessImage(image, executable, [pid](const std::string& path) {
    return measure::StatInRootOf(pid, path);
  });
}

absl::StatusOr<GuestMeasurement> MeasureGuest(pid_t pid, const std::string& nsm_socket) {
  GuestMeasurement m;
  ASSIGN_OR_RETURN(m.start_time, measure::ReadStartTime(pid));
  ASSIGN_OR_RETURN(std::vector<std::string> args, ReadArguments(pid));
  absl::StatusOr<QemuLaunch> launch = ParseQemuArguments(args);
  if (!launch.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pid ", pid, " was not started by lockout run-enclave: ", launch.status().message()));
  }
  m.launch = *std::move(launch);
  if (m.launch.nsm_socket != nsm_socket) {
    return absl::FailedPreconditionError(
        absl::StrCat("pid ", pid, "'s NSM chardev names another socket"));
  }
  ASSIGN_OR_RETURN(Bytes eif, ReadSealedFd(pid, kEifFd));
  ASSIGN_OR_RETURN(Bytes kernel, ReadSealedFd(pid, kKernelFd));
  ASSIGN_OR_RETURN(Bytes initrd, ReadSealedFd(pid, kInitrdFd));
  ASSIGN_OR_RETURN(eif::EifBootFiles boot, eif::EifBootFilesOf(eif));
  if (boot.kernel != kernel || boot.initrd != initrd || boot.cmdline != m.launch.cmdline) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pid ", pid, " booted a kernel, ramdisks or command line that are not its EIF's"));
  }
  m.pcrs = boot.measurements;
  m.eif_sha384 = crypto::Sha384(eif);
  RETURN_IF_ERROR(RecheckGuest(pid, m.start_time));
  return m;
}

}  // namespace lockout::qemu
