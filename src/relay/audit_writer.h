#pragma once

// AuditWriter: lockout-relay's --audit-log FILE. Appends the enclave's audit records (the
// append_audit op, relay_protocol.h) as JSON lines, one record per line, in the order received.
//
// Durability: each batch is written with write(2) calls on an O_APPEND descriptor and then
// fdatasync'ed before Append returns OK, so a batch the enclave saw acknowledged survives a crash
// of the parent. A batch that fails half-way is cut off again (ftruncate to the length before
// it), so a retry does not duplicate records. Every line is checked with the audit trail's own
// parser (audit::ParseRecordLine) first: a batch holding anything else is refused whole and the
// file is unchanged, so the file stays a file of records (what the records say is the verifier's
// business: the relay is not trusted with it).
//
// Retries are idempotent. The enclave resends a batch whose acknowledgement it did not get (the
// relay was slow, or stopped and resumed), so the same records can arrive twice. The writer
// remembers the current chain's genesis hash and last seq, and skips a record it has written
// already (a genesis it wrote, or a record of the current chain whose seq is not past the last);
// they count as appended. After a restart of the relay it takes the last seq from the file's last
// line. Skipping only ever drops exact retransmissions of the one honest source; the verifier,
// not the writer, is what detects anything else.
//
// Thread-safety: Append is thread-safe (one mutex: batches never interleave).

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/unique_fd.h"

namespace lockout::relay {

class AuditWriter final {
 public:
  // Opens (creating, mode 0640) `path` for appending. Errors name the path and errno.
  static absl::StatusOr<std::unique_ptr<AuditWriter>> Open(const std::string& path);

  // InvalidArgument (naming the index) if a line is not an audit record; Unavailable if the file
  // could not be written or synced (the file is as before the call, as far as ftruncate could).
  absl::Status Append(const std::vector<std::string>& lines);

  const std::string& path() const { return path_; }
  uint64_t lines_written() const;

 private:
  AuditWriter(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  // Sets last_seq_ from the file's last complete line, if it is a record.
  void RecoverTail();
  std::string path_;
  mutable std::mutex mu_;
  UniqueFd fd_;
  uint64_t lines_written_ = 0;
  bool have_chain_ = false;
  std::string genesis_hash_;  // of the current chain (empty after recovery: unknown)
  uint64_t last_seq_ = 0;
};

}  // namespace lockout::relay
