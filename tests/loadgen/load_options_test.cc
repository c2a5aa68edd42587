#include "src/loadgen/load_options.h"

#include <limits>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::loadgen {
namespace {

using ::testing::HasSubstr;

LoadOptions Valid() {
  LoadOptions o;
  o.endpoint = *net::Endpoint::Parse("tcp://127.0.0.1:5010");
  return o;
}

void ExpectRejected(const LoadOptions& o, const std::string& option, uint32_t cpus = 4) {
  absl::Status s = ValidateLoadOptions(o, cpus);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(option));
}

TEST(LoadOptionsTest, DefaultsWithAnEndpointAreValid) {
  EXPECT_TRUE(ValidateLoadOptions(Valid(), 1).ok());
  EXPECT_EQ(Valid().window(), 64u);
}

TEST(LoadOptionsTest, V1HasAWindowOfOne) {
  LoadOptions o = Valid();
  o.protocol = Protocol::kV1;
  o.pipeline = 64;
  EXPECT_EQ(o.window(), 1u);
}

TEST(LoadOptionsTest, MissingEndpointIsRejected) {
  LoadOptions o = Valid();
  o.endpoint.reset();
  ExpectRejected(o, "--connect");
}

TEST(LoadOptionsTest, ConnectionsOutOfRangeAreRejected) {
  LoadOptions o = Valid();
  o.connections = 0;
  ExpectRejected(o, "--connections");
  o.connections = kMaxConnections + 1;
  ExpectRejected(o, "--connections");
}

TEST(LoadOptionsTest, PipelineOutOfRangeIsRejected) {
  LoadOptions o = Valid();
  o.pipeline = 0;
  ExpectRejected(o, "--pipeline");
  o.pipeline = kMaxPipeline + 1;
  ExpectRejected(o, "--pipeline");
}

TEST(LoadOptionsTest, DurationsOutOfRangeAreRejected) {
  LoadOptions o = Valid();
  o.duration = absl::ZeroDuration();
  ExpectRejected(o, "--duration");
  o = Valid();
  o.duration = absl::Hours(25);
  ExpectRejected(o, "--duration");
  o = Valid();
  o.warmup = absl::Seconds(-1);
  ExpectRejected(o, "--warmup");
  o = Valid();
  o.warmup = absl::ZeroDuration();
  EXPECT_TRUE(ValidateLoadOptions(o, 1).ok());
  o.request_timeout = absl::ZeroDuration();
  ExpectRejected(o, "--timeout");
}

TEST(LoadOptionsTest, RateMustBePositiveAndFinite) {
  LoadOptions o = Valid();
  for (double bad : {0.0, -1.0, kMaxRate * 2, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    o.rate = bad;
    ExpectRejected(o, "--rate");
  }
  o.rate = 0.5;
  EXPECT_TRUE(ValidateLoadOptions(o, 1).ok());
}

TEST(LoadOptionsTest, ThreadsBoundedByCpusAndConnections) {
  LoadOptions o = Valid();
  o.connections = 8;
  o.threads = 0;
  ExpectRejected(o, "--threads");
  o.threads = 3;
  ExpectRejected(o, "--threads", /*cpus=*/2);
  EXPECT_TRUE(ValidateLoadOptions(o, 4).ok());
  o.connections = 2;
  ExpectRejected(o, "--threads", /*cpus=*/4);
}

TEST(LoadOptionsTest, VerifySampleIsBounded) {
  LoadOptions o = Valid();
  o.verify_sample = 0;
  EXPECT_TRUE(ValidateLoadOptions(o, 1).ok());
  o.verify_sample = kMaxVerifySample + 1;
  ExpectRejected(o, "--verify-sample");
}

TEST(LoadOptionsTest, MessageSizeOutOfRangeIsRejected) {
  LoadOptions o = Valid();
  o.message_size = 0;
  ExpectRejected(o, "--message-size");
  o.message_size = kMaxMessageSize + 1;
  ExpectRejected(o, "--message-size");
}

}  // namespace
}  // namespace lockout::loadgen
