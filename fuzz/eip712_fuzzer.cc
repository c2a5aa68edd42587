// libFuzzer target: EIP-712 typed data (src/eth/eip712.h), the eth_signTypedData_v4 JSON a client
// sends to be signed.
//
// The input is the JSON text. Properties checked (abort on violation):
//   * failures are InvalidArgument with a bounded printable message (work and depth are bounded,
//     so a slow or deep input shows up as a timeout or stack overflow);
//   * digest = keccak256(0x1901 ‖ domain separator ‖ message hash);
//   * the document re-serialized by nlohmann hashes to the same digest (the hash is a function of
//     the document's meaning, not of its spacing or member order).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/eth/eip712.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using lockout::fuzz::Check;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto typed = lockout::eth::TypedData::Parse(text);
  if (!typed.ok()) {
    lockout::fuzz::CheckErrorMessage(typed.status(), 300);
    Check(typed.status().code() == absl::StatusCode::kInvalidArgument, "error not InvalidArgument");
    return 0;
  }
  lockout::Bytes preimage = {0x19, 0x01};
  preimage.insert(preimage.end(), typed->domain_separator().begin(),
                  typed->domain_separator().end());
  preimage.insert(preimage.end(), typed->message_hash().begin(), typed->message_hash().end());
  Check(lockout::crypto::Keccak256(preimage) == typed->digest(), "digest formula");
  auto reparsed = lockout::eth::TypedData::Parse(
      nlohmann::json::parse(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  Check(reparsed.ok() && reparsed->digest() == typed->digest(), "digest not stable under dump");
  return 0;
}
