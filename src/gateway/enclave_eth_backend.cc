#include "src/gateway/enclave_eth_backend.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/backoff.h"
#include "src/common/logger.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::gateway {

EnclaveEthBackend::EnclaveEthBackend(net::Endpoint endpoint, EnclavePoolOptions options,
                                     std::shared_ptr<const auth::ClientKey> client_key)
    : endpoint_(std::move(endpoint)),
      options_(options),
      client_key_(std::move(client_key)),
      jitter_(std::random_device{}()) {}

EnclaveEthBackend::Stats EnclaveEthBackend::stats() const {
  absl::MutexLock lock(&mu_);
  Stats out = stats_;
  out.open = in_use_ + static_cast<int>(idle_.size());
  return out;
}

absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> EnclaveEthBackend::Open() {
  ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Connect(endpoint_, options_.timeout));
  if (client_key_ != nullptr) client->Authenticate(client_key_);
  return client;
}

absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> EnclaveEthBackend::Acquire(bool& reused) {
  const absl::Time deadline = absl::Now() + options_.busy_timeout;
  const int limit = std::clamp(options_.connections, 1, kMaxEnclaveConnections);
  {
    absl::MutexLock lock(&mu_);
    while (idle_.empty() && in_use_ >= limit) {
      if (freed_.WaitWithDeadline(&mu_, deadline) && idle_.empty() && in_use_ >= limit) {
        return absl::ResourceExhaustedError(
            absl::StrCat("enclave busy: all ", limit, " enclave connections stayed in use for ",
                         absl::FormatDuration(options_.busy_timeout)));
      }
    }
    ++stats_.calls;
    if (!idle_.empty()) {
      std::unique_ptr<Client> client = std::move(idle_.back());
      idle_.pop_back();
      ++in_use_;
      reused = true;
      return client;
    }
    const absl::Time now = absl::Now();
    if (now < retry_at_) {
      return absl::UnavailableError(absl::StrCat(
          "enclave unreachable: ", last_connect_error_.message(), " (next attempt in ",
          absl::FormatDuration(absl::Ceil(retry_at_ - now, absl::Milliseconds(1))), ")"));
    }
    ++in_use_;  // the slot is ours while we connect
  }
  reused = false;
  absl::StatusOr<std::unique_ptr<Client>> client = Open();
  absl::MutexLock lock(&mu_);
  if (!client.ok()) {
    --in_use_;
    freed_.Signal();
    ++stats_.connect_failures;
    ++connect_failures_in_a_row_;
    const double u =
        options_.jitter ? options_.jitter() : std::uniform_real_distribution<double>(0, 1)(jitter_);
    const absl::Duration wait = FullJitterBackoff(options_.backoff_initial, options_.backoff_max,
                                                  connect_failures_in_a_row_, u);
    retry_at_ = absl::Now() + wait;
    last_connect_error_ = client.status();
    LogWarn("gateway_enclave_unreachable", {{"enclave", endpoint_.ToString()},
                                            {"error", std::string(client.status().message())},
                                            {"failures_in_a_row", connect_failures_in_a_row_},
                                            {"retry_in_ms", absl::ToInt64Milliseconds(wait)}});
    return absl::UnavailableError(absl::StrCat("enclave unreachable: ", client.status().message()));
  }
  connect_failures_in_a_row_ = 0;
  ++stats_.connects;
  LogInfo("gateway_enclave_connected", {{"enclave", endpoint_.ToString()},
                                        {"connections_opened", stats_.connects},
                                        {"open", in_use_ + static_cast<int>(idle_.size())}});
  return client;
}

void EnclaveEthBackend::Release(std::unique_ptr<Client> client, bool healthy, bool drop_idle) {
  std::vector<std::unique_ptr<Client>> closing;  // closed after the lock is let go
  absl::MutexLock lock(&mu_);
  --in_use_;
  if (healthy) {
    idle_.push_back(std::move(client));
  } else {
    closing.push_back(std::move(client));
  }
  if (drop_idle) {
    for (auto& c : idle_) closing.push_back(std::move(c));
    idle_.clear();
  }
  stats_.dropped += closing.size();
  freed_.SignalAll();
}

template <typename T>
absl::StatusOr<T> EnclaveEthBackend::WithClient(
    absl::FunctionRef<absl::StatusOr<T>(Client&)> call) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Acquire(reused));
    absl::StatusOr<T> result = call(*client);
    const absl::StatusCode code = result.status().code();
    // OK or the enclave's refusal ("enclave: R"): a reply with the request's id came back, the
    // stream is in step. Anything else (a timeout above all) and the connection is closed.
    const bool healthy = result.ok() || code == absl::StatusCode::kFailedPrecondition;
    const bool stale =
        reused && (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDataLoss);
    if (!healthy) {
      LogWarn("gateway_enclave_connection_dropped",
              {{"enclave", endpoint_.ToString()},
               {"error", std::string(result.status().message())},
               {"retry", stale && attempt == 0}});
    }
    Release(std::move(client), healthy, /*drop_idle=*/stale);
    if (stale && attempt == 0) continue;
    return result;
  }
}

absl::StatusOr<eth::Address> EnclaveEthBackend::Address() {
  return WithClient<eth::Address>([](Client& c) { return c.EthAddress(); });
}

absl::StatusOr<ops::EthSignedTransaction> EnclaveEthBackend::SignTransaction(
    const nlohmann::json& transaction) {
  return WithClient<ops::EthSignedTransaction>(
      [&](Client& c) { return c.EthSignTransaction(transaction); });
}

absl::StatusOr<eth::RecoverableSignature> EnclaveEthBackend::PersonalSign(ByteView message) {
  return WithClient<eth::RecoverableSignature>(
      [&](Client& c) { return c.EthPersonalSign(message); });
}

absl::StatusOr<eth::RecoverableSignature> EnclaveEthBackend::SignTypedData(
    const nlohmann::json& typed_data) {
  return WithClient<eth::RecoverableSignature>(
      [&](Client& c) { return c.EthSignTypedData(typed_data); });
}

}  // namespace lockout::gateway
