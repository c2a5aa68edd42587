#include "src/localaws/nsm_service_measure.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace lockout::localaws {
namespace {

absl::Status OpenError(pid_t pid, int err) {
  const std::string what =
      absl::StrCat("nsm: cannot open /proc/", pid, "/exe: ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ESRCH:
      return absl::NotFoundError(what);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(what);
    default:
      return absl::UnavailableError(what);
  }
}

std::string ReadLink(const std::string& link) {
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlink(link.c_str(), buf.data(), buf.size() - 1);
  if (n < 0) return "?";
  return std::string(buf.data(), static_cast<size_t>(n));
}

int64_t Nanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + static_cast<int64_t>(ts.tv_nsec);
}

}  // namespace

absl::StatusOr<ExecutableMeasurement> ExecutableMeasurer::Measure(pid_t pid) {
  const std::string link = absl::StrCat("/proc/", pid, "/exe");
  ExecutableMeasurement out;
  out.path = ReadLink(link);

  const int fd = ::open(link.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return OpenError(pid, errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("nsm: cannot stat the executable of pid ", pid, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("nsm: the executable of pid ", pid, " (", out.path, ") is not a file"));
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > kMaxMeasuredExecutableSize) {
    return absl::ResourceExhaustedError(absl::StrCat("nsm: the executable of pid ", pid, " (",
                                                     out.path, ") is ", st.st_size,
                                                     " bytes, over the measuring limit"));
  }
  const Key key{st.st_dev, st.st_ino, st.st_size, Nanos(st.st_mtim), Nanos(st.st_ctim)};
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out.sha384 = it->second;
      return out;
    }
  }

  // Hashed outside the lock: two first-time measurements of one file may both hash it, which
  // is harmless; a slow hash never blocks measurements of other files.
  crypto::Sha384Hasher hasher;
  std::vector<uint8_t> buf(1 << 16);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("nsm: cannot read the executable of pid ", pid,
                                                 " (", out.path, "): ", std::strerror(errno)));
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > kMaxMeasuredExecutableSize) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "nsm: the executable of pid ", pid, " (", out.path, ") grew over the measuring limit"));
    }
    hasher.Update(ByteView(buf.data(), static_cast<size_t>(n)));
  }
  out.sha384 = hasher.Finish();

  // Only cache if the file did not change while we read it.
  struct stat after {};
  if (::fstat(fd, &after) == 0 && Nanos(after.st_mtim) == Nanos(st.st_mtim) &&
      Nanos(after.st_ctim) == Nanos(st.st_ctim) && after.st_size == st.st_size &&
      static_cast<uint64_t>(st.st_size) == total) {
    absl::MutexLock lock(&mu_);
    if (cache_.size() >= max_cache_entries_) cache_.clear();
    cache_[key] = out.sha384;
    ++files_hashed_;
  } else {
    absl::MutexLock lock(&mu_);
    ++files_hashed_;
  }
  return out;
}

size_t ExecutableMeasurer::files_hashed() const {
  absl::MutexLock lock(&mu_);
  return files_hashed_;
}

}  // namespace lockout::localaws
