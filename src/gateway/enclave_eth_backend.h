#pragma once

// EnclaveEthBackend: EthBackend over the enclave's v2 protocol. Each call opens its own
// connection (ops::EnclaveV2Client is one-thread-at-a-time; the HTTP server's workers call
// concurrently) and, with a client key, signs its request with it (docs/PROTOCOL.md §2,
// "Authenticated requests"). The client key is the only key the gateway holds.

#include <memory>

#include "absl/time/time.h"
#include "src/auth/client_key.h"
#include "src/gateway/eth_gateway.h"
#include "src/net/endpoint.h"

namespace lockout::gateway {

class EnclaveEthBackend final : public EthBackend {
 public:
  EnclaveEthBackend(net::Endpoint endpoint, absl::Duration timeout,
                    std::shared_ptr<const auth::ClientKey> client_key)
      : endpoint_(std::move(endpoint)), timeout_(timeout), client_key_(std::move(client_key)) {}

  absl::StatusOr<eth::Address> Address();
  absl::StatusOr<ops::EthSignedTransaction> SignTransaction(
      const nlohmann::json& transaction) override;
  absl::StatusOr<eth::RecoverableSignature> PersonalSign(ByteView message) override;
  absl::StatusOr<eth::RecoverableSignature> SignTypedData(
      const nlohmann::json& typed_data) override;

 private:
  absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> Connect();
  net::Endpoint endpoint_;
  absl::Duration timeout_;
  std::shared_ptr<const auth::ClientKey> client_key_;
};

}  // namespace lockout::gateway
