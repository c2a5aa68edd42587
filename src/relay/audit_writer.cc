#include "src/relay/audit_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

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
  auto writer = std::unique_ptr<AuditWriter>(new AuditWriter(path, std::move(fd)));
  writer->RecoverTail();
  return writer;
}

void AuditWriter::RecoverTail() {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0 || st.st_size == 0) return;
  const off_t want = std::min<off_t>(st.st_size, static_cast<off_t>(kMaxAuditLineSize) + 2);
  std::string tail(static_cast<size_t>(want), '\0');
  UniqueFd reader(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!reader.valid() ||
      ::pread(reader.get(), tail.data(), tail.size(), st.st_size - want) != want) {
    return;
  }
  if (tail.empty() || tail.back() != '\n') return;  // a cut line: nothing to trust
  tail.pop_back();
  const size_t start = tail.rfind('\n');
  const std::string last = start == std::string::npos ? tail : tail.substr(start + 1);
  absl::StatusOr<audit::AuditRecord> record = audit::ParseRecordLine(last);
  if (!record.ok()) return;
  have_chain_ = true;
  last_seq_ = record->seq;
  if (record->type == audit::RecordType::kGenesis) {
    const crypto::Sha384Digest h = audit::LineHash(last);
    genesis_hash_.assign(h.begin(), h.end());
  }
}

uint64_t AuditWriter::lines_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_written_;
}

absl::Status AuditWriter::Append(const std::vector<std::string>& lines) {
  std::vector<audit::AuditRecord> records;
  records.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::StatusOr<audit::AuditRecord> record = audit::ParseRecordLine(lines[i]);
    if (!record.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("lines[", i, "]: ", record.status().message()));
    }
    records.push_back(*std::move(record));
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Skip what a retried batch repeats (see the header); the state is committed after the write.
  bool have_chain = have_chain_;
  std::string genesis_hash = genesis_hash_;
  uint64_t last_seq = last_seq_;
  std::string data;
  size_t fresh = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const audit::AuditRecord& r = records[i];
    if (r.type == audit::RecordType::kGenesis) {
      const crypto::Sha384Digest h = audit::LineHash(lines[i]);
      const std::string hash(h.begin(), h.end());
      if (have_chain && hash == genesis_hash) continue;  // this chain's genesis, again
      have_chain = true;
      genesis_hash = hash;
      last_seq = r.seq;
    } else {
      if (have_chain && r.seq <= last_seq) continue;  // written already
      have_chain = true;
      last_seq = r.seq;
    }
    data += lines[i];
    data += '\n';
    ++fresh;
  }
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
  if (data.empty()) return absl::OkStatus();  // all of it written before
  if (failure.ok() && ::fdatasync(fd_.get()) != 0) {
    failure = absl::UnavailableError(absl::StrCat("fdatasync ", path_, ": ", std::strerror(errno)));
  }
  if (!failure.ok()) {
    // Cut the partial batch off, so the enclave's retry does not leave records twice.
    if (::ftruncate(fd_.get(), before) != 0) {
      return absl::UnavailableError(
          absl::StrCat(failure.message(), "; and ftruncate: ", std::strerror(errno)));
    }
    return failure;
  }
  lines_written_ += fresh;
  have_chain_ = have_chain;
  genesis_hash_ = std::move(genesis_hash);
  last_seq_ = last_seq;
  return absl::OkStatus();
}

}  // namespace lockout::relay
