#include "src/audit/audit_verifier.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "src/attest/attestation_document.h"
#include "src/attest/verifier.h"
#include "src/common/encoding.h"
#include "src/common/unique_fd.h"

namespace lockout::audit {
namespace {

// DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410 §4) is this prefix || the 32-byte key.
constexpr uint8_t kEd25519SpkiPrefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                          0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

Bytes Ed25519Spki(ByteView key) {
  Bytes out(std::begin(kEd25519SpkiPrefix), std::end(kEd25519SpkiPrefix));
  out.insert(out.end(), key.begin(), key.end());
  return out;
}

nlohmann::json IssuesJson(const std::vector<Issue>& issues) {
  nlohmann::json out = nlohmann::json::array();
  for (const Issue& i : issues) {
    nlohmann::json j = {{"line", i.line}, {"message", i.message}};
    j["seq"] = i.seq.has_value() ? nlohmann::json(*i.seq) : nlohmann::json(nullptr);
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

AuditLogVerifier::AuditLogVerifier(VerifyOptions options) : options_(std::move(options)) {}

void AuditLogVerifier::Error(std::optional<uint64_t> seq, std::string message) {
  if (report_.errors.size() >= options_.max_issues) {
    ++report_.errors_left_off;
    return;
  }
  report_.errors.push_back(Issue{line_, seq, std::move(message)});
}

void AuditLogVerifier::Gap(std::optional<uint64_t> seq, std::string message) {
  if (report_.gaps.size() >= options_.max_issues) {
    ++report_.gaps_left_off;
    return;
  }
  report_.gaps.push_back(Issue{line_, seq, std::move(message)});
}

void AuditLogVerifier::CheckAttestation(const AuditRecord& genesis, ChainReport& report) {
  if (genesis.attestation.empty()) {
    report.attestation = "absent";
    if (!options_.expect_pcrs.empty()) {
      Error(genesis.seq,
            "the genesis has no attestation document (an enclave without an NSM), so "
            "--expect-pcr cannot hold: this chain is not tied to any measured enclave");
    }
    return;
  }
  if (options_.trusted_roots.empty()) {
    report.attestation = "not checked";
    return;
  }
  report.attestation = "invalid";
  absl::StatusOr<attest::AttestationDocument> doc =
      attest::ParseAttestationDocument(genesis.attestation);
  if (!doc.ok()) {
    Error(genesis.seq, absl::StrCat("the genesis's attestation document does not parse: ",
                                    doc.status().message()));
    return;
  }
  // At the document's own time: its leaf certificate lives for hours, the trail for years.
  const absl::Time at = absl::FromUnixMillis(static_cast<int64_t>(doc->timestamp_ms));
  absl::StatusOr<attest::VerifiedAttestation> verified =
      attest::VerifyAttestation(*doc, options_.trusted_roots, at);
  if (!verified.ok()) {
    Error(genesis.seq, absl::StrCat("the genesis's attestation document does not verify "
                                    "against the trusted root: ",
                                    verified.status().message()));
    return;
  }
  const ByteView key(genesis.audit_key.data(), genesis.audit_key.size());
  const std::array<uint8_t, 32> user_data = GenesisUserData(key);
  const attest::AttestationDocument& d = verified->document;
  if (!d.public_key.has_value() || *d.public_key != Ed25519Spki(key) || !d.user_data.has_value() ||
      !std::equal(d.user_data->begin(), d.user_data->end(), user_data.begin(), user_data.end())) {
    Error(genesis.seq,
          "the genesis's attestation document does not commit to its audit key (public_key "
          "and user_data): it was made for something else");
    return;
  }
  for (const auto& [index, value] : d.pcrs) {
    if (index == 0 || index == 16 || options_.expect_pcrs.count(index) > 0) {
      report.pcrs[index] = HexEncode(value);
    }
  }
  bool pcrs_ok = true;
  for (const auto& [index, value] : options_.expect_pcrs) {
    auto it = d.pcrs.find(index);
    if (it == d.pcrs.end() || it->second != value) {
      pcrs_ok = false;
      Error(genesis.seq,
            absl::StrCat("PCR", index, " of the enclave that started this chain is ",
                         it == d.pcrs.end() ? std::string("absent") : HexEncode(it->second),
                         ", not the expected ", HexEncode(value)));
    }
  }
  report.attestation = pcrs_ok ? "verified" : "invalid";
}

void AuditLogVerifier::StartChain(const AuditRecord& genesis) {
  chain_ = Chain{};  // not emplace(): clang 14 sees Chain as not default-constructible
  Chain& c = *chain_;
  c.report.first_line = line_;
  c.report.first_seq = genesis.seq;
  c.report.last_seq = genesis.seq;
  c.report.records = 1;
  c.has_key = true;
  c.key = genesis.audit_key;
  c.report.audit_key_hex = HexEncode(ByteView(genesis.audit_key.data(), genesis.audit_key.size()));
  CheckAttestation(genesis, c.report);
}

void AuditLogVerifier::CloseChain() {
  if (!chain_.has_value()) return;
  ChainReport& r = chain_->report;
  if (r.unsigned_tail > 0) {
    Gap(std::nullopt,
        absl::StrCat("chain from line ", r.first_line, ": its last ", r.unsigned_tail,
                     " record(s) (through seq ", r.last_seq,
                     ") come after its last checkpoint and are not signed (unsigned tail: the "
                     "enclave stopped before its next batch, or the rest of the file is missing)"));
  }
  report_.chains.push_back(std::move(r));
  chain_.reset();
}

void AuditLogVerifier::AddOverlongLine() {
  ++line_;
  ++report_.lines;
  Error(std::nullopt, absl::StrCat("a line longer than ", kMaxLineSize, " bytes: not a record"));
  if (chain_.has_value()) chain_->linked = false;
}

void AuditLogVerifier::AddLine(std::string_view line) {
  ++line_;
  ++report_.lines;
  absl::StatusOr<AuditRecord> parsed = ParseRecordLine(line);
  if (!parsed.ok()) {
    Error(std::nullopt, absl::StrCat("not an audit record (altered, or not written by an "
                                     "enclave): ",
                                     parsed.status().message()));
    if (chain_.has_value()) chain_->linked = false;
    return;
  }
  const AuditRecord& r = *parsed;
  const crypto::Sha384Digest hash = LineHash(line);
  if (r.type == RecordType::kGenesis) {
    if (r.seq != 0 || r.prev != crypto::Sha384Digest{}) {
      Error(r.seq, "a genesis must have seq 0 and a zero prev");
    }
    CloseChain();
    StartChain(r);
    chain_->head = hash;
    chain_->next_seq = r.seq + 1;
    chain_->linked = true;
    return;
  }
  if (!chain_.has_value()) {
    chain_ = Chain{};  // not emplace(): clang 14 sees Chain as not default-constructible
    chain_->report.first_line = line_;
    chain_->report.first_seq = r.seq;
    Error(r.seq,
          "records before any genesis: the chain's first record was removed, so nothing here "
          "can be tied to an audit key");
  }
  Chain& c = *chain_;
  if (c.linked) {
    if (r.seq > c.next_seq) {
      Error(r.seq, absl::StrCat("records seq ", c.next_seq, "..", r.seq - 1,
                                " are missing (removed from the file)"));
    } else if (r.seq < c.next_seq) {
      Error(r.seq, absl::StrCat("seq ", r.seq, " after seq ", c.next_seq - 1,
                                ": a record repeated or out of order"));
    } else if (r.prev != c.head) {
      Error(r.seq, absl::StrCat("hash link broken: prev is not the hash of line ", line_ - 1,
                                " (that record was altered, or records were removed)"));
    }
  }
  ChainReport& report = c.report;
  ++report.records;
  report.last_seq = r.seq;
  switch (r.type) {
    case RecordType::kRequest:
      if (r.verdict == kVerdictSigned) {
        ++report.signed_requests;
      } else if (r.verdict == kVerdictRefused) {
        ++report.refused_requests;
      } else {
        ++report.failed_requests;
      }
      ++report.unsigned_tail;
      break;
    case RecordType::kLost:
      report.lost += r.count;
      Gap(r.seq, absl::StrCat("the enclave lost ", r.count,
                              " record(s) before this one (its audit buffer was full: the "
                              "relay was slow or down)"));
      ++report.unsigned_tail;
      break;
    case RecordType::kCheckpoint: {
      ++report.checkpoints;
      const Bytes input = CheckpointSigningInput(r.prev, r.seq);
      if (!c.has_key) {
        Error(r.seq, "checkpoint cannot be checked: its chain has no genesis");
        ++report.unsigned_tail;
      } else if (!VerifyEd25519(ByteView(c.key.data(), c.key.size()), input,
                                ByteView(r.signature.data(), r.signature.size()))) {
        Error(r.seq, "checkpoint signature does not verify (forged, or the record altered)");
        ++report.unsigned_tail;
      } else {
        report.signed_through = r.seq;
        report.unsigned_tail = 0;
      }
      break;
    }
    case RecordType::kGenesis:
      break;
  }
  c.head = hash;
  c.next_seq = r.seq + 1;
  c.linked = true;
}

VerifyReport AuditLogVerifier::Finish() {
  CloseChain();
  if (report_.chains.empty() && report_.errors.empty()) {
    Error(std::nullopt, "the file holds no audit records");
  }
  if (options_.expect_seq.has_value()) {
    const std::optional<uint64_t> through =
        report_.chains.empty() ? std::nullopt : report_.chains.back().signed_through;
    if (!through.has_value() || *through < *options_.expect_seq) {
      Error(std::nullopt,
            absl::StrCat("the last chain is signed through seq ",
                         through.has_value() ? absl::StrCat(*through) : std::string("(none)"),
                         ", short of --expect-seq ", *options_.expect_seq,
                         ": records were removed from the end of the file"));
    }
  }
  return std::move(report_);
}

nlohmann::json VerifyReport::ToJson() const {
  nlohmann::json chains_json = nlohmann::json::array();
  for (const ChainReport& c : chains) {
    nlohmann::json pcrs = nlohmann::json::object();
    for (const auto& [index, value] : c.pcrs) pcrs[std::to_string(index)] = value;
    nlohmann::json j = {{"first_line", c.first_line},
                        {"audit_key", c.audit_key_hex},
                        {"attestation", c.attestation},
                        {"pcrs", pcrs},
                        {"records", c.records},
                        {"first_seq", c.first_seq},
                        {"last_seq", c.last_seq},
                        {"checkpoints", c.checkpoints},
                        {"unsigned_tail", c.unsigned_tail},
                        {"lost", c.lost},
                        {"requests",
                         {{"signed", c.signed_requests},
                          {"refused", c.refused_requests},
                          {"failed", c.failed_requests}}}};
    j["signed_through"] =
        c.signed_through.has_value() ? nlohmann::json(*c.signed_through) : nlohmann::json(nullptr);
    chains_json.push_back(std::move(j));
  }
  return nlohmann::json{{"ok", ok()},
                        {"lines", lines},
                        {"chains", chains_json},
                        {"errors", IssuesJson(errors)},
                        {"errors_left_off", errors_left_off},
                        {"gaps", IssuesJson(gaps)},
                        {"gaps_left_off", gaps_left_off}};
}

std::string VerifyReport::ToText() const {
  std::string out;
  for (const ChainReport& c : chains) {
    absl::StrAppend(&out, "chain from line ", c.first_line, ": ", c.records, " records (seq ",
                    c.first_seq, "..", c.last_seq, "), ", c.signed_requests, " signed, ",
                    c.refused_requests, " refused, ", c.failed_requests, " failed; ");
    if (c.signed_through.has_value()) {
      absl::StrAppend(&out, "signed through seq ", *c.signed_through, " by ", c.checkpoints,
                      " checkpoint(s)");
    } else {
      absl::StrAppend(&out, "no valid checkpoint");
    }
    absl::StrAppend(
        &out, "\n  audit key ",
        c.audit_key_hex.empty() ? std::string("(unknown: no genesis)") : c.audit_key_hex,
        "\n  attestation: ");
    if (c.attestation == "verified") {
      absl::StrAppend(&out, "verified (the audit key was generated inside the measured enclave)");
      for (const auto& [index, value] : c.pcrs)
        absl::StrAppend(&out, "\n    PCR", index, " ", value);
    } else if (c.attestation == "absent") {
      absl::StrAppend(&out,
                      "none (an enclave without an NSM): the signatures show one key signed this "
                      "chain, not which enclave held it");
    } else if (c.attestation == "not checked") {
      absl::StrAppend(&out, "present, not checked (no trusted root given)");
    } else {
      absl::StrAppend(&out, "INVALID (see errors)");
    }
    out += '\n';
  }
  for (const Issue& g : gaps) absl::StrAppend(&out, "gap: line ", g.line, ": ", g.message, "\n");
  if (gaps_left_off > 0) absl::StrAppend(&out, "gap: ... and ", gaps_left_off, " more\n");
  for (const Issue& e : errors) {
    absl::StrAppend(&out, "ERROR: line ", e.line,
                    e.seq.has_value() ? absl::StrCat(" (seq ", *e.seq, ")") : std::string(), ": ",
                    e.message, "\n");
  }
  if (errors_left_off > 0) absl::StrAppend(&out, "ERROR: ... and ", errors_left_off, " more\n");
  absl::StrAppend(&out, ok() ? "OK: " : "FAILED: ", lines, " lines, ", chains.size(), " chain(s), ",
                  errors.size() + errors_left_off, " error(s), ", gaps.size() + gaps_left_off,
                  " gap(s)\n");
  return out;
}

VerifyReport VerifyAuditText(std::string_view text, const VerifyOptions& options) {
  AuditLogVerifier verifier(options);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    if (line.size() > kMaxLineSize) {
      verifier.AddOverlongLine();
    } else {
      verifier.AddLine(line);
    }
    start = end + 1;
  }
  return verifier.Finish();
}

absl::StatusOr<VerifyReport> VerifyAuditFile(const std::string& path,
                                             const VerifyOptions& options) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    const std::string text = absl::StrCat("cannot open ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(text);
    if (err == EACCES) return absl::PermissionDeniedError(text);
    return absl::InternalError(text);
  }
  AuditLogVerifier verifier(options);
  std::string line;  // at most kMaxLineSize bytes
  bool overlong = false;
  char chunk[64 << 10];
  while (true) {
    const ssize_t n = ::read(fd.get(), chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("reading ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      const char c = chunk[i];
      if (c == '\n') {
        if (overlong) {
          verifier.AddOverlongLine();
        } else {
          verifier.AddLine(line);
        }
        line.clear();
        overlong = false;
      } else if (!overlong) {
        if (line.size() == kMaxLineSize) {
          overlong = true;
          line.clear();
        } else {
          line.push_back(c);
        }
      }
    }
  }
  if (overlong) {
    verifier.AddOverlongLine();
  } else if (!line.empty()) {
    verifier.AddLine(line);  // a last line without its newline (a write cut short)
  }
  return verifier.Finish();
}

}  // namespace lockout::audit
