#include "src/enclave/log_forwarder.h"

#include <algorithm>
#include <deque>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/backoff.h"

namespace lockout::enclave {

struct LogForwarder::Buffer {
  Buffer(size_t line_limit, size_t byte_limit) : max_lines(line_limit), max_bytes(byte_limit) {}
  const size_t max_lines;
  const size_t max_bytes;
  mutable std::mutex mu;
  std::deque<std::string> lines;  // guarded by mu
  size_t bytes = 0;               // guarded by mu
  uint64_t dropped = 0;           // guarded by mu

  void Add(std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    if (lines.size() >= max_lines || bytes + line.size() > max_bytes) {
      ++dropped;
      return;
    }
    lines.emplace_back(line);
    bytes += line.size();
  }
};

std::unique_ptr<LogForwarder> LogForwarder::Start(LogForwarderOptions options, Send send,
                                                  Counters counters) {
  std::unique_ptr<LogForwarder> forwarder(
      new LogForwarder(options, std::move(send), std::move(counters)));
  forwarder->thread_ = std::thread([raw = forwarder.get()] { raw->Run(); });
  return forwarder;
}

LogForwarder::LogForwarder(LogForwarderOptions options, Send send, Counters counters)
    : options_(options),
      send_(std::move(send)),
      counters_(std::move(counters)),
      buffer_(std::make_shared<Buffer>(options.max_buffer_lines, options.max_buffer_bytes)) {}

LogForwarder::~LogForwarder() { Stop(); }

Logger::Tee LogForwarder::Tee() const {
  return [buffer = buffer_](std::string_view line) { buffer->Add(line); };
}

void LogForwarder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t LogForwarder::dropped() const {
  std::lock_guard<std::mutex> lock(buffer_->mu);
  return buffer_->dropped;
}

uint64_t LogForwarder::sent() const { return sent_.load(std::memory_order_relaxed); }

size_t LogForwarder::pending() const {
  std::lock_guard<std::mutex> lock(buffer_->mu);
  return buffer_->lines.size();
}

absl::Status LogForwarder::SendOnce() {
  relay::AppendLogRequest request;
  size_t taken = 0;  // lines from the front of the buffer this report covers
  {
    // Fill a batch that fits one relay request (the counters and framing take the rest).
    constexpr size_t kLineBudget = relay::kMaxRequestSize - 8192;
    size_t size = 0;
    std::lock_guard<std::mutex> lock(buffer_->mu);
    auto& lines = buffer_->lines;
    for (size_t i = 0; i < lines.size() && request.lines.size() < relay::kMaxLogLines;) {
      nlohmann::json line = nlohmann::json::parse(lines[i], nullptr, /*allow_exceptions=*/false);
      const size_t line_size = line.is_object() && line.size() <= relay::kMaxLogLineMembers
                                   ? relay::AppendLogLineSize(line)
                                   : 0;
      if (line_size == 0 || line_size > kLineBudget) {
        // Not a line the relay would take: never sendable, so not kept.
        buffer_->bytes -= lines[i].size();
        lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
        ++buffer_->dropped;
        continue;
      }
      if (size + line_size > kLineBudget) break;
      size += line_size;
      request.lines.push_back(std::move(line));
      ++i;
    }
    taken = request.lines.size();
    request.dropped = buffer_->dropped;
  }
  if (counters_) request.counters = counters_();
  absl::StatusOr<size_t> written = send_(request);
  if (!written.ok()) return written.status();
  {
    std::lock_guard<std::mutex> lock(buffer_->mu);
    for (size_t i = 0; i < taken && !buffer_->lines.empty(); ++i) {
      buffer_->bytes -= buffer_->lines.front().size();
      buffer_->lines.pop_front();
    }
  }
  sent_.fetch_add(request.lines.size(), std::memory_order_relaxed);
  return absl::OkStatus();
}

void LogForwarder::Run() {
  int failures = 0;
  for (;;) {
    const absl::Duration wait =
        failures == 0
            ? options_.interval
            : ExponentialBackoff(options_.interval, options_.max_retry_interval, failures);
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, absl::ToChronoNanoseconds(wait), [this] { return stop_; });
      stopping = stop_;
    }
    const absl::Status sent = SendOnce();
    const bool ok = sent.ok();
    if (ok && failures > 0) {
      LogInfo("log_forward_resumed", {{"failed_attempts", failures}});
    } else if (!ok && failures == 0) {
      // Once per outage (this line is buffered too, for when the relay is back).
      LogWarn("log_forward_failed",
              {{"error", std::string(sent.message())},
               {"hint",
                "the relay did not take the enclave's log: is lockout-relay running, and new "
                "enough to know append_log?"}});
    }
    failures = ok ? 0 : failures + 1;
    if (stopping) return;
  }
}

namespace {

void CollectCounters(const nlohmann::json& value, const std::string& name,
                     std::vector<std::pair<std::string, uint64_t>>& out) {
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      CollectCounters(member, name.empty() ? key : absl::StrCat(name, "_", key), out);
    }
    return;
  }
  if (!relay::IsValidLogCounterName(name)) return;
  if (value.is_number_unsigned()) {
    out.emplace_back(name, value.get<uint64_t>());
  } else if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    out.emplace_back(name, static_cast<uint64_t>(value.get<int64_t>()));
  } else if (value.is_boolean()) {
    out.emplace_back(name, value.get<bool>() ? 1 : 0);
  }
}

}  // namespace

std::vector<std::pair<std::string, uint64_t>> HealthCounters(const nlohmann::json& health) {
  std::vector<std::pair<std::string, uint64_t>> out;
  CollectCounters(health, "", out);
  std::sort(out.begin(), out.end());
  if (out.size() > relay::kMaxLogCounters) out.resize(relay::kMaxLogCounters);
  return out;
}

}  // namespace lockout::enclave
