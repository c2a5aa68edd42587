// `lockout audit verify FILE [--expect-pcr N=HEX]... [--root-cert PEM] [--expect-seq N]
//  [--strict] [--json]`: checks an audit trail file (lockout-relay --audit-log) —
// docs/PROTOCOL.md §5. The checks are src/audit/audit_verifier.h's; this file is flags and
// output. Exit status: 0 verified (gaps reported), 1 rejected (or a gap with --strict), 2 usage.

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/attest/attestation_document.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/certificate.h"
#include "src/audit/audit_verifier.h"
#include "src/cli/commands.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/operator/attest_client.h"

namespace lockout::cli {
namespace {

using cliutil::kExitOk;
constexpr int kExitRejected = cliutil::kExitFailed;
using cliutil::kExitUsage;

constexpr char kFooter[] = R"(
What is checked (docs/PROTOCOL.md, "Audit trail"):
  * every line is an audit record in its one encoding;
  * every chain (one per enclave boot) starts with a genesis whose attestation document is
    checked against --root-cert (default: the AWS Nitro root G1; a local-aws NSM has its own root,
    STATE_DIR/nsm/root-cert.pem) at the document's own time, commits to the chain's audit key
    (public_key and user_data), and carries every --expect-pcr;
  * seq counts up by one and every record holds the SHA-384 of the line before it;
  * every checkpoint's Ed25519 signature verifies with the chain's audit key.
Errors (exit 1): a line altered, removed, reordered or not a record; a forged checkpoint; an
attestation that does not verify, commit to the key or match --expect-pcr; a last chain signed
through less than --expect-seq (use the enclave's health "audit.acknowledged_seq": records
the relay acknowledged and then dropped from the end).
Gaps (reported; exit 1 only with --strict): "lost" records, which the enclave chains when its
buffer was full and it could not keep records, and the unsigned tail after a chain's last
checkpoint, which nobody vouches for.
Without an attestation document (an enclave started without an NSM) the output says so: the
signatures then show that one key signed the chain, not which enclave held it.

Examples:
  lockout audit verify /var/log/lockout/audit.jsonl --expect-pcr 0=$(jq -r .Measurements.PCR0 eif.json)
  lockout audit verify audit.jsonl --root-cert state/nsm/root-cert.pem --expect-seq 1200 --json)";

struct Args {
  std::string file;
  std::vector<std::string> expect_pcr;
  std::string root_cert;
  int64_t expect_seq = -1;
  bool strict = false;
  bool json = false;
};

int UsageError(const std::string& message) {
  std::cerr << "lockout: audit verify: " << message << "\n";
  return kExitUsage;
}

int RunVerify(const Args& args) {
  audit::VerifyOptions options;
  for (const std::string& text : args.expect_pcr) {
    absl::StatusOr<ops::PcrExpectation> e = ops::ParsePcrExpectation(text);
    if (!e.ok()) return UsageError(std::string(e.status().message()));
    options.expect_pcrs[e->index] = std::move(e->value);
  }
  options.trusted_roots = {attest::AwsNitroRootG1Der()};
  if (!args.root_cert.empty()) {
    absl::StatusOr<std::vector<Bytes>> certs = attest::CertificatesFromPemFile(args.root_cert);
    if (!certs.ok()) return UsageError(absl::StrCat("--root-cert: ", certs.status().message()));
    options.trusted_roots = *std::move(certs);
  }
  if (args.expect_seq >= 0) options.expect_seq = static_cast<uint64_t>(args.expect_seq);

  absl::StatusOr<audit::VerifyReport> report = audit::VerifyAuditFile(args.file, options);
  if (!report.ok()) {
    return UsageError(
        absl::StrCat(report.status().message(), "; give the relay's --audit-log FILE"));
  }
  const bool failed = !report->ok() || (args.strict && !report->gaps.empty());
  if (args.json) {
    nlohmann::json j = report->ToJson();
    j["ok"] = !failed;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << report->ToText();
  }
  if (failed) {
    std::cerr << "lockout: audit verify: " << args.file << " does not verify ("
              << report->errors.size() + report->errors_left_off << " error(s)"
              << (args.strict ? absl::StrCat(", ", report->gaps.size() + report->gaps_left_off,
                                             " gap(s) under --strict")
                              : std::string())
              << "); the first: "
              << (report->errors.empty()
                      ? (report->gaps.empty() ? std::string("-") : report->gaps[0].message)
                      : report->errors[0].message)
              << "\n";
    return kExitRejected;
  }
  return kExitOk;
}

}  // namespace

void RegisterAuditCommands(CLI::App& app, CommandContext& ctx) {
  auto* audit = app.add_subcommand(
      "audit", "Check the enclave's audit trail (lockout-relay --audit-log FILE)");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify", "Verify an audit trail file: hash chain, checkpoint signatures, attestation, gaps");
  auto args = std::make_shared<Args>();
  verify->add_option("FILE", args->file, "The relay's --audit-log file (JSON lines)")->required();
  verify->add_option("--expect-pcr", args->expect_pcr,
                     "Require every chain's enclave to have PCR N = HEX (repeatable), e.g. "
                     "--expect-pcr 0=f4d4... --expect-pcr 16=...");
  verify->add_option("--root-cert,--root", args->root_cert,
                     "PEM file with the trusted NSM root certificate(s) (default: AWS Nitro root "
                     "G1; local-aws: STATE_DIR/nsm/root-cert.pem)");
  verify->add_option("--expect-seq", args->expect_seq,
                     "The last chain must be signed through at least this seq (the enclave's "
                     "health: audit.acknowledged_seq): detects records removed from the end");
  verify->add_flag("--strict", args->strict,
                   "Also fail on gaps: lost records and an unsigned tail");
  verify->add_flag("--json", args->json, "Print the report as JSON");
  verify->footer(kFooter);
  verify->callback([&ctx, args] { ctx.exit_code = RunVerify(*args); });
}

}  // namespace lockout::cli
