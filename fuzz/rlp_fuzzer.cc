// libFuzzer target: the strict RLP decoder (src/eth/rlp.h), which reads raw signed Ethereum
// transactions from callers.
//
// The input is the encoding. Properties checked (abort on violation):
//   * failures are InvalidArgument with a bounded printable message;
//   * anything accepted is canonical: re-encoding the decoded item gives back the input exactly.

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_checks.h"
#include "src/eth/rlp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using lockout::fuzz::Check;
  const lockout::ByteView input(data, size);
  auto item = lockout::eth::RlpDecode(input);
  if (!item.ok()) {
    lockout::fuzz::CheckErrorMessage(item.status(), 200);
    Check(item.status().code() == absl::StatusCode::kInvalidArgument, "error not InvalidArgument");
    return 0;
  }
  const lockout::Bytes again = lockout::eth::RlpEncode(*item);
  Check(again == lockout::Bytes(input.begin(), input.end()), "accepted a non-canonical encoding");
  return 0;
}
