#include "src/localaws/nsm_service_measure.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/unique_fd.h"

namespace lockout::localaws {
namespace {

std::string ReadLink(const std::string& link) {
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlink(link.c_str(), buf.data(), buf.size() - 1);
  if (n < 0) return "?";
  return std::string(buf.data(), static_cast<size_t>(n));
}

int64_t Nanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + static_cast<int64_t>(ts.tv_nsec);
}

measure::FileId IdOf(const struct stat& st) {
  return measure::FileId{major(st.st_dev), minor(st.st_dev), st.st_ino};
}

absl::Status WithPid(pid_t pid, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("nsm: pid ", pid, ": ", s.message()));
}

}  // namespace

absl::StatusOr<crypto::Sha384Digest> ExecutableMeasurer::HashExecutable(int fd,
                                                                        const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot stat ", what, ": ", std::strerror(errno)));
  }
  const Key key{st.st_dev, st.st_ino, st.st_size, Nanos(st.st_mtim), Nanos(st.st_ctim)};
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  // Hashed outside the lock: two first-time measurements of one file may both hash it, which
  // is harmless; a slow hash never blocks measurements of other files.
  absl::StatusOr<measure::FileDigest> digest = measure::Sha384OfOpenFile(fd, what);
  if (!digest.ok()) return digest.status();

  // Only cache if the file did not change while we read it.
  struct stat after {};
  const bool unchanged = ::fstat(fd, &after) == 0 && Nanos(after.st_mtim) == Nanos(st.st_mtim) &&
                         Nanos(after.st_ctim) == Nanos(st.st_ctim) && after.st_size == st.st_size &&
                         static_cast<uint64_t>(st.st_size) == digest->size;
  absl::MutexLock lock(&mu_);
  ++files_hashed_;
  if (unchanged) {
    if (cache_.size() >= max_cache_entries_) cache_.clear();
    cache_[key] = digest->sha384;
  }
  return digest->sha384;
}

absl::StatusOr<ExecutableMeasurement> ExecutableMeasurer::Measure(pid_t pid) {
  const std::string link = absl::StrCat("/proc/", pid, "/exe");
  ExecutableMeasurement out;
  out.path = ReadLink(link);

  const UniqueFd fd(::open(link.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid())
    return absl::ErrnoToStatus(errno, absl::StrCat("nsm: cannot open /proc/", pid, "/exe"));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("nsm: cannot stat the executable of pid ", pid, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("nsm: the executable of pid ", pid, " (", out.path, ") is not a file"));
  }
  out.executable = IdOf(st);

  absl::StatusOr<measure::ProcessImage> image = measure::ReadProcessImage(pid);
  if (!image.ok()) return WithPid(pid, image.status());
  out.start_time = image->start_time;
  const measure::StatFn stat_in_root = [pid](const std::string& path) {
    return measure::StatInRootOf(pid, path);
  };
  if (absl::Status s = measure::CheckProcessImage(*image, out.executable, stat_in_root); !s.ok()) {
    return WithPid(pid, s);
  }

  absl::StatusOr<crypto::Sha384Digest> sha384 =
      HashExecutable(fd.get(), absl::StrCat("the executable of pid ", pid, " (", out.path, ")"));
  if (!sha384.ok()) return WithPid(pid, sha384.status());
  out.sha384 = *sha384;

  // The same process, still running the same file: no exec() and no pid reuse while measured.
  struct stat now {};
  absl::StatusOr<uint64_t> start_now = measure::ReadStartTime(pid);
  if (::stat(link.c_str(), &now) != 0 || !(IdOf(now) == out.executable) || !start_now.ok() ||
      *start_now != out.start_time) {
    return absl::FailedPreconditionError(
        absl::StrCat("nsm: pid ", pid, " exec()ed or exited while it was measured"));
  }
  return out;
}

size_t ExecutableMeasurer::files_hashed() const {
  absl::MutexLock lock(&mu_);
  return files_hashed_;
}

}  // namespace lockout::localaws
