#include "src/nsm/nsm_message.h"

#include <fstream>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/cbor.h"
#include "src/common/encoding.h"
#include "tests/nsm/nsm_test_util.h"
#include "tests/testing/vectors.h"

namespace lockout::nsm {
namespace {

using ::lockout::nsm::testing::Hex;
using ::lockout::nsm::testing::MapOf;
using ::lockout::nsm::testing::Serialize;
using ::lockout::nsm::testing::Tag;
using ::testing::HasSubstr;

nlohmann::json LoadEncodings(const std::string& path) {
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "cannot parse " << path;
  return j;
}

// The values the vector file describes in its "value" strings, written out as our types. Every
// request/response case in the file must be listed here (the test fails on an unknown one), so the
// known-answer check covers decode -> value as well as value -> bytes.
const std::map<std::string, NsmRequest>& ExpectedRequests() {
  static const auto* m = new std::map<std::string, NsmRequest>{
      {"DescribePCR {index:3}", DescribePcrRequest{3}},
      {"ExtendPCR {index:4, data:[1,2,3]}", ExtendPcrRequest{4, {1, 2, 3}}},
      {"LockPCR {index:5}", LockPcrRequest{5}},
      {"LockPCRs {range:16}", LockPcrsRequest{16}},
      {"DescribeNSM", DescribeNsmRequest{}},
      {"Attestation {user_data:[9,9], nonce:None, public_key:[7]}",
       AttestationRequest{Bytes{9, 9}, std::nullopt, Bytes{7}}},
      {"GetRandom", GetRandomRequest{}},
  };
  return *m;
}

const std::map<std::string, NsmResponse>& ExpectedResponses() {
  static const auto* m = new std::map<std::string, NsmResponse>{
      {"DescribePCR {lock:true, data:[aa,bb]}", DescribePcrResponse{true, {0xaa, 0xbb}}},
      {"ExtendPCR {data:[1]}", ExtendPcrResponse{{1}}},
      {"LockPCR", LockPcrResponse{}},
      {"LockPCRs", LockPcrsResponse{}},
      {"DescribeNSM {version_major:1, version_minor:2, version_patch:3, module_id:\"i-abc\", "
       "max_pcrs:32, locked_pcrs:{0,1}, digest:SHA384}",
       DescribeNsmResponse{1, 2, 3, "i-abc", 32, {0, 1}, Digest::kSha384}},
      {"Attestation {document:[d2,84]}", AttestationResponse{{0xd2, 0x84}}},
      {"GetRandom {random:[4,4,4]}", GetRandomResponse{{4, 4, 4}}},
      {"Error(InvalidIndex)", ErrorResponse{ErrorCode::kInvalidIndex}},
  };
  return *m;
}

TEST(NsmMessageTest, EveryVectorCaseDecodesToItsValueAndReEncodesByteExactly) {
  LOCKOUT_VECTOR_OR_SKIP(path, "nsm/nsm-cbor-encodings.json");
  const nlohmann::json j = LoadEncodings(path);
  ASSERT_TRUE(j.contains("cases"));
  int requests = 0;
  int responses = 0;
  for (const auto& c : j["cases"]) {
    const std::string kind = c["kind"];
    const std::string value = c["value"];
    const std::string hex = c["hex"];
    SCOPED_TRACE(kind + " " + value);
    if (kind == "request") {
      ++requests;
      absl::StatusOr<NsmRequest> decoded = DecodeRequest(Hex(hex));
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      auto it = ExpectedRequests().find(value);
      ASSERT_NE(it, ExpectedRequests().end()) << "vector value not described in this test";
      EXPECT_EQ(*decoded, it->second);
      absl::StatusOr<Bytes> encoded = EncodeRequest(it->second);
      ASSERT_TRUE(encoded.ok()) << encoded.status();
      EXPECT_EQ(HexEncode(*encoded), hex);
    } else if (kind == "response") {
      ++responses;
      absl::StatusOr<NsmResponse> decoded = DecodeResponse(Hex(hex));
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      auto it = ExpectedResponses().find(value);
      ASSERT_NE(it, ExpectedResponses().end()) << "vector value not described in this test";
      EXPECT_EQ(*decoded, it->second);
      absl::StatusOr<Bytes> encoded = EncodeResponse(it->second);
      ASSERT_TRUE(encoded.ok()) << encoded.status();
      EXPECT_EQ(HexEncode(*encoded), hex);
    }
    // Other kinds (the "attestation_doc_payload" case) are attestation documents, covered by the
    // attestation component's tests, not NSM Request/Response messages.
  }
  EXPECT_EQ(requests, static_cast<int>(ExpectedRequests().size()));
  EXPECT_EQ(responses, static_cast<int>(ExpectedResponses().size()));
}

TEST(NsmMessageTest, AllNoneAttestationRequestMatchesTheDerivedVector) {
  LOCKOUT_VECTOR_OR_SKIP(path, "nsm/nsm-cbor-encodings.json");
  const nlohmann::json j = LoadEncodings(path);
  const std::string hex = j["attestation_request_all_none_hex"];
  absl::StatusOr<Bytes> encoded = EncodeRequest(AttestationRequest{});
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(HexEncode(*encoded), hex);
  absl::StatusOr<NsmRequest> decoded = DecodeRequest(Hex(hex));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, NsmRequest(AttestationRequest{}));
}

TEST(NsmMessageTest, KernelGetRandomLiteralsMatchOurEncoding) {
  LOCKOUT_VECTOR_OR_SKIP(path, "nsm/nsm-cbor-encodings.json");
  const nlohmann::json j = LoadEncodings(path);
  const std::string request_hex = j["kernel_literals"]["GetRandom_request"];
  absl::StatusOr<Bytes> request = EncodeRequest(GetRandomRequest{});
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(HexEncode(*request), request_hex);

  // The prefix is followed by a byte-string header and the random bytes (256 on Nitro).
  std::string prefix_field = j["kernel_literals"]["GetRandom_response_prefix"];
  const std::string prefix_hex = prefix_field.substr(0, prefix_field.find(' '));
  Bytes wire = Hex(prefix_hex);
  wire.insert(wire.end(), {0x59, 0x01, 0x00});
  Bytes random(256);
  for (size_t i = 0; i < random.size(); ++i) random[i] = static_cast<uint8_t>(i);
  wire.insert(wire.end(), random.begin(), random.end());
  absl::StatusOr<NsmResponse> decoded = DecodeResponse(wire);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, NsmResponse(GetRandomResponse{random}));
  absl::StatusOr<Bytes> encoded = EncodeResponse(GetRandomResponse{random});
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, wire);
}

TEST(NsmMessageTest, ErrorCodesFollowTheDeclarationOrderOfTheVectorFile) {
  LOCKOUT_VECTOR_OR_SKIP(path, "nsm/nsm-cbor-encodings.json");
  const nlohmann::json j = LoadEncodings(path);
  const auto& names = j["error_codes_in_declaration_order"];
  ASSERT_EQ(names.size(), 9u);
  for (size_t i = 0; i < names.size(); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    const std::string name = names[i];
    EXPECT_EQ(ErrorCodeName(code), name);
    // {"Error": "<name>"} in both directions.
    const Bytes wire = Serialize(Tag("Error", CborText(name)));
    absl::StatusOr<Bytes> encoded = EncodeResponse(ErrorResponse{code});
    ASSERT_TRUE(encoded.ok());
    EXPECT_EQ(*encoded, wire) << name;
    absl::StatusOr<NsmResponse> decoded = DecodeResponse(wire);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, NsmResponse(ErrorResponse{code}));
  }
}

TEST(NsmMessageTest, VectorMessagesTruncatedAtEveryOffsetAreRejected) {
  LOCKOUT_VECTOR_OR_SKIP(path, "nsm/nsm-cbor-encodings.json");
  const nlohmann::json j = LoadEncodings(path);
  for (const auto& c : j["cases"]) {
    const std::string kind = c["kind"];
    if (kind != "request" && kind != "response") continue;
    const Bytes full = Hex(c["hex"].get<std::string>());
    for (size_t n = 0; n < full.size(); ++n) {
      const ByteView cut(full.data(), n);
      if (kind == "request") {
        EXPECT_FALSE(DecodeRequest(cut).ok()) << c["value"] << " cut to " << n;
      } else {
        EXPECT_FALSE(DecodeResponse(cut).ok()) << c["value"] << " cut to " << n;
      }
    }
  }
}

TEST(NsmMessageTest, BitFlippedVectorMessagesFailOrRoundTrip) {
  LOCKOUT_VECTOR_OR_SKIP(path, "nsm/nsm-cbor-encodings.json");
  const nlohmann::json j = LoadEncodings(path);
  int rejected = 0;
  for (const auto& c : j["cases"]) {
    const std::string kind = c["kind"];
    if (kind != "request" && kind != "response") continue;
    const Bytes full = Hex(c["hex"].get<std::string>());
    for (size_t bit = 0; bit < full.size() * 8; ++bit) {
      Bytes flipped = full;
      flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      if (kind == "request") {
        absl::StatusOr<NsmRequest> r = DecodeRequest(flipped);
        if (!r.ok()) {
          ++rejected;
          continue;
        }
        absl::StatusOr<Bytes> again = EncodeRequest(*r);
        ASSERT_TRUE(again.ok()) << again.status();
        EXPECT_EQ(*DecodeRequest(*again), *r);
      } else {
        absl::StatusOr<NsmResponse> r = DecodeResponse(flipped);
        if (!r.ok()) {
          ++rejected;
          continue;
        }
        absl::StatusOr<Bytes> again = EncodeResponse(*r);
        ASSERT_TRUE(again.ok()) << again.status();
        EXPECT_EQ(*DecodeResponse(*again), *r);
      }
    }
  }
  // Most flips break the structure (variant names, keys, headers).
  EXPECT_GT(rejected, 500);
}

struct BadInput {
  std::string name;
  Bytes wire;
  std::string expected_error;
};

std::vector<BadInput> BadRequests() {
  std::vector<BadInput> v;
  v.push_back({"uint at top level", Hex("00"), "neither a variant name"});
  v.push_back({"array at top level", Hex("80"), "neither a variant name"});
  v.push_back({"byte string at top level", Hex("4100"), "neither a variant name"});
  v.push_back({"unknown unit variant", Serialize(CborText("Reboot")), "unknown request variant"});
  v.push_back({"unknown struct variant",
               Serialize(Tag("Frobnicate", MapOf().Add("index", CborUint(1)).Take())),
               "unknown request variant"});
  v.push_back({"response-only variant", Serialize(Tag("Error", CborText("InvalidIndex"))),
               "unknown request variant"});
  v.push_back(
      {"binary variant name", Serialize(CborText(std::string("\x01\x02", 2))), "<2-byte name>"});
  v.push_back({"two-entry variant map",
               Serialize(MapOf()
                             .Add("LockPCR", MapOf().Add("index", CborUint(1)).Take())
                             .Add("LockPCRs", MapOf().Add("range", CborUint(1)).Take())
                             .Take()),
               "2 entries"});
  v.push_back({"non-text variant key", Hex("a10100"), "not a text string"});
  v.push_back(
      {"unit variant with a value", Serialize(Tag("DescribeNSM", CborNull())), "unit variant"});
  v.push_back(
      {"GetRandom with a value", Serialize(Tag("GetRandom", MapOf().Take())), "unit variant"});
  v.push_back(
      {"struct variant as bare name", Serialize(CborText("DescribePCR")), "needs a map of fields"});
  v.push_back(
      {"fields not a map", Serialize(Tag("DescribePCR", CborUint(3))), "fields are not a map"});
  v.push_back(
      {"missing field", Serialize(Tag("DescribePCR", MapOf().Take())), "missing field index"});
  v.push_back({"ExtendPCR missing data",
               Serialize(Tag("ExtendPCR", MapOf().Add("index", CborUint(1)).Take())),
               "missing field data"});
  v.push_back({"extra field",
               Serialize(Tag("DescribePCR",
                             MapOf().Add("index", CborUint(3)).Add("lock", CborBool(true)).Take())),
               "unknown field \"lock\""});
  v.push_back({"duplicate field",
               Serialize(Tag("DescribePCR",
                             MapOf().Add("index", CborUint(3)).Add("index", CborUint(4)).Take())),
               "duplicate"});
  v.push_back(
      {"non-text field key", Hex("a16b4465736372696265504352a10103"), "duplicate or non-text"});
  v.push_back({"index as text",
               Serialize(Tag("LockPCR", MapOf().Add("index", CborText("1")).Take())),
               "LockPCR.index is not an unsigned integer"});
  v.push_back(
      {"negative index", Hex("a1674c6f636b504352a165696e64657820"), "not an unsigned integer"});
  v.push_back({"index beyond u16",
               Serialize(Tag("LockPCR", MapOf().Add("index", CborUint(65536)).Take())),
               "does not fit in 16 bits"});
  v.push_back({"range beyond u16",
               Serialize(Tag("LockPCRs", MapOf().Add("range", CborUint(1ULL << 40)).Take())),
               "does not fit in 16 bits"});
  v.push_back(
      {"tagged index", Hex("a1674c6f636b504352a165696e646578c103"), "not an unsigned integer"});
  {
    CborPtr arr = CborArray(3);
    for (uint64_t b : {1ULL, 2ULL, 3ULL}) CborArrayPush(arr.get(), CborUint(b));
    v.push_back(
        {"ExtendPCR data as array",
         Serialize(Tag("ExtendPCR",
                       MapOf().Add("index", CborUint(1)).Add("data", std::move(arr)).Take())),
         "ExtendPCR.data is not a byte string"});
  }
  v.push_back({"user_data as text",
               Serialize(Tag("Attestation", MapOf().Add("user_data", CborText("hi")).Take())),
               "Attestation.user_data is not a byte string"});
  v.push_back({"user_data of 513 bytes",
               Serialize(Tag("Attestation",
                             MapOf().Add("user_data", CborByteString(Bytes(513, 1))).Take())),
               "user_data is 513 bytes, limit 512"});
  v.push_back(
      {"nonce of 513 bytes",
       Serialize(Tag("Attestation", MapOf().Add("nonce", CborByteString(Bytes(513, 1))).Take())),
       "nonce is 513 bytes, limit 512"});
  v.push_back({"public_key of 1025 bytes",
               Serialize(Tag("Attestation",
                             MapOf().Add("public_key", CborByteString(Bytes(1025, 1))).Take())),
               "public_key is 1025 bytes, limit 1024"});
  v.push_back(
      {"ExtendPCR beyond the request size",
       Serialize(Tag(
           "ExtendPCR",
           MapOf().Add("index", CborUint(1)).Add("data", CborByteString(Bytes(4096, 1))).Take())),
       "exceeds 4096"});
  v.push_back({"trailing byte", Hex("6947657452616e646f6d00"), "trailing"});
  v.push_back({"indefinite-length name", Hex("7f6947657452616e646f6dff"), "indefinite"});
  v.push_back({"empty input", Bytes{}, "not one well-formed CBOR item"});
  return v;
}

std::vector<BadInput> BadResponses() {
  std::vector<BadInput> v;
  v.push_back({"null at top level", Hex("f6"), "neither a variant name"});
  v.push_back({"unknown variant", Serialize(CborText("Rebooted")), "unknown response variant"});
  v.push_back(
      {"request-only unit variant", Serialize(CborText("DescribeNSM")), "needs a map of fields"});
  v.push_back({"LockPCR with a value", Serialize(Tag("LockPCR", CborNull())), "unit variant"});
  v.push_back(
      {"lock as int",
       Serialize(
           Tag("DescribePCR",
               MapOf().Add("lock", CborUint(1)).Add("data", CborByteString(Bytes(48, 0))).Take())),
       "DescribePCR.lock is not a boolean"});
  v.push_back(
      {"PCR value of 65 bytes",
       Serialize(Tag(
           "DescribePCR",
           MapOf().Add("lock", CborBool(false)).Add("data", CborByteString(Bytes(65, 0))).Take())),
       "DescribePCR.data is 65 bytes, limit 64"});
  v.push_back({"ExtendPCR missing data", Serialize(Tag("ExtendPCR", MapOf().Take())),
               "missing field data"});
  v.push_back({"document as text",
               Serialize(Tag("Attestation", MapOf().Add("document", CborText("doc")).Take())),
               "Attestation.document is not a byte string"});
  v.push_back({"document null",
               Serialize(Tag("Attestation", MapOf().Add("document", CborNull()).Take())),
               "Attestation.document is not a byte string"});
  v.push_back(
      {"random with extra field",
       Serialize(
           Tag("GetRandom",
               MapOf().Add("random", CborByteString(Bytes(4, 4))).Add("seed", CborUint(1)).Take())),
       "unknown field \"seed\""});
  v.push_back({"unknown error code", Serialize(Tag("Error", CborText("Exploded"))),
               "Error code \"Exploded\" is unknown"});
  v.push_back({"error code as int", Serialize(Tag("Error", CborUint(2))),
               "Error code is not a text string"});
  v.push_back({"Error as bare name", Serialize(CborText("Error")), "needs an error code"});
  v.push_back({"response beyond 0x3000 bytes",
               Serialize(Tag("Attestation",
                             MapOf().Add("document", CborByteString(Bytes(0x3000, 0))).Take())),
               "exceeds 12288"});

  auto describe_nsm = [](CborPtr locked, CborPtr digest, CborPtr module_id) {
    return Serialize(Tag("DescribeNSM", MapOf()
                                            .Add("version_major", CborUint(1))
                                            .Add("version_minor", CborUint(0))
                                            .Add("version_patch", CborUint(0))
                                            .Add("module_id", std::move(module_id))
                                            .Add("max_pcrs", CborUint(32))
                                            .Add("locked_pcrs", std::move(locked))
                                            .Add("digest", std::move(digest))
                                            .Take()));
  };
  auto pcrs = [](std::initializer_list<uint64_t> xs) {
    CborPtr a = CborArray(xs.size());
    for (uint64_t x : xs) CborArrayPush(a.get(), CborUint(x));
    return a;
  };
  v.push_back({"duplicate locked PCR",
               describe_nsm(pcrs({0, 1, 1}), CborText("SHA384"), CborText("i-1")),
               "lists index 1 twice"});
  v.push_back({"locked PCR beyond u16",
               describe_nsm(pcrs({0, 70000}), CborText("SHA384"), CborText("i-1")),
               "locked_pcrs[1] is not a 16-bit index"});
  v.push_back({"locked_pcrs as map", describe_nsm(CborMap(0), CborText("SHA384"), CborText("i-1")),
               "locked_pcrs is not an array"});
  v.push_back({"unknown digest", describe_nsm(pcrs({}), CborText("MD5"), CborText("i-1")),
               "digest \"MD5\" is unknown"});
  v.push_back({"digest as int", describe_nsm(pcrs({}), CborUint(1), CborText("i-1")),
               "digest is not a text string"});
  v.push_back({"module_id as bytes",
               describe_nsm(pcrs({}), CborText("SHA384"), CborByteString(Bytes{'i'})),
               "module_id is not a text string"});
  // libcbor itself refuses invalid UTF-8 in text strings while parsing.
  v.push_back({"module_id not UTF-8",
               describe_nsm(pcrs({}), CborText("SHA384"), CborText(std::string("i-\xc0\x80", 4))),
               "not one well-formed CBOR item"});
  v.push_back({"module_id of 257 bytes",
               describe_nsm(pcrs({}), CborText("SHA384"), CborText(std::string(257, 'i'))),
               "module_id is 257 bytes, limit 256"});
  v.push_back({"DescribeNSM missing digest",
               Serialize(Tag("DescribeNSM", MapOf()
                                                .Add("version_major", CborUint(1))
                                                .Add("version_minor", CborUint(0))
                                                .Add("version_patch", CborUint(0))
                                                .Add("module_id", CborText("i"))
                                                .Add("max_pcrs", CborUint(32))
                                                .Add("locked_pcrs", pcrs({}))
                                                .Take())),
               "missing field digest"});
  return v;
}

TEST(NsmMessageTest, MalformedRequestsAreRejectedWithAClearError) {
  for (const BadInput& bad : BadRequests()) {
    absl::StatusOr<NsmRequest> r = DecodeRequest(bad.wire);
    ASSERT_FALSE(r.ok()) << bad.name << " decoded as " << Describe(*r);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad.name;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(bad.expected_error)) << bad.name;
  }
}

TEST(NsmMessageTest, MalformedResponsesAreRejectedWithAClearError) {
  for (const BadInput& bad : BadResponses()) {
    absl::StatusOr<NsmResponse> r = DecodeResponse(bad.wire);
    ASSERT_FALSE(r.ok()) << bad.name << " decoded as " << Describe(*r);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad.name;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(bad.expected_error)) << bad.name;
  }
}

TEST(NsmMessageTest, FieldsAtTheirLimitsAreAccepted) {
  const AttestationRequest max{Bytes(kMaxUserDataSize, 1), Bytes(kMaxNonceSize, 2),
                               Bytes(kMaxPublicKeySize, 3)};
  absl::StatusOr<Bytes> wire = EncodeRequest(max);
  ASSERT_TRUE(wire.ok()) << wire.status();
  EXPECT_LE(wire->size(), kMaxRequestSize);
  absl::StatusOr<NsmRequest> back = DecodeRequest(*wire);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, NsmRequest(max));

  const DescribePcrResponse sha512{false, Bytes(kMaxPcrSize, 7)};
  absl::StatusOr<Bytes> pcr = EncodeResponse(sha512);
  ASSERT_TRUE(pcr.ok());
  EXPECT_EQ(*DecodeResponse(*pcr), NsmResponse(sha512));
}

TEST(NsmMessageTest, EncodersRefuseWhatDecodersWouldReject) {
  EXPECT_FALSE(EncodeRequest(AttestationRequest{Bytes(513, 0), std::nullopt, std::nullopt}).ok());
  EXPECT_FALSE(EncodeRequest(AttestationRequest{std::nullopt, Bytes(513, 0), std::nullopt}).ok());
  EXPECT_FALSE(EncodeRequest(AttestationRequest{std::nullopt, std::nullopt, Bytes(1025, 0)}).ok());
  EXPECT_FALSE(EncodeRequest(ExtendPcrRequest{1, Bytes(kMaxExtendDataSize + 1, 0)}).ok());
  // Within the field limit but too large for one request once framed in CBOR.
  EXPECT_FALSE(EncodeRequest(ExtendPcrRequest{1, Bytes(kMaxExtendDataSize, 0)}).ok());
  EXPECT_FALSE(EncodeResponse(DescribePcrResponse{true, Bytes(65, 0)}).ok());
  EXPECT_FALSE(EncodeResponse(ExtendPcrResponse{Bytes(65, 0)}).ok());
  EXPECT_FALSE(EncodeResponse(AttestationResponse{Bytes(kMaxDocumentSize, 0)}).ok());
  DescribeNsmResponse bad_utf8{1, 0, 0, std::string("\xff", 1), 32, {}, Digest::kSha384};
  EXPECT_FALSE(EncodeResponse(bad_utf8).ok());
  DescribeNsmResponse bad_digest{1, 0, 0, "i", 32, {}, static_cast<Digest>(7)};
  EXPECT_FALSE(EncodeResponse(bad_digest).ok());
  EXPECT_FALSE(EncodeResponse(ErrorResponse{static_cast<ErrorCode>(99)}).ok());
}

TEST(NsmMessageTest, DecodersAcceptAnyFieldOrderAndIntegerWidthLikeSerde) {
  // {"ExtendPCR": {"data": h'0102', "index": 0x0004 as a 2-byte uint}}
  const Bytes permuted = Hex("a169457874656e64504352a2646461746142010265696e646578190004");
  absl::StatusOr<NsmRequest> r = DecodeRequest(permuted);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, NsmRequest(ExtendPcrRequest{4, {1, 2}}));
  // Re-encoding gives the canonical form.
  EXPECT_EQ(HexEncode(*EncodeRequest(*r)),
            "a169457874656e64504352a265696e646578046464617461420102");
}

TEST(NsmMessageTest, AbsentAttestationOptionsDecodeAsNone) {
  const Bytes only_nonce =
      Serialize(Tag("Attestation", MapOf().Add("nonce", CborByteString(Bytes{1, 2, 3})).Take()));
  absl::StatusOr<NsmRequest> r = DecodeRequest(only_nonce);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, NsmRequest(AttestationRequest{std::nullopt, Bytes{1, 2, 3}, std::nullopt}));
}

TEST(NsmMessageTest, LockedPcrsAreEncodedAscendingWhateverTheWireOrder) {
  DescribeNsmResponse r{
      1, 0, 0, "i-0123456789abcdef0-enc0123456789abcd", 32, {16, 2, 0, 4}, Digest::kSha384};
  absl::StatusOr<Bytes> wire = EncodeResponse(r);
  ASSERT_TRUE(wire.ok()) << wire.status();
  // ... "locked_pcrs" 84 00 02 04 10 ...
  EXPECT_THAT(HexEncode(*wire), HasSubstr("6b6c6f636b65645f706372738400020410"));
  EXPECT_EQ(*DecodeResponse(*wire), NsmResponse(r));
}

TEST(NsmMessageTest, DescribeShowsSizesButNeverBytes) {
  const std::string canary = "CANARY-user-data";
  AttestationRequest req{ToBytes(canary), std::nullopt, Bytes(91, 0)};
  EXPECT_EQ(Describe(req), "Attestation{user_data=16B, nonce=None, public_key=91B}");
  EXPECT_THAT(Describe(NsmResponse(GetRandomResponse{ToBytes(canary)})),
              ::testing::Not(HasSubstr("CANARY")));
  EXPECT_EQ(Describe(NsmResponse(ErrorResponse{ErrorCode::kInvalidIndex})), "Error(InvalidIndex)");
  EXPECT_EQ(VariantName(NsmRequest(LockPcrsRequest{3})), "LockPCRs");
  EXPECT_EQ(VariantName(NsmResponse(DescribeNsmResponse{})), "DescribeNSM");
}

TEST(NsmMessageTest, DecodeErrorsDoNotEchoFieldBytes) {
  const Bytes wire = Serialize(
      Tag("Attestation",
          MapOf().Add("user_data", CborByteString(ToBytes(std::string(600, 'Z')))).Take()));
  absl::StatusOr<NsmRequest> r = DecodeRequest(wire);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), ::testing::Not(HasSubstr("ZZZ")));
}

}  // namespace
}  // namespace lockout::nsm
