#include "src/common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout {
namespace {

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  int e = errno;
  return absl::Status(e == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kInternal,
                      absl::StrCat(Absl(what), " ", path, ": ", std::strerror(e)));
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::StatusOr<Bytes> ReadFile(const std::string& path, size_t max_size) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  absl::Cleanup closer = [fd] { close(fd); };
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError("cannot stat", path);
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is ", st.st_size, " bytes; the limit is ", max_size));
  }
  Bytes out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_size) {
      return absl::InvalidArgumentError(absl::StrCat(path, " exceeds the limit of ", max_size));
    }
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

absl::StatusOr<std::string> ReadFileString(const std::string& path, size_t max_size) {
  absl::StatusOr<Bytes> b = ReadFile(path, max_size);
  if (!b.ok()) return b.status();
  return std::string(b->begin(), b->end());
}

absl::Status WriteFileAtomic(const std::string& path, ByteView data, int mode) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  bool ok = false;
  absl::Cleanup cleanup = [&] {
    if (fd >= 0) close(fd);
    if (!ok) unlink(tmp.c_str());
  };
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return ErrnoError("cannot fsync", tmp);
  if (close(fd) != 0) {
    fd = -1;
    return ErrnoError("cannot close", tmp);
  }
  fd = -1;
  if (rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("cannot rename onto", path);
  ok = true;
  int dfd = open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::Status RemoveFileIfPresent(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
  return ErrnoError("cannot remove", path);
}

}  // namespace lockout
