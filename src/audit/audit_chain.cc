#include "src/audit/audit_chain.h"

#include <algorithm>
#include <utility>

#include "absl/time/time.h"
#include "src/common/status_macros.h"

namespace lockout::audit {

AuditChain::AuditChain(std::unique_ptr<signer::Signer> signer, const Clock& clock)
    : signer_(std::move(signer)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<AuditChain>> AuditChain::Create(const AttestFunction& attest,
                                                               const Clock& clock) {
  ASSIGN_OR_RETURN(std::unique_ptr<signer::Signer> key,
                   signer::Signer::Generate(signer::KeyType::kEd25519));
  auto chain = std::unique_ptr<AuditChain>(new AuditChain(std::move(key), clock));
  AuditRecord genesis;
  genesis.type = RecordType::kGenesis;
  const Bytes& raw = chain->signer_->public_key_raw();
  if (raw.size() != kAuditKeySize) {
    return absl::InternalError("the audit key's public half is not 32 bytes");
  }
  std::copy(raw.begin(), raw.end(), genesis.audit_key.begin());
  if (attest) {
    const std::array<uint8_t, 32> user_data = GenesisUserData(raw);
    ASSIGN_OR_RETURN(genesis.attestation, attest(ByteView(user_data.data(), user_data.size()),
                                                 chain->signer_->public_key_der()));
  }
  ASSIGN_OR_RETURN(chain->genesis_line_, chain->Append(std::move(genesis)));
  return chain;
}

absl::StatusOr<std::string> AuditChain::Append(AuditRecord record) {
  record.seq = next_seq_;
  record.time_ms = absl::ToUnixMillis(clock_.Now());
  record.prev = head_;
  if (record.type == RecordType::kCheckpoint) {
    ASSIGN_OR_RETURN(Bytes sig, signer_->Sign(CheckpointSigningInput(head_, record.seq)));
    if (sig.size() != kSignatureSize) return absl::InternalError("audit signature not 64 bytes");
    std::copy(sig.begin(), sig.end(), record.signature.begin());
  }
  ASSIGN_OR_RETURN(std::string line, EncodeRecordLine(record));
  head_ = LineHash(line);
  head_is_checkpoint_ = record.type == RecordType::kCheckpoint;
  ++next_seq_;
  return line;
}

absl::StatusOr<std::string> AuditChain::AppendRequest(const RequestEvent& event) {
  AuditRecord r;
  r.type = RecordType::kRequest;
  r.client = event.client.empty() ? std::string(kNoClient) : std::string(event.client);
  r.digest = event.digest;
  r.key = std::string(event.key);
  r.op = std::string(event.op);
  r.verdict = std::string(event.verdict);
  r.rule = std::string(event.rule);
  return Append(std::move(r));
}

absl::StatusOr<std::string> AuditChain::AppendLost(uint64_t count) {
  AuditRecord r;
  r.type = RecordType::kLost;
  r.count = count;
  return Append(std::move(r));
}

absl::StatusOr<std::string> AuditChain::AppendCheckpoint() {
  AuditRecord r;
  r.type = RecordType::kCheckpoint;
  return Append(std::move(r));
}

}  // namespace lockout::audit
