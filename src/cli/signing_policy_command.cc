// `lockout signing-policy hash FILE [--json]`: what sealing a signing policy gives.
//
// The enclave extends PCR16 with PolicyDigest(policy) at boot and locks it
// (src/enclave/policy_seal.h); the key policy pins kms:RecipientAttestation:PCR16 to the result
// (`lockout policy --signing-policy FILE`). This command prints both numbers for a policy file
// and checks the file as the enclave will (the same strict parser).
//
// Exit status: 0 printed; 1 the file cannot be read or is not a valid signing policy (the message
// names the field); 2 usage error.

#include <iostream>
#include <string>

#include "nlohmann/json.hpp"
#include "src/cli/commands.h"
#include "src/common/encoding.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::cli {
namespace {

struct SigningPolicyArgs {
  std::string file;
  bool json = false;
};

std::string Hex(const std::array<uint8_t, 48>& d) {
  return HexEncode(ByteView(d.data(), d.size()));
}

int RunHash(const SigningPolicyArgs& a) {
  absl::StatusOr<signpolicy::SigningPolicy> policy = signpolicy::ReadSigningPolicyFile(a.file);
  if (!policy.ok()) {
    std::cerr << "lockout: signing-policy hash: " << policy.status().message()
              << "; fix the file (docs/PROTOCOL.md, \"Signing policy\")\n";
    return 1;
  }
  const std::string digest = Hex(signpolicy::PolicyDigest(*policy));
  const std::string pcr16 = Hex(signpolicy::ExpectedPcr16(*policy));
  if (a.json) {
    nlohmann::ordered_json clients = nlohmann::ordered_json::array();
    for (const signpolicy::AuthorizedClient& c : policy->clients) clients.push_back(c.name);
    nlohmann::ordered_json out = {
        {"file", a.file},     {"policy_digest", digest},
        {"pcr16", pcr16},     {"condition_key", "kms:RecipientAttestation:PCR16"},
        {"clients", clients}, {"allow_unauthenticated_v1", policy->allow_unauthenticated_v1}};
    out["key_pin"] = policy->key.has_value()
                         ? nlohmann::ordered_json::parse(signpolicy::KeyPinJson(*policy->key))
                         : nlohmann::ordered_json(nullptr);
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "policy digest  " << digest << "\n"
            << "expected PCR16 " << pcr16 << "\n"
            << policy->clients.size() << " client(s)"
            << (policy->allow_unauthenticated_v1 ? "; unauthenticated v1 ALLOWED" : "") << "\n"
            << (policy->key.has_value()
                    ? "signing key pinned: " + signpolicy::DescribeKeyPin(*policy->key)
                    : std::string("signing key NOT pinned (add the \"key\" line `lockout "
                                  "create-key` printed)"))
            << "\n";
  return 0;
}

}  // namespace

void RegisterSigningPolicyCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand(
      "signing-policy",
      "The enclave's signing policy: who may sign what (docs/PROTOCOL.md, \"Signing policy\").");
  group->require_subcommand(1);
  auto a = std::make_shared<SigningPolicyArgs>();
  auto* hash = group->add_subcommand(
      "hash",
      "Check a signing policy file as the enclave will and print its digest and the PCR16 an\n"
      "enclave booted with it will have:\n"
      "  policy digest  = SHA-384(canonical encoding of the policy)\n"
      "  expected PCR16 = SHA-384(48 zero bytes || policy digest)\n"
      "The enclave (--signing-policy FILE) extends PCR16 with the digest and locks it before it\n"
      "asks KMS for its key; pin kms:RecipientAttestation:PCR16 to the expected value with\n"
      "`lockout policy --signing-policy FILE` and an enclave booted with any other policy (a\n"
      "client added by root on the parent) is refused the key.\n"
      "Example: lockout signing-policy hash signing-policy.json --json");
  hash->add_option("FILE", a->file, "The signing policy (JSON)")->required();
  hash->add_flag("--json", a->json, "Print JSON (file, policy_digest, pcr16, clients, key_pin)");
  hash->callback([a, &ctx] { ctx.exit_code = RunHash(*a); });
}

}  // namespace lockout::cli
