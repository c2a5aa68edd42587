#include "src/audit/audit_sink.h"

#include <algorithm>
#include <utility>

#include "src/common/backoff.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"

namespace lockout::audit {
namespace {

// Per buffered line: the std::string and deque slot around its bytes.
constexpr size_t kLineOverhead = 64;
// Lost and checkpoint records may exceed max_buffer_bytes by this much: they are small, there is
// at most one of each between two sends, and without them a gap would go unreported.
constexpr size_t kMarkerReserve = 4096;
// A request line is at most this plus twice its variable fields (escaping).
constexpr size_t kRequestLineBase = 512;

size_t LineCost(const std::string& line) { return line.size() + kLineOverhead; }

}  // namespace

AuditSink::AuditSink(AuditSinkOptions options, std::unique_ptr<AuditChain> chain,
                     Transport transport)
    : options_(std::move(options)), transport_(std::move(transport)), chain_(std::move(chain)) {
  PushLocked(chain_->genesis_line());
}

std::unique_ptr<AuditSink> AuditSink::Start(AuditSinkOptions options,
                                            std::unique_ptr<AuditChain> chain,
                                            Transport transport) {
  auto sink = std::unique_ptr<AuditSink>(
      new AuditSink(std::move(options), std::move(chain), std::move(transport)));
  sink->sender_ = std::thread([raw = sink.get()] { raw->Run(); });
  return sink;
}

AuditSink::~AuditSink() { Stop(); }

void AuditSink::PushLocked(std::string line) {
  pending_bytes_ += LineCost(line);
  pending_.push_back(std::move(line));
}

void AuditSink::NoteLostLocked() {
  if (unreported_lost_ == 0 || pending_bytes_ + kRequestLineBase > options_.max_buffer_bytes) {
    return;
  }
  absl::StatusOr<std::string> line = chain_->AppendLost(unreported_lost_);
  if (!line.ok()) return;  // cannot happen (no variable fields); retried on the next record
  unreported_lost_ = 0;
  ++since_checkpoint_;
  PushLocked(*std::move(line));
}

void AuditSink::CheckpointLocked() {
  if (chain_->head_is_checkpoint()) return;
  if (pending_bytes_ > options_.max_buffer_bytes + kMarkerReserve) return;
  absl::StatusOr<std::string> line = chain_->AppendCheckpoint();
  if (!line.ok()) {
    LogError("audit_checkpoint_failed", {{"error", std::string(line.status().message())}});
    return;
  }
  since_checkpoint_ = 0;
  checkpoint_seq_ = chain_->last_seq();
  PushLocked(*std::move(line));
}

bool AuditSink::Record(const RequestEvent& event) {
  const size_t bound = kRequestLineBase + 2 * (event.client.size() + event.key.size() +
                                               event.op.size() + event.rule.size());
  std::lock_guard<std::mutex> lock(mu_);
  NoteLostLocked();
  if (pending_bytes_ + bound > options_.max_buffer_bytes) {
    ++unreported_lost_;
    ++lost_total_;
    return false;
  }
  absl::StatusOr<std::string> line = chain_->AppendRequest(event);
  if (!line.ok()) {
    // A field the encoding refuses (the caller passes validated names, so this is a bug):
    // counted as lost so the gap shows.
    LogError("audit_record_failed", {{"error", std::string(line.status().message())}});
    ++unreported_lost_;
    ++lost_total_;
    return false;
  }
  PushLocked(*std::move(line));
  if (++since_checkpoint_ >= options_.checkpoint_records) CheckpointLocked();
  if (pending_bytes_ >= options_.max_batch_bytes) wake_.notify_one();
  return true;
}

bool AuditSink::SendOnce() {
  std::vector<std::string> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    NoteLostLocked();
    CheckpointLocked();
    // The lines are moved out (not copied) and moved back if the send fails; Record only ever
    // appends, so the front slots are this batch's until then.
    size_t bytes = 0;
    for (std::string& line : pending_) {
      if (!batch.empty() && bytes + line.size() > options_.max_batch_bytes) break;
      bytes += line.size();
      batch.push_back(std::move(line));
    }
  }
  if (batch.empty()) return true;
  const absl::Status sent = transport_(batch);
  std::lock_guard<std::mutex> lock(mu_);
  if (!sent.ok()) {
    for (size_t i = 0; i < batch.size(); ++i) pending_[i] = std::move(batch[i]);
    if (relay_ok_ || send_failures_ == 0) {
      LogWarn("audit_send_failed", {{"error", std::string(sent.message())},
                                    {"pending_records", pending_.size()},
                                    {"consequence",
                                     "records are kept until the buffer is full, "
                                     "then counted as lost"}});
    }
    relay_ok_ = false;
    ++send_failures_;
    return false;
  }
  if (!relay_ok_ && send_failures_ > 0) LogInfo("audit_send_resumed", {{"records", batch.size()}});
  relay_ok_ = true;
  for (const std::string& line : batch) {
    pending_bytes_ -= LineCost(line);
    pending_.pop_front();
  }
  front_seq_ += batch.size();
  acknowledged_seq_ = static_cast<int64_t>(front_seq_) - 1;
  return true;
}

void AuditSink::Run() {
  int retry = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait_for(lock, absl::ToChronoNanoseconds(options_.flush_interval),
                   [this] { return stopping_ || pending_bytes_ >= options_.max_batch_bytes; });
    const bool last = stopping_;
    // Unreachable at its last try: do not hold up shutdown. Never tried yet (stopped before the
    // first flush) is not unreachable: what is buffered gets its one last attempt.
    if (last && !relay_ok_ && send_failures_ > 0) break;
    if (pending_.empty() && unreported_lost_ == 0 && chain_->head_is_checkpoint()) {
      if (last) break;
      continue;
    }
    lock.unlock();
    const bool ok = SendOnce();
    lock.lock();
    if (last) break;
    if (ok) {
      retry = 0;
      continue;
    }
    const absl::Duration wait =
        ExponentialBackoff(options_.retry_interval, options_.max_retry_interval, retry++);
    wake_.wait_for(lock, absl::ToChronoNanoseconds(wait), [this] { return stopping_; });
  }
}

nlohmann::json AuditSink::Health() const {
  std::lock_guard<std::mutex> lock(mu_);
  const crypto::Sha384Digest& head = chain_->head();
  return nlohmann::json{{"required", options_.required},
                        {"seq", chain_->last_seq()},
                        {"head", HexEncode(ByteView(head.data(), head.size()))},
                        {"checkpoint_seq", checkpoint_seq_},
                        {"acknowledged_seq", acknowledged_seq_},
                        {"pending_records", pending_.size()},
                        {"pending_bytes", pending_bytes_},
                        {"lost_records", lost_total_},
                        {"relay_ok", relay_ok_},
                        {"send_failures", send_failures_}};
}

void AuditSink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sender_.joinable()) sender_.join();
}

}  // namespace lockout::audit
