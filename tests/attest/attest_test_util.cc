#include "tests/attest/attest_test_util.h"

#include <algorithm>
#include <filesystem>

#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/crypto/hash.h"
#include "tests/testing/vectors.h"

namespace lockout::attest::testing {

absl::Time Rfc3339(std::string_view text) {
  absl::StatusOr<absl::Time> t = ParseRfc3339(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : absl::InfinitePast();
}

Bytes Hex(std::string_view hex) {
  absl::StatusOr<Bytes> b = HexDecode(hex);
  EXPECT_TRUE(b.ok()) << hex;
  return b.ok() ? *b : Bytes();
}

size_t Find(const Bytes& haystack, ByteView needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end());
  EXPECT_NE(it, haystack.end()) << "needle of " << needle.size() << " bytes not found";
  return it == haystack.end() ? std::string::npos : static_cast<size_t>(it - haystack.begin());
}

Bytes FlipBit(Bytes data, size_t offset, int bit) {
  data.at(offset) = static_cast<uint8_t>(data.at(offset) ^ (1u << bit));
  return data;
}

void LoadRealDocuments(const std::string& index_path, std::vector<RealDocument>* docs) {
  absl::StatusOr<std::string> text = ReadFileString(index_path);
  ASSERT_TRUE(text.ok()) << text.status();
  nlohmann::json index = nlohmann::json::parse(*text);
  const std::string dir = std::filesystem::path(index_path).parent_path().string();
  for (const nlohmann::json& facts : index.at("documents")) {
    RealDocument doc;
    doc.file = facts.at("file").get<std::string>();
    doc.facts = facts;
    Bytes raw = lockout::testing::ReadTestFile(dir + "/" + doc.file);
    if (facts.at("encoding").get<std::string>().starts_with("base64")) {
      std::string compact;
      for (uint8_t c : raw) {
        if (!std::isspace(c)) compact.push_back(static_cast<char>(c));
      }
      absl::StatusOr<Bytes> decoded = Base64Decode(compact);
      ASSERT_TRUE(decoded.ok()) << doc.file;
      doc.bytes = *decoded;
    } else {
      doc.bytes = raw;
    }
    ASSERT_EQ(doc.bytes.size(), facts.at("doc_bytes").get<size_t>()) << doc.file;
    doc.timestamp = absl::FromUnixMillis(facts.at("timestamp_ms").get<int64_t>());
    doc.window_start = Rfc3339(facts.at("chain_valid_window_utc").at(0).get<std::string>());
    doc.window_end = Rfc3339(facts.at("chain_valid_window_utc").at(1).get<std::string>());
    docs->push_back(std::move(doc));
  }
  ASSERT_EQ(docs->size(), 3u);
}

CertificateOptions Options(std::string subject, absl::Time not_before, absl::Time not_after) {
  CertificateOptions o;
  o.subject = std::move(subject);
  o.not_before = not_before;
  o.not_after = not_after;
  return o;
}

TestPki MakeTestPki(absl::Time now) {
  absl::StatusOr<CertAuthority> root =
      CertAuthority::CreateRoot(Options("CN=test.nitro-enclaves,OU=Lockout,O=Test,C=US",
                                        now - absl::Hours(24 * 365), now + absl::Hours(24 * 365)));
  EXPECT_TRUE(root.ok()) << root.status();
  absl::StatusOr<CertAuthority> intermediate =
      root->IssueIntermediate(Options("CN=zonal.test.nitro-enclaves,OU=Lockout,O=Test,C=US",
                                      now - absl::Hours(24), now + absl::Hours(24 * 7)));
  EXPECT_TRUE(intermediate.ok()) << intermediate.status();
  absl::StatusOr<CertifiedKey> leaf = intermediate->IssueLeaf(
      Options("CN=i-0123456789abcdef0-enc0123456789abcdef.test,OU=Lockout,O=Test,C=US",
              now - absl::Minutes(10), now + absl::Hours(3)));
  EXPECT_TRUE(leaf.ok()) << leaf.status();
  return TestPki{*std::move(root), *std::move(intermediate), *std::move(leaf)};
}

AttestationDocument SampleFields(const TestPki& pki, absl::Time now) {
  AttestationDocument doc;
  doc.module_id = "i-0123456789abcdef0-enc0123456789abcdef";
  doc.digest = "SHA384";
  doc.timestamp_ms = static_cast<uint64_t>(absl::ToUnixMillis(now));
  for (uint32_t i = 0; i < 16; ++i) {
    crypto::Sha384Digest d = crypto::Sha384(Bytes{static_cast<uint8_t>(i)});
    doc.pcrs[i] = Bytes(d.begin(), d.end());
  }
  doc.certificate = pki.leaf.certificate;
  doc.cabundle = {pki.root.certificate(), pki.intermediate.certificate()};
  doc.public_key = Bytes(91, 0x30);
  doc.user_data = ToBytes("hello, world!");
  doc.nonce = Bytes(32, 0x5a);
  return doc;
}

}  // namespace lockout::attest::testing
