#pragma once

// AuditSink: the enclave's audit trail in motion. Records go into an AuditChain and a bounded
// buffer; one sender thread ships them to the parent in batches (the relay's append_audit op,
// through `Transport`), each batch ending with a checkpoint that signs the chain head.
//
//   AuditSink::Start(options, chain, transport)   // the genesis is the first record sent
//   sink->Record(event)                           // from any worker thread; never blocks on I/O
//   sink->Health()                                // for the enclave's health op
//
// Bounded memory. The buffer holds at most `max_buffer_bytes` of lines not yet accepted by the
// relay. When it is full (the relay is slow, down or not reading) a record is not kept: Record()
// returns false and counts it; as soon as there is room again a "lost" record with that count is
// chained, so the verifier reports the gap (docs/PROTOCOL.md §5). Signing never waits for the
// relay. With `required` (lockout-enclave --audit-required) the caller withholds the reply of a
// request whose record was not kept instead (request_handler.cc).
//
// Cost. The signer's side of a record is one SHA-256 of the request (by the caller), one
// SHA-384 of the line and a mutex; the Ed25519 signature is per batch (at most every
// `flush_interval`, or every `checkpoint_records` records), on the sender thread's turn.
//
// Thread-safety: Record and Health are thread-safe; Stop from one thread (also run by the
// destructor).

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/audit/audit_chain.h"

namespace lockout::audit {

struct AuditSinkOptions {
  // Lines not yet accepted by the relay, in bytes. Records past it are lost (and counted).
  size_t max_buffer_bytes = size_t{8} << 20;
  // The most line bytes in one batch (the relay's request limit is kMaxAuditRequestSize).
  size_t max_batch_bytes = size_t{256} << 10;
  // How long a record may wait before its batch is sent (and signed).
  absl::Duration flush_interval = absl::Milliseconds(100);
  // A checkpoint at least every this many records, even within one batch.
  size_t checkpoint_records = 4096;
  // After a failed send: wait this long, doubling up to max_retry_interval.
  absl::Duration retry_interval = absl::Milliseconds(100);
  absl::Duration max_retry_interval = absl::Seconds(2);
  // Reported by Health (the enclave withholds replies whose record was not kept).
  bool required = false;
};

class AuditSink final {
 public:
  // Sends `lines` (each one record, no newline) to the parent; OK once they are durably
  // written. Called from the sender thread only.
  using Transport = std::function<absl::Status(const std::vector<std::string>& lines)>;

  static std::unique_ptr<AuditSink> Start(AuditSinkOptions options,
                                          std::unique_ptr<AuditChain> chain, Transport transport);
  ~AuditSink();
  AuditSink(const AuditSink&) = delete;
  AuditSink& operator=(const AuditSink&) = delete;

  // Chains and buffers a record of `event`. False if it was not kept (buffer full, or an event
  // the encoding refuses: counted as lost too).
  bool Record(const RequestEvent& event);

  // {"required", "seq", "head", "checkpoint_seq", "acknowledged_seq", "pending_records",
  //  "pending_bytes", "lost_records", "relay_ok", "send_failures"}. `checkpoint_seq` is the last
  // signed record; `acknowledged_seq` the last record the relay said it wrote (-1: none yet):
  // a verified file must reach it (lockout audit verify --expect-seq).
  nlohmann::json Health() const;

  // Stops the sender after one last attempt to send what is buffered (if the relay was reachable
  // at its last try).
  void Stop();

  bool required() const { return options_.required; }

 private:
  AuditSink(AuditSinkOptions options, std::unique_ptr<AuditChain> chain, Transport transport);
  void Run();
  // With mu_ held: chains a lost record for the events dropped so far, if any.
  void NoteLostLocked();
  // With mu_ held: appends `line` to the buffer.
  void PushLocked(std::string line);
  // With mu_ held: signs the head unless it is signed already.
  void CheckpointLocked();
  // Sends the front of the buffer once; true on success.
  bool SendOnce();

  const AuditSinkOptions options_;
  const Transport transport_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::unique_ptr<AuditChain> chain_;  // guarded by mu_
  std::deque<std::string> pending_;    // lines not yet accepted, in chain order
  size_t pending_bytes_ = 0;
  uint64_t front_seq_ = 0;        // seq of pending_.front()
  uint64_t unreported_lost_ = 0;  // dropped events not yet in a lost record
  uint64_t lost_total_ = 0;
  uint64_t since_checkpoint_ = 0;  // records since the last checkpoint
  uint64_t checkpoint_seq_ = 0;
  int64_t acknowledged_seq_ = -1;
  uint64_t send_failures_ = 0;
  bool relay_ok_ = false;
  bool stopping_ = false;
  std::thread sender_;
};

}  // namespace lockout::audit
