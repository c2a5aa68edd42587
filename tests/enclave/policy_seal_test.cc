#include "src/enclave/policy_seal.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/attest/attestation_document.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/localaws/nsm_service.h"
#include "src/nsm/nsm_client.h"
#include "src/nsm/unix_socket_nsm_device.h"
#include "tests/testing/temp_dir.h"

namespace lockout::enclave {
namespace {

using ::lockout::testing::TempDir;
using ::testing::HasSubstr;

// The local NSM service (AWS's ExtendPCR/LockPCR semantics on PCRs 16..31) stands in for
// /dev/nsm: the seal runs against real NSM messages.
class PolicySealTest : public ::testing::Test {
 protected:
  PolicySealTest() : clock_(absl::Now()) {}

  void SetUp() override {
    localaws::NsmServiceOptions o;
    o.state_dir = dir_.path() + "/state";
    o.socket_path = dir_.path() + "/nsm.sock";
    o.instance_id = "i-0123456789abcdef0";
    absl::StatusOr<std::unique_ptr<localaws::NsmService>> s =
        localaws::NsmService::Start(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = *std::move(s);
    absl::StatusOr<std::unique_ptr<nsm::UnixSocketNsmDevice>> d =
        nsm::UnixSocketNsmDevice::Create(service_->socket_path());
    ASSERT_TRUE(d.ok()) << d.status();
    device_ = *std::move(d);
    absl::StatusOr<signpolicy::SigningPolicy> p = signpolicy::ParseSigningPolicy(
        R"({"version": 1, "clients": [{"name": "gw", "algorithm": "ed25519", "public_key":
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "ops": ["sign"], "keys": ["*"]}]})");
    ASSERT_TRUE(p.ok()) << p.status();
    policy_ = *std::move(p);
  }

  Bytes Expected() const {
    const auto pcr16 = signpolicy::ExpectedPcr16(policy_);
    return Bytes(pcr16.begin(), pcr16.end());
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<localaws::NsmService> service_;
  std::unique_ptr<nsm::UnixSocketNsmDevice> device_;
  signpolicy::SigningPolicy policy_;
};

TEST_F(PolicySealTest, ExtendsAndLocksPcr16SoDocumentsCarryTheExpectedValue) {
  absl::StatusOr<std::array<uint8_t, 48>> sealed = SealSigningPolicy(*device_, policy_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(Bytes(sealed->begin(), sealed->end()), Expected());
  nsm::NsmClient client(*device_);
  absl::StatusOr<nsm::DescribePcrResponse> pcr16 = client.DescribePcr(16);
  ASSERT_TRUE(pcr16.ok()) << pcr16.status();
  EXPECT_TRUE(pcr16->lock);
  EXPECT_EQ(pcr16->data, Expected());
  // Nothing can change it afterwards.
  absl::Status extend = client.ExtendPcr(16, ToBytes("a client of root's")).status();
  EXPECT_EQ(extend.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(extend.message()), HasSubstr("ReadOnlyIndex"));
  // The attestation document KMS is shown carries it.
  absl::StatusOr<Bytes> doc = client.Attestation(std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(doc.ok()) << doc.status();
  absl::StatusOr<attest::AttestationDocument> parsed = attest::ParseAttestationDocument(*doc);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->pcrs.count(16));
  EXPECT_EQ(parsed->pcrs.at(16), Expected());
}

TEST_F(PolicySealTest, RefusesAPcr16ThatIsAlreadyLocked) {
  ASSERT_TRUE(SealSigningPolicy(*device_, policy_).ok());
  absl::StatusOr<std::array<uint8_t, 48>> again = SealSigningPolicy(*device_, policy_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("PCR16 is already locked"));
}

TEST_F(PolicySealTest, RefusesAPcr16ExtendedBeforeAndLeavesItUnlocked) {
  nsm::NsmClient client(*device_);
  ASSERT_TRUE(client.ExtendPcr(16, ToBytes("something else first")).ok());
  absl::StatusOr<std::array<uint8_t, 48>> sealed = SealSigningPolicy(*device_, policy_);
  ASSERT_FALSE(sealed.ok());
  EXPECT_EQ(sealed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(sealed.status().message()), HasSubstr("already extended"));
  absl::StatusOr<nsm::DescribePcrResponse> pcr16 = client.DescribePcr(16);
  ASSERT_TRUE(pcr16.ok());
  EXPECT_FALSE(pcr16->lock);
  EXPECT_NE(pcr16->data, Expected());
}

TEST_F(PolicySealTest, AnUnreachableNsmIsAnErrorNotASeal) {
  service_->Stop();
  absl::StatusOr<std::array<uint8_t, 48>> sealed = SealSigningPolicy(*device_, policy_);
  EXPECT_FALSE(sealed.ok());
}

}  // namespace
}  // namespace lockout::enclave
