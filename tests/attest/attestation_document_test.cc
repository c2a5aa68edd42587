#include "src/attest/attestation_document.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/attest/attest_error.h"
#include "src/attest/certificate.h"
#include "src/common/cbor.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "tests/attest/attest_test_util.h"
#include "tests/testing/vectors.h"

namespace lockout::attest {
namespace {

using testing::Hex;
using testing::RealDocument;

std::optional<AttestFailure> ParseFailure(ByteView data) {
  absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(data);
  EXPECT_FALSE(doc.ok());
  return doc.ok() ? std::nullopt : FailureOf(doc.status());
}

class RealDocumentParseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LOCKOUT_VECTOR_OR_SKIP(index, "attestation/index.json");
    testing::LoadRealDocuments(index, &docs_);
  }
  std::vector<RealDocument> docs_;
};

TEST_F(RealDocumentParseTest, ParsesEveryRealDocumentToTheIndexedFacts) {
  for (const RealDocument& real : docs_) {
    SCOPED_TRACE(real.file);
    absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(real.bytes);
    ASSERT_TRUE(doc.ok()) << doc.status();
    const nlohmann::json& f = real.facts;
    EXPECT_EQ(doc->module_id, f["module_id"].get<std::string>());
    EXPECT_EQ(doc->digest, f["digest"].get<std::string>());
    EXPECT_EQ(doc->timestamp_ms, f["timestamp_ms"].get<uint64_t>());
    ASSERT_EQ(doc->pcrs.size(), f["pcrs"].size());
    for (const auto& [index, value] : doc->pcrs) {
      EXPECT_EQ(HexEncode(value), f["pcrs"][std::to_string(index)].get<std::string>())
          << "PCR" << index;
    }
    auto expect_optional = [](const std::optional<Bytes>& got, const nlohmann::json& want) {
      if (want.is_null()) {
        EXPECT_FALSE(got.has_value());
      } else {
        ASSERT_TRUE(got.has_value());
        EXPECT_EQ(HexEncode(*got), want.get<std::string>());
      }
    };
    expect_optional(doc->public_key, f["public_key_hex"]);
    expect_optional(doc->user_data, f["user_data_hex"]);
    expect_optional(doc->nonce, f["nonce_hex"]);
    ASSERT_EQ(doc->cabundle.size(), f["cabundle"].size());
    for (size_t i = 0; i < doc->cabundle.size(); ++i) {
      absl::StatusOr<CertificateSummary> s = SummarizeCertificate(doc->cabundle[i]);
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ(s->sha256_hex, f["cabundle"][i]["sha256"].get<std::string>());
      EXPECT_EQ(s->subject, f["cabundle"][i]["subject"].get<std::string>());
    }
    absl::StatusOr<CertificateSummary> leaf = SummarizeCertificate(doc->certificate);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    EXPECT_EQ(leaf->subject, f["leaf_cert"]["subject"].get<std::string>());
    EXPECT_EQ(leaf->issuer, f["leaf_cert"]["issuer"].get<std::string>());
    EXPECT_EQ(HexEncode(doc->cose.protected_header), f["cose"]["protected_hex"].get<std::string>());
    EXPECT_EQ(doc->cose.signature.size(), kSignatureSize);
    EXPECT_EQ(doc->cose.payload.size(), f["payload_bytes"].get<size_t>());
  }
}

TEST_F(RealDocumentParseTest, ReencodingARealDocumentReproducesItByteForByte) {
  for (const RealDocument& real : docs_) {
    SCOPED_TRACE(real.file);
    absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(real.bytes);
    ASSERT_TRUE(doc.ok()) << doc.status();
    EXPECT_EQ(EncodeAttestationPayload(*doc), doc->cose.payload);
    EXPECT_EQ(EncodeCoseSign1(doc->cose), real.bytes);
  }
}

TEST_F(RealDocumentParseTest, PayloadKeysAreInTheIndexedOrder) {
  for (const RealDocument& real : docs_) {
    absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(real.bytes);
    ASSERT_TRUE(doc.ok());
    absl::StatusOr<CborPtr> map = CborParse(doc->cose.payload);
    ASSERT_TRUE(map.ok());
    std::vector<std::string> keys;
    for (size_t i = 0; i < cbor_map_size(map->get()); ++i) {
      keys.push_back(*CborGetText(cbor_map_handle(map->get())[i].key));
    }
    EXPECT_EQ(keys, real.facts["payload_key_order"].get<std::vector<std::string>>());
  }
}

TEST_F(RealDocumentParseTest, RejectsEveryTruncationCleanly) {
  for (const RealDocument& real : docs_) {
    SCOPED_TRACE(real.file);
    for (size_t len = 0; len < real.bytes.size(); ++len) {
      absl::StatusOr<AttestationDocument> doc =
          ParseAttestationDocument(ByteView(real.bytes.data(), len));
      ASSERT_FALSE(doc.ok()) << "prefix of " << len << " bytes parsed";
      ASSERT_EQ(FailureOf(doc.status()), AttestFailure::kMalformed) << doc.status();
    }
  }
}

TEST_F(RealDocumentParseTest, RejectsATrailingByte) {
  Bytes longer = docs_[0].bytes;
  longer.push_back(0x00);
  EXPECT_EQ(ParseFailure(longer), AttestFailure::kMalformed);
}

TEST_F(RealDocumentParseTest, AcceptsTheTaggedForm) {
  Bytes tagged = {0xd2};
  tagged.insert(tagged.end(), docs_[1].bytes.begin(), docs_[1].bytes.end());
  absl::StatusOr<AttestationDocument> a = ParseAttestationDocument(tagged);
  absl::StatusOr<AttestationDocument> b = ParseAttestationDocument(docs_[1].bytes);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
}

TEST_F(RealDocumentParseTest, AcceptsTheTaggedFormWithATwoByteTag) {
  Bytes tagged = {0xd8, 0x12};
  tagged.insert(tagged.end(), docs_[1].bytes.begin(), docs_[1].bytes.end());
  absl::StatusOr<AttestationDocument> a = ParseAttestationDocument(tagged);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->module_id, docs_[1].facts["module_id"].get<std::string>());
}

TEST_F(RealDocumentParseTest, RejectsATagOtherThanCoseSign1) {
  Bytes tagged2 = {0xd8, 0x62};  // tag 98: COSE_Sign
  tagged2.insert(tagged2.end(), docs_[1].bytes.begin(), docs_[1].bytes.end());
  EXPECT_EQ(ParseFailure(tagged2), AttestFailure::kMalformed);
  Bytes twice = {0xd2, 0xd2};
  twice.insert(twice.end(), docs_[1].bytes.begin(), docs_[1].bytes.end());
  EXPECT_EQ(ParseFailure(twice), AttestFailure::kMalformed);

  Bytes tagged = {0xd1};  // tag 17: COSE_Mac0
  tagged.insert(tagged.end(), docs_[1].bytes.begin(), docs_[1].bytes.end());
  EXPECT_EQ(ParseFailure(tagged), AttestFailure::kMalformed);
}

TEST(AttestationDocumentTest, RejectsAnOversizedInputBeforeParsingIt) {
  Bytes huge(kMaxDocumentSize + 1, 0x84);
  absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(huge);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(FailureOf(doc.status()), AttestFailure::kMalformed);
  EXPECT_NE(doc.status().message().find("at most"), absl::string_view::npos) << doc.status();
}

TEST(AttestationDocumentTest, RejectsEmptyInput) {
  EXPECT_EQ(ParseFailure(ByteView()), AttestFailure::kMalformed);
}

// The encoder must match aws-nitro-enclaves-nsm-api's serde_cbor output exactly.
TEST(AttestationDocumentTest, EncoderReproducesTheNsmApiVector) {
  LOCKOUT_VECTOR_OR_SKIP(path, "nsm/nsm-cbor-encodings.json");
  absl::StatusOr<std::string> text = ReadFileString(path);
  ASSERT_TRUE(text.ok());
  nlohmann::json vectors = nlohmann::json::parse(*text);
  std::string expected;
  for (const nlohmann::json& c : vectors["cases"]) {
    if (c["kind"] == "attestation_doc_payload") expected = c["hex"].get<std::string>();
  }
  ASSERT_FALSE(expected.empty()) << "no attestation_doc_payload case in the vector file";
  // AttestationDoc {module_id:"abcd", digest:SHA256, timestamp:1234, pcrs:{1:[1,2,3],2:[4,5,6]},
  // certificate:[0x2a]*10, cabundle:[], public_key:None, user_data:[0xff]*10, nonce:None}
  AttestationDocument doc;
  doc.module_id = "abcd";
  doc.digest = "SHA256";
  doc.timestamp_ms = 1234;
  doc.pcrs[1] = {1, 2, 3};
  doc.pcrs[2] = {4, 5, 6};
  doc.certificate = Bytes(10, 0x2a);
  doc.user_data = Bytes(10, 0xff);
  EXPECT_EQ(HexEncode(EncodeAttestationPayload(doc)), expected);
}

TEST(AttestationDocumentTest, SigStructureIsTheRfc8152Form) {
  // ["Signature1", h'a1013822', h'', h'01']
  EXPECT_EQ(HexEncode(EncodeSigStructure(Es384ProtectedHeader(), Bytes{0x01})),
            "846a5369676e61747572653144a101382240"
            "4101");
}

// --- Envelope and payload negatives on a synthetic document -----------------------------------

// A syntactically valid document (not signed: parsing does not check signatures).
AttestationDocument ValidFields() {
  AttestationDocument doc;
  doc.module_id = "i-0123456789abcdef0-enc0123456789abcdef";
  doc.digest = "SHA384";
  doc.timestamp_ms = 1695049410860;
  for (uint32_t i = 0; i < 16; ++i) doc.pcrs[i] = Bytes(48, static_cast<uint8_t>(i));
  doc.certificate = Bytes(600, 0x30);
  doc.cabundle = {Bytes(500, 0x30), Bytes(700, 0x30)};
  doc.nonce = Bytes(16, 0x01);
  return doc;
}

Bytes Envelope(Bytes payload, Bytes protected_header = Es384ProtectedHeader(),
               Bytes signature = Bytes(kSignatureSize, 0x11)) {
  return EncodeCoseSign1({std::move(protected_header), std::move(payload), std::move(signature)});
}

Bytes Serialize(const CborPtr& item) {
  absl::StatusOr<Bytes> b = CborSerialize(item.get());
  EXPECT_TRUE(b.ok());
  return b.ok() ? *b : Bytes();
}

TEST(AttestationDocumentTest, ParsesASyntheticDocumentAndKeepsItsCoseParts) {
  const Bytes payload = EncodeAttestationPayload(ValidFields());
  const Bytes signature(kSignatureSize, 0x11);
  absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(Envelope(payload));
  ASSERT_TRUE(doc.ok()) << doc.status();
  AttestationDocument expected = ValidFields();
  expected.cose = {Es384ProtectedHeader(), payload, signature};
  EXPECT_EQ(*doc, expected);
}

TEST(AttestationDocumentTest, RejectsEnvelopesThatAreNotNitroCoseSign1) {
  const Bytes payload = EncodeAttestationPayload(ValidFields());
  // ES512 (-36), ES256 (-7), an empty header, a header that is not CBOR, an extra header entry.
  for (const char* header : {"a1013823", "a10126", "", "ff", "a2013822043a"}) {
    SCOPED_TRACE(header);
    EXPECT_EQ(ParseFailure(Envelope(payload, Hex(header))), AttestFailure::kMalformed);
  }
  for (size_t sig_size : {size_t{0}, size_t{64}, size_t{95}, size_t{97}}) {
    EXPECT_EQ(ParseFailure(Envelope(payload, Es384ProtectedHeader(), Bytes(sig_size, 1))),
              AttestFailure::kMalformed)
        << sig_size;
  }
  EXPECT_EQ(ParseFailure(Envelope(Bytes())), AttestFailure::kMalformed);
  EXPECT_EQ(ParseFailure(Envelope(Bytes(kMaxPayloadSize + 1, 0x00))), AttestFailure::kMalformed);

  // Array of 3, an unprotected header that is not an empty map, a text payload.
  auto build = [&](std::function<void(cbor_item_t*)> fill) {
    CborPtr array = CborArray(5);
    fill(array.get());
    return Serialize(array);
  };
  EXPECT_EQ(ParseFailure(build([&](cbor_item_t* a) {
              CborArrayPush(a, CborByteString(Es384ProtectedHeader()));
              CborArrayPush(a, CborMap(0));
              CborArrayPush(a, CborByteString(payload));
            })),
            AttestFailure::kMalformed);
  EXPECT_EQ(ParseFailure(build([&](cbor_item_t* a) {
              CborArrayPush(a, CborByteString(Es384ProtectedHeader()));
              CborPtr unprotected = CborMap(1);
              CborMapAdd(unprotected.get(), CborUint(4), CborByteString(Bytes{1}));
              CborArrayPush(a, std::move(unprotected));
              CborArrayPush(a, CborByteString(payload));
              CborArrayPush(a, CborByteString(Bytes(kSignatureSize, 1)));
            })),
            AttestFailure::kMalformed);
  EXPECT_EQ(ParseFailure(build([&](cbor_item_t* a) {
              CborArrayPush(a, CborByteString(Es384ProtectedHeader()));
              CborArrayPush(a, CborMap(0));
              CborArrayPush(a, CborText("payload"));
              CborArrayPush(a, CborByteString(Bytes(kSignatureSize, 1)));
            })),
            AttestFailure::kMalformed);
  EXPECT_EQ(ParseFailure(Hex("a0")), AttestFailure::kMalformed);
}

// Field-level rules (attestation_process.md §3.2.2.2) through the encoder.
TEST(AttestationDocumentTest, RejectsFieldsOutsideTheNsmRules) {
  std::vector<std::pair<std::string, std::function<void(AttestationDocument&)>>> cases = {
      {"empty module_id", [](AttestationDocument& d) { d.module_id.clear(); }},
      {"digest SHA256", [](AttestationDocument& d) { d.digest = "SHA256"; }},
      {"timestamp 0", [](AttestationDocument& d) { d.timestamp_ms = 0; }},
      {"no pcrs", [](AttestationDocument& d) { d.pcrs.clear(); }},
      {"pcr index 32", [](AttestationDocument& d) { d.pcrs[32] = Bytes(48, 0); }},
      {"pcr of 32 bytes", [](AttestationDocument& d) { d.pcrs[3] = Bytes(32, 0); }},
      {"pcr of 64 bytes", [](AttestationDocument& d) { d.pcrs[3] = Bytes(64, 0); }},
      {"empty certificate", [](AttestationDocument& d) { d.certificate.clear(); }},
      {"certificate 1025", [](AttestationDocument& d) { d.certificate = Bytes(1025, 0x30); }},
      {"empty cabundle", [](AttestationDocument& d) { d.cabundle.clear(); }},
      {"empty cabundle entry", [](AttestationDocument& d) { d.cabundle[1].clear(); }},
      {"cabundle entry 1025", [](AttestationDocument& d) { d.cabundle[0] = Bytes(1025, 0x30); }},
      {"empty public_key", [](AttestationDocument& d) { d.public_key = Bytes(); }},
      {"public_key 1025", [](AttestationDocument& d) { d.public_key = Bytes(1025, 1); }},
      {"user_data 513", [](AttestationDocument& d) { d.user_data = Bytes(513, 1); }},
      {"nonce 513", [](AttestationDocument& d) { d.nonce = Bytes(513, 1); }},
  };
  for (auto& [name, mutate] : cases) {
    SCOPED_TRACE(name);
    AttestationDocument doc = ValidFields();
    mutate(doc);
    EXPECT_EQ(FailureOf(ValidateAttestationFields(doc)), AttestFailure::kBadField);
    EXPECT_EQ(ParseFailure(Envelope(EncodeAttestationPayload(doc))), AttestFailure::kBadField);
  }
}

TEST(AttestationDocumentTest, AcceptsTheLimitsOfTheNsmRules) {
  AttestationDocument doc = ValidFields();
  doc.public_key = Bytes(1024, 1);
  doc.user_data = Bytes(512, 2);
  doc.nonce = Bytes(512, 3);
  doc.certificate = Bytes(1024, 0x30);
  doc.pcrs.clear();
  for (uint32_t i = 0; i < 32; ++i) doc.pcrs[i] = Bytes(48, 0);
  absl::StatusOr<AttestationDocument> parsed =
      ParseAttestationDocument(Envelope(EncodeAttestationPayload(doc)));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->pcrs.size(), 32u);

  doc.user_data = Bytes();  // present but empty is allowed for user_data and nonce
  doc.nonce = Bytes();
  parsed = ParseAttestationDocument(Envelope(EncodeAttestationPayload(doc)));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->nonce, Bytes());
}

// Payload maps the encoder cannot produce: wrong types, unknown/duplicate/missing keys.
using Entry = std::pair<std::string, std::function<CborPtr()>>;

std::vector<Entry> ValidEntries() {
  const AttestationDocument f = ValidFields();
  return {
      {"module_id", [f] { return CborText(f.module_id); }},
      {"digest", [] { return CborText("SHA384"); }},
      {"timestamp", [f] { return CborUint(f.timestamp_ms); }},
      {"pcrs",
       [f] {
         CborPtr m = CborMap(f.pcrs.size());
         for (const auto& [i, v] : f.pcrs) CborMapAdd(m.get(), CborUint(i), CborByteString(v));
         return m;
       }},
      {"certificate", [f] { return CborByteString(f.certificate); }},
      {"cabundle",
       [f] {
         CborPtr a = CborArray(f.cabundle.size());
         for (const Bytes& c : f.cabundle) CborArrayPush(a.get(), CborByteString(c));
         return a;
       }},
      {"public_key", [] { return CborNull(); }},
      {"user_data", [] { return CborNull(); }},
      {"nonce", [f] { return CborByteString(*f.nonce); }},
  };
}

Bytes PayloadFrom(const std::vector<Entry>& entries) {
  CborPtr map = CborMap(entries.size());
  for (const auto& [key, value] : entries) CborMapAdd(map.get(), CborText(key), value());
  return Serialize(map);
}

void Replace(std::vector<Entry>& entries, const std::string& key, std::function<CborPtr()> v) {
  for (auto& e : entries) {
    if (e.first == key) e.second = std::move(v);
  }
}

TEST(AttestationDocumentTest, HandBuiltValidPayloadParses) {
  EXPECT_TRUE(ParseAttestationDocument(Envelope(PayloadFrom(ValidEntries()))).ok());
}

TEST(AttestationDocumentTest, RejectsPayloadFieldsOfTheWrongType) {
  std::vector<std::pair<std::string, std::function<CborPtr()>>> cases = {
      {"module_id", [] { return CborByteString(ToBytes("i-123")); }},
      {"digest", [] { return CborUint(384); }},
      {"timestamp", [] { return CborText("1695049410860"); }},
      {"pcrs", [] { return CborArray(0); }},
      {"pcrs",
       [] {
         CborPtr m = CborMap(1);
         CborMapAdd(m.get(), CborText("0"), CborByteString(Bytes(48, 0)));
         return m;
       }},
      {"pcrs",
       [] {
         CborPtr m = CborMap(1);
         CborMapAdd(m.get(), CborUint(0), CborText("00"));
         return m;
       }},
      {"pcrs",
       [] {
         CborPtr m = CborMap(2);
         CborMapAdd(m.get(), CborUint(0), CborByteString(Bytes(48, 0)));
         CborMapAdd(m.get(), CborUint(0), CborByteString(Bytes(48, 1)));
         return m;
       }},
      {"certificate", [] { return CborText("MIIB"); }},
      {"cabundle", [] { return CborByteString(Bytes(10, 0x30)); }},
      {"cabundle",
       [] {
         CborPtr a = CborArray(1);
         CborArrayPush(a.get(), CborText("MIIB"));
         return a;
       }},
      {"public_key", [] { return CborText("key"); }},
      {"user_data", [] { return CborUint(1); }},
      {"nonce", [] { return CborBool(true); }},
      {"module_id", [] { return CborNull(); }},
      {"cabundle", [] { return CborNull(); }},
  };
  for (auto& [key, value] : cases) {
    SCOPED_TRACE(key);
    std::vector<Entry> entries = ValidEntries();
    Replace(entries, key, value);
    EXPECT_EQ(ParseFailure(Envelope(PayloadFrom(entries))), AttestFailure::kBadField);
  }
}

TEST(AttestationDocumentTest, RejectsUnknownDuplicateAndMissingKeys) {
  std::vector<Entry> unknown = ValidEntries();
  unknown.back().first = "nonse";
  EXPECT_EQ(ParseFailure(Envelope(PayloadFrom(unknown))), AttestFailure::kBadField);

  std::vector<Entry> duplicate = ValidEntries();
  duplicate.back().first = "module_id";
  EXPECT_EQ(ParseFailure(Envelope(PayloadFrom(duplicate))), AttestFailure::kBadField);

  for (size_t i = 0; i < 6; ++i) {
    std::vector<Entry> missing = ValidEntries();
    SCOPED_TRACE(missing[i].first);
    missing.erase(missing.begin() + static_cast<std::ptrdiff_t>(i));
    EXPECT_EQ(ParseFailure(Envelope(PayloadFrom(missing))), AttestFailure::kBadField);
  }
  // The optional keys may be absent altogether.
  std::vector<Entry> required_only = ValidEntries();
  required_only.resize(6);
  EXPECT_TRUE(ParseAttestationDocument(Envelope(PayloadFrom(required_only))).ok());

  // A payload that is not a map, and a non-text key.
  EXPECT_EQ(ParseFailure(Envelope(Hex("80"))), AttestFailure::kBadField);
  CborPtr int_key = CborMap(1);
  CborMapAdd(int_key.get(), CborUint(1), CborText("x"));
  EXPECT_EQ(ParseFailure(Envelope(Serialize(int_key))), AttestFailure::kBadField);
}

TEST(AttestationDocumentTest, ErrorsNameTheFieldButNeverEchoContent) {
  std::vector<Entry> entries = ValidEntries();
  entries.back().first = "SECRET-CANARY-KEY";
  absl::StatusOr<AttestationDocument> doc =
      ParseAttestationDocument(Envelope(PayloadFrom(entries)));
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(std::string(doc.status().message()).find("CANARY"), std::string::npos);

  AttestationDocument fields = ValidFields();
  fields.module_id = std::string(300, 'C');  // too long; its text must not appear
  absl::Status s = ValidateAttestationFields(fields);
  EXPECT_EQ(FailureOf(s), AttestFailure::kBadField);
  EXPECT_EQ(std::string(s.message()).find("CCCC"), std::string::npos) << s;
}

}  // namespace
}  // namespace lockout::attest
