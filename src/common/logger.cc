#include "src/common/logger.h"

#include <atomic>
#include <iostream>
#include <mutex>
#include <string>

#include "absl/time/clock.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "src/common/clock.h"

namespace lockout {
namespace {

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::shared_ptr<spdlog::logger> MakeLogger(std::ostream* os) {
  spdlog::sink_ptr sink;
  if (os == nullptr) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*os, /*force_flush=*/true);
  }
  auto logger = std::make_shared<spdlog::logger>("lockout", std::move(sink));
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

}  // namespace

struct Logger::Impl {
  std::mutex mu;
  std::shared_ptr<spdlog::logger> out = MakeLogger(nullptr);
  std::atomic<LogLevel> level{LogLevel::kInfo};
  std::shared_ptr<const Tee> tee;  // guarded by mu
};

Logger::Logger() : impl_(std::make_unique<Impl>()) {}
Logger::~Logger() = default;

Logger& Logger::Default() {
  static Logger* logger = new Logger();
  return *logger;
}

void Logger::SetStream(std::ostream* os) {
  auto next = MakeLogger(os);
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->out = std::move(next);
}

void Logger::SetLevel(LogLevel level) { impl_->level.store(level); }
LogLevel Logger::level() const { return impl_->level.load(); }

void Logger::Log(LogLevel level, std::string_view event, const nlohmann::json& fields) {
  if (static_cast<int>(level) < static_cast<int>(impl_->level.load())) return;
  nlohmann::ordered_json line;
  line["ts"] = FormatRfc3339(absl::Now());
  line["level"] = LevelName(level);
  line["event"] = std::string(event);
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) line[k] = v;
  } else if (!fields.is_null()) {
    line["detail"] = fields;
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::shared_ptr<spdlog::logger> out;
  std::shared_ptr<const Tee> tee;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    out = impl_->out;
    tee = impl_->tee;
  }
  out->log(spdlog::level::info, spdlog::string_view_t(text.data(), text.size()));
  if (tee != nullptr) (*tee)(text);
}

void Logger::WriteLine(std::string_view line) {
  std::shared_ptr<spdlog::logger> out;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    out = impl_->out;
  }
  out->log(spdlog::level::info, spdlog::string_view_t(line.data(), line.size()));
}

void Logger::SetTee(Tee tee) {
  std::shared_ptr<const Tee> next = tee ? std::make_shared<const Tee>(std::move(tee)) : nullptr;
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->tee = std::move(next);
}

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  if (name == "debug")
    *out = LogLevel::kDebug;
  else if (name == "info")
    *out = LogLevel::kInfo;
  else if (name == "warn")
    *out = LogLevel::kWarn;
  else if (name == "error")
    *out = LogLevel::kError;
  else
    return false;
  return true;
}

}  // namespace lockout
