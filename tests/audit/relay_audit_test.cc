// The relay's side of the audit trail: append_audit (relay_protocol.h) and --audit-log
// (audit_writer.h), through RelayService as lockout-relay runs it.

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/audit/audit_chain.h"
#include "src/audit/audit_verifier.h"
#include "src/common/clock.h"
#include "src/common/file.h"
#include "src/relay/audit_writer.h"
#include "src/relay/relay_protocol.h"
#include "src/relay/relay_service.h"
#include "tests/relay/fake_upstream.h"

namespace lockout::relay {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> SomeRecords(int requests) {
  auto chain = *audit::AuditChain::Create(nullptr, Clock::Real());
  std::vector<std::string> lines{chain->genesis_line()};
  for (int i = 0; i < requests; ++i) {
    lines.push_back(*chain->AppendRequest(audit::RequestEvent{
        .client = "-", .key = "key$$$name", .op = "sign", .verdict = "signed", .rule = ""}));
  }
  lines.push_back(*chain->AppendCheckpoint());
  return lines;
}

TEST(AppendAuditProtocolTest, RoundTripsAndNeverCarriesTheV1Terminator) {
  const std::vector<std::string> lines = SomeRecords(3);
  absl::StatusOr<std::string> request = EncodeAppendAuditRequest(lines);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->find("$$$"), std::string::npos);
  absl::StatusOr<std::vector<std::string>> decoded = DecodeAppendAuditRequest(*request);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, lines);
  EXPECT_EQ(*DecodeAppendAuditReply(EncodeAppendAuditReply(5)), 5u);
  EXPECT_EQ(DecodeAppendAuditReply(R"({"error":"no audit log"})").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(DecodeAppendAuditReply(R"({"error":"audit write failed"})").status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(AppendAuditProtocolTest, RefusesMalformedRequests) {
  EXPECT_EQ(DecodeAppendAuditRequest(R"({"request_type":"get_secret"})").status().code(),
            absl::StatusCode::kUnimplemented);
  for (const char* bad : {
           R"({"request_type":"append_audit"})",
           R"({"request_type":"append_audit","lines":[]})",
           R"({"request_type":"append_audit","lines":"x"})",
           R"({"request_type":"append_audit","lines":[1]})",
           R"({"request_type":"append_audit","lines":[""]})",
           R"({"request_type":"append_audit","lines":["a\nb"]})",
           R"({"request_type":"append_audit","lines":["a"],"x":1})",
           R"({"request_type":"append_audit","lines":["a"],"lines":["b"]})",
           R"([1])",
       }) {
    EXPECT_EQ(DecodeAppendAuditRequest(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_FALSE(EncodeAppendAuditRequest({}).ok());
  EXPECT_FALSE(EncodeAppendAuditRequest({std::string(kMaxAuditLineSize + 1, 'a')}).ok());
}

class RelayAuditTest : public ::testing::Test {
 protected:
  RelayAuditTest()
      : upstream_(absl::Now() + absl::Hours(1)),
        service_(&upstream_, *SecretAllowlist::Create({"s"}), &metrics_) {
    char dir[] = "/tmp/relay-audit-XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/audit.jsonl";
  }
  ~RelayAuditTest() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  std::string Call(const std::string& json_text) {
    net::Frame frame{net::FrameKind::kV1, json_text};
    SecretBytes reply = service_.Handle(frame, 1, "tcp://127.0.0.1:1");
    std::string text(reply.RevealAsString());
    return text.substr(0, text.size() - 3);
  }

  std::string dir_, path_;
  testing::FakeUpstream upstream_;
  RelayMetrics metrics_;
  RelayService service_;
};

TEST_F(RelayAuditTest, WithoutAuditLogTheOpIsRefused) {
  EXPECT_EQ(DecodeAppendAuditReply(Call(*EncodeAppendAuditRequest(SomeRecords(1)))).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RelayAuditTest, BatchesAreAppendedAsAVerifiableFile) {
  auto writer = *AuditWriter::Open(path_);
  service_.WriteAuditTo(writer.get());
  const std::vector<std::string> lines = SomeRecords(10);
  // In two batches, as the enclave sends them.
  const std::vector<std::string> first(lines.begin(), lines.begin() + 4);
  const std::vector<std::string> second(lines.begin() + 4, lines.end());
  EXPECT_EQ(*DecodeAppendAuditReply(Call(*EncodeAppendAuditRequest(first))), 4u);
  EXPECT_EQ(*DecodeAppendAuditReply(Call(*EncodeAppendAuditRequest(second))), second.size());
  EXPECT_EQ(writer->lines_written(), lines.size());
  absl::StatusOr<audit::VerifyReport> report = audit::VerifyAuditFile(path_, {});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->ToText();
  EXPECT_EQ(report->chains[0].signed_requests, 10u);
}

TEST_F(RelayAuditTest, ARetriedBatchIsNotWrittenTwiceEvenAfterARestart) {
  const std::vector<std::string> lines = SomeRecords(6);
  const std::vector<std::string> first(lines.begin(), lines.begin() + 4);
  const std::vector<std::string> overlap(lines.begin() + 2, lines.end());
  {
    auto writer = *AuditWriter::Open(path_);
    service_.WriteAuditTo(writer.get());
    EXPECT_EQ(*DecodeAppendAuditReply(Call(*EncodeAppendAuditRequest(first))), 4u);
    // The acknowledgement was lost: the enclave sends the batch again.
    EXPECT_EQ(*DecodeAppendAuditReply(Call(*EncodeAppendAuditRequest(first))), 4u);
    service_.WriteAuditTo(nullptr);
  }
  auto writer = *AuditWriter::Open(path_);  // the relay restarted
  service_.WriteAuditTo(writer.get());
  EXPECT_EQ(*DecodeAppendAuditReply(Call(*EncodeAppendAuditRequest(overlap))), overlap.size());
  absl::StatusOr<audit::VerifyReport> report = audit::VerifyAuditFile(path_, {});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->ToText();
  EXPECT_EQ(report->lines, lines.size());
}

TEST_F(RelayAuditTest, ABatchWithALineThatIsNotARecordIsRefusedWhole) {
  auto writer = *AuditWriter::Open(path_);
  service_.WriteAuditTo(writer.get());
  std::vector<std::string> lines = SomeRecords(2);
  lines.insert(lines.begin() + 1, "{\"not\":\"a record\"}");
  EXPECT_EQ(DecodeAppendAuditReply(Call(*EncodeAppendAuditRequest(lines))).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFileString(path_)->size(), 0u);
}

}  // namespace
}  // namespace lockout::relay
