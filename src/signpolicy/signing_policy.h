#pragma once

// The signing policy: the enclave's only configuration of who may sign what (docs/PROTOCOL.md,
// "Signing policy"). A JSON document read from the enclave image or from the relay at boot,
// parsed strictly, encoded canonically, and sealed: the enclave extends PCR16 with
// PolicyDigest() and locks it before it asks KMS for its key, and the key policy pins
// kms:RecipientAttestation:PCR16 to ExpectedPcr16(). A different policy, one client added by root
// on the parent, gives a different PCR16 and KMS refuses the key.
//
//   ASSIGN_OR_RETURN(signpolicy::SigningPolicy policy, signpolicy::ParseSigningPolicy(text));
//   const signpolicy::AuthorizedClient* client = policy.Find("gateway");
//
// Pure logic but for ReadSigningPolicyFile. Thread-safety: pure functions; a parsed SigningPolicy
// is a value, safe to read from any number of threads.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/bytes.h"
#include "src/hd/derivation_path.h"
#include "src/hd/path_pattern.h"

namespace lockout::signer {
class Signer;
}

namespace lockout::signpolicy {

enum class ClientKeyAlgorithm { kEd25519, kEcdsaP256 };

// "ed25519" / "ecdsa-p256": the file format's and the canonical encoding's names.
std::string_view AlgorithmName(ClientKeyAlgorithm algorithm);

// The v2 ops a client may be allowed; ParseSigningPolicy refuses any other.
// generate_key: make the key in the enclave (lockout create-key --in-enclave); the Ethereum ops
// need "sign" (or "public_key" for eth_address) — auth::PermissionForOp.
inline constexpr std::array<std::string_view, 5> kKnownOps = {"attest", "generate_key", "health",
                                                              "public_key", "sign"};
// The "keys" entry that allows every key.
inline constexpr std::string_view kAnyKey = "*";

// Limits (a policy is configuration, small; the bounds keep a hostile relay's document cheap).
inline constexpr size_t kMaxPolicyBytes = 256 * 1024;
inline constexpr size_t kMaxClients = 256;
inline constexpr size_t kMaxKeysPerClient = 64;
inline constexpr size_t kMaxPathsPerClient = 64;
inline constexpr size_t kMaxPathPatternChars = 256;
inline constexpr size_t kMaxClientNameChars = 64;
inline constexpr size_t kMaxKeyNameChars = 512;
inline constexpr int64_t kMaxReplayWindowSeconds = 3600;
inline constexpr size_t kMinRequestBytes = 256;
inline constexpr size_t kMaxRequestBytesLimit = 16 * 1024 * 1024;

// A client name as a signing policy allows it: 1..64 characters of A-Z a-z 0-9 . _ - (the parser's
// rule; src/auth checks request and key-file names with it too).
bool IsValidClientName(std::string_view name);
inline constexpr size_t kMaxNoncesLimit = size_t{1} << 24;

struct AuthorizedClient {
  std::string name;  // unique; [A-Za-z0-9._-]{1,64}
  ClientKeyAlgorithm algorithm = ClientKeyAlgorithm::kEd25519;
  // Raw bytes: Ed25519 32 bytes; P-256 65-byte uncompressed 04||X||Y (a point on the curve).
  std::string public_key;
  std::vector<std::string> ops;   // allowed v2 ops (kKnownOps); sorted, unique, non-empty
  std::vector<std::string> keys;  // allowed key (secret) names, or the single entry "*"; sorted
  // The HD derivation paths the client may use ("paths", optional; hd/path_pattern.h patterns
  // such as "m/44'/60'/0'/0/*"), canonical text sorted and unique, 1..kMaxPathsPerClient of
  // them; nullopt: any path. `path_patterns` holds them parsed, in the same order.
  std::optional<std::vector<std::string>> paths = std::nullopt;
  std::vector<hd::PathPattern> path_patterns = {};

  // True if `op` is in ops.
  bool AllowsOp(std::string_view op) const;
  // True if keys is {"*"} or holds `key`.
  bool AllowsKey(std::string_view key) const;
  // True if paths is absent or one of its patterns matches `path`.
  bool AllowsPath(const hd::DerivationPath& path) const;
};

// The policy's optional pin of the enclave's signing key ("key" in the file): the enclave refuses a
// decrypted key whose public key does not match, so a ciphertext swapped in the secret store (of
// another key encrypted under the same KMS key) cannot make it sign with someone else's key.
//   {"public_key_sha256": HEX}  SHA-256 of the key's DER SubjectPublicKeyInfo (any key type; what
//                               `openssl pkey -pubin -outform DER | sha256sum` prints)
//   {"eth_address": "0x..."}    the Ethereum address of a secp256k1 key (EIP-55 mixed case is
//                               checked; all-lower or all-upper case accepted)
enum class KeyPinKind { kPublicKeySha256, kEthAddress };

struct KeyPin {
  KeyPinKind kind = KeyPinKind::kPublicKeySha256;
  Bytes value;  // 32 bytes (SHA-256) or 20 bytes (address)

  bool operator==(const KeyPin&) const = default;
};

// The pin's canonical JSON object, e.g.
// {"eth_address":"0x52908400098527886e0f7030069857d2e4169ee7"} (lower-case hex): what
// CanonicalEncoding writes and `lockout create-key` prints to paste.
std::string KeyPinJson(const KeyPin& pin);
// "eth_address 0x5290...Ee7" (EIP-55) or "public_key_sha256 ab12...": for messages (public data).
std::string DescribeKeyPin(const KeyPin& pin);

// The pin of `kind` for `key`. Errors: InvalidArgument for kEthAddress and a key that is not
// secp256k1.
absl::StatusOr<KeyPin> PinOfKey(const signer::Signer& key, KeyPinKind kind);

// OK if `key` matches `pin`. Otherwise FailedPrecondition "key does not match the policy's pin:
// the policy pins <pin>, the key is <same kind of fingerprint of key>" (public data only; a key of
// another type than secp256k1 against an address pin is named by type and public_key_sha256).
absl::Status CheckKeyPin(const KeyPin& pin, const signer::Signer& key);

// The policy's optional wallet rules ("wallet" in the file): what the enclave's Ethereum signing
// ops may sign (docs/WALLET.md, "Wallet rules"). Each member is optional; absent, that kind of
// request is not restricted. The enclave checks them after parsing a request and before signing
// (src/enclave/eth_ops.cc); a refusal names the rule (WalletRuleName) in its log and audit record.
inline constexpr size_t kMaxWalletChainIds = 64;
inline constexpr size_t kMaxWalletRecipients = 1024;
inline constexpr size_t kMaxWalletMethods = 256;
inline constexpr size_t kMaxWalletDomains = 64;
inline constexpr size_t kMaxWalletDomainTextChars = 128;  // an EIP-712 domain name or version

// An allowed EIP-712 domain: the members set must all be present in a request's domain and equal
// (a subset match: members not set here may be anything or absent). At least one is set.
struct Eip712DomainRule {
  std::optional<std::string> name;     // printable ASCII without '"' and '\\', 1..128 chars
  std::optional<std::string> version;  // as name
  std::optional<uint64_t> chain_id;
  std::optional<std::array<uint8_t, 20>> verifying_contract;

  bool operator==(const Eip712DomainRule&) const = default;
};

struct WalletRules {
  // Transactions: chainId one of these (sorted, unique, 1..2^64-1).
  std::optional<std::vector<uint64_t>> chain_ids;
  // Transactions: `to` one of these (sorted, unique); a contract creation (no `to`) is refused.
  std::optional<std::vector<std::array<uint8_t, 20>>> recipients;
  // Transactions: value <= this (wei, 256-bit big-endian); `max_value_wei_decimal` is the
  // canonical decimal text of the same number.
  std::optional<std::array<uint8_t, 32>> max_value_wei;
  std::string max_value_wei_decimal;
  // Transactions: data empty or starting with one of these 4-byte selectors (sorted, unique).
  std::optional<std::vector<std::array<uint8_t, 4>>> methods;
  // Typed data: the domain matches one of these (sorted by canonical text, unique).
  std::optional<std::vector<Eip712DomainRule>> eip712_domains;
  // eth_personal_sign allowed (the default, written out in the canonical encoding).
  bool allow_personal_sign = true;

  bool operator==(const WalletRules&) const = default;
};

// The rules' names, as the enclave logs and audits a refusal.
inline constexpr std::string_view kWalletRuleChainId = "wallet_chain_id";
inline constexpr std::string_view kWalletRuleRecipient = "wallet_recipient";
inline constexpr std::string_view kWalletRuleMaxValue = "wallet_max_value";
inline constexpr std::string_view kWalletRuleMethod = "wallet_method";
inline constexpr std::string_view kWalletRuleEip712Domain = "wallet_eip712_domain";
inline constexpr std::string_view kWalletRulePersonalSign = "wallet_personal_sign";
// A request's derivation path ("path") refused: the client's "paths" do not match it, or the
// request is unauthenticated (only an authenticated client may name a path under a policy).
inline constexpr std::string_view kRuleHdPath = "hd_path";

// The wallet section's canonical JSON object (see CanonicalEncoding).
std::string WalletRulesJson(const WalletRules& wallet);

struct SigningPolicy {
  std::vector<AuthorizedClient> clients;  // sorted by name, names unique, at least one
  // |now - timestamp| must be <= window; nonces remembered that long. 1 s .. 1 h.
  absl::Duration replay_window = absl::Minutes(5);
  // An authenticated request frame larger than this is refused. 256 B .. 16 MiB.
  size_t max_request_bytes = 64 * 1024;
  // Replay-cache bound (memory stays bounded under attack). 1 .. 2^24.
  size_t max_nonces = size_t{1} << 20;
  // The seed's v1 protocol (and unauthenticated v2) allowed.
  bool allow_unauthenticated_v1 = false;
  // The pinned signing key, if any ("key"). Sealed with the rest (CanonicalEncoding).
  std::optional<KeyPin> key;
  // The wallet rules, if any ("wallet"). Sealed with the rest (CanonicalEncoding).
  std::optional<WalletRules> wallet;

  // The client named `name`, or null. The pointer is valid while this policy lives unchanged.
  const AuthorizedClient* Find(std::string_view name) const;
};

// Parses a signing-policy document (docs/PROTOCOL.md, "Signing policy"). Strict: the text must be
// one JSON object of at most kMaxPolicyBytes with "version": 1, no member twice in any object, no
// member this version does not know, every value of its type and within its bounds. Lists need
// not be sorted in the file but must not repeat an entry. Public keys are hex (either case) and
// checked: Ed25519 32 bytes, P-256 65 bytes uncompressed and on the curve. "key", if present, is an
// object with exactly one of "public_key_sha256" (64 hex digits) or "eth_address" (0x + 40 hex).
// Errors: InvalidArgument "signing policy: <field>: <what>", naming the field (e.g.
// "clients[1].public_key"), sizes and offsets; never a key or any of the text.
absl::StatusOr<SigningPolicy> ParseSigningPolicy(std::string_view json);

// Reads (at most kMaxPolicyBytes) and parses the policy file at `path`. Errors: those of
// ReadFileString (NotFound, ...) and ParseSigningPolicy, prefixed with the path.
absl::StatusOr<SigningPolicy> ReadSigningPolicyFile(const std::string& path);

// The canonical encoding (docs/PROTOCOL.md, "Canonical encoding"): compact JSON, members in a fixed
// order, every field present (defaults written out), lists sorted, keys in lower-case hex. It is
// itself a valid policy file that parses back to the same policy, and two files that mean the same
// policy have the same encoding. "key" is written last, and only when the policy pins a key (so a
// policy without a pin keeps the encoding, digest and PCR16 it had before pins existed); "wallet"
// after it, likewise only when present.
std::string CanonicalEncoding(const SigningPolicy& policy);

// SHA-384(CanonicalEncoding(policy)): what the enclave extends PCR16 with.
std::array<uint8_t, 48> PolicyDigest(const SigningPolicy& policy);

// SHA-384(48 zero bytes || PolicyDigest(policy)): PCR16 after one NSM ExtendPCR from reset, the
// value the key policy pins as kms:RecipientAttestation:PCR16.
std::array<uint8_t, 48> ExpectedPcr16(const SigningPolicy& policy);

// The PCR the enclave seals the policy into.
inline constexpr uint16_t kSigningPolicyPcr = 16;

}  // namespace lockout::signpolicy
