#pragma once

// Talking to a running lockout-enclave as a client (docs/PROTOCOL.md §1-2): `lockout sign`,
// `lockout attest`, `lockout doctor` and the demo.
//
//   v1: SignV1 opens a connection, sends {"bytes": B64}$$$ and returns the reply's JSON text
//       verbatim (the seed's test.py prints exactly that).
//   v2: EnclaveV2Client keeps one connection and sends length-prefixed requests with increasing
//       numeric ids; every reply's id must echo the request's. With a client key
//       (Authenticate) every request is signed (docs/PROTOCOL.md §2, "Authenticated requests").
// Replies are untrusted: bounded by the frame limit and a deadline per call, parsed with
// ParseJson; a reply that is not what the protocol says is InvalidArgument naming the field.
// Enclave-side errors ({"ok": false, "error": R}) become FailedPrecondition("enclave: R").
// Thread-safety: SignV1 is reentrant; an EnclaveV2Client is used by one thread at a time.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/auth/client_key.h"
#include "src/common/bytes.h"
#include "src/common/clock.h"
#include "src/eth/address.h"
#include "src/eth/recover.h"
#include "src/net/blocking_stream.h"
#include "src/net/endpoint.h"
#include "src/net/frame_decoder.h"
#include "src/net/socket.h"
#include "src/signer/signer.h"

namespace lockout::ops {

inline constexpr absl::Duration kDefaultEnclaveTimeout = absl::Seconds(10);

// Sends one v1 sign request and returns the reply frame's JSON text.
absl::StatusOr<std::string> SignV1(const net::Endpoint& endpoint, ByteView message,
                                   absl::Duration timeout = kDefaultEnclaveTimeout);

// The signature in a v1 reply ({"success": "True", "data": "0x<hex>"}); FailedPrecondition with
// the enclave's error text for {"success": "False", "error": ...}.
absl::StatusOr<Bytes> ParseV1SignReply(std::string_view json_text);

struct EnclavePublicKey {
  std::string key_type;
  std::string public_key_pem;
  Bytes spki_der;
  Bytes public_key_raw;
};

// eth_sign_transaction's reply, checked here: `raw` decodes as a signed transaction whose sender
// (recovered with src/eth, not taken from the reply) is the reply's "from", and `hash` is
// Keccak-256 of `raw`.
struct EthSignedTransaction {
  Bytes raw;
  crypto::Keccak256Digest hash{};
  eth::Address from{};
};

// A wallet-style signature ("0x" r‖s‖v, 65 bytes, v 27 or 28) as RecoverableSignature.
// InvalidArgument naming `field` otherwise.
absl::StatusOr<eth::RecoverableSignature> ParseWalletSignature(std::string_view hex,
                                                               std::string_view field);

class EnclaveV2Client final {
 public:
  static absl::StatusOr<std::unique_ptr<EnclaveV2Client>> Connect(
      const net::Endpoint& endpoint, absl::Duration timeout = kDefaultEnclaveTimeout);

  // From now on every request carries "auth", signed with `key` at `clock`'s time (for an
  // enclave with a signing policy). `clock` must outlive the client.
  void Authenticate(std::shared_ptr<const auth::ClientKey> key, const Clock& clock = Clock::Real());
  // From now on every request that uses the key (all but health) carries "path": `path`, a
  // derivation path of the enclave's HD seed (docs/WALLET.md "HD keys"). Empty: none.
  void UsePath(std::string path) { path_ = std::move(path); }

  // Sends `request` (an object; "id" is set here, and "auth" when authenticating) and returns the
  // reply object with "ok": true.
  absl::StatusOr<nlohmann::json> Call(nlohmann::json request);

  // op sign: the signature bytes (DER ECDSA or raw Ed25519 by default; `options` name the hash
  // and format, sent only when set, so the default request is the plain one older enclaves
  // know).
  absl::StatusOr<Bytes> Sign(ByteView message, const signer::SignOptions& options = {});
  absl::StatusOr<EnclavePublicKey> PublicKey();
  // op attest with `nonce`: the attestation document bytes.
  absl::StatusOr<Bytes> Attest(ByteView nonce);
  // The Ethereum ops (docs/PROTOCOL.md §2, "Ethereum ops"; secp256k1 keys only).
  // eth_address: the key's address (the reply's EIP-55 checksum is checked).
  absl::StatusOr<eth::Address> EthAddress();
  // eth_sign_transaction with `transaction` (an eth_signTransaction object, sent as it is).
  absl::StatusOr<EthSignedTransaction> EthSignTransaction(const nlohmann::json& transaction);
  // eth_personal_sign / eth_sign_typed_data: the signature (v 27/28), well-formed; whom it
  // recovers to is the caller's to check (it has the message).
  absl::StatusOr<eth::RecoverableSignature> EthPersonalSign(ByteView message);
  absl::StatusOr<eth::RecoverableSignature> EthSignTypedData(const nlohmann::json& typed_data);
  // op health: the reply object (status, reason, ...).
  absl::StatusOr<nlohmann::json> Health();

 private:
  EnclaveV2Client(net::BlockingStream stream, absl::Duration timeout)
      : stream_(std::move(stream)), timeout_(timeout) {}
  net::BlockingStream stream_;
  net::FrameDecoder decoder_;
  absl::Duration timeout_;
  int64_t next_id_ = 1;
  std::shared_ptr<const auth::ClientKey> client_key_;
  std::string path_;
  const Clock* clock_ = &Clock::Real();
};

// Adds "hash" and "format" to a sign request for the options that are set.
void AddSignOptions(const signer::SignOptions& options, nlohmann::json& request);

// String field `name` of `reply` (InvalidArgument naming it when missing or not a string).
absl::StatusOr<std::string> ReplyString(const nlohmann::json& reply, std::string_view name);

}  // namespace lockout::ops
