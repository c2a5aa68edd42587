#pragma once

// `lockout policy lint`: what a KMS key policy lets whom do, in plain words.
//
// Rather than pattern-matching statements, LintKeyPolicy asks the key-policy engine local-aws runs
// (src/policy/policy_evaluator.h, the same rules as AWS KMS) concrete questions and reports the
// answers:
//   subjects   the account root; every role and user the policy names; "another IAM principal of
//              the account"; "a principal of another account". Each is evaluated with an identity
//              policy allowing kms:* — the worst case, since whoever administers IAM in the
//              account can grant that — so the answers depend on the key policy alone.
//   questions  kms:Decrypt with no attestation; with an attestation document carrying the PCR
//              values the policy pins; from a different enclave image; from a debug-mode enclave
//              (all-zero PCRs); kms:ReEncryptFrom (which re-encrypts the ciphertext to a key the
//              caller owns, bypassing Decrypt's conditions); kms:CreateGrant, and whether an
//              explicit Deny still stops a grantee's Decrypt/ReEncryptFrom; kms:PutKeyPolicy;
//              kms:ScheduleKeyDeletion; kms:Encrypt.
// The verdict (LintVerdict) counts every way to the plaintext: Decrypt outside the pinned
// enclave, ReEncryptFrom, a grant, and rewriting the policy.
// Then it says what an attacker with root on the parent instance (who holds the instance role's
// credentials and can run enclaves of its choice) can still do, and lists warnings (a statement
// delegating to IAM, no attestation pin, nobody able to change the policy, a Deny whose negated
// keys are ANDed, ...).
// Errors: InvalidArgument if the text is not a key policy the engine accepts (the message says
// why). Thread-safety: pure functions.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace lockout::ops {

struct LintSubject {
  std::string label;  // "account root", "arn:aws:iam::...:role/enclave", ...
  std::string arn;    // the principal evaluated
  bool named_in_policy = false;
  bool decrypt_without_attestation = false;
  bool decrypt_pinned_enclave = false;  // attested with the pinned values
  bool decrypt_other_image = false;     // attested, different PCR0
  bool decrypt_debug_enclave = false;   // attested, all-zero PCRs
  bool put_key_policy = false;
  bool schedule_key_deletion = false;
  bool encrypt = false;
  // kms:ReEncryptFrom without attestation: re-encrypt the ciphertext to a key the caller
  // controls and decrypt it there — a way around every attestation condition on Decrypt.
  bool reencrypt_from = false;
  // kms:CreateGrant: grants can give Decrypt without the policy's attestation conditions
  // (an explicit Deny in the key policy still applies).
  bool create_grant = false;
  // create_grant, and an explicit Deny does not stop a grantee's Decrypt without attestation or
  // ReEncryptFrom: the subject can grant itself the key.
  bool grant_leak = false;
  // Attested with the pinned values but another PCR16: an enclave of the pinned image booted with
  // a signing policy of root's choosing (a client of its own added).
  bool decrypt_other_signing_policy = false;
  // One line: "cannot decrypt", "can decrypt only from the pinned enclave", ...
  std::string DecryptSummary() const;
};

// kLocked: no subject can obtain the plaintext outside the pinned enclave (Decrypt without or
// with another/debug attestation, ReEncryptFrom, a grant) and nobody may change the policy.
// kLockedExceptBreakGlass: the same, but some subject may PutKeyPolicy (and so could give
// itself Decrypt): a break-glass principal, named in policy_writers.
// kNotLocked: otherwise.
enum class LintVerdict { kLocked, kLockedExceptBreakGlass, kNotLocked };

// The signing policy's seal (docs/PROTOCOL.md, "Signing policy"): whether the key policy pins
// kms:RecipientAttestation:PCR16, the PCR the enclave seals its signing policy into.
//   kPinned       pinned to a 96-hex-digit value, and no subject can decrypt from an enclave
//                 with another PCR16;
//   kNotPinned    no pin, or one that some subject can get around;
//   kWrongFormat  pinned to something that is not 96 hex digits: no enclave can ever match.
enum class Pcr16Pin { kPinned, kNotPinned, kWrongFormat };
// "pinned", "not pinned", "wrong format".
std::string_view Pcr16PinName(Pcr16Pin pin);
inline constexpr std::string_view kPcr16ConditionKey = "kms:RecipientAttestation:PCR16";

struct LintReport {
  std::string account_id;
  size_t statement_count = 0;
  // Attestation condition keys the policy pins (canonical key name -> value as written).
  std::map<std::string, std::string> pinned;
  // Statements whose Allow names the account (delegation to IAM), by Sid or index.
  std::vector<std::string> delegating_statements;
  std::vector<LintSubject> subjects;
  std::vector<std::string> parent_root_can;     // what root on the parent can still do
  std::vector<std::string> parent_root_cannot;  // and what it cannot
  std::vector<std::string> warnings;
  // True if no subject can decrypt without attestation or from another/debug enclave, re-encrypt
  // the ciphertext, or grant itself either.
  bool locked_to_enclave = false;
  // Labels of the subjects that may call kms:PutKeyPolicy.
  std::vector<std::string> policy_writers;
  // The signing policy's seal (Pcr16Pin above) and the pinned PCR16 as written ("" if none).
  Pcr16Pin pcr16_pin = Pcr16Pin::kNotPinned;
  std::string pcr16_value;
  // LintOptions::expected_pcr16 as given ("" if not), and whether the pin is exactly that value
  // (case-insensitive, as the policy's ...IgnoreCase operators compare).
  std::string expected_pcr16;
  bool pcr16_matches_expected = false;
  // The warnings about PCR16 (also in `warnings`): a wrong-format pin, a pin some statement gets
  // around, and with expected_pcr16 a missing or different pin.
  std::vector<std::string> pcr16_findings;

  LintVerdict verdict() const;
  std::string Text() const;
  nlohmann::ordered_json ToJson() const;
};

struct LintOptions {
  // The account whose root and IAM principals are evaluated; default: the account of the first
  // ARN in the policy (111122223333 if it names none).
  std::string account_id;
  // The PCR16 the operator's signing policy gives (`lockout signing-policy hash`; lower-case hex),
  // or empty. When given, a key policy that does not pin exactly it is a finding (a warning).
  std::string expected_pcr16;
};

absl::StatusOr<LintReport> LintKeyPolicy(std::string_view policy_json,
                                         const LintOptions& options = {});

}  // namespace lockout::ops
