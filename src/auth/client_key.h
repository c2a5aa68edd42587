#pragma once

// Client keys for authenticated requests (docs/PROTOCOL.md §2, "Authenticated requests").
//
// A client of a lockout-enclave that runs with a signing policy signs every v2 request with its
// own key pair; the policy lists the public half under the client's name. Two algorithms:
//   ed25519     PureEdDSA (RFC 8032) over the canonical request encoding; 64-byte signature.
//   ecdsa-p256  ECDSA over SHA-256(canonical encoding), DER-encoded ECDSA-Sig-Value (what
//               OpenSSL and Python's `cryptography` produce).
//
// ClientKey is the private half (the client's side: `lockout client-key create`, `lockout sign
// --client-key`, `lockout bench --client-key`). The private key lives in SecretBytes and in the
// OpenSSL object; error messages never carry key bytes.
//
// Key file (JSON, written 0600; docs/PROTOCOL.md "Client key file"):
//   {"format": "lockout-client-key-v1", "name": "gateway", "algorithm": "ed25519",
//    "private_key": "<hex>", "public_key": "<hex>"}
//   private_key: ed25519 the 32-byte seed (RFC 8032 §5.1.5); ecdsa-p256 the 32-byte big-endian
//   scalar d, 0 < d < n. public_key: ed25519 32 bytes; ecdsa-p256 65 bytes 04 || X || Y. The
//   public key is derived from the private one when the file is read and must match.
//
// ClientVerifier is the public half (the enclave's side): built once per policy client, then
// used by any number of threads.
//
// Thread-safety: a ClientKey and a ClientVerifier are immutable after creation; Sign and Verify
// may be called from any number of threads at once.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::auth {

using signpolicy::ClientKeyAlgorithm;

// "ed25519" or "ecdsa-p256" (also accepted by ParseClientKeyAlgorithm: "p256").
absl::StatusOr<ClientKeyAlgorithm> ParseClientKeyAlgorithm(std::string_view name);

// The largest client signature: a DER ECDSA-Sig-Value over P-256 is at most 72 bytes.
inline constexpr size_t kMaxClientSignatureSize = 72;
// The largest key file ParseClientKeyFile reads.
inline constexpr size_t kMaxClientKeyFileSize = 4096;

class ClientKey final {
 public:
  // A fresh random key named `name` ([A-Za-z0-9._-]{1,64}, as in the signing policy).
  // Errors: InvalidArgument for a bad name; Internal if OpenSSL fails.
  static absl::StatusOr<std::unique_ptr<ClientKey>> Generate(ClientKeyAlgorithm algorithm,
                                                             std::string_view name);

  // Parses a key file (format above). Strict: exactly those members, each once, of the right
  // type and size; the public key must be the private key's. Errors: InvalidArgument "client key
  // file: <field>: <what>" (never key bytes).
  static absl::StatusOr<std::unique_ptr<ClientKey>> ParseFile(std::string_view text);

  ~ClientKey();
  ClientKey(const ClientKey&) = delete;
  ClientKey& operator=(const ClientKey&) = delete;

  // The key file's text (format above), in secret memory.
  SecretBytes ToFile() const;

  const std::string& name() const { return name_; }
  ClientKeyAlgorithm algorithm() const { return algorithm_; }
  // Raw public key (Ed25519 32 bytes; P-256 65 bytes uncompressed), as the policy lists it.
  const Bytes& public_key() const { return public_key_; }

  // Signs `message` (the canonical request encoding). Errors: Internal if OpenSSL fails.
  absl::StatusOr<Bytes> Sign(ByteView message) const;

 private:
  struct Impl;
  ClientKey(std::string name, ClientKeyAlgorithm algorithm, std::unique_ptr<Impl> impl);
  absl::Status DerivePublicKey();

  std::string name_;
  ClientKeyAlgorithm algorithm_;
  std::unique_ptr<Impl> impl_;
  Bytes public_key_;
};

class ClientVerifier final {
 public:
  // `public_key` raw, as in AuthorizedClient::public_key. Errors: InvalidArgument for a key of
  // the wrong size or (P-256) not on the curve.
  static absl::StatusOr<std::unique_ptr<ClientVerifier>> Create(ClientKeyAlgorithm algorithm,
                                                                std::string_view public_key);
  ~ClientVerifier();
  ClientVerifier(const ClientVerifier&) = delete;
  ClientVerifier& operator=(const ClientVerifier&) = delete;

  // True if `signature` is this key's valid signature over `message`.
  bool Verify(ByteView message, ByteView signature) const;

 private:
  struct Impl;
  ClientVerifier(ClientKeyAlgorithm algorithm, std::unique_ptr<Impl> impl);
  ClientKeyAlgorithm algorithm_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::auth
