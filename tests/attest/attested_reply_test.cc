// The attested-reply binding (src/attest/reply_binding.h) and the verification `lockout verify
// --attested` runs (src/attest/attested_reply.h): known answers computed independently (Python
// hashlib, the same numbers docs/PROTOCOL.md shows), and one negative test per bound field.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/attest/attested_reply.h"
#include "src/attest/builder.h"
#include "src/attest/reply_binding.h"
#include "src/common/encoding.h"
#include "src/operator/signature_verify.h"
#include "src/signer/signer.h"
#include "tests/attest/attest_test_util.h"

namespace lockout::attest {
namespace {

Bytes Range(int from, int to) {
  Bytes out;
  for (int i = from; i < to; ++i) out.push_back(static_cast<uint8_t>(i));
  return out;
}

void Flip(uint8_t& b) { b = static_cast<uint8_t>(b ^ 1); }

std::string DigestHex(const crypto::Sha256Digest& d) {
  return HexEncode(ByteView(d.data(), d.size()));
}

constexpr char kAttestNonceB64[] = "YXR0ZXN0LW5vbmNlLTAxMjM0NTY3ODlhYmNkZWYwMTI=";

nlohmann::json PlainRequest() {
  return {
      {"op", "sign"}, {"message", "aGVsbG8gd29ybGQ="}, {"attest", {{"nonce", kAttestNonceB64}}}};
}

// The request docs/PROTOCOL.md's auth example signs, with "attest" added (gateway, seed 0..31).
nlohmann::json AuthenticatedRequest() {
  nlohmann::json r = PlainRequest();
  r["auth"] = {
      {"client", "gateway"},
      {"timestamp", 1765000000000},
      {"nonce", "MDEyMzQ1Njc4OWFiY2RlZg=="},
      {"signature",
       "Gv1+irJpXrVonitqaKh2VBFOlUvBzUcV/vNT7arglrI4NG9/a5ruv1PwmB6oYmf6iKb5LfpVCAoYSiYhYrI9Dg=="}};
  return r;
}

TEST(ReplyBinding, UnauthenticatedKnownAnswer) {
  absl::StatusOr<RequestDigest> d = AttestedRequestDigest(PlainRequest());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->kind, RequestDigestKind::kUnauthenticated);
  EXPECT_EQ(DigestHex(d->digest),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");  // SHA-256("hello
                                                                                  // world")
  EXPECT_EQ(DigestHex(ReplyBinding(*d, Range(0, 64), Range(100, 191))),
            "ee12ae81ce404788df6f916bcf7ae243df5ce59567bdd442c7fca2a1644efd4e");
}

TEST(ReplyBinding, AuthenticatedKnownAnswer) {
  absl::StatusOr<RequestDigest> d = AttestedRequestDigest(AuthenticatedRequest());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->kind, RequestDigestKind::kAuthenticated);
  EXPECT_EQ(DigestHex(d->digest),
            "78aed818cbdccb0dadffe13cd8839dc88b0950d689e03a63ef3fa9209b00bfbe");
  EXPECT_EQ(DigestHex(ReplyBinding(*d, Range(0, 64), Range(100, 191))),
            "fdb4ccb008e6967efaf28989cda7fcf16f896368ac861d97edab1e9d939abcff");
}

TEST(ReplyBinding, EveryInputChangesIt) {
  const RequestDigest d = *AttestedRequestDigest(PlainRequest());
  const crypto::Sha256Digest base = ReplyBinding(d, Range(0, 64), Range(100, 191));
  RequestDigest other_kind = d;
  other_kind.kind = RequestDigestKind::kAuthenticated;
  EXPECT_NE(ReplyBinding(other_kind, Range(0, 64), Range(100, 191)), base);
  RequestDigest other_digest = d;
  Flip(other_digest.digest[0]);
  EXPECT_NE(ReplyBinding(other_digest, Range(0, 64), Range(100, 191)), base);
  EXPECT_NE(ReplyBinding(d, Range(0, 63), Range(100, 191)), base);
  EXPECT_NE(ReplyBinding(d, Range(0, 64), Range(100, 190)), base);
  // Lengths are framed: moving a byte from the signature to the key changes it.
  EXPECT_NE(ReplyBinding(d, Range(0, 63), Range(63, 64)), ReplyBinding(d, Range(0, 64), {}));
  // Every covered member of an authenticated request changes the digest.
  for (const char* member : {"message", "op"}) {
    nlohmann::json r = AuthenticatedRequest();
    r[member] = "c2lnbg==";
    EXPECT_NE(AttestedRequestDigest(r)->digest,
              AttestedRequestDigest(AuthenticatedRequest())->digest)
        << member;
  }
  nlohmann::json r = AuthenticatedRequest();
  r["attest"]["nonce"] = "AAAA";
  EXPECT_NE(AttestedRequestDigest(r)->digest,
            AttestedRequestDigest(AuthenticatedRequest())->digest);
  r = AuthenticatedRequest();
  r["auth"]["timestamp"] = 1765000000001;
  EXPECT_NE(AttestedRequestDigest(r)->digest,
            AttestedRequestDigest(AuthenticatedRequest())->digest);
  // "id" is not covered.
  r = AuthenticatedRequest();
  r["id"] = 99;
  EXPECT_EQ(AttestedRequestDigest(r)->digest,
            AttestedRequestDigest(AuthenticatedRequest())->digest);
}

TEST(ReplyBinding, RequestDigestErrors) {
  EXPECT_FALSE(AttestedRequestDigest(nlohmann::json::array()).ok());
  EXPECT_FALSE(AttestedRequestDigest({{"op", "sign"}}).ok());
  EXPECT_FALSE(AttestedRequestDigest({{"op", "sign"}, {"message", "not base64!"}}).ok());
  nlohmann::json r = AuthenticatedRequest();
  r["auth"]["extra"] = 1;
  EXPECT_FALSE(AttestedRequestDigest(r).ok());
  r = AuthenticatedRequest();
  r["float"] = 1.5;  // no canonical encoding
  EXPECT_FALSE(AttestedRequestDigest(r).ok());
}

TEST(ReplyBinding, ParseAttestMember) {
  absl::StatusOr<std::optional<Bytes>> none = ParseAttestMember({{"op", "sign"}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  absl::StatusOr<std::optional<Bytes>> some = ParseAttestMember(PlainRequest());
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(**some, ToBytes("attest-nonce-0123456789abcdef012"));
  const nlohmann::json bad[] = {
      true,
      nlohmann::json::object(),
      {{"nonce", 5}},
      {{"nonce", "AAAA"}, {"more", 1}},
      {{"nonce", "not base64"}},
      {{"nonce", ""}},                           // 0 bytes
      {{"nonce", Base64Encode(Bytes(513, 7))}},  // over the NSM's 512
      nlohmann::json::array({"AAAA"}),
  };
  for (const nlohmann::json& b : bad) {
    EXPECT_FALSE(ParseAttestMember({{"op", "sign"}, {"attest", b}}).ok()) << b.dump();
  }
  EXPECT_TRUE(
      ParseAttestMember({{"op", "sign"}, {"attest", {{"nonce", Base64Encode(Bytes(512, 7))}}}})
          .ok());
}

// A reply as the enclave makes it, from a test PKI (root -> intermediate -> leaf).
class AttestedReplyTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    now_ = absl::Now();
    pki_ = std::make_unique<testing::TestPki>(testing::MakeTestPki(now_));
    signer_ = *signer::Signer::Generate(signer::KeyType::kP256);
    reply_.request = GetParam() ? AuthenticatedRequest() : PlainRequest();
    reply_.signature = *signer_->Sign(message_);
    reply_.attestation = Document(reply_.request, reply_.signature, signer_->public_key_der());
    options_.trusted_roots = {pki_->root.certificate()};
    options_.at = now_;
    options_.expect_pcrs[0] = testing::SampleFields(*pki_, now_).pcrs[0];
    options_.check_signature = [](ByteView spki, ByteView msg, ByteView sig) {
      return ops::VerifySignature(SpkiDerToPem(spki), msg, sig);
    };
  }

  Bytes Document(const nlohmann::json& request, ByteView signature, ByteView spki) {
    AttestationDocument fields = testing::SampleFields(*pki_, now_);
    const crypto::Sha256Digest b = ReplyBinding(*AttestedRequestDigest(request), signature, spki);
    fields.user_data = Bytes(b.begin(), b.end());
    fields.public_key = Bytes(spki.begin(), spki.end());
    fields.nonce = **ParseAttestMember(request);
    absl::StatusOr<Bytes> doc = BuildAttestationDocument(fields, pki_->leaf.key.get());
    EXPECT_TRUE(doc.ok()) << doc.status();
    return *doc;
  }

  // The name of the first failed check ("" if none).
  std::string FirstFailure(const AttestedReply& reply, ByteView message) {
    AttestedReplyResult r = VerifyAttestedReply(reply, message, options_);
    for (const AttestedReplyCheck& c : r.checks) {
      if (!c.ok) return c.name;
    }
    return "";
  }

  absl::Time now_;
  std::unique_ptr<testing::TestPki> pki_;
  std::unique_ptr<signer::Signer> signer_;
  Bytes message_ = ToBytes("hello world");
  AttestedReply reply_;
  AttestedReplyOptions options_;
};

TEST_P(AttestedReplyTest, Verifies) {
  AttestedReplyResult r = VerifyAttestedReply(reply_, message_, options_);
  EXPECT_TRUE(r.ok()) << r.failure;
  EXPECT_EQ(r.checks.size(), 6u);  // message, document, pcr0, nonce, binding, signature
  EXPECT_EQ(r.ToJson()["ok"], true);
}

TEST_P(AttestedReplyTest, FileRoundTrip) {
  absl::StatusOr<AttestedReply> back = ParseAttestedReply(AttestedReplyToJson(reply_));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->request, reply_.request);
  EXPECT_EQ(back->signature, reply_.signature);
  EXPECT_EQ(back->attestation, reply_.attestation);
  EXPECT_TRUE(VerifyAttestedReply(*back, message_, options_).ok());
}

TEST_P(AttestedReplyTest, OtherMessageFails) {
  EXPECT_EQ(FirstFailure(reply_, ToBytes("hello world!")), "message");
}

TEST_P(AttestedReplyTest, AlteredRequestMessageFails) {
  AttestedReply r = reply_;
  r.request["message"] = Base64Encode(ToBytes("hello world!"));
  EXPECT_EQ(FirstFailure(r, ToBytes("hello world!")), "binding");
}

TEST_P(AttestedReplyTest, AlteredSignatureFails) {
  AttestedReply r = reply_;
  Flip(r.signature.back());
  AttestedReplyResult result = VerifyAttestedReply(r, message_, options_);
  EXPECT_EQ(FirstFailure(r, message_), "binding");
  EXPECT_FALSE(result.checks.back().ok);  // the signature check fails too
  // Another valid signature of the same message (ECDSA is randomised) is not the bound one.
  r.signature = *signer_->Sign(message_);
  EXPECT_EQ(FirstFailure(r, message_), "binding");
}

TEST_P(AttestedReplyTest, AlteredNonceFails) {
  AttestedReply r = reply_;
  r.request["attest"]["nonce"] = Base64Encode(ToBytes("another nonce"));
  EXPECT_EQ(FirstFailure(r, message_), "nonce");
  options_.expect_nonce = ToBytes("not the one");
  EXPECT_EQ(FirstFailure(reply_, message_), "nonce");
  options_.expect_nonce = ToBytes("attest-nonce-0123456789abcdef012");
  EXPECT_EQ(FirstFailure(reply_, message_), "");
}

TEST_P(AttestedReplyTest, AlteredPublicKeyFails) {
  // A document for another key (signed by the same NSM) with this signature and request.
  std::unique_ptr<signer::Signer> other = *signer::Signer::Generate(signer::KeyType::kP256);
  AttestedReply r = reply_;
  AttestationDocument fields = *ParseAttestationDocument(reply_.attestation);
  fields.public_key = other->public_key_der();
  r.attestation = *BuildAttestationDocument(fields, pki_->leaf.key.get());
  EXPECT_EQ(FirstFailure(r, message_), "binding");
}

TEST_P(AttestedReplyTest, AlteredUserDataFails) {
  AttestedReply r = reply_;
  AttestationDocument fields = *ParseAttestationDocument(reply_.attestation);
  Flip(fields.user_data->front());
  r.attestation = *BuildAttestationDocument(fields, pki_->leaf.key.get());
  EXPECT_EQ(FirstFailure(r, message_), "binding");
}

TEST_P(AttestedReplyTest, AlteredDocumentFails) {
  AttestedReply r = reply_;
  r.attestation = testing::FlipBit(r.attestation, r.attestation.size() - 1);  // the COSE signature
  EXPECT_EQ(FirstFailure(r, message_), "document");
}

TEST_P(AttestedReplyTest, UntrustedRootFails) {
  testing::TestPki other = testing::MakeTestPki(now_);
  options_.trusted_roots = {other.root.certificate()};
  EXPECT_EQ(FirstFailure(reply_, message_), "document");
}

TEST_P(AttestedReplyTest, UnexpectedPcrFails) {
  Flip(options_.expect_pcrs[0][0]);
  EXPECT_EQ(FirstFailure(reply_, message_), "pcr0");
  options_.expect_pcrs.clear();
  options_.expect_pcrs[16] = Bytes(48, 0);  // absent from the document
  EXPECT_EQ(FirstFailure(reply_, message_), "pcr16");
}

TEST(AttestedReplyAuth, AlteredAuthFieldsFail) {
  // Authenticated requests bind every covered member: altering the auth timestamp or client
  // (which a forwarder might try, to claim another client signed) breaks the binding.
  const absl::Time now = absl::Now();
  testing::TestPki pki = testing::MakeTestPki(now);
  std::unique_ptr<signer::Signer> signer = *signer::Signer::Generate(signer::KeyType::kEd25519);
  const Bytes message = ToBytes("hello world");
  AttestedReply reply{
      .request = AuthenticatedRequest(), .signature = *signer->Sign(message), .attestation = {}};
  AttestationDocument fields = testing::SampleFields(pki, now);
  const crypto::Sha256Digest b = ReplyBinding(*AttestedRequestDigest(reply.request),
                                              reply.signature, signer->public_key_der());
  fields.user_data = Bytes(b.begin(), b.end());
  fields.public_key = signer->public_key_der();
  fields.nonce = ToBytes("attest-nonce-0123456789abcdef012");
  reply.attestation = *BuildAttestationDocument(fields, pki.leaf.key.get());
  AttestedReplyOptions options;
  options.trusted_roots = {pki.root.certificate()};
  options.at = now;
  options.check_signature = [](ByteView spki, ByteView msg, ByteView sig) {
    return ops::VerifySignature(SpkiDerToPem(spki), msg, sig);
  };
  EXPECT_TRUE(VerifyAttestedReply(reply, message, options).ok());
  for (auto alter : std::vector<std::function<void(nlohmann::json&)>>{
           [](nlohmann::json& r) { r["auth"]["timestamp"] = 1765000000001; },
           [](nlohmann::json& r) { r["auth"]["client"] = "other"; },
           [](nlohmann::json& r) { r["auth"]["nonce"] = "ZmVkY2JhOTg3NjU0MzIxMA=="; },
           [](nlohmann::json& r) { r.erase("auth"); },
           [](nlohmann::json& r) { r["key"] = "lockout/other-key"; }}) {
    AttestedReply altered = reply;
    alter(altered.request);
    AttestedReplyResult result = VerifyAttestedReply(altered, message, options);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.failure.substr(0, 8), "binding:") << result.failure;
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, AttestedReplyTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? std::string("Authenticated")
                                          : std::string("Unauthenticated");
                         });

TEST(AttestedReplyFile, RefusesMalformedFiles) {
  const std::string good =
      R"({"format":"lockout-attested-reply-v1","request":{"op":"sign","message":"aGk=","attest":{"nonce":"AAAA"}},"signature":"3006","attestation":"AAAA"})";
  ASSERT_TRUE(ParseAttestedReply(good).ok()) << ParseAttestedReply(good).status();
  const std::string bad[] = {
      "",
      "[]",
      "not json",
      R"({"format":"lockout-attested-reply-v2","request":{"op":"sign","message":"aGk=","attest":{"nonce":"AAAA"}},"signature":"3006","attestation":"AAAA"})",
      R"({"format":"lockout-attested-reply-v1","format":"lockout-attested-reply-v1","request":{"op":"sign","message":"aGk=","attest":{"nonce":"AAAA"}},"signature":"3006","attestation":"AAAA"})",
      R"({"format":"lockout-attested-reply-v1","request":{"op":"sign","message":"aGk=","attest":{"nonce":"AAAA"}},"signature":"3006","attestation":"AAAA","extra":1})",
      R"({"format":"lockout-attested-reply-v1","request":{"op":"sign","message":"aGk="},"signature":"3006","attestation":"AAAA"})",
      R"({"format":"lockout-attested-reply-v1","request":{"id":1,"op":"sign","message":"aGk=","attest":{"nonce":"AAAA"}},"signature":"3006","attestation":"AAAA"})",
      R"({"format":"lockout-attested-reply-v1","request":{"op":"attest","message":"aGk=","attest":{"nonce":"AAAA"}},"signature":"3006","attestation":"AAAA"})",
      R"({"format":"lockout-attested-reply-v1","request":{"op":"sign","message":"aGk=","attest":{"nonce":"AAAA"}},"signature":"zz","attestation":"AAAA"})",
      R"({"format":"lockout-attested-reply-v1","request":{"op":"sign","message":"aGk=","attest":{"nonce":"AAAA"}},"signature":"3006","attestation":"!!"})",
      R"({"format":"lockout-attested-reply-v1","request":{"op":"sign","message":"aGk=","attest":{"nonce":"AAAA"}},"signature":"3006"})",
      R"({"format":"lockout-attested-reply-v1","request":"x","signature":"3006","attestation":"AAAA"})",
  };
  for (const std::string& text : bad) {
    absl::StatusOr<AttestedReply> r = ParseAttestedReply(text);
    EXPECT_FALSE(r.ok()) << text;
    if (!r.ok()) {
      EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
    }
  }
  EXPECT_FALSE(ParseAttestedReply(std::string(kMaxAttestedReplyFile + 1, ' ')).ok());
}

TEST(AttestedReplyFile, SpkiPem) {
  std::unique_ptr<signer::Signer> s = *signer::Signer::Generate(signer::KeyType::kP384);
  EXPECT_EQ(SpkiDerToPem(s->public_key_der()), s->public_key_pem());
}

}  // namespace
}  // namespace lockout::attest
