#include "src/cli/create_key_in_enclave.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/certificate.h"
#include "src/cli/client_key_option.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/strings.h"
#include "src/enclave/key_generation.h"
#include "src/hd/seed_secret.h"
#include "src/net/endpoint.h"
#include "src/operator/enclave_client.h"
#include "src/operator/enclave_key_generation.h"
#include "src/signer/signer.h"

namespace lockout::cli {
namespace {

int Usage(std::string_view message) { return cliutil::ReportUsageError("lockout", message); }

int Fail(std::string_view message) { return cliutil::ReportFailure("lockout", message); }

}  // namespace

void AddInEnclaveOptions(CLI::App* cmd, InEnclaveArgs& a) {
  CLI::Option* in_enclave =
      cmd->add_flag("--in-enclave", a.enabled,
                    "Have a running enclave generate the key (it never leaves the enclave): it "
                    "KMS-encrypts it under --kms-key (a key ARN), stores it through its relay "
                    "(write-once) and answers with the public key in an attestation document, "
                    "checked here. The enclave must run with --secret NAME (not yet existing). "
                    "With --hd the enclave makes an HD seed instead (the document binds the "
                    "master key and xpub).");
  // An imported key is by definition not born in the enclave.
  if (CLI::Option* import = cmd->get_option_no_throw("--import"); import != nullptr) {
    in_enclave->excludes(import);
  }
  cmd->add_option("--enclave", a.enclave,
                  "--in-enclave: the enclave (vsock://CID:PORT, tcp://, unix://)");
  cmd->add_option("--root-cert", a.roots,
                  "--in-enclave: a trusted root (PEM) for the attestation document besides the AWS "
                  "Nitro root G1; default also $LOCKOUT_NSM_ROOT_CERT (lockout local-aws env)");
  cmd->add_option("--client-key", a.client_key,
                  "--in-enclave: sign the request with this client key (an enclave with a signing "
                  "policy: the client must be allowed generate_key)");
  cmd->add_option("--key-type", a.key_type, "--in-enclave: the key type (as --type)")
      ->check(CLI::IsMember({"p256", "p384", "p521", "secp256k1", "ed25519"}));
  cmd->add_option("--timeout", a.timeout_s, "--in-enclave: seconds to wait for the enclave")
      ->capture_default_str();
}

int RunCreateKeyInEnclave(const InEnclaveArgs& a, const std::string& kms_key,
                          const std::string& secret, const std::string& type, bool hd, bool json) {
  std::string type_name = a.key_type.empty() ? type : a.key_type;
  if (type_name.empty()) type_name = hd ? "secp256k1" : "p521";  // create-key's defaults
  absl::StatusOr<signer::KeyType> key_type = signer::ParseKeyType(type_name);
  if (!key_type.ok()) return Usage(absl::StrCat("--key-type: ", key_type.status().message()));
  if (hd && !hd::CurveForKeyTypeName(type_name).ok()) {
    return Usage(
        "--hd --in-enclave: HD seeds exist for secp256k1 (BIP-32), p256 and ed25519 "
        "(SLIP-10) only");
  }
  if (a.enclave.empty()) return Usage("--in-enclave needs --enclave URI (e.g. vsock://20:5010)");
  absl::StatusOr<net::Endpoint> endpoint = net::Endpoint::Parse(a.enclave);
  if (!endpoint.ok()) return Usage(absl::StrCat("--enclave: ", endpoint.status().message()));
  if (!enclave::IsKmsKeyArn(kms_key)) {
    return Usage(
        "--in-enclave needs --kms-key as a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID): the "
        "enclave checks that KMS encrypted under exactly that key (aws kms describe-key gives it)");
  }
  ops::EnclaveKeyGenerationOptions options;
  options.kms_key_arn = kms_key;
  options.secret_name = secret;
  options.key_type = *key_type;
  options.hd = hd;
  options.trusted_roots.push_back(attest::AwsNitroRootG1Der());
  std::vector<std::string> roots = a.roots;
  if (const char* local = std::getenv("LOCKOUT_NSM_ROOT_CERT");
      roots.empty() && local != nullptr && *local != '\0') {
    roots.emplace_back(local);
  }
  for (const std::string& path : roots) {
    absl::StatusOr<std::vector<Bytes>> certs = attest::CertificatesFromPemFile(path);
    if (!certs.ok()) return Usage(absl::StrCat("--root-cert: ", certs.status().message()));
    options.trusted_roots.insert(options.trusted_roots.end(), certs->begin(), certs->end());
  }
  absl::StatusOr<std::shared_ptr<const auth::ClientKey>> key =
      LoadClientKeyOption(a.client_key, "lockout");
  if (!key.ok()) return Usage(std::string(key.status().message()));
  const std::shared_ptr<const auth::ClientKey> client_key = *std::move(key);
  if (cliutil::ParseOnly()) return cliutil::kExitOk;

  absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> client =
      ops::EnclaveV2Client::Connect(*endpoint, absl::Seconds(a.timeout_s));
  if (!client.ok())
    return Fail(absl::StrCat("create-key --in-enclave: ", client.status().message()));
  if (client_key != nullptr) (*client)->Authenticate(client_key);
  absl::StatusOr<ops::EnclaveKeyGenerationResult> r = ops::GenerateKeyInEnclave(**client, options);
  if (!r.ok()) return Fail(absl::StrCat("create-key --in-enclave: ", r.status().message()));
  if (json || !hd) {
    std::cout << r->ToJson().dump(2) << "\n";
  } else {
    // What create-key --hd prints (operator_commands.cc), from the attested reply.
    std::cout << r->public_key_pem;
    if (r->ethereum_address) std::cout << "address: " << *r->ethereum_address << "\n";
    std::cout << "hd seed: yes (the public key, address and pin are the master key m's)\n";
    if (r->xpub) std::cout << "xpub (m): " << *r->xpub << "\n";
    std::cout << "key type: " << signer::KeyTypeName(r->key_type) << "\n"
              << "kms key: " << r->kms_key_arn << "\n"
              << "secret: " << r->secret_name << " (version " << r->version_id << ")\n"
              << "signing-policy pin: \"key\": " << r->policy_pin << "\n"
              << "attestation: verified (module " << r->module_id << ")\n";
  }
  if (hd) {
    std::cerr << "The enclave generated a 64-byte HD seed (NSM entropy mixed in), KMS encrypted "
                 "it with the context {\"lockout:secret\": \""
              << secret << "\"} and stored it (version " << r->version_id
              << "); it has no mnemonic and never left the enclave. The attestation document "
                 "binds the master public key"
              << (r->xpub ? " and xpub" : "")
              << " above. Requests must name a derivation path (lockout sign --path "
                 "m/44'/60'/0'/0/0); limit the paths per client with \"paths\" in the signing "
                 "policy (docs/WALLET.md, \"HD keys\").\n";
  } else {
    std::cerr << "The enclave generated the key, KMS encrypted it with the context "
                 "{\"lockout:secret\": \""
              << secret << "\"} and stored it (version " << r->version_id
              << "); the attestation document binds the public key above.\n";
  }
  return cliutil::kExitOk;
}

}  // namespace lockout::cli
