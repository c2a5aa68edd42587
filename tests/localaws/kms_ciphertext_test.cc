// The local KMS ciphertext blob format (kms_ciphertext.h): syntax, AAD binding, negative cases.

#include "src/localaws/kms_ciphertext.h"

#include <set>

#include "gtest/gtest.h"
#include "src/crypto/hash.h"

namespace lockout::localaws {
namespace {

constexpr char kKeyId[] = "0f1e2d3c-4b5a-4697-8877-665544332211";

SecretBytes Material(uint8_t fill) { return SecretBytes::CopyFrom(Bytes(32, fill)); }

TEST(KmsKeyIdTest, AcceptsOnlyUuidSyntax) {
  EXPECT_TRUE(IsKmsKeyId(kKeyId));
  EXPECT_TRUE(IsKmsKeyId("0F1E2D3C-4B5A-4697-8877-665544332211"));
  EXPECT_FALSE(IsKmsKeyId(""));
  EXPECT_FALSE(IsKmsKeyId("0f1e2d3c-4b5a-4697-8877-66554433221"));    // short
  EXPECT_FALSE(IsKmsKeyId("0f1e2d3c-4b5a-4697-8877-6655443322111"));  // long
  EXPECT_FALSE(IsKmsKeyId("0f1e2d3c4b5a-4697-8877-6655-44332211"));   // dashes misplaced
  EXPECT_FALSE(IsKmsKeyId("0f1e2d3c-4b5a-4697-8877-66554433221g"));   // not hex
  EXPECT_FALSE(IsKmsKeyId("alias/0f1e2d3c-4b5a-4697-8877-66554433"));
}

TEST(KmsKeyIdTest, NewIdsAreDistinctVersion4Uuids) {
  std::set<std::string> ids;
  for (int i = 0; i < 64; ++i) {
    std::string id = NewKmsKeyId();
    EXPECT_TRUE(IsKmsKeyId(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 64u);
}

TEST(CanonicalEncryptionContextTest, IsLengthPrefixedInKeyOrder) {
  EXPECT_TRUE(CanonicalEncryptionContext({}).empty());
  Bytes c = CanonicalEncryptionContext({{"b", "2"}, {"a", ""}});
  Bytes want = {0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 'b', 0, 0, 0, 1, '2'};
  EXPECT_EQ(c, want);
}

TEST(CanonicalEncryptionContextTest, DoesNotConfuseBoundaries) {
  // Naive concatenation would make these equal.
  EXPECT_NE(CanonicalEncryptionContext({{"ab", "c"}}), CanonicalEncryptionContext({{"a", "bc"}}));
  EXPECT_NE(CanonicalEncryptionContext({{"a", "b"}, {"c", "d"}}),
            CanonicalEncryptionContext({{"a", "bcd"}}));
}

TEST(KmsBlobTest, SealThenOpenRoundTripsAndHasTheDocumentedLayout) {
  SecretBytes key = Material(7);
  auto blob = SealKmsBlob(key, kKeyId, AsBytes("hello"), {{"k", "v"}});
  ASSERT_TRUE(blob.ok()) << blob.status();
  ASSERT_EQ(blob->size(), kKmsBlobOverhead + 5);
  EXPECT_EQ((*blob)[0], kKmsBlobVersion);
  EXPECT_EQ(ToString(ByteView(*blob).subspan(1, 36)), kKeyId);
  auto parts = ParseKmsBlob(*blob);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->key_id, kKeyId);
  EXPECT_EQ(parts->ciphertext.size(), 5u);
  auto plain = OpenKmsBlob(key, *parts, {{"k", "v"}});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->RevealAsString(), "hello");
}

TEST(KmsBlobTest, TwoSealsOfTheSamePlaintextDiffer) {
  SecretBytes key = Material(7);
  auto a = SealKmsBlob(key, kKeyId, AsBytes("same"), {});
  auto b = SealKmsBlob(key, kKeyId, AsBytes("same"), {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);  // fresh nonce each time
}

TEST(KmsBlobTest, WrongKeyOrContextDoesNotAuthenticate) {
  SecretBytes key = Material(7);
  auto blob = SealKmsBlob(key, kKeyId, AsBytes("hello"), {{"k", "v"}});
  ASSERT_TRUE(blob.ok());
  auto parts = ParseKmsBlob(*blob);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(OpenKmsBlob(Material(8), *parts, {{"k", "v"}}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(OpenKmsBlob(key, *parts, {{"k", "w"}}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(OpenKmsBlob(key, *parts, {}).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(OpenKmsBlob(key, *parts, {{"k", "v"}, {"x", "y"}}).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(KmsBlobTest, EveryBitFlipIsRejected) {
  SecretBytes key = Material(7);
  auto blob = SealKmsBlob(key, kKeyId, AsBytes("hi"), {});
  ASSERT_TRUE(blob.ok());
  for (size_t i = 0; i < blob->size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = *blob;
      bad[i] = static_cast<uint8_t>(bad[i] ^ (1u << bit));
      auto parts = ParseKmsBlob(bad);
      if (!parts.ok()) continue;  // version or key id syntax broken: also a rejection
      EXPECT_FALSE(OpenKmsBlob(key, *parts, {}).ok()) << "offset " << i << " bit " << bit;
    }
  }
}

TEST(KmsBlobTest, ParseRejectsTruncationOversizeAndBadHeaders) {
  SecretBytes key = Material(1);
  auto blob = SealKmsBlob(key, kKeyId, AsBytes("x"), {});
  ASSERT_TRUE(blob.ok());
  for (size_t n = 0; n < blob->size(); ++n) {
    EXPECT_FALSE(ParseKmsBlob(ByteView(*blob).subspan(0, n)).ok()) << n;
  }
  Bytes big(kMaxKmsCiphertextSize + 1, 0);
  big[0] = kKmsBlobVersion;
  std::copy(kKeyId, kKeyId + 36, big.begin() + 1);
  EXPECT_FALSE(ParseKmsBlob(big).ok());
  Bytes v2 = *blob;
  v2[0] = 2;
  EXPECT_FALSE(ParseKmsBlob(v2).ok());
  Bytes bad_id = *blob;
  bad_id[9] = 'x';  // the first dash
  EXPECT_FALSE(ParseKmsBlob(bad_id).ok());
}

TEST(KmsBlobTest, SealRejectsBadArguments) {
  SecretBytes key = Material(1);
  EXPECT_FALSE(SealKmsBlob(key, kKeyId, ByteView(), {}).ok());
  EXPECT_FALSE(SealKmsBlob(key, kKeyId, Bytes(kMaxKmsPlaintextSize + 1, 0), {}).ok());
  EXPECT_TRUE(SealKmsBlob(key, kKeyId, Bytes(kMaxKmsPlaintextSize, 0), {}).ok());
  EXPECT_FALSE(SealKmsBlob(key, "not-a-key-id", AsBytes("x"), {}).ok());
  EXPECT_FALSE(SealKmsBlob(SecretBytes::CopyFrom(Bytes(16, 0)), kKeyId, AsBytes("x"), {}).ok());
}

TEST(KmsBlobTest, ErrorsNeverQuoteThePlaintext) {
  SecretBytes key = Material(7);
  auto blob = SealKmsBlob(key, kKeyId, AsBytes("CANARY-PLAINTEXT"), {});
  ASSERT_TRUE(blob.ok());
  auto parts = ParseKmsBlob(*blob);
  ASSERT_TRUE(parts.ok());
  auto opened = OpenKmsBlob(Material(9), *parts, {});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(std::string(opened.status().message()).find("CANARY"), std::string::npos);
}

}  // namespace
}  // namespace lockout::localaws
