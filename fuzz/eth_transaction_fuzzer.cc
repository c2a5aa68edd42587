// libFuzzer target: Ethereum transactions (src/eth/transaction.h): the eth_signTransaction JSON a
// client sends to be signed, and raw signed transactions given to RecoverSender.
//
// The first byte selects the parser (even: JSON, odd: raw), the rest is its input. Properties
// checked (abort on violation):
//   * failures are InvalidArgument with a bounded printable message;
//   * JSON: a parsed transaction, signed with a fixed (r, s), decodes back to itself (minus
//     "from", which no encoding carries) and its signing hash is unchanged;
//   * raw: a decoded transaction re-encodes to exactly the input (one encoding per transaction),
//     and RecoverSender either fails cleanly or returns an address.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/eth/transaction.h"

namespace {

using lockout::fuzz::Check;
namespace eth = lockout::eth;

void CheckFailure(const absl::Status& status) {
  lockout::fuzz::CheckErrorMessage(status, 300);
  Check(status.code() == absl::StatusCode::kInvalidArgument, "error not InvalidArgument");
}

void FuzzJson(std::string_view text) {
  auto tx = eth::ParseTransactionJson(text);
  if (!tx.ok()) return CheckFailure(tx.status());
  Check(tx->chain_id.has_value(), "parsed transaction without a chain id");
  const eth::RecoverableSignature sig{eth::Uint256FromUint64(1), eth::Uint256FromUint64(2), 1};
  auto raw = eth::EncodeSignedTransaction(*tx, sig);
  Check(raw.ok(), "a parsed transaction does not encode");
  auto decoded = eth::DecodeSignedTransaction(*raw);
  Check(decoded.ok(), "an encoded transaction does not decode");
  eth::Transaction expected = *tx;
  expected.from.reset();
  Check(decoded->tx == expected, "decode(encode(tx)) != tx");
  Check(decoded->signature == sig, "decode(encode(sig)) != sig");
  Check(eth::SigningHash(decoded->tx) == eth::SigningHash(*tx), "signing hash changed");
}

void FuzzRaw(lockout::ByteView raw) {
  auto decoded = eth::DecodeSignedTransaction(raw);
  if (!decoded.ok()) return CheckFailure(decoded.status());
  auto again = eth::EncodeSignedTransaction(decoded->tx, decoded->signature);
  Check(again.ok(), "a decoded transaction does not re-encode");
  Check(*again == lockout::Bytes(raw.begin(), raw.end()), "raw transaction not canonical");
  auto sender = eth::RecoverSender(raw);
  if (!sender.ok()) CheckFailure(sender.status());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    FuzzJson(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  } else {
    FuzzRaw(lockout::ByteView(data + 1, size - 1));
  }
  return 0;
}
