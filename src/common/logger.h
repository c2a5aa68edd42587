#pragma once

// JSON-lines logger for servers and main() (STYLE.md "Logging").
//
// Each call writes one line: {"ts":"...","level":"info","event":"...", <fields>}. Fields are
// whatever the caller passes; never pass bodies, keys, credentials, tokens or attestation
// documents (ARCHITECTURE §8). SecretBytes has no JSON conversion on purpose.
// Thread-safe: lines from concurrent callers never interleave.

#include <functional>
#include <memory>
#include <ostream>
#include <string_view>

#include "nlohmann/json.hpp"

namespace lockout {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

class Logger {
 public:
  // Writes to stderr at kInfo and above.
  static Logger& Default();

  // Redirects output (tests capture into a std::ostringstream). The stream must outlive its use;
  // pass nullptr to go back to stderr.
  void SetStream(std::ostream* os);
  void SetLevel(LogLevel level);
  LogLevel level() const;

  void Log(LogLevel level, std::string_view event, const nlohmann::json& fields = {});

  // Writes `line` (one complete JSON object, no newline) as it is, whatever the level: for lines
  // another process logged (lockout-relay writes the enclave's). Not passed to the tee.
  void WriteLine(std::string_view line);

  // Also hands every line Log writes to `tee` (after writing it), on the logging thread; it must
  // not block or log. nullptr removes it. The enclave forwards its log to the relay this way.
  using Tee = std::function<void(std::string_view line)>;
  void SetTee(Tee tee);

  Logger();
  ~Logger();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

inline void LogInfo(std::string_view event, const nlohmann::json& fields = {}) {
  Logger::Default().Log(LogLevel::kInfo, event, fields);
}
inline void LogWarn(std::string_view event, const nlohmann::json& fields = {}) {
  Logger::Default().Log(LogLevel::kWarn, event, fields);
}
inline void LogError(std::string_view event, const nlohmann::json& fields = {}) {
  Logger::Default().Log(LogLevel::kError, event, fields);
}
inline void LogDebug(std::string_view event, const nlohmann::json& fields = {}) {
  Logger::Default().Log(LogLevel::kDebug, event, fields);
}

// Parses a level name ("debug", "info", "warn", "error").
bool ParseLogLevel(std::string_view name, LogLevel* out);

}  // namespace lockout
