#pragma once

// The enclave's Ethereum ops (docs/PROTOCOL.md §2, "Ethereum ops"), for secp256k1 keys only:
//   {"op": "eth_address"}                          -> {"address": EIP-55 address}
//   {"op": "eth_sign_transaction", "transaction": {eth_signTransaction fields}}
//                                                  -> {"raw": "0x..", "hash": "0x..", "from": ADDR}
//   {"op": "eth_personal_sign", "message": base64} -> {"signature": "0x" r‖s‖v, v 27/28}
//   {"op": "eth_sign_typed_data", "typed_data": {EIP-712 v4 JSON}}
//                                                  -> {"signature": "0x" r‖s‖v, v 27/28}
// The digests are src/eth's (transaction signing hash, EIP-191, EIP-712); the signature is the
// key's recoverable secp256k1 signature over the digest (hash none, low-s, RFC 6979). A
// transaction's optional "from" must be the key's address. Each signed transaction is decoded
// again and its sender recovered before it is released (a mismatch is "internal error").
//
// Wallet rules (the signing policy's "wallet", docs/WALLET.md "Wallet rules"): when given, a
// request is checked against them after it is parsed and before anything is signed; a request a
// rule refuses gets kErrWalletRefused, and EthOpResult::rule names the rule
// (signpolicy::kWalletRule*) for the log and the audit record.
//
// This file holds the op logic alone; RequestHandler (request_handler.cc) does what every op gets:
// framing, the signing policy, the key check, the audit record and the replies.
// Thread-safety: pure functions over an immutable Signer.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "src/signer/signer.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::enclave {

// True for the four ops above.
bool IsEthOp(std::string_view op);
// True for the ops above that sign (all but eth_address): audited as sign is. The signing
// policy permission each needs is src/auth's PermissionForOp.
bool IsEthSigningOp(std::string_view op);
// The reply's error for a request the wallet rules refuse (the rule is in the log and the audit).
inline constexpr std::string_view kErrWalletRefused = "refused by wallet rules";

struct EthOpResult {
  // "" on success; else the generic reason for the peer ("bad request", "internal error",
  // kErrWalletRefused) and `detail` for the log (names members and sizes, never values).
  std::string_view reason;
  // With kErrWalletRefused: the wallet rule that refused (signpolicy::kWalletRule*); else "".
  std::string_view rule;
  absl::Status detail;
  // On success: the reply members (without id and ok).
  nlohmann::json body;
};

// Runs eth op `op` (IsEthOp) of `request` (a JSON object) with `signer`. A key other than
// secp256k1 is "bad request" (detail names the key type). `wallet`: the policy's wallet rules, or
// null (no restriction).
EthOpResult RunEthOp(std::string_view op, const nlohmann::json& request,
                     const signer::Signer& signer, const signpolicy::WalletRules* wallet = nullptr);

}  // namespace lockout::enclave
