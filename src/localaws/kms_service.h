#pragma once

// Local AWS KMS (X-Amz-Target "TrentService.*", AWS JSON 1.1) for symmetric keys, taking key
// policies and Nitro attestation seriously (ARCHITECTURE §2, §5; issue 3 items 3, 4, 7, 10).
//
// Operations: CreateKey, DescribeKey, ListKeys, CreateAlias, UpdateAlias, DeleteAlias,
// ListAliases, Encrypt, Decrypt, ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext,
// GenerateRandom, GetKeyPolicy, PutKeyPolicy, EnableKey, DisableKey, ScheduleKeyDeletion,
// CancelKeyDeletion, TagResource, ListResourceTags, CreateGrant, ListGrants,
// ListRetirableGrants, RevokeGrant, RetireGrant; anything else is UnknownOperationException. Only
// SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT / AWS_KMS single-Region keys (others:
// UnsupportedOperationException).
//
// Key ids are UUIDs; ARNs arn:aws:kms:REGION:ACCOUNT:key/ID. KeyId parameters take a key id or
// key ARN and, where AWS allows it (DescribeKey, Encrypt, Decrypt, ReEncrypt, GenerateDataKey*),
// an alias name (alias/NAME) or alias ARN. Unknown or malformed ids: NotFoundException.
//
// Authorisation: every operation builds a RequestContext (policy_evaluator.h) with action
// "kms:<Operation>" (ReEncrypt: kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the
// destination), resource = the key ARN, the caller and its identity policies, and condition keys
// kms:EncryptionContext:<k>, kms:EncryptionContextKeys, kms:EncryptionAlgorithm (kms:CallerAccount
// and aws:PrincipalArn come from the engine). Operations without a key (CreateKey, ListKeys,
// ListAliases, GenerateRandom) are decided by the caller's identity policies alone (resource
// "*"). A denial is AccessDeniedException in AWS's words ("User: ARN is not authorized to perform:
// kms:Decrypt on resource: KEYARN because no resource-based policy allows the kms:Decrypt
// action" / "... with an explicit deny in a resource-based policy"); the decision (outcome, Sid,
// reason) is logged locally as event "kms_authorization".
//
// Grants (kms_grants.h, issue 10 item 4): when the policies give an IMPLICIT deny for DescribeKey,
// Encrypt, Decrypt, ReEncrypt (ReEncryptFrom / ReEncryptTo), GenerateDataKey* or CreateGrant, a
// grant on the key whose grantee is the caller, whose operations include the operation and whose
// constraint admits the request's encryption context allows it. An explicit Deny (key policy or
// identity policy) is final: grants never override it, so a Deny on kms:Decrypt without the
// pinned PCR0 holds for grantees too. GrantTokens (<= 10) are validated on those operations
// (InvalidGrantTokenException) but never needed: grants apply as soon as CreateGrant returns.
//   CreateGrant: kms:CreateGrant on the key (condition keys kms:GranteePrincipal,
//     kms:RetiringPrincipal, kms:GrantOperations, kms:GrantConstraintType,
//     kms:GrantIsForAWSResource = false), or a grant with CreateGrant for a grant no broader than
//     it. Enabled keys only. A retry with the same Name and parameters returns the same GrantId.
//     Quotas as AWS: 50,000 grants per key, 500 per grantee per key (LimitExceededException).
//   ListGrants: kms:ListGrants. RevokeGrant: kms:RevokeGrant (decided before the grant id is
//     looked up; InvalidGrantIdException for a malformed id, NotFoundException for an unknown
//     one). ListRetirableGrants: identity policies (resource "*").
//   RetireGrant (GrantToken, or KeyId + GrantId): no policy; the retiring principal, the grantee
//     when the grant includes RetireGrant, or the issuing account (root, or its principals whose
//     identity policies allow kms:RetireGrant) may retire. Grants survive key state changes.
// UpdateAlias: kms:UpdateAlias on the alias (identity policies) and on the current and the new
// target key (key policies); DeleteAlias: kms:DeleteAlias on the alias and its key. Unknown
// alias: NotFoundException; new key pending deletion: KMSInvalidStateException.
//
// Recipient (Decrypt, GenerateDataKey, GenerateRandom): {"AttestationDocument": blob,
// "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}. The document is TRUSTED only if it verifies
// against KmsOptions::trusted_attestation_roots at the clock's now (chain, validity windows,
// COSE signature) AND passes the FRESHNESS RULE: |now - document timestamp| <=
// attestation_max_age (default 5 minutes; see kms_attestation.h and docs/LOCAL-AWS.md,
// "Attestation freshness"). Only a trusted document adds the condition keys
// kms:RecipientAttestation:ImageSha384 (= PCR0, lower-case hex) and
// kms:RecipientAttestation:PCR<N>. The order of checks is decided and fixed:
//   1. request fields are validated (ValidationException / SerializationException);
//   2. the key policy is evaluated, with attestation keys only from a trusted document; a
//      denial is AccessDeniedException (so every deny case of a lock-out policy is AccessDenied,
//      whatever is wrong with the document);
//   3. if allowed but the document is not trusted (malformed, tampered, expired, stale,
//      foreign root): ValidationException, because its public key cannot be trusted; the
//      specific reason (AttestFailure name or "stale") goes to the local log only;
//   4. a trusted document without public_key, or whose public_key is not an RSA-2048..4096
//      SubjectPublicKeyInfo: ValidationException;
//   5. key state (DisabledException / KMSInvalidStateException), then the cryptography.
// With a Recipient the response carries CiphertextForRecipient = BuildKmsEnvelope(public key,
// plaintext) (crypto/cms_envelope.h) and NO Plaintext field.
//
// Ciphertext blobs (kms_ciphertext.h) carry the key id and are AES-256-GCM under the key's
// material with the canonicalised encryption context as AAD; a wrong context, a tampered blob or
// a blob naming an unknown key is InvalidCiphertextException; a KeyId/SourceKeyId parameter
// naming another key than the blob's is IncorrectKeyException.
//
// Key states: DisableKey/EnableKey (DisabledException on use); ScheduleKeyDeletion (7..30 days,
// default 30) makes a key PendingDeletion (KMSInvalidStateException on use and on most
// management calls); CancelKeyDeletion returns it to Disabled, as AWS does. Keys are never
// actually destroyed when the window passes: the emulator keeps them PendingDeletion.
//
// CreateKey/PutKeyPolicy: the policy must parse (policy.h) else MalformedPolicyDocumentException
// with the parser's message; unless BypassPolicyLockoutSafetyCheck is true, the new policy must
// let the caller call kms:PutKeyPolicy (CheckPolicyLockoutSafety), else
// MalformedPolicyDocumentException with kPolicyLockoutMessage. PolicyName must be "default".
//
// State: <state>/kms/ (kms_key_store.h: one file per key holding its material IN CLEAR, mode
// 0600, aliases.json, and one grant file per key with grants), written atomically before a
// write is acknowledged; Open() reloads everything, so a restart keeps every key, alias, grant,
// policy and tag and old ciphertexts decrypt.
// Thread-safe: one mutex guards the store; cryptography runs outside it on immutable snapshots.
// Never logs or returns key material or plaintexts.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/clock.h"
#include "src/localaws/identity.h"
#include "src/localaws/service.h"

namespace lockout::localaws {

struct KmsOptions {
  std::string state_dir;  // the local-aws --state directory; KMS uses <state_dir>/kms
  // DER roots an attestation document may chain to (local NSM root, AWS Nitro root G1).
  std::vector<Bytes> trusted_attestation_roots;
  // Freshness rule: a Recipient document's timestamp must be within this much of the request
  // time, in either direction (kms_attestation.h). Must be positive.
  absl::Duration attestation_max_age = absl::Minutes(5);
};

class KmsService final : public AwsJsonService {
 public:
  static absl::StatusOr<std::unique_ptr<KmsService>> Open(KmsOptions options,
                                                          IdentityStore& identity,
                                                          const Clock& clock);
  ~KmsService() override;

  std::string_view target_prefix() const override { return "TrentService"; }
  std::string_view signing_name() const override { return "kms"; }
  AwsResult Handle(std::string_view operation, const Json& request,
                   const CallContext& context) override;

 private:
  struct Impl;
  explicit KmsService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::localaws
