#pragma once

// The audit trail's record model and its one encoding (docs/PROTOCOL.md §5 "Audit trail").
//
// Every record is one line of JSON (printable ASCII, no newline) whose members come in a fixed
// order; the line's bytes are what is hashed and chained, so a verifier never re-serialises:
//
//   hash(record)  = SHA-384(the line's bytes)
//   record.prev   = hash(the record before it) (48 zero bytes for a genesis)
//
// Four types, each with the members seq, type, time (unix ms), prev, then:
//   genesis     audit_key (hex, the enclave's Ed25519 audit key), attestation (base64 NSM
//               document committing to that key, or null without an NSM)
//   request     client ("-" if none), digest (hex SHA-256 of the request frame's payload), key,
//               op, verdict ("signed", "refused", "failed"), rule (why, "" when signed)
//   lost        count: the enclave kept no record of `count` events (its buffer was full)
//   checkpoint  signature (hex, Ed25519 by the audit key over CheckpointSigningInput(prev, seq))
//
// ParseRecordLine accepts exactly what EncodeRecordLine produces (it re-encodes the parsed
// record and compares bytes), so one line has one meaning.
// Thread-safety: pure functions.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/crypto/hash.h"

namespace lockout::audit {

// The largest line we write or read (a genesis carries an attestation document, ~5 KiB in
// base64; NSM documents are at most 16 KiB).
inline constexpr size_t kMaxLineSize = 32 << 10;
// Name fields (client, key, op, rule): printable ASCII, at most this long.
inline constexpr size_t kMaxNameSize = 2048;
inline constexpr size_t kAuditKeySize = 32;   // Ed25519 public key
inline constexpr size_t kSignatureSize = 64;  // Ed25519 signature

enum class RecordType { kGenesis, kRequest, kLost, kCheckpoint };
std::string_view RecordTypeName(RecordType type);

// Request verdicts.
inline constexpr std::string_view kVerdictSigned = "signed";
inline constexpr std::string_view kVerdictRefused = "refused";
inline constexpr std::string_view kVerdictFailed = "failed";
// The client of a request that named none (no signing policy, or an unauthenticated request).
inline constexpr std::string_view kNoClient = "-";

struct AuditRecord {
  RecordType type = RecordType::kRequest;
  uint64_t seq = 0;
  int64_t time_ms = 0;
  crypto::Sha384Digest prev{};
  // request
  std::string client;
  std::array<uint8_t, 32> digest{};
  std::string key;
  std::string op;
  std::string verdict;
  std::string rule;
  // lost
  uint64_t count = 0;
  // genesis
  std::array<uint8_t, kAuditKeySize> audit_key{};
  Bytes attestation;  // empty: none (encoded as null)
  // checkpoint
  std::array<uint8_t, kSignatureSize> signature{};

  bool operator==(const AuditRecord&) const = default;
};

// The record's line (no newline). InvalidArgument if a name field is empty, over kMaxNameSize or
// not printable ASCII, the verdict is not one of the three, or the line would exceed kMaxLineSize.
absl::StatusOr<std::string> EncodeRecordLine(const AuditRecord& record);

// Parses one line (untrusted; no newline). InvalidArgument naming the member (never its value)
// for anything EncodeRecordLine would not have produced.
absl::StatusOr<AuditRecord> ParseRecordLine(std::string_view line);

// SHA-384 of the line's bytes: the chain link.
crypto::Sha384Digest LineHash(std::string_view line);

// What a checkpoint's signature covers:
//   "lockout-audit-checkpoint-v1" (27 ASCII bytes) || u64 seq (big-endian) || prev (48 bytes).
// Domain-separated, so no other message of lockout's is a valid checkpoint signature input.
Bytes CheckpointSigningInput(const crypto::Sha384Digest& prev, uint64_t seq);

// The user_data of a genesis's attestation document: SHA-256("lockout-audit-key-v1" || the
// 32-byte key). Not SHA-256(SPKI) as the attest op's, so no document made for the signing key
// can pass for an audit key's.
std::array<uint8_t, 32> GenesisUserData(ByteView audit_key);

// Verifies an Ed25519 signature by the raw 32-byte `public_key`. True only if it verifies.
bool VerifyEd25519(ByteView public_key, ByteView message, ByteView signature);

}  // namespace lockout::audit
