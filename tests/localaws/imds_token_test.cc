#include "src/localaws/imds_token.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"

namespace lockout::localaws {
namespace {

class ImdsTokenIssuerTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  ImdsTokenIssuer issuer_{clock_};
};

TEST_F(ImdsTokenIssuerTest, ATokenIsValidUntilItsTtlEnds) {
  absl::StatusOr<std::string> token = issuer_.Issue(/*ttl_seconds=*/60);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->size(), ImdsTokenIssuer::kTokenSize);
  EXPECT_TRUE(issuer_.Valid(*token));
  clock_.Advance(absl::Seconds(60) - absl::Milliseconds(1));
  EXPECT_TRUE(issuer_.Valid(*token));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(issuer_.Valid(*token));
}

TEST_F(ImdsTokenIssuerTest, TtlLimitsAreThoseOfImdsV2) {
  EXPECT_FALSE(issuer_.Issue(0).ok());
  EXPECT_FALSE(issuer_.Issue(-1).ok());
  EXPECT_FALSE(issuer_.Issue(21601).ok());
  absl::StatusOr<std::string> shortest = issuer_.Issue(1);
  absl::StatusOr<std::string> longest = issuer_.Issue(21600);
  ASSERT_TRUE(shortest.ok() && longest.ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(issuer_.Valid(*shortest));
  clock_.Advance(absl::Hours(6) - absl::Seconds(2));
  EXPECT_TRUE(issuer_.Valid(*longest));
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(issuer_.Valid(*longest));
}

TEST_F(ImdsTokenIssuerTest, ManyTokensAreDistinctAndAllStayValid) {
  // No table: the 20,000th token is issued and checked like the first.
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < 20000; ++i) {
    absl::StatusOr<std::string> token = issuer_.Issue(21600);
    ASSERT_TRUE(token.ok());
    ASSERT_TRUE(issuer_.Valid(*token));
    seen.insert(*std::move(token));
  }
  EXPECT_EQ(seen.size(), 20000u);
}

TEST_F(ImdsTokenIssuerTest, AnotherIssuersTokenIsRefused) {
  // Another process (or this one after a restart) has another key.
  ImdsTokenIssuer other(clock_);
  absl::StatusOr<std::string> token = other.Issue(60);
  ASSERT_TRUE(token.ok());
  EXPECT_TRUE(other.Valid(*token));
  EXPECT_FALSE(issuer_.Valid(*token));
}

TEST_F(ImdsTokenIssuerTest, EveryAlteredByteIsRefused) {
  absl::StatusOr<std::string> token = issuer_.Issue(60);
  ASSERT_TRUE(token.ok());
  absl::StatusOr<Bytes> raw = Base64Decode(*token);
  ASSERT_TRUE(raw.ok());
  for (size_t i = 0; i < raw->size(); ++i) {
    for (const uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
      Bytes altered = *raw;
      altered[i] = static_cast<uint8_t>(altered[i] ^ bit);
      EXPECT_FALSE(issuer_.Valid(Base64Encode(altered))) << "byte " << i;
    }
  }
}

TEST_F(ImdsTokenIssuerTest, AnExtendedExpiryIsRefused) {
  // The expiry is under the MAC: pushing it forward (bytes 1..8) breaks the token.
  absl::StatusOr<std::string> token = issuer_.Issue(1);
  ASSERT_TRUE(token.ok());
  absl::StatusOr<Bytes> raw = Base64Decode(*token);
  ASSERT_TRUE(raw.ok());
  (*raw)[1] = 0x7f;
  clock_.Advance(absl::Seconds(2));
  EXPECT_FALSE(issuer_.Valid(Base64Encode(*raw)));
}

TEST_F(ImdsTokenIssuerTest, MalformedTokensAreRefused) {
  absl::StatusOr<std::string> token = issuer_.Issue(60);
  ASSERT_TRUE(token.ok());
  EXPECT_FALSE(issuer_.Valid(""));
  EXPECT_FALSE(issuer_.Valid(token->substr(0, token->size() - 4)));            // truncated
  EXPECT_FALSE(issuer_.Valid(*token + "AAAA"));                                // extended
  EXPECT_FALSE(issuer_.Valid(std::string(ImdsTokenIssuer::kTokenSize, '!')));  // not base64
  EXPECT_FALSE(issuer_.Valid(std::string(1 << 20, 'A')));                      // oversized
  std::string wrong_version = *token;
  wrong_version[0] = wrong_version[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(issuer_.Valid(wrong_version));
}

}  // namespace
}  // namespace lockout::localaws
