#pragma once

// LogForwarder: the enclave's log and counters, delivered to the parent. A production enclave has
// no console (only a debug-mode enclave's can be read, with nitro-cli console), so its JSON log
// lines and counters go to the relay (append_log, docs/PROTOCOL.md §3), which writes the lines
// into its own log with "source":"enclave" and serves the counters as lockout_enclave_<name>.
//
//   auto forwarder = LogForwarder::Start(options, send, counters);
//   Logger::Default().SetTee(forwarder->Tee());   // every line the enclave logs from now on
//
// Bounded memory, never blocking the logger: the tee only appends the line to a buffer of at
// most `max_buffer_lines` lines and `max_buffer_bytes` bytes; a line that does not fit (the
// relay is slow, down or refuses) is dropped and counted, and the count goes with the next
// report ("dropped"). One sender thread sends every `interval` — a batch of at most
// relay::kMaxLogLines lines that fits a relay request, with the counters — and after a failure
// waits twice as long each time, up to `max_retry_interval`. Lines stay buffered until the relay
// acknowledges them. A line that is not a JSON object (it never is: the logger writes objects)
// is dropped and counted.
//
// Nothing here adds to what the log already holds: the lines are the logger's own (which never
// carry secrets, keys, messages or documents); counters are names and numbers.
//
// Thread-safety: the tee may be called from any thread, before and after Stop; Stop (also the
// destructor) from one thread.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/common/logger.h"
#include "src/relay/relay_protocol.h"

namespace lockout::enclave {

struct LogForwarderOptions {
  size_t max_buffer_lines = 4096;
  size_t max_buffer_bytes = size_t{1} << 20;
  absl::Duration interval = absl::Seconds(1);
  absl::Duration max_retry_interval = absl::Seconds(30);
};

class LogForwarder final {
 public:
  // Sends one report; the number of lines the relay wrote.
  using Send = std::function<absl::StatusOr<size_t>(const relay::AppendLogRequest&)>;
  // The counters to report now (valid names, relay::IsValidLogCounterName; at most
  // relay::kMaxLogCounters).
  using Counters = std::function<std::vector<std::pair<std::string, uint64_t>>()>;

  static std::unique_ptr<LogForwarder> Start(LogForwarderOptions options, Send send,
                                             Counters counters);
  ~LogForwarder();
  LogForwarder(const LogForwarder&) = delete;
  LogForwarder& operator=(const LogForwarder&) = delete;

  // For Logger::SetTee. It holds the buffer, not the forwarder, so a line logged after Stop is
  // only buffered (and never sent).
  Logger::Tee Tee() const;
  // Stops the sender after one last attempt to send what is buffered. Idempotent.
  void Stop();

  // For health and tests.
  uint64_t dropped() const;
  uint64_t sent() const;
  size_t pending() const;

  struct Buffer;

 private:
  LogForwarder(LogForwarderOptions options, Send send, Counters counters);
  void Run();
  // One report; OK if the relay took it.
  absl::Status SendOnce();

  const LogForwarderOptions options_;
  const Send send_;
  const Counters counters_;
  std::shared_ptr<Buffer> buffer_;
  std::atomic<uint64_t> sent_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// The numbers of a health report (RequestHandler::Health) as counters: every unsigned integer and
// boolean (as 0/1), named by its path joined with '_' ("attested_replies_served",
// "refusals_replay"), where that is a valid counter name; fractions, negative numbers and strings
// are skipped. At most relay::kMaxLogCounters, in name order.
std::vector<std::pair<std::string, uint64_t>> HealthCounters(const nlohmann::json& health);

}  // namespace lockout::enclave
