// The audit trail: encoding, chain, checkpoints, the sink's bounded buffer and the verifier's
// detection of tampering (docs/PROTOCOL.md §5).

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/attest/builder.h"
#include "src/audit/audit_chain.h"
#include "src/audit/audit_record.h"
#include "src/audit/audit_sink.h"
#include "src/audit/audit_verifier.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "tests/attest/attest_test_util.h"

namespace lockout::audit {
namespace {

using ::testing::HasSubstr;

std::array<uint8_t, 32> Digest(std::string_view payload) {
  return crypto::Sha256(AsBytes(payload));
}

RequestEvent Event(std::string_view verdict, std::string_view rule = "",
                   std::string_view client = "gateway") {
  return RequestEvent{.client = client,
                      .digest = Digest("payload"),
                      .key = "lockout/signing-key",
                      .op = "sign",
                      .verdict = verdict,
                      .rule = rule};
}

// A chain of: genesis, 3 requests, checkpoint, 2 requests, checkpoint.
std::vector<std::string> SampleChain(const AttestFunction& attest = nullptr) {
  auto chain = AuditChain::Create(attest, Clock::Real());
  EXPECT_TRUE(chain.ok()) << chain.status();
  std::vector<std::string> lines{(*chain)->genesis_line()};
  lines.push_back(*(*chain)->AppendRequest(Event(kVerdictSigned)));
  lines.push_back(*(*chain)->AppendRequest(Event(kVerdictRefused, "bad_signature", "")));
  lines.push_back(*(*chain)->AppendRequest(Event(kVerdictSigned)));
  lines.push_back(*(*chain)->AppendCheckpoint());
  lines.push_back(*(*chain)->AppendRequest(Event(kVerdictFailed, "key not loaded")));
  lines.push_back(*(*chain)->AppendRequest(Event(kVerdictSigned)));
  lines.push_back(*(*chain)->AppendCheckpoint());
  return lines;
}

VerifyReport Verify(const std::vector<std::string>& lines, VerifyOptions options = {}) {
  return VerifyAuditText(absl::StrJoin(lines, "\n") + "\n", options);
}

std::string Errors(const VerifyReport& r) {
  std::string out;
  for (const Issue& i : r.errors) absl::StrAppend(&out, i.line, ": ", i.message, "\n");
  return out;
}

TEST(AuditRecordTest, EncodingRoundTripsAndIsTheOnlyOne) {
  const std::vector<std::string> lines = SampleChain();
  for (const std::string& line : lines) {
    absl::StatusOr<AuditRecord> r = ParseRecordLine(line);
    ASSERT_TRUE(r.ok()) << r.status() << " " << line;
    EXPECT_EQ(*EncodeRecordLine(*r), line);
  }
  const std::string& request = lines[1];
  EXPECT_THAT(request, HasSubstr(R"("type":"request")"));
  EXPECT_THAT(request, HasSubstr(R"("client":"gateway")"));
  EXPECT_THAT(lines[2], HasSubstr(R"("client":"-")"));
  EXPECT_THAT(lines[2], HasSubstr(R"("verdict":"refused","rule":"bad_signature")"));
  // Other spellings of the same record are not records.
  for (const std::string& bad :
       {absl::StrReplaceAll(request, {{":", ": "}}),
        absl::StrReplaceAll(request, {{"}", ",\"x\":1}"}}),
        absl::StrReplaceAll(request, {{"\"seq\":1", "\"seq\":1,\"seq\":1"}}),
        absl::StrReplaceAll(request, {{"\"op\":\"sign\"", "\"op\":\"\\u0073ign\""}}),
        std::string("{}"), std::string("[]"), std::string("not json"), std::string(""),
        request + "\t", std::string(kMaxLineSize + 1, 'x')}) {
    EXPECT_FALSE(ParseRecordLine(bad).ok()) << bad.substr(0, 200);
  }
  std::string upper = request;
  const size_t at = upper.find("\"prev\":\"") + 8;
  std::transform(upper.begin() + static_cast<ptrdiff_t>(at),
                 upper.begin() + static_cast<ptrdiff_t>(at + 96),
                 upper.begin() + static_cast<ptrdiff_t>(at), ::toupper);
  if (upper != request) {
    EXPECT_FALSE(ParseRecordLine(upper).ok());
  }
}

TEST(AuditRecordTest, EncodeRefusesFieldsThatAreNotPrintableNames) {
  AuditRecord r;
  r.type = RecordType::kRequest;
  r.client = "a\nb";
  r.key = "k";
  r.op = "sign";
  r.verdict = "signed";
  EXPECT_FALSE(EncodeRecordLine(r).ok());
  r.client = "quote\"and\\backslash";
  absl::StatusOr<std::string> line = EncodeRecordLine(r);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(ParseRecordLine(*line)->client, r.client);
  r.verdict = "maybe";
  EXPECT_FALSE(EncodeRecordLine(r).ok());
}

TEST(AuditVerifierTest, AnIntactChainVerifies) {
  const VerifyReport r = Verify(SampleChain());
  EXPECT_TRUE(r.ok()) << Errors(r);
  ASSERT_EQ(r.chains.size(), 1u);
  EXPECT_EQ(r.chains[0].records, 8u);
  EXPECT_EQ(r.chains[0].signed_through, 7u);
  EXPECT_EQ(r.chains[0].unsigned_tail, 0u);
  EXPECT_EQ(r.chains[0].signed_requests, 3u);
  EXPECT_EQ(r.chains[0].refused_requests, 1u);
  EXPECT_EQ(r.chains[0].failed_requests, 1u);
  EXPECT_EQ(r.chains[0].attestation, "absent");
  EXPECT_TRUE(r.gaps.empty());
  EXPECT_THAT(r.ToText(), HasSubstr("not which enclave held it"));
}

TEST(AuditVerifierTest, AnAlteredFieldIsDetected) {
  std::vector<std::string> lines = SampleChain();
  lines[2] = absl::StrReplaceAll(lines[2], {{"refused", "signed"}});
  ASSERT_TRUE(ParseRecordLine(lines[2]).ok());  // still a well-formed record
  const VerifyReport r = Verify(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].line, 4u) << Errors(r);
  EXPECT_THAT(r.errors[0].message, HasSubstr("hash link broken"));
}

TEST(AuditVerifierTest, ARemovedRecordIsDetected) {
  std::vector<std::string> lines = SampleChain();
  lines.erase(lines.begin() + 2);
  const VerifyReport r = Verify(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.errors[0].message, HasSubstr("records seq 2..2 are missing")) << Errors(r);
}

TEST(AuditVerifierTest, ReorderedRecordsAreDetected) {
  std::vector<std::string> lines = SampleChain();
  std::swap(lines[1], lines[2]);
  const VerifyReport r = Verify(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Errors(r), HasSubstr("missing"));
  EXPECT_THAT(Errors(r), HasSubstr("out of order"));
}

TEST(AuditVerifierTest, ARelinkedForgeryFailsAtTheCheckpoint) {
  // The relay alters a record and recomputes every later prev: the links hold, the signature
  // over the head does not.
  std::vector<std::string> lines = SampleChain();
  std::vector<AuditRecord> records;
  for (const std::string& l : lines) records.push_back(*ParseRecordLine(l));
  records[1].verdict = "refused";
  records[1].rule = "op_not_allowed";
  for (size_t i = 1; i < records.size(); ++i) {
    if (i > 1) records[i].prev = LineHash(lines[i - 1]);
    lines[i] = *EncodeRecordLine(records[i]);
  }
  const VerifyReport r = Verify(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.errors[0].message, HasSubstr("checkpoint signature does not verify"));
  // ... and a checkpoint signed by another key (a second chain's) is no better.
  std::vector<std::string> other = SampleChain();
  std::vector<std::string> mixed = SampleChain();
  AuditRecord cp = *ParseRecordLine(mixed[4]);
  cp.signature = ParseRecordLine(other[4])->signature;
  mixed[4] = *EncodeRecordLine(cp);
  EXPECT_FALSE(Verify(mixed).ok());
}

TEST(AuditVerifierTest, TruncationIsAnUnsignedTailAndFailsExpectSeq) {
  std::vector<std::string> lines = SampleChain();
  lines.pop_back();  // the last checkpoint
  VerifyReport r = Verify(lines);
  EXPECT_TRUE(r.ok()) << Errors(r);
  ASSERT_EQ(r.gaps.size(), 1u);
  EXPECT_THAT(r.gaps[0].message, HasSubstr("unsigned tail"));
  EXPECT_EQ(r.chains[0].signed_through, 4u);
  VerifyOptions options;
  options.expect_seq = 7;
  r = Verify(lines, options);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Errors(r), HasSubstr("--expect-seq 7"));
  options.expect_seq = 4;
  EXPECT_TRUE(Verify(lines, options).ok());
}

TEST(AuditVerifierTest, ARemovedGenesisAndGarbageAreErrors) {
  std::vector<std::string> lines = SampleChain();
  lines.erase(lines.begin());
  EXPECT_THAT(Errors(Verify(lines)), HasSubstr("before any genesis"));
  EXPECT_FALSE(VerifyAuditText("", {}).ok());
  EXPECT_FALSE(VerifyAuditText("\n\n", {}).ok());
  EXPECT_FALSE(VerifyAuditText(std::string(kMaxLineSize + 10, '{'), {}).ok());
}

TEST(AuditVerifierTest, TwoBootsAreTwoChains) {
  std::vector<std::string> lines = SampleChain();
  const std::vector<std::string> second = SampleChain();
  lines.insert(lines.end(), second.begin(), second.end());
  const VerifyReport r = Verify(lines);
  EXPECT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.chains.size(), 2u);
}

TEST(AuditVerifierTest, ErrorsAreBounded) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "junk\n";
  VerifyOptions options;
  options.max_issues = 10;
  const VerifyReport r = VerifyAuditText(text, options);
  EXPECT_EQ(r.errors.size(), 10u);
  EXPECT_EQ(r.errors_left_off, 990u);
}

// A genesis attested by a test NSM PKI.
class AttestedChainTest : public ::testing::Test {
 protected:
  AttestedChainTest() : pki_(attest::testing::MakeTestPki(absl::Now())) {}

  AttestFunction Attest(bool commit_to_key = true) {
    return [this, commit_to_key](ByteView user_data, ByteView public_key) -> absl::StatusOr<Bytes> {
      attest::AttestationDocument fields = attest::testing::SampleFields(pki_, absl::Now());
      fields.public_key = Bytes(public_key.begin(), public_key.end());
      if (commit_to_key) {
        fields.user_data = Bytes(user_data.begin(), user_data.end());
      } else {  // what the attest op puts there: SHA-256(SPKI), not the audit domain
        const auto h = crypto::Sha256(public_key);
        fields.user_data = Bytes(h.begin(), h.end());
      }
      return attest::BuildAttestationDocument(fields, pki_.leaf.key.get());
    };
  }
  VerifyOptions Roots() {
    VerifyOptions o;
    o.trusted_roots = {pki_.root.certificate()};
    return o;
  }

  attest::testing::TestPki pki_;
};

TEST_F(AttestedChainTest, VerifiesAndReportsPcrs) {
  const std::vector<std::string> lines = SampleChain(Attest());
  VerifyOptions options = Roots();
  VerifyReport r = Verify(lines, options);
  EXPECT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.chains[0].attestation, "verified");
  ASSERT_EQ(r.chains[0].pcrs.count(0), 1u);
  options.expect_pcrs[0] = HexDecode(r.chains[0].pcrs[0]).value();
  EXPECT_TRUE(Verify(lines, options).ok());
  options.expect_pcrs[0][0] ^= 1;
  r = Verify(lines, options);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(Errors(r), HasSubstr("PCR0"));
  // Without roots: present but not checked; with another root: an error.
  EXPECT_EQ(Verify(lines).chains[0].attestation, "not checked");
  VerifyOptions wrong;
  wrong.trusted_roots = {attest::testing::MakeTestPki(absl::Now()).root.certificate()};
  EXPECT_FALSE(Verify(lines, wrong).ok());
}

TEST_F(AttestedChainTest, ADocumentForAnotherPurposeIsRefused) {
  const VerifyReport r = Verify(SampleChain(Attest(/*commit_to_key=*/false)), Roots());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Errors(r), HasSubstr("does not commit to its audit key"));
}

TEST_F(AttestedChainTest, ExpectPcrWithoutAttestationFails) {
  VerifyOptions options = Roots();
  options.expect_pcrs[0] = Bytes(48, 0);
  const VerifyReport r = Verify(SampleChain(), options);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Errors(r), HasSubstr("no attestation document"));
}

// The sink against a transport that can be switched off: bounded memory, lost markers.
class FakeRelay {
 public:
  AuditSink::Transport Transport() {
    return [this](const std::vector<std::string>& lines) -> absl::Status {
      std::lock_guard<std::mutex> lock(mu_);
      if (!up_) return absl::UnavailableError("relay down");
      file_.insert(file_.end(), lines.begin(), lines.end());
      return absl::OkStatus();
    };
  }
  void SetUp(bool up) {
    std::lock_guard<std::mutex> lock(mu_);
    up_ = up;
  }
  std::vector<std::string> file() {
    std::lock_guard<std::mutex> lock(mu_);
    return file_;
  }

 private:
  std::mutex mu_;
  bool up_ = true;
  std::vector<std::string> file_;
};

AuditSinkOptions FastOptions(size_t buffer) {
  AuditSinkOptions o;
  o.max_buffer_bytes = buffer;
  o.flush_interval = absl::Milliseconds(5);
  o.retry_interval = absl::Milliseconds(5);
  o.max_retry_interval = absl::Milliseconds(20);
  return o;
}

template <typename F>
bool WaitFor(F predicate) {
  for (int i = 0; i < 1000; ++i) {  // at most ~5 s
    if (predicate()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

TEST(AuditSinkTest, ShipsSignedBatches) {
  FakeRelay relay;
  auto sink = AuditSink::Start(FastOptions(1 << 20), *AuditChain::Create(nullptr, Clock::Real()),
                               relay.Transport());
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(sink->Record(Event(kVerdictSigned)));
  ASSERT_TRUE(WaitFor([&] { return sink->Health()["acknowledged_seq"] >= 101; }));
  sink->Stop();
  const VerifyReport r = Verify(relay.file());
  EXPECT_TRUE(r.ok()) << Errors(r);
  EXPECT_TRUE(r.gaps.empty());
  EXPECT_EQ(r.chains[0].signed_requests, 100u);
  EXPECT_EQ(r.chains[0].unsigned_tail, 0u);
}

// Stopped before its first flush (a long interval here; a busy machine in practice), the sink
// still makes its one last attempt: nothing recorded is dropped because no send was tried yet.
TEST(AuditSinkTest, StopBeforeTheFirstFlushStillSendsWhatIsBuffered) {
  FakeRelay relay;
  AuditSinkOptions options = FastOptions(1 << 20);
  options.flush_interval = absl::Hours(1);
  auto sink =
      AuditSink::Start(options, *AuditChain::Create(nullptr, Clock::Real()), relay.Transport());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(sink->Record(Event(kVerdictSigned)));
  sink->Stop();
  const VerifyReport r = Verify(relay.file());
  EXPECT_TRUE(r.ok()) << Errors(r);
  ASSERT_EQ(r.chains.size(), 1u);
  EXPECT_EQ(r.chains[0].signed_requests, 3u);
}

TEST(AuditSinkTest, ARelayThatIsDownCostsBoundedMemoryAndShowsAsLost) {
  FakeRelay relay;
  relay.SetUp(false);
  constexpr size_t kBuffer = 64 << 10;
  auto sink = AuditSink::Start(FastOptions(kBuffer), *AuditChain::Create(nullptr, Clock::Real()),
                               relay.Transport());
  size_t kept = 0, lost = 0;
  for (int i = 0; i < 5000; ++i) (sink->Record(Event(kVerdictSigned)) ? kept : lost)++;
  EXPECT_GT(lost, 0u);
  EXPECT_LE(sink->Health()["pending_bytes"].get<size_t>(), kBuffer + 8192);
  EXPECT_EQ(sink->Health()["lost_records"].get<size_t>(), lost);
  relay.SetUp(true);
  ASSERT_TRUE(WaitFor([&] {
    return sink->Health()["pending_records"] == 0 && !relay.file().empty() &&
           ParseRecordLine(relay.file().back())->type == RecordType::kCheckpoint;
  }));
  sink->Stop();
  const VerifyReport r = Verify(relay.file());
  EXPECT_TRUE(r.ok()) << Errors(r);
  ASSERT_EQ(r.chains.size(), 1u);
  EXPECT_EQ(r.chains[0].lost, lost);
  EXPECT_EQ(r.chains[0].signed_requests, kept);
  ASSERT_FALSE(r.gaps.empty());
  EXPECT_THAT(r.gaps[0].message, HasSubstr("lost"));
}

TEST(AuditSinkTest, RequiredModeReportsRecordsNotKept) {
  FakeRelay relay;
  relay.SetUp(false);
  AuditSinkOptions options = FastOptions(16 << 10);
  options.required = true;
  auto sink =
      AuditSink::Start(options, *AuditChain::Create(nullptr, Clock::Real()), relay.Transport());
  EXPECT_TRUE(sink->required());
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) refused = !sink->Record(Event(kVerdictSigned));
  EXPECT_TRUE(refused);
  EXPECT_TRUE(sink->Health()["required"].get<bool>());
}

}  // namespace
}  // namespace lockout::audit
