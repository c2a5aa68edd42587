#include "src/gateway/enclave_eth_backend.h"

#include "src/common/status_macros.h"

namespace lockout::gateway {

absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> EnclaveEthBackend::Connect() {
  ASSIGN_OR_RETURN(std::unique_ptr<ops::EnclaveV2Client> client,
                   ops::EnclaveV2Client::Connect(endpoint_, timeout_));
  if (client_key_ != nullptr) client->Authenticate(client_key_);
  return client;
}

absl::StatusOr<eth::Address> EnclaveEthBackend::Address() {
  ASSIGN_OR_RETURN(std::unique_ptr<ops::EnclaveV2Client> client, Connect());
  return client->EthAddress();
}

absl::StatusOr<ops::EthSignedTransaction> EnclaveEthBackend::SignTransaction(
    const nlohmann::json& transaction) {
  ASSIGN_OR_RETURN(std::unique_ptr<ops::EnclaveV2Client> client, Connect());
  return client->EthSignTransaction(transaction);
}

absl::StatusOr<eth::RecoverableSignature> EnclaveEthBackend::PersonalSign(ByteView message) {
  ASSIGN_OR_RETURN(std::unique_ptr<ops::EnclaveV2Client> client, Connect());
  return client->EthPersonalSign(message);
}

absl::StatusOr<eth::RecoverableSignature> EnclaveEthBackend::SignTypedData(
    const nlohmann::json& typed_data) {
  ASSIGN_OR_RETURN(std::unique_ptr<ops::EnclaveV2Client> client, Connect());
  return client->EthSignTypedData(typed_data);
}

}  // namespace lockout::gateway
