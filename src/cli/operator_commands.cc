// The operator's commands (issue 5): create-key, policy, policy lint, check-lockout, doctor,
// sign, verify, and the client mode of `lockout attest` (`lockout attest --enclave URI`).
// Each is a thin shell over src/operator (the demo calls the same functions).
//
// Exit status: 0 success; 1 the check failed (not locked out, signature invalid, attestation
// rejected, a broken link); 2 usage error; 3 inconclusive (check-lockout could not decide,
// policy lint could not read or parse the policy); 4 `policy lint`: locked, except that a
// break-glass principal may rewrite the policy.
// With LOCKOUT_PARSE_ONLY=1 in the environment the commands parse and validate their arguments
// and exit 0 without doing anything (tests/operator/tutorial_commands_test uses it).

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/attest/attested_reply.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/certificate.h"
#include "src/auth/request_auth.h"
#include "src/awsclient/failure_hint.h"
#include "src/cli/client_key_option.h"
#include "src/cli/commands.h"
#include "src/cli/create_key_in_enclave.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/secret_bytes.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/hd/bip39.h"
#include "src/hd/derivation_path.h"
#include "src/hd/seed_secret.h"
#include "src/net/endpoint.h"
#include "src/nsm/nsm_device.h"
#include "src/nsm/open_nsm_device.h"
#include "src/operator/attest_client.h"
#include "src/operator/aws_session.h"
#include "src/operator/check_lockout.h"
#include "src/operator/create_key.h"
#include "src/operator/doctor.h"
#include "src/operator/enclave_client.h"
#include "src/operator/hd_import.h"
#include "src/operator/key_import.h"
#include "src/operator/key_policy.h"
#include "src/operator/kms_key_ref.h"
#include "src/operator/measurement.h"
#include "src/operator/policy_lint.h"
#include "src/operator/signature_verify.h"
#include "src/signer/signer.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::cli {
namespace {

// The exit-code table (docs/CLI.md).
using cliutil::kExitBreakGlass;
using cliutil::kExitFailed;
using cliutil::kExitInconclusive;
using cliutil::kExitOk;
using cliutil::kExitUsage;
constexpr size_t kMaxInputFile = 1 << 20;

// The --help footer of every command that talks to AWS.
constexpr char kAwsConfigHelp[] =
    "AWS: region, endpoints and credentials as the AWS CLI finds them. Credentials, first that "
    "has them: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); the profile "
    "AWS_PROFILE (default \"default\") in ~/.aws/credentials and ~/.aws/config "
    "(AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE): role_arn + source_profile (STS "
    "AssumeRole), static keys, credential_process; then the instance role through IMDSv2 unless "
    "AWS_EC2_METADATA_DISABLED=true. Region: AWS_REGION, AWS_DEFAULT_REGION, the profile's "
    "region. Endpoints: AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL_SECRETS_MANAGER, "
    "AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL. Against local-aws: "
    "eval \"$(lockout local-aws env --ready-file FILE --as admin)\".";

using cliutil::ParseOnly;

int Usage(std::string_view message) { return cliutil::ReportUsageError("lockout", message); }

int Fail(std::string_view message) { return cliutil::ReportFailure("lockout", message); }

// The PCR16 a signing policy file gives (lower-case hex), for --signing-policy FILE.
absl::StatusOr<std::string> ExpectedPcr16Hex(const std::string& path) {
  absl::StatusOr<signpolicy::SigningPolicy> policy = signpolicy::ReadSigningPolicyFile(path);
  if (!policy.ok()) {
    return absl::Status(policy.status().code(),
                        absl::StrCat("--signing-policy ", policy.status().message()));
  }
  const std::array<uint8_t, 48> pcr16 = signpolicy::ExpectedPcr16(*policy);
  return HexEncode(ByteView(pcr16.data(), pcr16.size()));
}

absl::StatusOr<ops::AwsSession> Session() {
  absl::StatusOr<ops::AwsSession> s = ops::AwsSessionFromEnvironment();
  if (!s.ok()) {
    return absl::Status(s.status().code(),
                        absl::StrCat("AWS configuration: ", s.status().message(),
                                     " (against local-aws: eval \"$(lockout local-aws env "
                                     "--ready-file FILE --as admin)\")"));
  }
  return s;
}

// --message TEXT, --bytes-b64 B64 or --message-file FILE (exactly one); `--message -` and
// `--message-file -` read the message from standard input.
struct MessageArgs {
  std::string message;
  std::string bytes_b64;
  std::string file;
  bool have_message = false;
  bool have_bytes = false;
};

void AddMessageOptions(CLI::App* cmd, MessageArgs& m) {
  auto* text = cmd->add_option("--message", m.message,
                               "The message, as text (UTF-8 bytes); - reads it from standard "
                               "input (to sign the one character -, use --bytes-b64 LQ==)");
  auto* b64 = cmd->add_option("--bytes-b64", m.bytes_b64, "The message, as standard base64");
  auto* file = cmd->add_option("--message-file", m.file,
                               "The message: this file's bytes (<= 1 MiB); - for standard input")
                   ->type_name("FILE");
  text->excludes(b64);
  file->excludes(text);
  file->excludes(b64);
}

absl::StatusOr<Bytes> MessageBytes(CLI::App* cmd, const MessageArgs& m) {
  const bool text = cmd->count("--message") > 0;
  const bool b64 = cmd->count("--bytes-b64") > 0;
  const bool file = cmd->count("--message-file") > 0;
  if (int{text} + int{b64} + int{file} != 1)
    return absl::InvalidArgumentError(
        "give exactly one of --message, --bytes-b64 or --message-file");
  if (file || (text && m.message == "-")) {
    const char* flag = file ? "--message-file" : "--message";
    absl::StatusOr<std::string> bytes = cliutil::ReadInput(file ? m.file : "-", kMaxInputFile);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", bytes.status().message()));
    }
    return ToBytes(*bytes);
  }
  if (text) return ToBytes(m.message);
  absl::StatusOr<Bytes> bytes = Base64Decode(m.bytes_b64);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bytes-b64 is not standard base64: ", bytes.status().message()));
  }
  return bytes;
}

absl::StatusOr<net::Endpoint> EnclaveEndpoint(const std::string& uri) {
  if (uri.empty())
    return absl::InvalidArgumentError("--enclave URI is required (e.g. vsock://20:5010)");
  return net::Endpoint::Parse(uri);
}

// ---- create-key ----

struct CreateKeyArgs {
  std::string kms_key;
  std::string secret;
  std::string type;  // empty: p521 when generating; the key's own (raw hex: secp256k1) on import
  std::string import_file;
  bool hd = false;                       // an HD seed secret, generated
  std::string import_mnemonic;           // an HD seed secret from a BIP-39 mnemonic in FILE
  std::string mnemonic_passphrase_file;  // its BIP-39 passphrase, in FILE (empty: none)
  std::string import_seed;               // an HD seed secret from a hex seed in FILE
  bool overwrite = false;
  bool json = false;
};

void PrintCreateKeyResult(const ops::CreateKeyResult& r, bool json) {
  if (json) {
    std::cout << r.ToJson().dump(2) << "\n";
    return;
  }
  std::cout << r.public_key_pem;
  if (r.ethereum_address) std::cout << "address: " << *r.ethereum_address << "\n";
  if (r.hd) {
    std::cout << "hd seed: yes (the public key, address and pin are the master key m's)\n";
    if (r.xpub) std::cout << "xpub (m): " << *r.xpub << "\n";
  }
  std::cout << "key type: " << signer::KeyTypeName(r.key_type) << "\n"
            << "kms key: " << r.kms_key_arn << "\n"
            << "secret: " << r.secret_arn << " (version " << r.secret_version_id << ", "
            << r.ciphertext_size << " bytes of ciphertext)\n"
            << "signing-policy pin: \"key\": " << r.policy_pin << "\n";
}

int FailAws(const absl::Status& status, const CreateKeyArgs& a, const ops::AwsSession& session) {
  // Connection, region, credentials, permission, missing key: the cause and the next step.
  return Fail(absl::StrCat(
      "create-key: ",
      awsclient::ExplainAwsFailure(status, {.action = "",
                                            .resource = absl::StrCat("the KMS key ", a.kms_key),
                                            .region = session.region,
                                            .if_missing = ""})
          .Text()));
}

// create-key --hd / --import-mnemonic / --import-seed: an HD seed secret (docs/WALLET.md).
int RunCreateHdKey(const CreateKeyArgs& a) {
  const std::string type_name = a.type.empty() ? std::string("secp256k1") : a.type;
  absl::StatusOr<hd::Curve> curve = hd::CurveForKeyTypeName(type_name);
  if (!curve.ok()) return Usage(absl::StrCat("--type: ", curve.status().message()));
  const std::string& file = !a.import_mnemonic.empty() ? a.import_mnemonic : a.import_seed;
  if (!file.empty()) {
    absl::Status argument = ops::CheckImportArgument(file);
    if (!argument.ok() || std::count(file.begin(), file.end(), ' ') >= 11) {
      return Usage(
          "--import-mnemonic/--import-seed take a FILE (or - for stdin), never the secret itself");
    }
  }
  const std::string& passphrase_file = a.mnemonic_passphrase_file;
  if (passphrase_file == "-" && file == "-") {
    return Usage(
        "--import-mnemonic - and --mnemonic-passphrase-file - cannot both read stdin: give one "
        "of them a FILE");
  }
  if (ParseOnly()) return kExitOk;
  SecretBytes seed;
  if (!file.empty()) {
    SecretBytes passphrase;  // none: BIP-39's empty passphrase
    if (!passphrase_file.empty()) {
      // The label omits the path: a passphrase typed in place of FILE must not be echoed.
      absl::StatusOr<SecretBytes> read = ops::ReadSecretInput(
          passphrase_file, hd::kMaxPassphraseSize + 2,
          "--mnemonic-passphrase-file (a FILE holding the passphrase, or - for stdin)");
      if (!read.ok()) return Fail(absl::StrCat("create-key: ", read.status().message()));
      passphrase = *std::move(read);
    }
    absl::StatusOr<SecretBytes> input = ops::ReadPrivateKeyInput(file);
    if (!input.ok()) return Fail(absl::StrCat("create-key: ", input.status().message()));
    absl::StatusOr<SecretBytes> parsed = !a.import_mnemonic.empty()
                                             ? ops::SeedFromMnemonicInput(*input, passphrase)
                                             : ops::SeedFromHexInput(*input);
    input->Clear();
    passphrase.Clear();
    if (!parsed.ok()) return Fail(absl::StrCat("create-key: ", parsed.status().message()));
    seed = *std::move(parsed);
  }
  absl::StatusOr<ops::AwsSession> session = Session();
  if (!session.ok()) return Usage(Std(session.status().message()));
  ops::CreateKeyOptions options;
  options.kms_key_id = a.kms_key;
  options.secret_name = a.secret;
  options.overwrite = a.overwrite;
  absl::StatusOr<ops::CreateKeyResult> r =
      file.empty() ? ops::CreateHdKey(*session->kms, *session->secrets, options, *curve)
                   : ops::CreateHdKeyFrom(*session->kms, *session->secrets, options, *curve, seed,
                                          /*imported=*/true);
  seed.Clear();
  if (!r.ok()) return FailAws(r.status(), a, *session);
  PrintCreateKeyResult(*r, a.json);
  if (file.empty()) {
    std::cerr << "A 64-byte HD seed was generated here, encrypted by KMS with the context "
                 "{\"lockout:secret\": \""
              << a.secret
              << "\"}, stored as SecretBinary and wiped from memory. It has no mnemonic: no "
                 "copy exists outside KMS ciphertext.\n";
  } else {
    std::cerr << "The seed was read from " << (file == "-" ? std::string("stdin") : file)
              << ", encrypted by KMS and stored as SecretBinary.\nWARNING: " << ops::kImportWarning
              << "\n";
  }
  std::cerr << "Requests must name a derivation path (lockout sign --path m/44'/60'/0'/0/0); "
               "limit the paths per client with \"paths\" in the signing policy "
               "(docs/WALLET.md, \"HD keys\").\n";
  return kExitOk;
}

int RunCreateKey(const CreateKeyArgs& a) {
  if (a.hd || !a.import_mnemonic.empty() || !a.import_seed.empty()) return RunCreateHdKey(a);
  std::optional<signer::KeyType> type;
  if (!a.type.empty()) {
    absl::StatusOr<signer::KeyType> parsed = signer::ParseKeyType(a.type);
    if (!parsed.ok()) return Usage(absl::StrCat("--type: ", parsed.status().message()));
    type = *parsed;
  }
  const bool importing = !a.import_file.empty();
  if (importing) {
    absl::Status argument = ops::CheckImportArgument(a.import_file);
    if (!argument.ok()) return Usage(Std(argument.message()));
  }
  if (ParseOnly()) return kExitOk;

  // The imported key is read and checked before any AWS call: a file that is not a key costs
  // nothing. It lives only in SecretBytes (wiped here) and then in the Signer.
  std::unique_ptr<signer::Signer> imported;
  std::string format;
  if (importing) {
    absl::StatusOr<SecretBytes> input = ops::ReadPrivateKeyInput(a.import_file);
    if (!input.ok()) return Fail(absl::StrCat("create-key: ", input.status().message()));
    absl::StatusOr<ops::ImportedKey> parsed = ops::ParseImportedKey(*input, type, type);
    input->Clear();
    if (!parsed.ok()) return Fail(absl::StrCat("create-key: ", parsed.status().message()));
    imported = std::move(parsed->key);
    format = parsed->format;
  }

  absl::StatusOr<ops::AwsSession> session = Session();
  if (!session.ok()) return Usage(Std(session.status().message()));
  ops::CreateKeyOptions options;
  options.kms_key_id = a.kms_key;
  options.secret_name = a.secret;
  options.key_type = type.value_or(signer::KeyType::kP521);
  options.overwrite = a.overwrite;
  absl::StatusOr<ops::CreateKeyResult> r =
      importing ? ops::CreateSigningKeyFrom(*session->kms, *session->secrets, options,
                                            std::move(imported), /*imported=*/true)
                : ops::CreateSigningKey(*session->kms, *session->secrets, options);
  if (!r.ok()) return FailAws(r.status(), a, *session);
  PrintCreateKeyResult(*r, a.json);
  if (importing) {
    std::cerr << "The private key was read from "
              << (a.import_file == "-" ? std::string("stdin") : a.import_file) << " (" << format
              << "), encrypted by KMS with the context {\"lockout:secret\": \"" << a.secret
              << "\"}, stored as SecretBinary and wiped from this process's memory.\n"
              << "WARNING: " << ops::kImportWarning << "\n";
  } else {
    std::cerr << "The private key was generated here, encrypted by KMS with the context "
                 "{\"lockout:secret\": \""
              << a.secret << "\"}, stored as SecretBinary and wiped from memory.\n";
  }
  std::cerr << "Pin it: add the signing-policy pin line above to the signing policy, so that the "
               "enclave refuses any other key stored under this secret (docs/WALLET.md, \"Import "
               "and pinning\").\n";
  return kExitOk;
}

// ---- policy ----

struct PolicyArgs {
  std::string mode = "recommended";
  std::string enclave_role;
  std::string admin_role;
  std::string policy_admin_role;
  ops::Pcr0Source pcr0;
  std::string pcr8;
  std::string pcr3_role;
  std::string signing_policy;  // policy and policy lint: --signing-policy FILE
  std::string out;
  bool apply = false;
  std::string kms_key;
  // lint
  std::string lint_file;
  std::string lint_kms_key;
  std::string lint_account;
  bool lint_json = false;
};

int RunPolicy(const PolicyArgs& a) {
  absl::StatusOr<ops::PolicyMode> mode = ops::ParsePolicyMode(a.mode);
  if (!mode.ok()) return Usage(Std(mode.status().message()));
  if (a.apply && a.kms_key.empty()) return Usage("--apply needs --kms-key ID");
  ops::KeyPolicyOptions options;
  options.mode = *mode;
  options.enclave_role_arn = a.enclave_role;
  options.admin_role_arn = a.admin_role;
  options.policy_admin_role_arn = a.policy_admin_role;
  if (!a.pcr8.empty()) {
    absl::StatusOr<crypto::Sha384Digest> pcr8 = ops::ParsePcrHex(a.pcr8, "--pcr8");
    if (!pcr8.ok()) return Usage(Std(pcr8.status().message()));
    options.pcr8 = *pcr8;
  }
  if (!a.pcr3_role.empty()) options.pcr3 = ops::Pcr3OfRole(a.pcr3_role);
  std::string pcr16_hex;
  if (!a.signing_policy.empty()) {
    absl::StatusOr<std::string> pcr16 = ExpectedPcr16Hex(a.signing_policy);
    if (!pcr16.ok()) return Fail(Std(pcr16.status().message()));
    absl::StatusOr<crypto::Sha384Digest> digest = ops::ParsePcrHex(*pcr16, "--signing-policy");
    if (!digest.ok()) return Fail(Std(digest.status().message()));
    options.pcr16 = *digest;
    pcr16_hex = *pcr16;
  }
  const int sources = (a.pcr0.pcr0_hex.empty() ? 0 : 1) + (a.pcr0.eif_path.empty() ? 0 : 1) +
                      (a.pcr0.enclave_binary_path.empty() ? 0 : 1);
  if (sources != 1)
    return Usage("give exactly one of --pcr0 HEX, --eif FILE or --enclave-binary FILE");
  if (!a.pcr0.pcr0_hex.empty()) {
    absl::StatusOr<crypto::Sha384Digest> p = ops::ParsePcrHex(a.pcr0.pcr0_hex, "--pcr0");
    if (!p.ok()) return Usage(Std(p.status().message()));
  }
  if (ParseOnly()) return kExitOk;
  absl::StatusOr<crypto::Sha384Digest> pcr0 = ops::ResolvePcr0(a.pcr0);
  if (!pcr0.ok()) return Usage(Std(pcr0.status().message()));
  options.pcr0 = *pcr0;
  absl::StatusOr<std::string> text = ops::BuildKeyPolicyText(options);
  if (!text.ok()) return Usage(Std(text.status().message()));
  if (a.out.empty()) {
    std::cout << *text;
  } else {
    absl::Status w = WriteFileAtomic(a.out, AsBytes(*text), 0644);
    if (!w.ok()) return Fail(absl::StrCat("cannot write --out: ", w.message()));
  }
  std::cerr << "PCR0 " << HexEncode(*pcr0) << " (" << ops::PolicyModeName(*mode) << " mode)\n";
  if (pcr16_hex.empty()) {
    std::cerr << "No --signing-policy: the key is locked to the image, not to a signing policy; "
                 "root on the parent can boot the image with a policy of its own.\n";
  } else {
    std::cerr << "PCR16 " << pcr16_hex << " (the sealed signing policy " << a.signing_policy
              << ")\n";
  }
  if (!a.apply) return kExitOk;

  absl::StatusOr<ops::AwsSession> session = Session();
  if (!session.ok()) return Usage(Std(session.status().message()));
  const bool bypass = ops::NeedsLockoutSafetyBypass(options);
  if (*mode == ops::PolicyMode::kSeed) {
    std::cerr << "Seed mode: this policy drops the account root statement, so KMS's policy "
                 "lock-out safety check would refuse it unless you are the admin role; lockout "
                 "sends BypassPolicyLockoutSafetyCheck=true. Only the admin role can change the "
                 "policy afterwards.\n";
  } else if (bypass) {
    std::cerr << "Recommended mode without --policy-admin-role: once applied, NOBODY can change "
                 "this policy (lockout sends BypassPolicyLockoutSafetyCheck=true). A new enclave "
                 "image will need a new KMS key and signing key.\n";
  }
  absl::StatusOr<ops::KmsKeyRef> key = ops::ResolveKmsKey(*session->kms, a.kms_key);
  if (!key.ok()) return Fail(Std(key.status().message()));
  absl::Status put = session->kms->PutKeyPolicy(key->id(), *text, bypass);
  if (!put.ok()) {
    if (!bypass && absl::StrContains(put.message(), "MalformedPolicyDocumentException")) {
      return Fail(absl::StrCat(
          "PutKeyPolicy: ", put.message(),
          "; KMS refuses a policy that would stop the caller from changing it: run --apply with "
          "the policy admin's credentials (",
          a.policy_admin_role, ")"));
    }
    return Fail(absl::StrCat("PutKeyPolicy: ",
                             awsclient::ExplainAwsFailure(put, {.action = "kms:PutKeyPolicy",
                                                                .resource = key->Describe(),
                                                                .region = session->region,
                                                                .if_missing = ""})
                                 .Text()));
  }
  std::cerr << "Applied to " << key->Describe() << (bypass ? " (safety check bypassed)" : "")
            << ".\n";
  return kExitOk;
}

int RunPolicyLint(const PolicyArgs& a) {
  if (a.lint_file.empty() == a.lint_kms_key.empty()) {
    return Usage("policy lint needs FILE or --kms-key ID (one of them)");
  }
  if (ParseOnly()) return kExitOk;
  std::string text;
  if (!a.lint_file.empty()) {
    absl::StatusOr<std::string> t = cliutil::ReadInput(a.lint_file, kMaxInputFile);
    if (!t.ok()) {
      std::cerr << "lockout: cannot read FILE: " << t.status().message() << "\n";
      return kExitInconclusive;
    }
    text = *std::move(t);
  } else {
    absl::StatusOr<ops::AwsSession> session = Session();
    if (!session.ok()) return Usage(Std(session.status().message()));
    absl::StatusOr<ops::KmsKeyRef> key = ops::ResolveKmsKey(*session->kms, a.lint_kms_key);
    if (!key.ok()) {
      std::cerr << "lockout: " << key.status().message() << "\n";
      return kExitInconclusive;
    }
    absl::StatusOr<std::string> t = session->kms->GetKeyPolicy(key->id());
    if (!t.ok()) {
      std::cerr << "lockout: GetKeyPolicy: "
                << awsclient::ExplainAwsFailure(t.status(), {.action = "kms:GetKeyPolicy",
                                                             .resource = key->Describe(),
                                                             .region = session->region,
                                                             .if_missing = ""})
                       .Text()
                << "\n";
      return kExitInconclusive;
    }
    text = *std::move(t);
  }
  ops::LintOptions options;
  options.account_id = a.lint_account;
  if (!a.signing_policy.empty()) {
    absl::StatusOr<std::string> pcr16 = ExpectedPcr16Hex(a.signing_policy);
    if (!pcr16.ok()) return Usage(Std(pcr16.status().message()));
    options.expected_pcr16 = *pcr16;
  }
  absl::StatusOr<ops::LintReport> report = ops::LintKeyPolicy(text, options);
  if (!report.ok()) {
    std::cerr << "lockout: " << report.status().message() << "\n";
    return kExitInconclusive;
  }
  std::cout << (a.lint_json ? report->ToJson().dump(2) + "\n" : report->Text());
  switch (report->verdict()) {
    case ops::LintVerdict::kLocked:
      return kExitOk;
    case ops::LintVerdict::kLockedExceptBreakGlass:
      return kExitBreakGlass;
    case ops::LintVerdict::kNotLocked:
      break;
  }
  return kExitFailed;
}

// ---- check-lockout ----

struct CheckArgs {
  std::string kms_key;
  std::string secret;
  std::string probe_key;
  std::string caller_arn;
  std::string nsm;
  std::string signing_policy;
  bool json = false;
};

int RunCheckLockout(const CheckArgs& a) {
  if (ParseOnly()) return kExitOk;
  absl::StatusOr<ops::AwsSession> session = Session();
  if (!session.ok()) return Usage(Std(session.status().message()));
  std::unique_ptr<nsm::NsmDevice> device;
  if (!a.nsm.empty()) {
    absl::StatusOr<std::unique_ptr<nsm::NsmDevice>> d = nsm::OpenNsmDevice(a.nsm);
    if (!d.ok()) return Usage(absl::StrCat("--nsm: ", d.status().message()));
    device = *std::move(d);
  }
  // GetKeyPolicy, ListGrants, RevokeGrant and ListAliases take no alias: resolve once.
  absl::StatusOr<ops::KmsKeyRef> key = ops::ResolveKmsKey(*session->kms, a.kms_key);
  if (!key.ok()) {
    std::cerr << "lockout: " << key.status().message() << "\n";
    return absl::IsInvalidArgument(key.status()) ? kExitUsage : kExitInconclusive;
  }
  std::string probe_key = a.probe_key;
  if (!probe_key.empty()) {
    absl::StatusOr<ops::KmsKeyRef> probe =
        ops::ResolveKmsKey(*session->kms, a.probe_key, "--probe-key");
    if (!probe.ok()) {
      std::cerr << "lockout: " << probe.status().message() << "\n";
      return absl::IsInvalidArgument(probe.status()) ? kExitUsage : kExitInconclusive;
    }
    probe_key = probe->id();
  }
  ops::CheckLockoutOptions options;
  options.kms_key_id = key->id();
  options.secret_name = a.secret;
  options.probe_key_id = probe_key;
  options.caller_arn = a.caller_arn;
  options.nsm = device.get();
  if (!a.signing_policy.empty()) {
    absl::StatusOr<std::string> pcr16 = ExpectedPcr16Hex(a.signing_policy);
    if (!pcr16.ok()) return Usage(Std(pcr16.status().message()));
    options.expected_pcr16 = *pcr16;
  }
  const ops::CheckLockoutReport report =
      ops::CheckLockout(*session->kms, *session->secrets, options);
  std::cout << (a.json ? report.ToJson().dump(2) + "\n" : report.Text());
  switch (report.verdict()) {
    case ops::LockoutVerdict::kLockedOut:
      return kExitOk;
    case ops::LockoutVerdict::kNotLockedOut:
      return kExitFailed;
    case ops::LockoutVerdict::kInconclusive:
      break;
  }
  return kExitInconclusive;
}

// ---- doctor ----

struct DoctorArgs {
  std::string secret;
  std::string kms_key;
  std::string relay = "vsock://1:5011";
  std::string enclave = "vsock://20:5010";
  int min_validity_minutes = 10;
  bool json = false;
};

int RunDoctor(const DoctorArgs& a) {
  ops::DoctorOptions o;
  absl::StatusOr<net::Endpoint> relay = net::Endpoint::Parse(a.relay);
  if (!relay.ok()) return Usage(absl::StrCat("--relay: ", relay.status().message()));
  absl::StatusOr<net::Endpoint> enclave = net::Endpoint::Parse(a.enclave);
  if (!enclave.ok()) return Usage(absl::StrCat("--enclave: ", enclave.status().message()));
  if (ParseOnly()) return kExitOk;
  o.secret_name = a.secret;
  o.kms_key_id = a.kms_key;
  o.relay = *relay;
  o.enclave = *enclave;
  o.min_validity = absl::Minutes(a.min_validity_minutes);
  absl::StatusOr<ops::AwsSession> session = ops::AwsSessionFromEnvironment();
  ops::DoctorReport report = ops::RunDoctor(session, o);
  std::cout << (a.json ? report.ToJson().dump(2) + "\n" : report.Text());
  return report.ok() ? kExitOk : kExitFailed;
}

// ---- sign / verify ----

struct SignArgs {
  std::string enclave;
  MessageArgs message;
  std::string protocol = "v2";
  double timeout_s = 10;
  std::string client_key;  // sign the request (v2, for an enclave with a signing policy)
  bool attest = false;     // ask for an attested reply
  std::string out;         // where the attested reply goes (default: stdout)
  bool json = false;       // accepted everywhere a script parses output: sign always prints JSON
  std::string hash;        // "" = the enclave's default (sha256; ed25519 none)
  std::string format;      // "" = the enclave's default (der; ed25519 raw)
  std::string path;        // "" = none; an HD seed's derivation path
};

// --hash and --format as SignOptions (CLI::IsMember has checked the names).
signer::SignOptions SignOptionsOf(const std::string& hash, const std::string& format) {
  signer::SignOptions options;
  if (!hash.empty()) options.hash = *signer::ParseHashAlgorithm(hash);
  if (!format.empty()) options.format = *signer::ParseSignatureFormat(format);
  return options;
}

// --hash and --format for sign and verify, with the same names and defaults.
void AddSignOptionFlags(CLI::App* cmd, std::string& hash, std::string& format) {
  cmd->add_option("--hash", hash,
                  "Digest signed: sha256, sha384, sha512, keccak256, or none (the message is the "
                  "digest: 32 bytes for p256/secp256k1, 48 for p384, 64 for p521). Default: "
                  "sha256 (ed25519: none, the only choice)")
      ->check(CLI::IsMember({"sha256", "sha384", "sha512", "keccak256", "none"}));
  cmd->add_option("--format", format,
                  "Signature encoding: der, raw (r||s, as JOSE ES256/ES384/ES512), or "
                  "recoverable (secp256k1: r||s||v, v the recovery id 0/1). Default: der "
                  "(ed25519: raw, the only choice)")
      ->check(CLI::IsMember({"der", "raw", "recoverable"}));
}

// `lockout sign --attest`: one sign request with "attest" (docs/PROTOCOL.md §2, "Attested
// replies") and a fresh 32-byte nonce; the reply is saved as an attested-reply file for
// `lockout verify --attested`. The request is signed here (not by the client) so that the file
// holds it exactly as sent.
int RunSignAttested(ops::EnclaveV2Client& client, const auth::ClientKey* client_key,
                    const Bytes& message, const signer::SignOptions& options,
                    const std::string& path, const std::string& out_path) {
  const Bytes nonce = crypto::RandomBytes(32);
  nlohmann::json request = {{"op", "sign"},
                            {"message", Base64Encode(message)},
                            {"attest", {{"nonce", Base64Encode(nonce)}}}};
  ops::AddSignOptions(options, request);
  if (!path.empty()) request["path"] = path;
  if (client_key != nullptr) {
    absl::Status signed_request = auth::SignRequest(*client_key, absl::Now(), request);
    if (!signed_request.ok()) return Fail(absl::StrCat("sign: ", signed_request.message()));
  }
  absl::StatusOr<nlohmann::json> reply = client.Call(request);
  if (!reply.ok()) {
    std::string hint;
    if (absl::StrContains(reply.status().message(), "busy")) {
      hint =
          "; attested replies are rate-limited (lockout-enclave "
          "--attested-replies-per-second): retry later";
    }
    return Fail(absl::StrCat("sign: ", reply.status().message(), hint));
  }
  absl::StatusOr<std::string> sig_hex = ops::ReplyString(*reply, "signature");
  absl::StatusOr<std::string> doc_b64 = ops::ReplyString(*reply, "attestation");
  if (!sig_hex.ok()) return Fail(absl::StrCat("sign: ", sig_hex.status().message()));
  if (!doc_b64.ok()) return Fail(absl::StrCat("sign: ", doc_b64.status().message()));
  absl::StatusOr<Bytes> sig = HexDecode(*sig_hex);
  absl::StatusOr<Bytes> doc = Base64Decode(*doc_b64);
  if (!sig.ok() || !doc.ok())
    return Fail("sign: the reply's signature or attestation is malformed");
  const std::string file =
      attest::AttestedReplyToJson({.request = request, .signature = *sig, .attestation = *doc});
  if (out_path.empty()) {
    std::cout << file << "\n";
    return kExitOk;
  }
  absl::Status written = WriteFileAtomic(out_path, ToBytes(file + "\n"), 0644);
  if (!written.ok()) return Fail(absl::StrCat("--out: ", written.message()));
  nlohmann::ordered_json summary;
  summary["signature"] = *sig_hex;
  summary["attested_reply"] = out_path;
  std::cout << summary.dump() << "\n";
  return kExitOk;
}

int RunSign(CLI::App* cmd, const SignArgs& a) {
  absl::StatusOr<net::Endpoint> endpoint = EnclaveEndpoint(a.enclave);
  if (!endpoint.ok()) return Usage(Std(endpoint.status().message()));
  absl::StatusOr<Bytes> message = MessageBytes(cmd, a.message);
  if (!message.ok()) return Usage(Std(message.status().message()));
  if (!a.client_key.empty() && a.protocol == "v1") {
    return Usage("--client-key signs v2 requests; v1 (the seed's protocol) has no place for it");
  }
  if (a.attest && a.protocol == "v1") {
    return Usage("--attest needs v2; v1 (the seed's protocol) has no attested replies");
  }
  if (!a.out.empty() && !a.attest) return Usage("--out saves an attested reply: add --attest");
  if ((!a.hash.empty() || !a.format.empty()) && a.protocol == "v1") {
    return Usage("--hash and --format need v2; v1 (the seed's protocol) is always sha256, der");
  }
  const signer::SignOptions sign_options = SignOptionsOf(a.hash, a.format);
  if (!a.path.empty()) {
    if (a.protocol == "v1") return Usage("--path needs v2; v1 (the seed's protocol) has no path");
    absl::StatusOr<hd::DerivationPath> path = hd::DerivationPath::Parse(a.path);
    if (!path.ok()) return Usage(absl::StrCat("--path: ", path.status().message()));
  }
  if (ParseOnly()) return kExitOk;
  absl::StatusOr<std::shared_ptr<const auth::ClientKey>> key =
      LoadClientKeyOption(a.client_key, "lockout");
  if (!key.ok()) return Usage(std::string(key.status().message()));
  const std::shared_ptr<const auth::ClientKey> client_key = *std::move(key);
  const absl::Duration timeout = absl::Seconds(a.timeout_s);
  if (a.protocol == "v1") {
    absl::StatusOr<std::string> reply = ops::SignV1(*endpoint, *message, timeout);
    if (!reply.ok()) return Fail(absl::StrCat("sign: ", reply.status().message()));
    std::cout << *reply << "\n";  // the seed's reply, verbatim
    return ops::ParseV1SignReply(*reply).ok() ? kExitOk : kExitFailed;
  }
  absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> client =
      ops::EnclaveV2Client::Connect(*endpoint, timeout);
  if (!client.ok()) return Fail(absl::StrCat("sign: ", client.status().message()));
  if (a.attest) {
    return RunSignAttested(**client, client_key.get(), *message, sign_options, a.path, a.out);
  }
  if (client_key != nullptr) (*client)->Authenticate(client_key);
  (*client)->UsePath(a.path);
  absl::StatusOr<Bytes> sig = (*client)->Sign(*message, sign_options);
  if (!sig.ok()) {
    std::string hint;
    if (absl::StrContains(sig.status().message(), "unauthorized")) {
      hint = client_key == nullptr
                 ? "; the enclave has a signing policy: sign with --client-key FILE"
                 : "; the enclave's log names the rule (unknown client, op or key not allowed, "
                   "stale timestamp: check this host's clock, ...)";
    }
    if (absl::StrContains(sig.status().message(), "bad request") &&
        (!a.hash.empty() || !a.format.empty())) {
      hint =
          "; check --hash/--format against the key type (ed25519: none/raw only; recoverable: "
          "secp256k1 only; --hash none: a digest of the curve's size)";
    }
    return Fail(absl::StrCat("sign: ", sig.status().message(), hint));
  }
  nlohmann::ordered_json out;
  out["signature"] = HexEncode(*sig);
  std::cout << out.dump() << "\n";
  return kExitOk;
}

struct VerifyArgs {
  std::string public_key;
  MessageArgs message;
  std::string signature;
  // --attested REPLY.json and its checks
  std::string attested;
  std::vector<std::string> expect_pcr;
  std::vector<std::string> roots;
  std::string nonce;
  bool json = false;
  std::string hash;  // as for sign; "" = the default
  std::string format;
};

int RunVerifyAttested(const VerifyArgs& a, const Bytes& message) {
  attest::AttestedReplyOptions options;
  options.trusted_roots.push_back(attest::AwsNitroRootG1Der());
  for (const std::string& e : a.expect_pcr) {
    absl::StatusOr<ops::PcrExpectation> x = ops::ParsePcrExpectation(e);
    if (!x.ok()) return Usage(Std(x.status().message()));
    if (!options.expect_pcrs.emplace(x->index, x->value).second) {
      return Usage(absl::StrCat("--expect-pcr ", x->index, " given twice"));
    }
  }
  for (const std::string& path : a.roots) {
    absl::StatusOr<std::vector<Bytes>> certs = attest::CertificatesFromPemFile(path);
    if (!certs.ok()) return Usage(absl::StrCat("--root-cert: ", certs.status().message()));
    options.trusted_roots.insert(options.trusted_roots.end(), certs->begin(), certs->end());
  }
  if (!a.nonce.empty()) {
    absl::StatusOr<Bytes> nonce = HexDecodeAllowPrefix(a.nonce);
    if (!nonce.ok() || nonce->empty()) return Usage("--nonce must be hex (0x allowed)");
    options.expect_nonce = *std::move(nonce);
  }
  absl::StatusOr<std::string> text = ReadFileString(a.attested, kMaxInputFile);
  if (!text.ok()) return Usage(absl::StrCat("--attested: ", text.status().message()));
  if (ParseOnly()) return kExitOk;
  absl::StatusOr<attest::AttestedReply> reply = attest::ParseAttestedReply(*text);
  if (!reply.ok()) {
    if (a.json) {
      nlohmann::ordered_json out = {{"ok", false},
                                    {"failure", std::string(reply.status().message())}};
      std::cout << out.dump(2) << "\n";
    }
    return Fail(Std(reply.status().message()));
  }
  // The signature is checked with the hash and format the request asked for (the file holds the
  // request as sent; the enclave refused any it could not parse).
  signer::SignOptions sign_options;
  for (const char* member : {"hash", "format"}) {
    auto it = reply->request.find(member);
    if (it == reply->request.end()) continue;
    if (!it->is_string())
      return Fail(absl::StrCat("attested reply: request.", member, " is not a string"));
    const std::string& name = it->get_ref<const std::string&>();
    absl::Status parsed = absl::OkStatus();
    if (std::string_view(member) == "hash") {
      absl::StatusOr<signer::HashAlgorithm> h = signer::ParseHashAlgorithm(name);
      if (h.ok())
        sign_options.hash = *h;
      else
        parsed = h.status();
    } else {
      absl::StatusOr<signer::SignatureFormat> f = signer::ParseSignatureFormat(name);
      if (f.ok())
        sign_options.format = *f;
      else
        parsed = f.status();
    }
    if (!parsed.ok())
      return Fail(absl::StrCat("attested reply: request.", member, ": ", parsed.message()));
  }
  if ((!a.hash.empty() || !a.format.empty()) &&
      !(SignOptionsOf(a.hash, a.format) == sign_options)) {
    return Usage(
        "--hash/--format differ from the reply's request (with --attested they come from it)");
  }
  options.check_signature = [sign_options](ByteView spki, ByteView msg, ByteView sig) {
    return ops::VerifySignature(attest::SpkiDerToPem(spki), msg, sig, sign_options);
  };
  const attest::AttestedReplyResult result = attest::VerifyAttestedReply(*reply, message, options);
  if (a.json) {
    std::cout << result.ToJson().dump(2) << "\n";
  } else {
    for (const attest::AttestedReplyCheck& c : result.checks) {
      std::cout << (c.ok ? "ok    " : "FAIL  ") << c.name;
      if (!c.ok) std::cout << ": " << c.detail;
      std::cout << "\n";
    }
    std::cout << (result.ok() ? "attested reply OK\n" : "attested reply INVALID\n");
  }
  if (!result.ok()) return Fail(absl::StrCat("attested reply rejected: ", result.failure));
  return kExitOk;
}

int RunVerify(CLI::App* cmd, const VerifyArgs& a) {
  absl::StatusOr<Bytes> message = MessageBytes(cmd, a.message);
  if (!message.ok()) return Usage(Std(message.status().message()));
  if (!a.attested.empty()) {
    if (!a.public_key.empty() || !a.signature.empty()) {
      return Usage(
          "--attested takes the key and signature from the reply: drop --public-key "
          "and --signature");
    }
    return RunVerifyAttested(a, *message);
  }
  if (a.public_key.empty() || a.signature.empty()) {
    return Usage("verify needs --public-key and --signature (or --attested REPLY.json)");
  }
  if (!a.expect_pcr.empty() || !a.roots.empty() || !a.nonce.empty()) {
    return Usage("--expect-pcr, --root-cert and --nonce go with --attested");
  }
  absl::StatusOr<Bytes> sig = HexDecodeAllowPrefix(a.signature);
  if (!sig.ok() || sig->empty()) return Usage("--signature must be hex (0x allowed)");
  if (ParseOnly()) return kExitOk;
  std::string pem = a.public_key;
  if (!pem.starts_with("-----BEGIN")) {
    absl::StatusOr<std::string> file = ReadFileString(a.public_key, kMaxInputFile);
    if (!file.ok()) return Usage(absl::StrCat("--public-key: ", file.status().message()));
    pem = *std::move(file);
  }
  absl::StatusOr<std::string> key_type = ops::PublicKeyType(pem);
  if (!key_type.ok()) return Usage(absl::StrCat("--public-key: ", key_type.status().message()));
  const signer::SignOptions sign_options = SignOptionsOf(a.hash, a.format);
  // Options the key type cannot have signed with, or a --hash none digest of the wrong size,
  // are usage errors, not invalid signatures.
  if (absl::Status usable =
          signer::ResolveSignOptions(*signer::ParseKeyType(*key_type), sign_options).status();
      !usable.ok()) {
    return Usage(absl::StrCat("--hash/--format: ", usable.message()));
  }
  absl::Status ok = ops::VerifySignature(pem, *message, *sig, sign_options);
  if (absl::IsInvalidArgument(ok)) return Usage(Std(ok.message()));
  if (!ok.ok()) {
    if (a.json) {
      std::cout << nlohmann::ordered_json{{"ok", false}, {"failure", Std(ok.message())}}.dump()
                << "\n";
    } else {
      std::cout << "signature INVALID\n";
    }
    return Fail(Std(ok.message()));
  }
  const std::string hash = *key_type == "ed25519" ? "none" : (a.hash.empty() ? "sha256" : a.hash);
  const std::string format = *key_type == "ed25519" ? "raw" : (a.format.empty() ? "der" : a.format);
  if (a.json) {
    std::cout << nlohmann::ordered_json{{"ok", true},
                                        {"key_type", *key_type},
                                        {"hash", hash},
                                        {"format", format}}
                     .dump()
              << "\n";
  } else if (*key_type == "ed25519") {
    std::cout << "signature OK (ed25519)\n";
  } else {
    std::cout << "signature OK (" << *key_type << ", " << hash << ", " << format << ")\n";
  }
  return kExitOk;
}

// ---- attest (client mode) ----

struct AttestClientArgs {
  std::string enclave;
  std::vector<std::string> expect_pcr;
  std::vector<std::string> roots;
  double timeout_s = 10;
  bool json = false;  // accepted for scripts: the output is always JSON
};

int RunAttestClient(const AttestClientArgs& a) {
  absl::StatusOr<net::Endpoint> endpoint = EnclaveEndpoint(a.enclave);
  if (!endpoint.ok()) return Usage(Std(endpoint.status().message()));
  ops::AttestClientOptions options;
  for (const std::string& e : a.expect_pcr) {
    absl::StatusOr<ops::PcrExpectation> x = ops::ParsePcrExpectation(e);
    if (!x.ok()) return Usage(Std(x.status().message()));
    options.expect.push_back(*std::move(x));
  }
  for (const std::string& path : a.roots) {
    absl::StatusOr<std::vector<Bytes>> certs = attest::CertificatesFromPemFile(path);
    if (!certs.ok()) return Usage(absl::StrCat("--root: ", certs.status().message()));
    options.extra_roots.insert(options.extra_roots.end(), certs->begin(), certs->end());
  }
  if (ParseOnly()) return kExitOk;
  absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> client =
      ops::EnclaveV2Client::Connect(*endpoint, absl::Seconds(a.timeout_s));
  if (!client.ok()) return Fail(absl::StrCat("attest: ", client.status().message()));
  absl::StatusOr<ops::AttestClientResult> r = ops::AttestEnclave(**client, options);
  if (!r.ok()) return Fail(absl::StrCat("attest: ", r.status().message()));
  std::cout << r->ToJson().dump(2) << "\n";
  if (!r->ok()) return Fail(absl::StrCat("attestation rejected: ", r->failure));
  return kExitOk;
}

}  // namespace

void RegisterOperatorCommands(CLI::App& app, CommandContext& ctx) {
  // create-key
  {
    auto a = std::make_shared<CreateKeyArgs>();
    auto* cmd = app.add_subcommand(
        "create-key",
        "Generate a signing key (or import one: --import), KMS-encrypt its PKCS#8 form and store\n"
        "it as a SecretBinary. Prints the public key (PEM; secp256k1 also the address) and the\n"
        "signing policy's \"key\" pin for it. The private key is wiped.\n"
        "--import FILE (- for stdin) takes an existing key: PEM PKCS#8 (PRIVATE KEY), DER PKCS#8,\n"
        "PEM SEC1 (EC PRIVATE KEY; P-256, P-384, P-521, secp256k1) or 64 hex digits (a raw\n"
        "secp256k1 key, or --type p256/ed25519). Never put the key itself on the command line.\n"
        "WARNING: an imported key existed outside the enclave before: the lock-out covers it\n"
        "only from now on. Destroy every other copy, and pin it in the signing policy.\n"
        "Example: lockout create-key --kms-key alias/lockout --secret lockout/signing-key\n"
        "HD keys: --hd stores a fresh 64-byte BIP-32/SLIP-10 seed instead (--type secp256k1\n"
        "(default), p256 or ed25519); --import-mnemonic FILE a BIP-39 mnemonic's seed (with the\n"
        "passphrase in --mnemonic-passphrase-file FILE if it has one: printable ASCII, one final\n"
        "newline ignored, an empty file is the empty passphrase; never on the command line),\n"
        "--import-seed FILE a hex seed. Requests then name a derivation path.\n"
        "Example: lockout create-key --kms-key alias/lockout --secret lockout/signing-key\n"
        "Example: lockout create-key --kms-key alias/lockout --secret lockout/eth --import - < "
        "key.hex\n"
        "Example: lockout create-key --kms-key alias/lockout --secret lockout/wallet --hd\n"
        "--in-enclave: a running enclave generates the key (or with --hd the seed) itself.\n"
        "Example: lockout create-key --in-enclave --hd --enclave vsock://20:5010 --kms-key "
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab --secret "
        "lockout/wallet --key-type secp256k1\n"
        "Example: lockout create-key --kms-key alias/lockout --secret lockout/wallet "
        "--import-mnemonic - < words.txt\n"
        "Example: lockout create-key --kms-key alias/lockout --secret lockout/wallet "
        "--import-mnemonic words.txt --mnemonic-passphrase-file - < passphrase.txt");
    cmd->footer(kAwsConfigHelp);
    cmd->add_option("--kms-key", a->kms_key, "KMS key: key id, key ARN, alias/NAME or alias ARN")
        ->required();
    cmd->add_option("--secret", a->secret, "Secrets Manager secret name")->required();
    cmd->add_option(
           "--type", a->type,
           "p521 (default, the seed's), p256, p384, secp256k1, ed25519; with --import: the "
           "type the key must have (a raw hex key: secp256k1 unless given); with --hd, "
           "--import-mnemonic or --import-seed: secp256k1 (default), p256 or ed25519")
        ->check(CLI::IsMember({"p256", "p384", "p521", "secp256k1", "ed25519"}));
    cmd->add_option("--import", a->import_file,
                    "Import the private key in FILE (- for stdin) instead of generating one")
        ->option_text("FILE");
    auto* hd_flag = cmd->add_flag(
        "--hd", a->hd, "Generate an HD seed secret (BIP-32 / SLIP-10) instead of a single key");
    auto* mnemonic = cmd->add_option("--import-mnemonic", a->import_mnemonic,
                                     "Store the seed of the BIP-39 mnemonic in FILE (- for stdin)")
                         ->option_text("FILE");
    auto* seed_hex = cmd->add_option("--import-seed", a->import_seed,
                                     "Store the hex seed (16..64 bytes) in FILE (- for stdin)")
                         ->option_text("FILE");
    cmd->add_option("--mnemonic-passphrase-file", a->mnemonic_passphrase_file,
                    "The BIP-39 passphrase of --import-mnemonic's mnemonic, in FILE (- for "
                    "stdin); printable ASCII, one final newline ignored; an empty file is the "
                    "empty passphrase. Never the passphrase itself")
        ->option_text("FILE")
        ->needs(mnemonic);
    hd_flag->excludes(mnemonic)->excludes(seed_hex);
    mnemonic->excludes(seed_hex);
    cmd->get_option("--import")->excludes(hd_flag)->excludes(mnemonic)->excludes(seed_hex);
    cmd->add_flag("--overwrite", a->overwrite, "Store a new version if the secret exists");
    cmd->add_flag("--json", a->json, "Print the result as JSON");
    auto e = std::make_shared<InEnclaveArgs>();
    AddInEnclaveOptions(cmd, *e);
    // Imported seeds are by definition not born in the enclave.
    for (CLI::Option* o : {mnemonic, seed_hex}) o->excludes("--in-enclave");
    cmd->callback([a, e, &ctx] {
      ctx.exit_code =
          e->enabled ? RunCreateKeyInEnclave(*e, a->kms_key, a->secret, a->type, a->hd, a->json)
                     : RunCreateKey(*a);
    });
  }
  // policy, policy lint
  {
    auto a = std::make_shared<PolicyArgs>();
    auto* cmd = app.add_subcommand(
        "policy",
        "Write the KMS key policy that locks the key to one enclave image.\n"
        "  seed: the tutorial's end state (leaks the key through ReEncrypt and the admin's\n"
        "  CreateGrant/PutKeyPolicy); recommended (default): an admin role that cannot decrypt,\n"
        "  grant or rewrite the policy; explicit Denies of Decrypt without the right\n"
        "  attestation, of ReEncrypt and CreateGrant for everyone, and of PutKeyPolicy for all\n"
        "  but --policy-admin-role (without it, the policy is immutable once applied).\n"
        "Example: lockout policy --enclave-role ARN --admin-role ARN --eif lockout.eif");
    cmd->add_option("--mode", a->mode, "seed or recommended")
        ->check(CLI::IsMember({"seed", "recommended"}));
    cmd->add_option("--enclave-role", a->enclave_role, "The parent instance's IAM role ARN");
    cmd->add_option("--admin-role", a->admin_role, "The key administrators' IAM role ARN");
    cmd->add_option("--policy-admin-role", a->policy_admin_role,
                    "recommended: the break-glass principal that alone may PutKeyPolicy. Without "
                    "it the applied policy is IMMUTABLE (nobody can change it)");
    cmd->add_option("--pcr0", a->pcr0.pcr0_hex, "The enclave image's PCR0 (96 hex digits)");
    cmd->add_option("--eif", a->pcr0.eif_path, "Take PCR0 from this EIF");
    cmd->add_option("--enclave-binary", a->pcr0.enclave_binary_path,
                    "Take PCR0 from this binary as local-aws measures it");
    cmd->add_option("--pcr8", a->pcr8, "Also require this PCR8 (EIF signing certificate)");
    cmd->add_option("--pcr3-role", a->pcr3_role, "Also require PCR3 of this parent role ARN");
    cmd->add_option("--signing-policy", a->signing_policy,
                    "Also pin kms:RecipientAttestation:PCR16 to the PCR16 this signing policy "
                    "file gives (lockout signing-policy hash FILE): the key then goes only to an "
                    "enclave booted with exactly this policy, not one where root on the parent "
                    "added a client of its own");
    cmd->add_option("--out", a->out, "Write the policy to FILE instead of stdout");
    cmd->add_flag("--apply", a->apply, "PutKeyPolicy on --kms-key");
    cmd->footer(kAwsConfigHelp);
    cmd->add_option(
        "--kms-key", a->kms_key,
        "The KMS key to apply the policy to (key id, key ARN, alias/NAME or alias ARN)");
    cmd->require_subcommand(0, 1);
    auto* lint = cmd->add_subcommand(
        "lint",
        "Explain a key policy in plain words: who can decrypt, who can change the policy, what "
        "root on the parent instance can still do.\n"
        "Exit: 0 locked (nobody can get the plaintext outside the pinned enclave, by Decrypt,\n"
        "ReEncrypt, a grant or a policy change); 1 NOT locked; 4 locked except that a\n"
        "break-glass principal may rewrite the policy; 3 the policy could not be read or\n"
        "parsed; 2 usage error.\n"
        "Example: lockout policy lint policy.json   |   lockout policy lint --kms-key ID");
    lint->add_option("FILE", a->lint_file, "The policy document (JSON); - for standard input");
    lint->footer(kAwsConfigHelp);
    lint->add_option(
        "--kms-key", a->lint_kms_key,
        "Lint this key's current policy (GetKeyPolicy; key id, key ARN, alias/NAME or alias ARN)");
    lint->add_option("--account", a->lint_account, "Account id to evaluate (default: from ARNs)");
    lint->add_flag("--json", a->lint_json, "Print the findings as JSON");
    lint->add_option("--signing-policy", a->signing_policy,
                     "The signing policy the enclave runs: a finding unless the key policy pins "
                     "kms:RecipientAttestation:PCR16 to exactly its PCR16");
    lint->callback([a, &ctx] { ctx.exit_code = RunPolicyLint(*a); });
    // The policy options are required only when writing a policy, not for `policy lint`.
    cmd->callback([a, lint, &ctx] {
      if (lint->parsed()) return;
      if (a->enclave_role.empty() || a->admin_role.empty()) {
        ctx.exit_code = Usage("policy needs --enclave-role ARN and --admin-role ARN");
        return;
      }
      ctx.exit_code = RunPolicy(*a);
    });
  }
  // check-lockout
  {
    auto a = std::make_shared<CheckArgs>();
    auto* cmd = app.add_subcommand(
        "check-lockout",
        "Try every way these credentials could get the signing key without the pinned enclave:\n"
        "  leak paths: Decrypt without attestation; Decrypt with a debug-mode attestation\n"
        "  (--nsm); ReEncrypt to a key you may use (--probe-key, or one it creates and schedules\n"
        "  for deletion), then Decrypt; CreateGrant to yourself, then Decrypt / ReEncrypt with\n"
        "  it; PutKeyPolicy with the current policy (nothing changes).\n"
        "  substitution paths (reported, not in the exit status): PutSecretValue / UpdateSecret\n"
        "  (the current version's own id and value: ignored by AWS), Encrypt (DryRun),\n"
        "  UpdateAlias (to the key it already names).\n"
        "One line per path: closed / OPEN / not tried, with why. Leaves nothing behind: grants\n"
        "revoked, probe keys scheduled for deletion, the secret checked untouched.\n"
        "Exit: 0 every leak path tried is closed (the debug-mode Decrypt is tried only with\n"
        "--nsm; without it that line says `not tried` and is left out); 1 a leak path is OPEN;\n"
        "3 inconclusive (none open, but one could not be tried); 2 usage error.\n"
        "Example: lockout check-lockout --kms-key alias/lockout --secret lockout/signing-key "
        "--json");
    cmd->footer(kAwsConfigHelp);
    cmd->add_option("--kms-key", a->kms_key, "KMS key: key id, key ARN, alias/NAME or alias ARN")
        ->required();
    cmd->add_option("--secret", a->secret, "Secrets Manager secret name")->required();
    cmd->add_option("--probe-key", a->probe_key,
                    "ReEncrypt the secret to this key (one you may use); default: create one");
    cmd->add_option("--caller-arn", a->caller_arn,
                    "Your principal's ARN, the grantee of the probe grant (default: learned from "
                    "an AccessDenied message)");
    cmd->add_option("--nsm", a->nsm,
                    "An NSM for the debug-mode Decrypt: /dev/nsm or unix:///PATH (local-aws's "
                    "debug NSM socket)");
    cmd->add_option("--signing-policy", a->signing_policy,
                    "Also report whether the key policy pins kms:RecipientAttestation:PCR16 to "
                    "this signing policy's PCR16 (reported; not in the exit status)");
    cmd->add_flag("--json", a->json, "Print the report as JSON");
    cmd->callback([a, &ctx] { ctx.exit_code = RunCheckLockout(*a); });
  }
  // doctor
  {
    auto a = std::make_shared<DoctorArgs>();
    auto* cmd = app.add_subcommand(
        "doctor",
        "Check a running setup end to end (credentials, secret, relay, enclave, PCR0 vs policy)\n"
        "and name the first broken link.");
    cmd->add_option("--secret", a->secret, "Secrets Manager secret name")->required();
    cmd->add_option("--kms-key", a->kms_key,
                    "Compare the enclave's PCR0 with this key's policy (key id, key ARN, "
                    "alias/NAME or alias ARN)");
    cmd->add_option("--relay", a->relay, "The relay, from this host")->capture_default_str();
    cmd->add_option("--enclave", a->enclave, "The enclave")->capture_default_str();
    cmd->add_option("--min-validity", a->min_validity_minutes,
                    "Minutes credentials must stay valid")
        ->capture_default_str();
    cmd->add_flag("--json", a->json,
                  "Print the checks as JSON: {ok, first_broken, checks: [{name, state, detail}]}");
    cmd->footer(absl::StrCat(
        "\nExit: 0 every link works; 1 a link is broken (named on the last line); 2 usage "
        "error.\nExample: lockout doctor --secret lockout/signing-key --kms-key alias/lockout\n\n",
        kAwsConfigHelp));
    cmd->callback([a, &ctx] { ctx.exit_code = RunDoctor(*a); });
  }
  // sign
  {
    auto a = std::make_shared<SignArgs>();
    auto* cmd = app.add_subcommand(
        "sign",
        "Ask the enclave to sign a message. v1 prints the seed's JSON reply verbatim.\n"
        "Example: lockout sign --enclave vsock://20:5010 --message 'Hello, sign this message!'");
    cmd->add_option("--enclave", a->enclave, "The enclave (vsock://CID:PORT, tcp://, unix://)")
        ->required();
    AddMessageOptions(cmd, a->message);
    cmd->add_option("--protocol", a->protocol, "v1 (the seed's) or v2")
        ->check(CLI::IsMember({"v1", "v2"}))
        ->capture_default_str();
    cmd->add_option("--timeout", a->timeout_s, "Seconds")->capture_default_str();
    cmd->add_option("--client-key", a->client_key,
                    "Sign the request with this client key (lockout client-key create): "
                    "required by an enclave that runs with a signing policy")
        ->type_name("FILE");
    cmd->add_flag("--attest", a->attest,
                  "Ask for an attested reply: the signature plus an NSM attestation document "
                  "whose nonce is a fresh one of ours and whose user_data binds the request, "
                  "the signature and the public key. Prints (or --out saves) the reply file "
                  "for `lockout verify --attested`");
    cmd->add_option("--out", a->out, "With --attest: write the attested reply to FILE")
        ->type_name("FILE");
    cmd->add_flag("--json", a->json,
                  "JSON output (the default: sign always prints one JSON object, "
                  "{\"signature\": HEX}; v1 the seed's reply)");
    AddSignOptionFlags(cmd, a->hash, a->format);
    cmd->add_option("--path", a->path,
                    "Derivation path of the enclave's HD seed, e.g. m/44'/60'/0'/0/0 (required "
                    "with an HD seed secret; an error with a single key)")
        ->option_text("PATH");
    cmd->footer(
        "\nAn enclave started with --signing-policy serves only requests signed by a client its\n"
        "policy lists (docs/PROTOCOL.md, \"Authenticated requests\"): pass that client's key "
        "file.\n"
        "  lockout sign --enclave vsock://20:5010 --client-key gateway.key --message hello\n"
        "A refusal is the one error \"unauthorized\"; the enclave's log says which rule refused "
        "it.\n"
        "\nAttested reply (proof of which enclave image and signing policy signed):\n"
        "  lockout sign --enclave vsock://20:5010 --message hello --attest --out reply.json\n"
        "  lockout verify --attested reply.json --message hello --expect-pcr 0=HEX "
        "--expect-pcr 16=HEX\n"
        "Attested replies are rate-limited by the enclave (\"busy\" over the limit).\n"
        "\nHash and format (v2; docs/PROTOCOL.md \"Hash and signature format\"), e.g. a JOSE\n"
        "ES256 signature, or an Ethereum one over a Keccak-256 digest you computed:\n"
        "  lockout sign --enclave vsock://20:5010 --message hello --hash sha256 --format raw\n"
        "  lockout sign --enclave vsock://20:5010 --hash none --format recoverable "
        "--bytes-b64 2vWnea6XL5chlzA9e1dHRsfvg+rawPJ5GtI9uS5MjlM=\n"
        "  (that digest: the EIP-155 example transaction's signing hash)\n"
        "\nHD seed secret (create-key --hd; docs/WALLET.md \"HD keys\"): name the child key:\n"
        "  lockout sign --enclave vsock://20:5010 --message hello --path \"m/44'/60'/0'/0/0\"");
    cmd->callback([a, cmd, &ctx] { ctx.exit_code = RunSign(cmd, *a); });
  }
  // verify
  {
    auto a = std::make_shared<VerifyArgs>();
    auto* cmd = app.add_subcommand(
        "verify",
        "Verify a signature: ECDSA for EC keys (by default SHA-256 and DER; --hash and --format\n"
        "as given to `lockout sign`), Ed25519 raw.\n"
        "Example: lockout verify --public-key key.pem --message 'Hello' "
        "--signature \"$(cat sig.hex)\"\n"
        "  (sig.hex: lockout sign --enclave vsock://20:5010 --message 'Hello' | jq -r .signature)\n"
        "Or an attested reply (lockout sign --attest) end to end:\n"
        "  lockout verify --attested reply.json --message 'Hello' --expect-pcr 0=HEX "
        "--expect-pcr 16=HEX");
    cmd->add_option("--public-key", a->public_key, "PEM file (or PEM text) of the public key");
    AddMessageOptions(cmd, a->message);
    cmd->add_option("--signature", a->signature, "The signature, hex (0x allowed)");
    cmd->add_option("--attested", a->attested,
                    "Verify this attested reply file (lockout sign --attest --out FILE) instead "
                    "of --public-key/--signature")
        ->type_name("REPLY.json");
    cmd->add_option("--expect-pcr", a->expect_pcr,
                    "With --attested: require PCR N to equal HEX (N=HEX, repeatable), e.g. "
                    "0=<the image's PCR0> 16=<lockout signing-policy hash>")
        ->allow_extra_args(false);
    cmd->add_option("--root-cert,--root", a->roots,
                    "With --attested: also trust this root certificate (PEM), e.g. local-aws's "
                    "NSM root; the AWS Nitro root G1 is always trusted")
        ->allow_extra_args(false)
        ->type_name("PEM");
    cmd->add_option("--nonce", a->nonce,
                    "With --attested: also require the document's nonce to be this (hex), the "
                    "one you sent, rather than only the one the reply file's request names");
    cmd->add_flag("--json", a->json,
                  "Print the verdict as JSON: {ok, key_type} or {ok, failure}; with --attested "
                  "every check");
    AddSignOptionFlags(cmd, a->hash, a->format);
    cmd->footer(
        "\n--attested checks, and names the first that fails: message (the reply's request is\n"
        "for the message given), document (COSE signature and certificate chain to a trusted\n"
        "root), pcrN (each --expect-pcr), nonce (the document's is the request's attest nonce),\n"
        "binding (user_data = the binding of request, signature and public_key:\n"
        "docs/PROTOCOL.md \"Attested replies\"), signature (valid over the message with the\n"
        "document's public_key). Without --expect-pcr the document proves a Nitro enclave, not\n"
        "which image: pass 0= (and 16= for a signing policy).\n"
        "With --attested the hash and format are the reply's request's (--hash/--format, if\n"
        "given, must agree). --format recoverable also checks that the key recovered from the\n"
        "signature is --public-key.\n"
        "Exit status: 0 valid; 1 invalid (every check on stdout, the first failure on stderr);\n"
        "2 usage error (unreadable file, bad --expect-pcr).");
    cmd->callback([a, cmd, &ctx] { ctx.exit_code = RunVerify(cmd, *a); });
  }
  // attest --enclave URI: the client mode beside `attest verify` (src/cli/attest_command.cc).
  CLI::App* attest = nullptr;
  try {
    attest = app.get_subcommand("attest");
  } catch (const CLI::OptionNotFound&) {
    attest = app.add_subcommand("attest", "Attestation");
  }
  {
    auto a = std::make_shared<AttestClientArgs>();
    attest->require_subcommand(0, 1);
    attest->add_option("--enclave", a->enclave,
                       "Ask this running enclave for a fresh attestation (client mode)");
    attest->add_option("--expect-pcr", a->expect_pcr, "Require PCR N to equal HEX (N=HEX)")
        ->allow_extra_args(false);
    attest
        ->add_option("--root,--root-cert", a->roots,
                     "Extra trusted root PEM (e.g. local-aws's NSM root); AWS root G1 always")
        ->allow_extra_args(false);
    attest->add_option("--timeout", a->timeout_s, "Seconds")->capture_default_str();
    attest->add_flag("--json", a->json, "JSON output (the default: attest always prints JSON)");
    attest->footer(
        "\nClient mode: lockout attest --enclave URI [--expect-pcr N=HEX]... [--root PEM]\n"
        "sends a fresh random nonce, verifies the document, the nonce, the PCRs and that it binds\n"
        "the enclave's signing key; prints JSON; exit 0 only if all hold.");
    attest->callback([a, attest, &ctx] {
      if (!attest->get_subcommands().empty()) return;  // `attest verify` ran
      if (a->enclave.empty()) {
        ctx.exit_code = Usage("attest needs --enclave URI or the `verify` subcommand; see --help");
        return;
      }
      ctx.exit_code = RunAttestClient(*a);
    });
  }
}

}  // namespace lockout::cli
