#pragma once

// EthGateway: the Ethereum remote-signer JSON-RPC methods (those Web3Signer's eth1 mode and clef
// serve) mapped onto the enclave's eth ops (docs/PROTOCOL.md §2, "Ethereum ops"; docs/WALLET.md,
// "JSON-RPC gateway"):
//
//   eth_accounts                          -> [address]
//   eth_sign(address, data)               -> EIP-191 personal_sign of data (as geth's eth_sign)
//   personal_sign(data, address[, pw])    -> the same; the password, if given, is ignored
//   eth_signTransaction(tx)               -> {"raw": "0x..", "tx": tx as sent + "hash", "from"}
//   eth_signTypedData_v4(address, typed)  -> EIP-712 signature; typed as an object or a JSON string
//
// Signatures are "0x" r‖s‖v with v 27/28. Every address parameter must be the enclave's address
// (-32602 "unknown account" otherwise); data is "0x" hex. Inputs are checked here with the parsers
// the enclave runs, so a malformed transaction or typed data is -32602 and nothing is sent.
// What the enclave returns is checked before it is returned: a signature must recover (over the
// digest computed here) to the enclave's address, a transaction's sender (recovered from raw by
// ops::EnclaveV2Client) likewise; -32000 otherwise. The enclave's refusals are -32000 with its
// error text. The gateway holds no key: the enclave's wallet rules decide what gets signed.
//
// Thread-safety: Handle is thread-safe if the backend is.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "src/eth/address.h"
#include "src/eth/recover.h"
#include "src/gateway/json_rpc.h"
#include "src/operator/enclave_client.h"

namespace lockout::gateway {

// The enclave's eth ops, as the gateway uses them (a fake in tests).
class EthBackend {
 public:
  virtual ~EthBackend() = default;
  virtual absl::StatusOr<ops::EthSignedTransaction> SignTransaction(
      const nlohmann::json& transaction) = 0;
  virtual absl::StatusOr<eth::RecoverableSignature> PersonalSign(ByteView message) = 0;
  virtual absl::StatusOr<eth::RecoverableSignature> SignTypedData(
      const nlohmann::json& typed_data) = 0;
};

class EthGateway {
 public:
  // `address`: the enclave's (asked once at start-up).
  EthGateway(eth::Address address, std::shared_ptr<EthBackend> backend)
      : address_(address), backend_(std::move(backend)) {}

  // One HTTP request body -> one JSON-RPC response body.
  std::string Handle(std::string_view body) const;

 private:
  nlohmann::json Dispatch(const RpcRequest& request, RpcError& error) const;
  eth::Address address_;
  std::shared_ptr<EthBackend> backend_;
};

// "0x" r‖s‖v (v 27/28), as wallets return signatures.
std::string WalletSignatureHex(const eth::RecoverableSignature& sig);

}  // namespace lockout::gateway
