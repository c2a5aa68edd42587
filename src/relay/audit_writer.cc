#include "src/relay/audit_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/audit/audit_record.h"
#include "src/relay/relay_protocol.h"

namespace lockout::relay {

static_assert(kMaxAuditLineSize == audit::kMaxLineSize,
              "the relay protocol carries audit lines of the audit trail's size");

absl::StatusOr<std::unique_ptr<AuditWriter>> AuditWriter::Open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open --audit-log ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<AuditWriter>(new AuditWriter(path, std::move(fd)));
}

uint64_t AuditWriter::lines_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_written_;
}

absl::Status AuditWriter::Append(const std::vector<std::string>& lines) {
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::StatusOr<audit::AuditRecord> record = audit::ParseRecordLine(lines[i]);
    if (!record.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("lines[", i, "]: ", record.status().message()));
    }
  }
  std::string data;
  size_t total = 0;
  for (const std::string& line : lines) total += line.size() + 1;
  data.reserve(total);
  for (const std::string& line : lines) {
    data += line;
    data += '\n';
  }
  std::lock_guard<std::mutex> lock(mu_);
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) {
    return absl::UnavailableError(absl::StrCat("fstat ", path_, ": ", std::strerror(errno)));
  }
  const off_t before = st.st_size;
  size_t done = 0;
  absl::Status failure;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      failure = absl::UnavailableError(absl::StrCat("write ", path_, ": ", std::strerror(errno)));
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (failure.ok() && ::fdatasync(fd_.get()) != 0) {
    failure = absl::UnavailableError(absl::StrCat("fdatasync ", path_, ": ", std::strerror(errno)));
  }
  if (!failure.ok()) {
    // Cut the partial batch off, so the enclave's retry does not leave records twice.
    if (::ftruncate(fd_.get(), before) != 0) {
      return absl::UnavailableError(absl::StrCat(failure.message(), "; and ftruncate: ",
                                                 std::strerror(errno)));
    }
    return failure;
  }
  lines_written_ += lines.size();
  return absl::OkStatus();
}

}  // namespace lockout::relay
