// `lockout attest verify FILE [--root PEM] [--at RFC3339] [--expect-pcr N=HEX]...`
//
// Prints the document as JSON on stdout and exits 0 only if it verifies against the root(s) at
// the given time and every --expect-pcr holds; 1 on a verification or expectation failure; 2 on
// usage errors (unreadable FILE or --root, bad --at, bad --expect-pcr).

#include <cctype>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/attest/attest_error.h"
#include "src/attest/attestation_document.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/certificate.h"
#include "src/attest/verifier.h"
#include "src/cli/commands.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/strings.h"
#include "src/operator/attest_client.h"

namespace lockout::cli {
namespace {

using Json = nlohmann::ordered_json;

using cliutil::kExitOk;
using cliutil::kExitUsage;
constexpr int kExitRejected = cliutil::kExitFailed;
constexpr size_t kMaxInputFile = 1 << 20;

constexpr char kVerifyHelp[] =
    "Verify an AWS Nitro attestation document (COSE_Sign1, ES384) and print it as JSON";

constexpr char kVerifyFooter[] = R"(
FILE is the document as raw CBOR or as base64 text (whitespace and line breaks are ignored).
The chain is checked against --root (default: the embedded AWS Nitro Enclaves root G1) at --at
(default: now). Documents are short-lived: their leaf certificate is valid for about 3 hours, so
an old document needs --at with a time inside its window.

Exit status: 0 verified and every --expect-pcr holds; 1 rejected (the JSON "error" and stderr
say why) or an expectation failed; 2 usage error.

Examples:
  lockout attest verify doc.cbor
  lockout attest verify doc.b64 --at 2023-09-18T15:03:30Z
  lockout attest verify doc.cbor --root my-local-root.pem --expect-pcr 0=f4d48b81...142d8b
  lockout attest verify doc.cbor --expect-pcr 0=$(jq -r .Measurements.PCR0 eif.json) --expect-pcr 8=...)";

struct VerifyArgs {
  std::string file;
  std::string root_path;
  std::string at;
  std::vector<std::string> expect_pcr;
  bool json = false;  // accepted for scripts: the output is always JSON
};

int UsageError(std::string_view message) {
  std::cerr << "lockout: " << message << "\n";
  return kExitUsage;
}

bool IsBase64Text(const Bytes& data) {
  for (uint8_t c : data) {
    if (!(std::isalnum(c) || c == '+' || c == '/' || c == '=' || std::isspace(c))) return false;
  }
  return !data.empty();
}

// Raw CBOR, or base64 text (a COSE_Sign1 starts with 0x84 or 0xd2, never a base64 character).
absl::StatusOr<Bytes> DecodeInput(const Bytes& data) {
  if (!IsBase64Text(data)) return data;
  std::string compact;
  for (uint8_t c : data) {
    if (!std::isspace(c)) compact.push_back(static_cast<char>(c));
  }
  absl::StatusOr<Bytes> decoded = Base64Decode(compact);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("FILE looks like base64 but does not decode: ", decoded.status().message()));
  }
  return decoded;
}

Json OptionalHex(const std::optional<Bytes>& b) { return b ? Json(HexEncode(*b)) : Json(nullptr); }

Json CertJson(const Bytes& der) {
  absl::StatusOr<attest::CertificateSummary> s = attest::SummarizeCertificate(der);
  if (!s.ok()) return Json{{"error", "not a parseable certificate"}, {"size", der.size()}};
  return Json{{"subject", s->subject},
              {"issuer", s->issuer},
              {"not_before", FormatRfc3339(s->not_before)},
              {"not_after", FormatRfc3339(s->not_after)},
              {"sha256", s->sha256_hex}};
}

Json DocumentJson(const attest::AttestationDocument& doc) {
  Json out;
  out["module_id"] = doc.module_id;
  out["digest"] = doc.digest;
  out["timestamp_ms"] = doc.timestamp_ms;
  out["timestamp"] = FormatRfc3339(absl::FromUnixMillis(static_cast<int64_t>(doc.timestamp_ms)));
  Json pcrs = Json::object();
  for (const auto& [index, value] : doc.pcrs) pcrs[std::to_string(index)] = HexEncode(value);
  out["pcrs"] = pcrs;
  out["certificate"] = CertJson(doc.certificate);
  Json bundle = Json::array();
  for (const Bytes& cert : doc.cabundle) bundle.push_back(CertJson(cert));
  out["cabundle"] = bundle;
  out["public_key"] = OptionalHex(doc.public_key);
  out["user_data"] = OptionalHex(doc.user_data);
  out["nonce"] = OptionalHex(doc.nonce);
  return out;
}

Json ErrorJson(const absl::Status& status) {
  std::optional<attest::AttestFailure> f = attest::FailureOf(status);
  return Json{{"reason", f ? std::string(attest::FailureName(*f)) : std::string("error")},
              {"message", std::string(status.message())}};
}

int RunVerify(const VerifyArgs& args) {
  if (args.file.empty()) return UsageError("attest verify needs FILE; see --help");
  std::vector<ops::PcrExpectation> expectations;
  for (const std::string& text : args.expect_pcr) {
    absl::StatusOr<ops::PcrExpectation> e = ops::ParsePcrExpectation(text);
    if (!e.ok()) return UsageError(Std(e.status().message()));
    expectations.push_back(*std::move(e));
  }
  absl::Time at = absl::Now();
  if (!args.at.empty()) {
    absl::StatusOr<absl::Time> t = ParseRfc3339(args.at);
    if (!t.ok()) return UsageError(absl::StrCat("--at: ", t.status().message()));
    at = *t;
  }
  std::vector<Bytes> roots{attest::AwsNitroRootG1Der()};
  if (!args.root_path.empty()) {
    absl::StatusOr<std::vector<Bytes>> certs = attest::CertificatesFromPemFile(args.root_path);
    if (!certs.ok()) return UsageError(absl::StrCat("--root: ", certs.status().message()));
    roots = *std::move(certs);
  }
  absl::StatusOr<Bytes> raw = ReadFile(args.file, kMaxInputFile);
  if (!raw.ok()) {
    return UsageError(absl::StrCat("cannot read FILE: ", raw.status().message()));
  }

  Json out;
  absl::Status failure;
  absl::StatusOr<Bytes> data = DecodeInput(*raw);
  absl::StatusOr<attest::AttestationDocument> doc =
      data.ok() ? attest::ParseAttestationDocument(*data)
                : absl::StatusOr<attest::AttestationDocument>(data.status());
  if (!doc.ok()) {
    failure = doc.status();
  } else {
    absl::StatusOr<attest::VerifiedAttestation> verified =
        attest::VerifyAttestation(*doc, roots, at);
    if (!verified.ok()) failure = verified.status();
  }
  out["verified"] = failure.ok();
  out["error"] = failure.ok() ? Json(nullptr) : ErrorJson(failure);
  out["verified_at"] = FormatRfc3339(at);
  bool expectations_hold = true;
  if (doc.ok()) {
    const Json fields = DocumentJson(*doc);
    for (const auto& [key, value] : fields.items()) out[key] = value;
    Json checks = Json::array();
    for (const ops::PcrExpectation& e : expectations) {
      auto it = doc->pcrs.find(e.index);
      const bool ok = it != doc->pcrs.end() && it->second == e.value;
      checks.push_back(
          Json{{"pcr", e.index},
               {"expected", HexEncode(e.value)},
               {"actual", it != doc->pcrs.end() ? Json(HexEncode(it->second)) : Json(nullptr)},
               {"ok", ok}});
      if (!ok) {
        expectations_hold = false;
        std::cerr << "lockout: PCR" << e.index << " does not match --expect-pcr "
                  << (it == doc->pcrs.end() ? "(the document has no such PCR)"
                                            : "(see \"expectations\" in the output)")
                  << "\n";
      }
    }
    out["expectations"] = checks;
  }
  std::cout << out.dump(2) << "\n";
  if (!failure.ok()) {
    std::cerr << "lockout: attestation document rejected: " << failure.message()
              << "; check FILE, --root and --at (the document's certificates are short-lived)\n";
    return kExitRejected;
  }
  return expectations_hold ? kExitOk : kExitRejected;
}

}  // namespace

void RegisterAttestCommands(CLI::App& app, CommandContext& ctx) {
  auto* attest = app.add_subcommand("attest", "Verify and inspect Nitro attestation documents");
  attest->require_subcommand(1);
  auto* verify = attest->add_subcommand("verify", kVerifyHelp);
  auto args = std::make_shared<VerifyArgs>();
  verify->add_option("FILE", args->file, "Attestation document: raw CBOR or base64 text");
  verify->add_option("--root,--root-cert", args->root_path,
                     "PEM file with the trusted root certificate(s) (default: AWS Nitro root G1)");
  verify->add_option("--at", args->at,
                     "Verify as of this RFC 3339 time, e.g. 2023-09-18T15:03:30Z (default: now)");
  verify
      ->add_option("--expect-pcr", args->expect_pcr,
                   "Require PCR N to equal HEX (repeatable), e.g. --expect-pcr 0=f4d4...")
      ->allow_extra_args(false);
  verify->add_flag("--json", args->json, "JSON output (the default: verify always prints JSON)");
  verify->footer(kVerifyFooter);
  verify->callback([&ctx, args] { ctx.exit_code = RunVerify(*args); });
}

}  // namespace lockout::cli
