// libFuzzer target for the enclave's Ethereum ops (src/enclave/eth_ops.h) through RequestHandler,
// with a secp256k1 key. The input is one v2 payload. Properties checked (abort on violation):
//   * no crash; the reply is one v2 frame holding a JSON object with a boolean "ok";
//   * a signed transaction's raw bytes decode and recover to the key's address, its hash is
//     Keccak-256 of them, and its "from" is that address;
//   * a personal_sign / typed-data signature is 65 bytes with v 27 or 28.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/request_handler.h"
#include "src/eth/address.h"
#include "src/eth/transaction.h"
#include "src/signer/signer.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

struct State {
  std::unique_ptr<lockout::enclave::KeyManager> keys;
  std::unique_ptr<lockout::enclave::RequestHandler> handler;
  std::string address;
};

State& Get() {
  static State* s = [] {
    lockout::Logger::Default().SetLevel(lockout::LogLevel::kError);  // bad requests log at info
    auto* out = new State;
    auto signer = lockout::signer::Signer::Generate(lockout::signer::KeyType::kSecp256k1);
    Check(signer.ok());
    auto address = lockout::eth::EthereumAddress((*signer)->public_key_raw());
    Check(address.ok());
    out->address = lockout::eth::ChecksumAddress(*address);
    out->keys = lockout::enclave::KeyManager::WithSigner(*std::move(signer));
    out->handler = std::make_unique<lockout::enclave::RequestHandler>(*out->keys, nullptr);
    return out;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  const std::string payload(reinterpret_cast<const char*>(data), size);
  State& s = Get();
  lockout::enclave::WorkerState state;
  std::string out;
  s.handler->Handle(lockout::net::Frame{.kind = lockout::net::FrameKind::kV2, .payload = payload},
                    state, out);
  Check(out.size() >= 4);
  const nlohmann::json reply =
      nlohmann::json::parse(out.substr(4), nullptr, /*allow_exceptions=*/false);
  Check(reply.is_object() && reply.contains("ok") && reply["ok"].is_boolean());
  if (!reply["ok"].get<bool>()) return 0;
  if (reply.contains("raw")) {
    auto raw = lockout::HexDecodeAllowPrefix(reply["raw"].get<std::string>());
    Check(raw.ok());
    auto sender = lockout::eth::RecoverSender(*raw);
    Check(sender.ok() && lockout::eth::ChecksumAddress(*sender) == s.address);
    Check(reply["from"] == s.address);
    const auto hash = lockout::eth::TransactionHash(*raw);
    Check(reply["hash"] == "0x" + lockout::HexEncode(lockout::ByteView(hash.data(), hash.size())));
  }
  if (reply.contains("signature") && reply.contains("id") && !reply.contains("attestation")) {
    const std::string sig = reply["signature"].get<std::string>();
    if (sig.starts_with("0x")) {
      auto bytes = lockout::HexDecodeAllowPrefix(sig);
      Check(bytes.ok() && bytes->size() == 65 && ((*bytes)[64] == 27 || (*bytes)[64] == 28));
    }
  }
  return 0;
}
