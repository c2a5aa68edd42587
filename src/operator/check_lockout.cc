#include "src/operator/check_lockout.h"

#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/awsclient/aws_call_error.h"
#include "src/awsclient/failure_hint.h"
#include "src/common/encoding.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/cms_envelope.h"
#include "src/crypto/hash.h"
#include "src/crypto/rsa_key.h"
#include "src/net/endpoint.h"
#include "src/nsm/nsm_client.h"
#include "src/operator/create_key.h"
#include "src/operator/policy_lint.h"
#include "src/signer/signer.h"

namespace lockout::ops {
namespace {

using awsclient::AwsCallError;
using awsclient::EncryptionContext;
using Json = nlohmann::ordered_json;

constexpr std::string_view kAccessDenied = "AccessDeniedException";
constexpr std::string_view kDryRunOk = "DryRunOperationException";
constexpr size_t kMaxPaths = 16;  // more than Run() adds
constexpr char kGrantName[] = "lockout-check-lockout-probe";
// Not JSON: no key policy can be made of it (see the header).
constexpr char kUnparsablePolicy[] = "lockout check-lockout probe: this is not a key policy";

std::string TypeOf(const absl::Status& status) {
  std::optional<AwsCallError> e = awsclient::GetAwsCallError(status);
  return e ? e->type : "";
}

// True if `status` is AccessDenied for `action` ("kms:ReEncryptFrom"): the message names the
// action AWS refused. An AccessDenied that names no action counts for any.
bool DeniedFor(const absl::Status& status, std::string_view action) {
  std::optional<AwsCallError> e = awsclient::GetAwsCallError(status);
  if (!e || e->type != kAccessDenied) return false;
  if (!absl::StrContains(e->message, "perform: ")) return true;
  return absl::StrContains(e->message, absl::StrCat("perform: ", Absl(action), " "));
}

// "User: ARN is not authorized ..." -> ARN (an assumed-role session -> its role ARN).
std::string CallerFromDenial(const absl::Status& status) {
  std::optional<AwsCallError> e = awsclient::GetAwsCallError(status);
  if (!e || e->type != kAccessDenied) return "";
  constexpr std::string_view kUser = "User: ";
  const size_t start = e->message.find(kUser);
  if (start == std::string::npos) return "";
  const size_t end = e->message.find(' ', start + kUser.size());
  if (end == std::string::npos) return "";
  std::string arn = e->message.substr(start + kUser.size(), end - start - kUser.size());
  // arn:aws:sts::ACCT:assumed-role/ROLE/SESSION -> arn:aws:iam::ACCT:role/ROLE
  const size_t sts = arn.find(":sts::");
  const size_t ar = arn.find(":assumed-role/");
  if (sts != std::string::npos && ar != std::string::npos) {
    const std::string account = arn.substr(sts + 6, ar - sts - 6);
    std::string rest = arn.substr(ar + 14);
    rest = rest.substr(0, rest.find('/'));
    arn = absl::StrCat(arn.substr(0, sts), ":iam::", account, ":role/", rest);
  }
  if (!arn.starts_with("arn:")) return "";
  return arn;
}

// Hex SHA-256 of the public key of a PKCS#8 signing key; empty if it is not one. Wipes `pkcs8`.
std::string PublicKeySha256(SecretBytes& pkcs8) {
  // Best effort, deliberately unchecked: this key already leaked through the path being probed
  // (that is the finding), and this copy lives for one hash before it is wiped.
  static_cast<void>(pkcs8.Lock());
  absl::StatusOr<std::unique_ptr<signer::Signer>> signer = signer::Signer::FromPkcs8(pkcs8);
  pkcs8.Clear();
  if (!signer.ok()) return "";
  return HexEncode(crypto::Sha256((*signer)->public_key_der()));
}

class Prober {
 public:
  Prober(awsclient::KmsClient& kms, awsclient::SecretsClient& secrets,
         const CheckLockoutOptions& options)
      : kms_(kms), secrets_(secrets), o_(options) {
    report_.kms_key_id = o_.kms_key_id;
    report_.secret_name = o_.secret_name;
    report_.caller_arn = o_.caller_arn;
    // Add() hands out references into `paths`: no reallocation may move them.
    report_.paths.reserve(kMaxPaths);
    context_ = SecretEncryptionContext(o_.secret_name);
  }

  CheckLockoutReport Run() {
    ReadSecret();
    ProbeDecrypt();
    ProbeDebugDecrypt();
    ProbeReEncrypt();
    ProbeGrant();
    ProbePutKeyPolicy();
    ProbeSecretWrite("put-secret-value", "PutSecretValue");
    ProbeSecretWrite("update-secret", "UpdateSecret");
    ProbeEncrypt();
    ProbeUpdateAlias();
    CleanUp();
    return std::move(report_);
  }

 private:
  PathResult& Add(std::string id, std::string title, PathKind kind) {
    PathResult p;
    p.id = std::move(id);
    p.title = std::move(title);
    p.kind = kind;
    report_.paths.push_back(std::move(p));
    return report_.paths.back();
  }

  // Learns the caller's ARN from a denial, the first time one names it.
  void Learn(const absl::Status& status) {
    if (!report_.caller_arn.empty()) return;
    report_.caller_arn = CallerFromDenial(status);
  }

  // Sets `p` from a call's outcome: OK -> OPEN; AccessDenied for `action` -> closed; else not
  // tried. `open_detail` says what success means.
  void Decide(PathResult& p, const absl::Status& status, std::string_view action,
              std::string open_detail) {
    Learn(status);
    p.aws_error = TypeOf(status);
    if (status.ok()) {
      p.state = PathState::kOpen;
      p.detail = std::move(open_detail);
    } else if (DeniedFor(status, action)) {
      p.state = PathState::kClosed;
      p.detail = absl::StrCat(Absl(action), ": AccessDeniedException");
    } else {
      p.state = PathState::kNotTried;
      p.detail = absl::StrCat(Absl(action), " failed for another reason (", status.message(),
                              "): nothing proven");
    }
  }

  void RecordRecovered(SecretBytes& plaintext, std::string* detail) {
    const size_t size = plaintext.size();
    const std::string sha = PublicKeySha256(plaintext);
    if (!sha.empty()) {
      report_.recovered_public_key_sha256 = sha;
      absl::StrAppend(detail, " — recovered the signing key (", size,
                      " bytes, wiped; its public key's SHA-256 ", sha.substr(0, 16), "…)");
    } else {
      absl::StrAppend(detail, " — got ", size, " bytes of plaintext (wiped)");
    }
  }

  void ReadSecret() {
    absl::StatusOr<awsclient::SecretValue> secret = secrets_.GetSecretValue(o_.secret_name);
    if (!secret.ok()) {
      Learn(secret.status());
      const std::string what = absl::StrCat("the secret \"", o_.secret_name, "\"");
      secret_problem_ = absl::StrCat(
          "cannot read ", what, ": ",
          awsclient::ExplainAwsFailure(
              secret.status(), {.action = "secretsmanager:GetSecretValue",
                                .resource = what,
                                .region = secrets_.json_client().options().region,
                                .if_missing = "pass the --secret that lockout create-key stored"})
              .Text());
      return;
    }
    if (secret->kind != awsclient::SecretKind::kBinary) {
      secret_problem_ = absl::StrCat("the secret \"", o_.secret_name,
                                     "\" holds a SecretString, not the SecretBinary "
                                     "create-key stores");
      return;
    }
    report_.secret_version_before = secret->version_id;
    ciphertext_.assign(secret->value.Reveal().begin(), secret->value.Reveal().end());
    secret_value_ = std::move(secret->value);
    have_secret_ = true;
  }

  bool NeedSecret(PathResult& p) {
    if (have_secret_) return true;
    p.state = PathState::kNotTried;
    p.detail = secret_problem_;
    return false;
  }

  awsclient::DecryptRequest DecryptOfSecret() const {
    awsclient::DecryptRequest request;
    request.ciphertext_blob = ciphertext_;
    request.key_id = o_.kms_key_id;
    request.encryption_context = context_;
    return request;
  }

  // Explains a Decrypt failure that is not a denial.
  static std::string DecryptTrouble(const absl::Status& status) {
    const std::string type = TypeOf(status);
    if (type == "InvalidCiphertextException") {
      return "KMS says the secret's ciphertext does not decrypt under --kms-key with the context "
             "{\"lockout:secret\": NAME}: was it made by `lockout create-key` for this key and "
             "secret name? Nothing proven";
    }
    if (type == "IncorrectKeyException") {
      return "the secret was encrypted under a different KMS key than --kms-key: nothing proven";
    }
    return absl::StrCat("Decrypt failed for another reason (", status.message(),
                        "): nothing proven");
  }

  void ProbeDecrypt() {
    PathResult& p = Add("decrypt", "Decrypt without attestation", PathKind::kLeak);
    if (!NeedSecret(p)) return;
    absl::StatusOr<awsclient::DecryptResult> r = kms_.Decrypt(DecryptOfSecret());
    Decide(p, r.status(), "kms:Decrypt", "KMS decrypted the secret without any attestation");
    if (r.ok()) RecordRecovered(r->plaintext, &p.detail);
    if (p.state == PathState::kNotTried) p.detail = DecryptTrouble(r.status());
  }

  void ProbeDebugDecrypt() {
    PathResult& p =
        Add("decrypt-debug", "Decrypt with a debug-mode attestation document", PathKind::kLeak);
    if (o_.nsm == nullptr) {
      p.detail =
          "no NSM given (--nsm): run it where a debug-mode or local NSM answers (left out of the "
          "verdict; `lockout policy lint` answers it from the policy)";
      p.in_verdict = false;
      return;
    }
    if (!NeedSecret(p)) return;
    absl::StatusOr<crypto::EvpPkeyPtr> rsa = crypto::GenerateRsa2048Key();
    absl::StatusOr<Bytes> spki =
        rsa.ok() ? crypto::PublicKeyToSpkiDer(rsa->get()) : absl::StatusOr<Bytes>(rsa.status());
    if (!spki.ok()) {
      p.detail = absl::StrCat("cannot make the recipient key: ", spki.status().message());
      return;
    }
    nsm::NsmClient nsm(*o_.nsm);
    absl::StatusOr<nsm::DescribePcrResponse> pcr0 = nsm.DescribePcr(0);
    absl::StatusOr<Bytes> document = nsm.Attestation(std::nullopt, std::nullopt, *spki);
    if (!pcr0.ok() || !document.ok()) {
      p.detail = absl::StrCat("the NSM gave no attestation document (",
                              (pcr0.ok() ? document.status() : pcr0.status()).message(), ")");
      return;
    }
    const bool debug = pcr0->data == Bytes(pcr0->data.size(), 0);
    const std::string which =
        debug ? "PCR0 all zeros (debug mode)"
              : absl::StrCat("PCR0 ", HexEncode(pcr0->data).substr(0, 16), "… (NOT debug mode)");
    awsclient::DecryptRequest request = DecryptOfSecret();
    request.recipient = awsclient::KmsRecipient{.attestation_document = *std::move(document)};
    absl::StatusOr<awsclient::DecryptResult> r = kms_.Decrypt(request);
    Decide(p, r.status(), "kms:Decrypt", absl::StrCat("KMS decrypted for a document with ", which));
    if (p.state == PathState::kClosed) absl::StrAppend(&p.detail, " for a document with ", which);
    if (r.ok() && r->ciphertext_for_recipient.has_value()) {
      absl::StatusOr<SecretBytes> plaintext =
          crypto::DecryptKmsEnvelope(rsa->get(), *r->ciphertext_for_recipient);
      if (plaintext.ok()) RecordRecovered(*plaintext, &p.detail);
    }
    if (p.state == PathState::kNotTried && TypeOf(r.status()) == "ValidationException") {
      p.detail = absl::StrCat("KMS does not trust this NSM's documents (", r.status().message(),
                              "): nothing proven");
    }
  }

  // The ReEncrypt destination: --probe-key, else a key made now; empty if neither.
  std::string ProbeKey() {
    if (!o_.probe_key_id.empty()) return o_.probe_key_id;
    if (probe_key_tried_) return created_probe_key_;
    probe_key_tried_ = true;
    awsclient::CreateKeyRequest request;
    request.description = "lockout check-lockout probe key (scheduled for deletion at once)";
    absl::StatusOr<awsclient::KeyMetadata> key = kms_.CreateKey(request);
    if (!key.ok()) {
      Learn(key.status());
      probe_key_problem_ = absl::StrCat("CreateKey: ", key.status().message());
      return "";
    }
    created_probe_key_ = key->arn;
    return created_probe_key_;
  }

  // ReEncrypt of the secret (optionally with a grant token). Decides `p`.
  void TryReEncrypt(PathResult& p, const std::vector<std::string>& grant_tokens) {
    const std::string destination = ProbeKey();
    const EncryptionContext probe_context = {{"lockout:check-lockout", "probe"}};
    if (!destination.empty()) {
      awsclient::ReEncryptRequest request;
      request.ciphertext_blob = ciphertext_;
      request.source_key_id = o_.kms_key_id;
      request.source_encryption_context = context_;
      request.destination_key_id = destination;
      request.destination_encryption_context = probe_context;
      request.grant_tokens = grant_tokens;
      absl::StatusOr<awsclient::ReEncryptResult> moved = kms_.ReEncrypt(request);
      Decide(p, moved.status(), "kms:ReEncryptFrom",
             absl::StrCat("KMS re-encrypted the secret to ", destination));
      if (moved.ok()) {
        awsclient::DecryptRequest decrypt;
        decrypt.ciphertext_blob = moved->ciphertext_blob;
        decrypt.key_id = destination;
        decrypt.encryption_context = probe_context;
        absl::StatusOr<awsclient::DecryptResult> r = kms_.Decrypt(decrypt);
        if (r.ok()) {
          absl::StrAppend(&p.detail, " and decrypted it there");
          RecordRecovered(r->plaintext, &p.detail);
        } else {
          absl::StrAppend(&p.detail, "; Decrypt there was refused (", TypeOf(r.status()),
                          "), but kms:ReEncryptFrom lets the caller pick any key it can decrypt "
                          "under");
        }
        return;
      }
      if (p.state != PathState::kNotTried) return;
      absl::StrAppend(&p.detail, " [destination ", destination, "]");
    }
    // No usable destination: DryRun to the key itself decides kms:ReEncryptFrom.
    const std::string before = p.detail;
    awsclient::ReEncryptRequest request;
    request.ciphertext_blob = ciphertext_;
    request.source_key_id = o_.kms_key_id;
    request.source_encryption_context = context_;
    request.destination_key_id = o_.kms_key_id;
    request.destination_encryption_context = context_;
    request.grant_tokens = grant_tokens;
    request.dry_run = true;
    absl::Status s = kms_.ReEncrypt(request).status();
    Learn(s);
    p.aws_error = TypeOf(s);
    if (p.aws_error == kDryRunOk) {
      p.state = PathState::kOpen;
      p.detail =
          "KMS would re-encrypt the secret (DryRun to the key itself): kms:ReEncryptFrom is "
          "allowed, so the caller can move it to any key it can decrypt under";
    } else if (DeniedFor(s, "kms:ReEncryptFrom")) {
      p.state = PathState::kClosed;
      p.detail = "kms:ReEncryptFrom: AccessDeniedException (DryRun to the key itself)";
    } else {
      p.state = PathState::kNotTried;
      p.detail = absl::StrCat(
          destination.empty()
              ? absl::StrCat("no probe key (", probe_key_problem_, "; give --probe-key KEY)")
              : before,
          "; DryRun to the key itself: ", s.message());
    }
  }

  void ProbeReEncrypt() {
    PathResult& p = Add("reencrypt", "ReEncrypt to a key the caller may use", PathKind::kLeak);
    if (!NeedSecret(p)) return;
    TryReEncrypt(p, {});
  }

  void ProbeGrant() {
    PathResult& decrypt =
        Add("grant-decrypt", "CreateGrant to itself, then Decrypt with the grant", PathKind::kLeak);
    PathResult& reencrypt = Add(
        "grant-reencrypt", "CreateGrant to itself, then ReEncrypt with the grant", PathKind::kLeak);
    // `decrypt` and `reencrypt` are references into report_.paths: no Add() below.
    if (report_.caller_arn.empty()) {
      decrypt.detail = reencrypt.detail =
          "the caller's ARN is unknown (no AccessDenied named it): give --caller-arn ARN";
      return;
    }
    awsclient::CreateGrantRequest request;
    request.key_id = o_.kms_key_id;
    request.grantee_principal = report_.caller_arn;
    request.retiring_principal = report_.caller_arn;
    request.operations = {"Decrypt", "ReEncryptFrom"};
    request.name = kGrantName;
    absl::StatusOr<awsclient::CreateGrantResult> grant = kms_.CreateGrant(request);
    if (!grant.ok()) {
      Decide(decrypt, grant.status(), "kms:CreateGrant", "");
      reencrypt.state = decrypt.state;
      reencrypt.detail = decrypt.detail;
      reencrypt.aws_error = decrypt.aws_error;
      return;
    }
    const std::string grant_note =
        absl::StrCat("KMS granted ", report_.caller_arn, " Decrypt and ReEncryptFrom (grant ",
                     grant->grant_id.substr(0, 12), "…)");
    if (NeedSecret(decrypt)) {
      awsclient::DecryptRequest r = DecryptOfSecret();
      r.grant_tokens = {grant->grant_token};
      absl::StatusOr<awsclient::DecryptResult> d = kms_.Decrypt(r);
      Decide(decrypt, d.status(), "kms:Decrypt",
             absl::StrCat(grant_note, ", and Decrypt with it succeeded"));
      if (d.ok()) RecordRecovered(d->plaintext, &decrypt.detail);
      if (decrypt.state == PathState::kClosed) {
        decrypt.detail = absl::StrCat(grant_note, ", but Decrypt with it: AccessDeniedException");
      }
    }
    if (NeedSecret(reencrypt)) {
      TryReEncrypt(reencrypt, {grant->grant_token});
      if (reencrypt.state != PathState::kNotTried) {
        reencrypt.detail = absl::StrCat(grant_note, "; with it: ", reencrypt.detail);
      }
    }
    RemoveGrant(*grant);
    WipeString(grant->grant_token);
  }

  void RemoveGrant(const awsclient::CreateGrantResult& grant) {
    absl::Status revoked = kms_.RevokeGrant(o_.kms_key_id, grant.grant_id);
    std::string how = "revoked";
    if (!revoked.ok()) {
      absl::Status retired = kms_.RetireGrant(grant.grant_token);
      if (!retired.ok()) {
        report_.cleanup_failures.push_back(absl::StrCat(
            "grant ", grant.grant_id, " on ", o_.kms_key_id, " could NOT be removed (RevokeGrant: ",
            revoked.message(), "; RetireGrant: ", retired.message(), "): revoke it by hand"));
        return;
      }
      how = "retired (RevokeGrant was refused)";
    }
    std::string line = absl::StrCat("grant ", grant.grant_id, " ", how);
    absl::StatusOr<std::vector<awsclient::GrantEntry>> grants = kms_.ListGrants(o_.kms_key_id);
    if (grants.ok()) {
      bool still = false;
      for (const auto& g : *grants) still = still || g.grant_id == grant.grant_id;
      if (still) {
        report_.cleanup_failures.push_back(
            absl::StrCat("grant ", grant.grant_id, " still listed after it was ", how));
        return;
      }
      absl::StrAppend(&line, "; ListGrants no longer shows it");
    }
    report_.cleanup.push_back(std::move(line));
  }

  // The PCR16 pin of the key's current policy, by `policy lint`'s rules.
  void AssessSigningPolicySeal(const absl::StatusOr<std::string>& policy_text) {
    SigningPolicySeal& seal = report_.signing_policy;
    seal.expected = o_.expected_pcr16;
    if (!policy_text.ok()) {
      seal.findings.push_back(absl::StrCat("GetKeyPolicy failed (", TypeOf(policy_text.status()),
                                           "): the PCR16 pin could not be read"));
      return;
    }
    absl::StatusOr<LintReport> lint = LintKeyPolicy(
        *policy_text, LintOptions{.account_id = "", .expected_pcr16 = o_.expected_pcr16});
    if (!lint.ok()) {
      seal.findings.push_back(std::string(lint.status().message()));
      return;
    }
    seal.pin = std::string(Pcr16PinName(lint->pcr16_pin));
    seal.value = lint->pcr16_value;
    seal.matches_expected = lint->pcr16_matches_expected;
    seal.findings = lint->pcr16_findings;
  }

  void ProbePutKeyPolicy() {
    PathResult& p =
        Add("put-key-policy", "PutKeyPolicy (could rewrite the policy)", PathKind::kLeak);
    absl::StatusOr<std::string> current = kms_.GetKeyPolicy(o_.kms_key_id);
    Learn(current.status());
    AssessSigningPolicySeal(current);
    const bool same = current.ok();
    const std::string text = same ? *current : std::string(kUnparsablePolicy);
    absl::Status put = kms_.PutKeyPolicy(o_.kms_key_id, text, /*bypass=*/false);
    Learn(put);
    p.aws_error = TypeOf(put);
    if (put.ok()) {
      p.state = PathState::kOpen;
      p.detail = "KMS accepted PutKeyPolicy (with the key's own current policy: nothing changed)";
      if (!same) {  // cannot happen: text is not JSON
        p.detail = "KMS ACCEPTED a non-JSON policy text: inspect the key's policy at once";
      }
    } else if (p.aws_error == "MalformedPolicyDocumentException") {
      p.state = PathState::kOpen;
      p.detail = absl::StrCat("KMS authorised PutKeyPolicy and only then refused the document (",
                              same ? "its safety check, which BypassPolicyLockoutSafetyCheck skips"
                                   : "a probe text that is not JSON; GetKeyPolicy was refused",
                              "): the caller may rewrite the policy; nothing changed");
    } else if (DeniedFor(put, "kms:PutKeyPolicy")) {
      p.state = PathState::kClosed;
      p.detail = same ? "kms:PutKeyPolicy: AccessDeniedException (tried with the current policy)"
                      : "kms:PutKeyPolicy: AccessDeniedException (tried with a non-JSON text, "
                        "since GetKeyPolicy was refused: nothing could change)";
    } else {
      p.detail = absl::StrCat("PutKeyPolicy failed for another reason (", put.message(),
                              "): nothing proven");
    }
  }

  void ProbeSecretWrite(std::string id, std::string_view operation) {
    PathResult& p =
        Add(id, absl::StrCat(Absl(operation), " (write the secret)"), PathKind::kSubstitution);
    if (!NeedSecret(p)) return;
    // The current version's own id and value: AWS ignores the request (see the header).
    absl::StatusOr<awsclient::SecretVersionRef> r =
        operation == "PutSecretValue"
            ? secrets_.PutSecretValue(o_.secret_name, secret_value_, awsclient::SecretKind::kBinary,
                                      report_.secret_version_before)
            : secrets_.UpdateSecret(o_.secret_name, secret_value_, awsclient::SecretKind::kBinary,
                                    report_.secret_version_before);
    const std::string action = absl::StrCat("secretsmanager:", Absl(operation));
    Decide(p, r.status(), action,
           absl::StrCat("Secrets Manager accepted ", Absl(operation),
                        " (the current version's id and value: ignored, nothing changed); the "
                        "caller can store a ciphertext of its choosing"));
    if (r.ok() && r->version_id != report_.secret_version_before) {
      report_.cleanup_failures.push_back(absl::StrCat(
          Absl(operation), " made version ", r->version_id,
          " although it was sent the current version's id: the service does not follow AWS's "
          "idempotency rule"));
    }
    if (p.state == PathState::kNotTried && TypeOf(r.status()) == "ResourceExistsException") {
      p.state = PathState::kOpen;  // authorised, then refused as a changed version
      p.detail = absl::StrCat(Absl(operation), " was authorised (ResourceExistsException)");
    }
  }

  void ProbeEncrypt() {
    PathResult& p = Add("encrypt", "Encrypt under the key", PathKind::kSubstitution);
    absl::Status s = kms_.EncryptDryRun(o_.kms_key_id, context_);
    Learn(s);
    if (TypeOf(s) == kDryRunOk) {
      p.state = PathState::kOpen;
      p.aws_error = std::string(kDryRunOk);
      p.detail =
          "KMS would encrypt under the key with the secret's context (DryRun): the caller can "
          "make a ciphertext of a key of its choosing";
      return;
    }
    Decide(p, s.ok() ? absl::UnknownError("Encrypt ignored DryRun") : s, "kms:Encrypt", "");
  }

  void ProbeUpdateAlias() {
    PathResult& p =
        Add("update-alias", "UpdateAlias (repoint an alias of the key)", PathKind::kSubstitution);
    absl::StatusOr<std::vector<awsclient::AliasEntry>> aliases = kms_.ListAliases(o_.kms_key_id);
    if (!aliases.ok()) {
      Learn(aliases.status());
      p.detail = absl::StrCat("cannot list the key's aliases (", aliases.status().message(), ")");
      return;
    }
    std::vector<std::string> open, closed, other;
    for (const awsclient::AliasEntry& a : *aliases) {
      if (a.target_key_id.empty()) continue;
      // To the key it already names: nothing changes.
      absl::Status s = kms_.UpdateAlias(a.alias_name, a.target_key_id);
      Learn(s);
      if (s.ok()) {
        open.push_back(a.alias_name);
      } else if (DeniedFor(s, "kms:UpdateAlias")) {
        closed.push_back(a.alias_name);
      } else {
        other.push_back(absl::StrCat(a.alias_name, " (", s.message(), ")"));
      }
    }
    if (!open.empty()) {
      p.state = PathState::kOpen;
      p.detail = absl::StrCat("KMS accepted UpdateAlias of ", absl::StrJoin(open, ", "),
                              " (to the key it already names: nothing changed); whoever resolves "
                              "the alias can be pointed at another key");
    } else if (!other.empty()) {
      p.detail = absl::StrCat("UpdateAlias failed: ", absl::StrJoin(other, "; "));
    } else if (!closed.empty()) {
      p.state = PathState::kClosed;
      p.aws_error = std::string(kAccessDenied);
      p.detail =
          absl::StrCat("kms:UpdateAlias: AccessDeniedException for ", absl::StrJoin(closed, ", "));
    } else {
      p.detail = "no alias names this key (the secret's ciphertext names the key itself)";
    }
  }

  void CleanUp() {
    if (!created_probe_key_.empty()) {
      absl::StatusOr<std::string> state = kms_.ScheduleKeyDeletion(created_probe_key_, 7);
      if (state.ok()) {
        report_.cleanup.push_back(
            absl::StrCat("probe key ", created_probe_key_, " ", *state, " (deleted in 7 days)"));
      } else {
        report_.cleanup_failures.push_back(
            absl::StrCat("probe key ", created_probe_key_, " could NOT be scheduled for deletion (",
                         state.status().message(), "): delete it by hand"));
      }
    }
    if (!have_secret_) return;
    absl::StatusOr<awsclient::SecretValue> after = secrets_.GetSecretValue(o_.secret_name);
    if (!after.ok()) {
      report_.cleanup_failures.push_back(
          absl::StrCat("cannot read the secret again to check it: ", after.status().message()));
      return;
    }
    report_.secret_untouched =
        after->version_id == report_.secret_version_before && after->value.Equals(secret_value_);
    if (report_.secret_untouched) {
      report_.cleanup.push_back(absl::StrCat("secret ", o_.secret_name, " untouched (version ",
                                             after->version_id, " still current, same value)"));
    } else {
      report_.cleanup_failures.push_back(
          absl::StrCat("the secret's current version is now ", after->version_id, " (was ",
                       report_.secret_version_before, ") or its value changed: inspect it"));
    }
  }

  awsclient::KmsClient& kms_;
  awsclient::SecretsClient& secrets_;
  const CheckLockoutOptions& o_;
  CheckLockoutReport report_;
  EncryptionContext context_;
  bool have_secret_ = false;
  std::string secret_problem_;
  Bytes ciphertext_;  // KMS ciphertext: not secret without KMS
  SecretBytes secret_value_;
  bool probe_key_tried_ = false;
  std::string created_probe_key_;
  std::string probe_key_problem_;
};

}  // namespace

std::string_view PathStateName(PathState state) {
  switch (state) {
    case PathState::kClosed:
      return "closed";
    case PathState::kOpen:
      return "OPEN";
    case PathState::kNotTried:
      break;
  }
  return "not tried";
}

LockoutVerdict CheckLockoutReport::verdict() const {
  bool undecided = false;
  for (const PathResult& p : paths) {
    if (p.kind != PathKind::kLeak) continue;
    if (p.state == PathState::kOpen) return LockoutVerdict::kNotLockedOut;
    if (!p.in_verdict) continue;
    undecided = undecided || p.state == PathState::kNotTried;
  }
  return undecided ? LockoutVerdict::kInconclusive : LockoutVerdict::kLockedOut;
}

const PathResult* CheckLockoutReport::Find(std::string_view id) const {
  for (const PathResult& p : paths) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

std::string CheckLockoutReport::Text() const {
  std::string out =
      absl::StrCat("check-lockout: key ", kms_key_id, ", secret ", secret_name, ", as ",
                   caller_arn.empty() ? "(caller unknown)" : caller_arn, "\n");
  for (PathKind kind : {PathKind::kLeak, PathKind::kSubstitution}) {
    absl::StrAppend(&out, kind == PathKind::kLeak
                              ? "leak paths (the key's plaintext without the pinned enclave):\n"
                              : "substitution paths (leak nothing; let the caller make the "
                                "enclave load a key of its choosing):\n");
    for (const PathResult& p : paths) {
      if (p.kind != kind) continue;
      std::string state(PathStateName(p.state));
      state.resize(9, ' ');
      absl::StrAppend(&out, "  ", state, " ", p.id, ": ", p.detail, "\n");
    }
  }
  absl::StrAppend(&out, "signing policy (kms:RecipientAttestation:PCR16): ", signing_policy.pin,
                  signing_policy.value.empty() ? "" : absl::StrCat(" = ", signing_policy.value));
  if (!signing_policy.expected.empty()) {
    absl::StrAppend(&out, signing_policy.matches_expected ? " (matches --signing-policy)"
                                                          : " (does NOT match --signing-policy)");
  }
  absl::StrAppend(&out, "\n");
  for (const std::string& f : signing_policy.findings) absl::StrAppend(&out, "  ! ", f, "\n");
  for (const std::string& line : cleanup) absl::StrAppend(&out, "cleanup: ", line, "\n");
  for (const std::string& line : cleanup_failures) {
    absl::StrAppend(&out, "cleanup FAILED: ", line, "\n");
  }
  std::vector<std::string> left_out;
  for (const PathResult& p : paths) {
    if (p.kind == PathKind::kLeak && !p.in_verdict) left_out.push_back(p.id);
  }
  switch (verdict()) {
    case LockoutVerdict::kLockedOut:
      absl::StrAppend(
          &out, "locked out: every leak path tried is closed for these credentials",
          left_out.empty() ? "" : absl::StrCat(" (not tried: ", absl::StrJoin(left_out, ", "), ")"),
          "\n");
      break;
    case LockoutVerdict::kNotLockedOut:
      absl::StrAppend(&out, "NOT locked out: a leak path is OPEN for these credentials\n");
      break;
    case LockoutVerdict::kInconclusive:
      absl::StrAppend(&out,
                      "inconclusive: no leak path is open, but not every one could be tried\n");
      break;
  }
  return out;
}

nlohmann::ordered_json CheckLockoutReport::ToJson() const {
  Json out;
  const LockoutVerdict v = verdict();
  out["verdict"] = v == LockoutVerdict::kLockedOut      ? "locked out"
                   : v == LockoutVerdict::kNotLockedOut ? "NOT locked out"
                                                        : "inconclusive";
  out["kms_key"] = kms_key_id;
  out["secret"] = secret_name;
  out["caller_arn"] = caller_arn;
  Json list = Json::array();
  for (const PathResult& p : paths) {
    list.push_back(Json{{"id", p.id},
                        {"title", p.title},
                        {"kind", p.kind == PathKind::kLeak ? "leak" : "substitution"},
                        {"state", PathStateName(p.state)},
                        {"detail", p.detail},
                        {"aws_error", p.aws_error},
                        {"in_verdict", p.in_verdict}});
  }
  out["paths"] = std::move(list);
  out["cleanup"] = cleanup;
  out["cleanup_failures"] = cleanup_failures;
  out["secret_version"] = secret_version_before;
  out["secret_untouched"] = secret_untouched;
  Json seal = {{"pin", signing_policy.pin}, {"value", signing_policy.value}};
  if (!signing_policy.expected.empty()) {
    seal["expected"] = signing_policy.expected;
    seal["matches_expected"] = signing_policy.matches_expected;
  }
  seal["findings"] = signing_policy.findings;
  out["signing_policy_pcr16"] = std::move(seal);
  if (!recovered_public_key_sha256.empty()) {
    out["recovered_public_key_sha256"] = recovered_public_key_sha256;
  }
  return out;
}

CheckLockoutReport CheckLockout(awsclient::KmsClient& kms, awsclient::SecretsClient& secrets,
                                const CheckLockoutOptions& options) {
  return Prober(kms, secrets, options).Run();
}

}  // namespace lockout::ops
