// libFuzzer target: JSON-RPC request bodies for `lockout gateway` (src/gateway/json_rpc.h,
// eth_gateway.h). Anyone who can reach the gateway's port sends these bytes.
//
// The input is one HTTP request body. Properties checked (abort on violation):
//   * ParseRpcRequest yields a request with a string/number/null id and array/object params, or
//     an error with one of the five JSON-RPC codes;
//   * EthGateway::Handle (with a backend that must never be called for a request that is not a
//     well-formed call of a known method) always returns one JSON object with "jsonrpc": "2.0"
//     and exactly one of "result" and "error".

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/gateway/eth_gateway.h"
#include "src/gateway/json_rpc.h"

namespace {

using lockout::fuzz::Check;
namespace gw = lockout::gateway;

class RefusingBackend : public gw::EthBackend {
 public:
  absl::StatusOr<lockout::ops::EthSignedTransaction> SignTransaction(
      const nlohmann::json&) override {
    return absl::FailedPreconditionError("enclave: unauthorized");
  }
  absl::StatusOr<lockout::eth::RecoverableSignature> PersonalSign(lockout::ByteView) override {
    return absl::FailedPreconditionError("enclave: unauthorized");
  }
  absl::StatusOr<lockout::eth::RecoverableSignature> SignTypedData(const nlohmann::json&) override {
    return absl::FailedPreconditionError("enclave: unauthorized");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = gw::ParseRpcRequest(body);
  if (auto* r = std::get_if<gw::RpcRequest>(&parsed)) {
    Check(r->id.is_string() || r->id.is_number() || r->id.is_null(), "id type");
    Check(r->params.is_array() || r->params.is_object(), "params type");
  } else {
    int code = std::get<gw::RpcError>(parsed).code;
    Check(code == gw::kParseError || code == gw::kInvalidRequest, "parse error code");
  }
  static const gw::EthGateway gateway(
      lockout::eth::Address{0xcd, 0x2a, 0x3d, 0x9f, 0x93, 0x8e, 0x13, 0xcd, 0x94, 0x7e,
                            0xc0, 0x5a, 0xbc, 0x7f, 0xe7, 0x34, 0xdf, 0x8d, 0xd8, 0x26},
      std::make_shared<RefusingBackend>());
  nlohmann::json reply = nlohmann::json::parse(gateway.Handle(body), nullptr, false);
  Check(reply.is_object(), "reply is an object");
  Check(reply.value("jsonrpc", "") == "2.0", "reply jsonrpc");
  Check(reply.contains("result") != reply.contains("error"), "result xor error");
  return 0;
}
