#pragma once

// Verification of an audit trail file (JSON lines, as lockout-relay --audit-log writes it):
// `lockout audit verify FILE`. docs/PROTOCOL.md §5 describes what is checked; in short:
//
//   * every line is a record in the one encoding (audit_record.h);
//   * a genesis starts a chain (an enclave boot); its attestation document, when there is one
//     and trusted roots are given, verifies (at the document's own time: its certificates are
//     short-lived), its public_key is the audit key's SPKI, its user_data GenesisUserData(key),
//     and every expected PCR matches;
//   * within a chain seq counts up by one and each prev is the hash of the line before;
//   * every checkpoint's signature verifies with the chain's audit key.
//
// Errors (the trail was tampered with or is not one): a line that is not a record, a broken
// hash link (a record altered or removed), a seq gap or step backwards (removed or reordered), a
// forged checkpoint, records before any genesis, an attestation that does not verify or does
// not commit to the key, a PCR that does not match, a last chain signed through less than
// `expect_seq`. Gaps (reported, not errors): lost records the enclave itself declared, and the
// unsigned tail (records after a chain's last checkpoint, which nobody vouches for).
//
// Memory is bounded: the verifier keeps per-chain counters and at most `max_issues` messages.
// Thread-safety: a verifier is used by one thread.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/audit/audit_record.h"
#include "src/common/bytes.h"

namespace lockout::audit {

struct VerifyOptions {
  // Roots an attestation document must chain to (DER). Empty: documents are not checked (the
  // report says so).
  std::vector<Bytes> trusted_roots;
  // PCR index -> value every chain's attestation document must carry.
  std::map<uint32_t, Bytes> expect_pcrs;
  // The last chain must be signed through at least this seq (the enclave's health reports
  // audit.acknowledged_seq): a file cut short at the end fails.
  std::optional<uint64_t> expect_seq;
  size_t max_issues = 100;
};

struct Issue {
  size_t line = 0;              // 1-based
  std::optional<uint64_t> seq;  // when the line parsed
  std::string message;
};

struct ChainReport {
  size_t first_line = 0;
  std::string audit_key_hex;  // empty: records without a genesis
  // "verified", "absent" (no NSM), "not checked" (no trusted roots), "invalid"
  std::string attestation = "absent";
  std::map<uint32_t, std::string> pcrs;  // from a verified document (0, 16 when present)
  uint64_t records = 0;
  uint64_t first_seq = 0, last_seq = 0;
  std::optional<uint64_t> signed_through;  // seq of the last valid checkpoint
  uint64_t unsigned_tail = 0;              // records after it
  uint64_t lost = 0;                       // declared by lost records
  uint64_t signed_requests = 0, refused_requests = 0, failed_requests = 0;
  uint64_t checkpoints = 0;
};

struct VerifyReport {
  bool ok() const { return errors.empty(); }
  size_t lines = 0;
  std::vector<ChainReport> chains;
  std::vector<Issue> errors;
  std::vector<Issue> gaps;
  size_t errors_left_off = 0, gaps_left_off = 0;

  nlohmann::json ToJson() const;
  // Human-readable: one paragraph per chain, then the errors and gaps.
  std::string ToText() const;
};

class AuditLogVerifier final {
 public:
  explicit AuditLogVerifier(VerifyOptions options);

  // The next line of the file, without its newline (a final empty line is ignored by the
  // readers below).
  void AddLine(std::string_view line);
  // The next line was longer than kMaxLineSize (the reader skipped it).
  void AddOverlongLine();
  VerifyReport Finish();

 private:
  struct Chain {
    ChainReport report;
    bool has_key = false;
    std::array<uint8_t, kAuditKeySize> key{};
    crypto::Sha384Digest head{};
    uint64_t next_seq = 0;
    bool linked = false;  // head/next_seq are known
  };
  void Error(std::optional<uint64_t> seq, std::string message);
  void Gap(std::optional<uint64_t> seq, std::string message);
  void StartChain(const AuditRecord& genesis);
  void CheckAttestation(const AuditRecord& genesis, ChainReport& report);
  void CloseChain();

  VerifyOptions options_;
  VerifyReport report_;
  std::optional<Chain> chain_;
  size_t line_ = 0;
};

// Verifies `text` (the whole file's contents).
VerifyReport VerifyAuditText(std::string_view text, const VerifyOptions& options);
// Reads and verifies the file at `path` in chunks (any size; lines over kMaxLineSize are
// errors). NotFound / PermissionDenied / Internal when it cannot be read.
absl::StatusOr<VerifyReport> VerifyAuditFile(const std::string& path, const VerifyOptions& options);

}  // namespace lockout::audit
