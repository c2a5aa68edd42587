#include "src/measure/local_pcr0.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/strings.h"
#include "src/common/unique_fd.h"

namespace lockout::measure {
namespace {

constexpr crypto::Sha384Digest kZeroPcr{};
constexpr size_t kReadChunk = size_t{1} << 20;

}  // namespace

absl::StatusOr<FileDigest> Sha384OfOpenFile(int fd, std::string_view what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot stat ", Absl(what)));
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(Absl(what), " is not a regular file"));
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > kMaxMeasuredFileSize) {
    return absl::ResourceExhaustedError(absl::StrCat(Absl(what), " is ", st.st_size,
                                                     " bytes, over the measuring limit of ",
                                                     kMaxMeasuredFileSize));
  }
  crypto::Sha384Hasher hasher;
  std::vector<uint8_t> buf(kReadChunk);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(total));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", Absl(what)));
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    // The file may grow while it is read: the limit holds for the bytes actually hashed.
    if (total > kMaxMeasuredFileSize) {
      return absl::ResourceExhaustedError(
          absl::StrCat(Absl(what), " grew over the measuring limit of ", kMaxMeasuredFileSize));
    }
    hasher.Update(ByteView(buf.data(), static_cast<size_t>(n)));
  }
  return FileDigest{hasher.Finish(), total};
}

crypto::Sha384Digest LocalPcr0(const crypto::Sha384Digest& file_sha384) {
  return crypto::ExtendPcr(kZeroPcr, file_sha384);
}

absl::StatusOr<crypto::Sha384Digest> LocalPcr0OfFile(const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", Absl(path)));
  absl::StatusOr<FileDigest> digest = Sha384OfOpenFile(fd.get(), path);
  if (!digest.ok()) return digest.status();
  return LocalPcr0(digest->sha384);
}

}  // namespace lockout::measure
