#include "src/nsm/nsm_client.h"

#include <deque>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/nsm/nsm_test_util.h"

namespace lockout::nsm {
namespace {

using ::testing::HasSubstr;

// Records request bytes and answers with scripted response bytes (or a scripted failure).
class ScriptedDevice : public NsmDevice {
 public:
  void Respond(const NsmResponse& r) { script_.push_back(*EncodeResponse(r)); }
  void RespondBytes(Bytes b) { script_.push_back(std::move(b)); }
  void Fail(absl::Status s) { script_.push_back(std::move(s)); }

  absl::StatusOr<Bytes> Call(ByteView request_cbor) override {
    requests_.emplace_back(request_cbor.begin(), request_cbor.end());
    if (script_.empty()) return absl::InternalError("test: no scripted response");
    absl::StatusOr<Bytes> next = std::move(script_.front());
    script_.pop_front();
    return next;
  }

  // The decoded requests seen so far.
  std::vector<NsmRequest> Requests() const {
    std::vector<NsmRequest> out;
    for (const Bytes& b : requests_) out.push_back(*DecodeRequest(b));
    return out;
  }
  size_t calls() const { return requests_.size(); }

 private:
  std::deque<absl::StatusOr<Bytes>> script_;
  std::vector<Bytes> requests_;
};

TEST(NsmClientTest, DescribePcrSendsTheIndexAndReturnsTheDecodedResponse) {
  ScriptedDevice device;
  device.Respond(DescribePcrResponse{true, Bytes(48, 0xaa)});
  NsmClient client(device);
  absl::StatusOr<DescribePcrResponse> r = client.DescribePcr(3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->lock);
  EXPECT_EQ(r->data, Bytes(48, 0xaa));
  EXPECT_EQ(device.Requests(), std::vector<NsmRequest>{DescribePcrRequest{3}});
}

TEST(NsmClientTest, EachTypedCallSendsItsRequestAndUnwrapsItsResponse) {
  ScriptedDevice device;
  NsmClient client(device);

  device.Respond(ExtendPcrResponse{Bytes(48, 1)});
  absl::StatusOr<Bytes> extended = client.ExtendPcr(16, Bytes{9, 8});
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(*extended, Bytes(48, 1));

  device.Respond(LockPcrResponse{});
  EXPECT_TRUE(client.LockPcr(16).ok());
  device.Respond(LockPcrsResponse{});
  EXPECT_TRUE(client.LockPcrs(5).ok());

  const DescribeNsmResponse nsm{1, 0, 0, "i-1-enc2", 32, {0, 1, 2}, Digest::kSha384};
  device.Respond(nsm);
  absl::StatusOr<DescribeNsmResponse> described = client.DescribeNsm();
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(*described, nsm);

  device.Respond(GetRandomResponse{Bytes{5, 6, 7}});
  absl::StatusOr<SecretBytes> random = client.GetRandom();
  ASSERT_TRUE(random.ok()) << random.status();
  EXPECT_EQ(Bytes(random->Reveal().begin(), random->Reveal().end()), (Bytes{5, 6, 7}));

  device.Respond(AttestationResponse{Bytes{0xd2, 0x84}});
  const Bytes user_data = {1};
  const Bytes public_key = {2, 2};
  absl::StatusOr<Bytes> doc =
      client.Attestation(ByteView(user_data), std::nullopt, ByteView(public_key));
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(*doc, (Bytes{0xd2, 0x84}));

  const std::vector<NsmRequest> expected = {
      ExtendPcrRequest{16, {9, 8}}, LockPcrRequest{16},
      LockPcrsRequest{5},           DescribeNsmRequest{},
      GetRandomRequest{},           AttestationRequest{Bytes{1}, std::nullopt, Bytes{2, 2}},
  };
  EXPECT_EQ(device.Requests(), expected);
}

TEST(NsmClientTest, NsmErrorBecomesAStatusNamingTheRequestAndTheCode) {
  ScriptedDevice device;
  device.Respond(ErrorResponse{ErrorCode::kReadOnlyIndex});
  NsmClient client(device);
  absl::Status s = client.ExtendPcr(0, Bytes{1}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "nsm: ExtendPCR failed: ReadOnlyIndex");
}

TEST(NsmClientTest, ErrorCodesMapToStatusCodes) {
  struct Case {
    ErrorCode code;
    absl::StatusCode status;
  };
  const Case cases[] = {
      {ErrorCode::kSuccess, absl::StatusCode::kInternal},
      {ErrorCode::kInvalidArgument, absl::StatusCode::kInvalidArgument},
      {ErrorCode::kInvalidIndex, absl::StatusCode::kInvalidArgument},
      {ErrorCode::kInvalidResponse, absl::StatusCode::kInternal},
      {ErrorCode::kReadOnlyIndex, absl::StatusCode::kFailedPrecondition},
      {ErrorCode::kInvalidOperation, absl::StatusCode::kFailedPrecondition},
      {ErrorCode::kBufferTooSmall, absl::StatusCode::kResourceExhausted},
      {ErrorCode::kInputTooLarge, absl::StatusCode::kInvalidArgument},
      {ErrorCode::kInternalError, absl::StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    absl::Status s = NsmErrorToStatus(c.code, "GetRandom");
    EXPECT_EQ(s.code(), c.status) << ErrorCodeName(c.code);
    EXPECT_THAT(std::string(s.message()), HasSubstr(std::string(ErrorCodeName(c.code))));
  }
}

TEST(NsmClientTest, ResponseOfTheWrongVariantIsInternal) {
  ScriptedDevice device;
  device.Respond(GetRandomResponse{Bytes{1}});
  NsmClient client(device);
  absl::Status s = client.DescribePcr(0).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("DescribePCR request answered with a GetRandom"));
}

TEST(NsmClientTest, UndecodableResponseIsInternal) {
  ScriptedDevice device;
  device.RespondBytes(Bytes{0xff, 0x00});
  NsmClient client(device);
  absl::Status s = client.DescribeNsm().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("undecodable response to DescribeNSM"));
}

TEST(NsmClientTest, DeviceFailuresPassThroughUnchanged) {
  ScriptedDevice device;
  device.Fail(absl::DeadlineExceededError("nsm socket: timed out"));
  NsmClient client(device);
  absl::Status s = client.LockPcrs(3);
  EXPECT_EQ(s, absl::DeadlineExceededError("nsm socket: timed out"));
}

TEST(NsmClientTest, OversizedAttestationFieldsNeverReachTheDevice) {
  ScriptedDevice device;
  NsmClient client(device);
  const Bytes big(kMaxNonceSize + 1, 0);
  absl::Status s = client.Attestation(std::nullopt, ByteView(big), std::nullopt).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("nonce"));
  EXPECT_EQ(device.calls(), 0u);
}

}  // namespace
}  // namespace lockout::nsm
