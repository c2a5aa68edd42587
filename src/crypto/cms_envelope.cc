#include "src/crypto/cms_envelope.h"

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/crypto/rsa_key.h"

namespace lockout::crypto {
namespace {

using Asn1OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, OsslDeleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using OaepParamsPtr =
    std::unique_ptr<RSA_OAEP_PARAMS, OsslDeleter<RSA_OAEP_PARAMS, RSA_OAEP_PARAMS_free>>;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, OsslDeleter<X509_ALGOR, X509_ALGOR_free>>;

absl::Status Malformed(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("KMS envelope: ", Absl(why)));
}

// ---------------------------------------------------------------------------------------------
// Why a hand-written reader at all: OpenSSL parses the whole EnvelopedData (d2i_CMS_ContentInfo,
// BER included) and exposes the recipient list, the key-encryption AlgorithmIdentifier and the
// recipient's key id, but OpenSSL 3.0 has no accessor for the KeyTransRecipientInfo's
// encryptedKey nor for the contentEncryptionAlgorithm (and so the IV). We therefore let OpenSSL
// parse the untrusted BER and re-encode it with i2d_CMS_ContentInfo, which always yields DER
// (definite lengths, primitive OCTET STRINGs), and walk that DER with the bounds-checked reader
// below. The reader never sees the untrusted bytes directly, and it only needs the DER subset:
// low tag numbers and definite lengths; anything else is refused.
// ---------------------------------------------------------------------------------------------
constexpr uint8_t kTagInteger = 0x02;
constexpr uint8_t kTagOctetString = 0x04;
constexpr uint8_t kTagOid = 0x06;
constexpr uint8_t kTagSequence = 0x30;
constexpr uint8_t kTagSet = 0x31;
constexpr uint8_t kTagContext0Primitive = 0x80;
constexpr uint8_t kTagContext0Constructed = 0xa0;

// DER contents of the object identifiers compared byte-for-byte.
constexpr uint8_t kDerOidEnvelopedData[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03};
constexpr uint8_t kDerOidData[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
constexpr uint8_t kDerOidAes256Cbc[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};

constexpr size_t kAesBlockSize = 16;
constexpr size_t kMaxEncryptedKeySize = 512;  // RSA-4096

class DerReader final {
 public:
  explicit DerReader(ByteView data) : data_(data) {}

  bool empty() const { return data_.empty(); }
  bool PeekTag(uint8_t tag) const { return !data_.empty() && data_[0] == tag; }

  // Consumes one TLV whose identifier octet is `tag`; returns its contents.
  absl::StatusOr<ByteView> Read(uint8_t tag, std::string_view what) {
    if (data_.size() < 2) return Malformed(absl::StrCat(Absl(what), ": missing"));
    if (data_[0] != tag) {
      return Malformed(
          absl::StrCat(Absl(what), ": unexpected tag 0x", absl::Hex(data_[0], absl::kZeroPad2)));
    }
    size_t header = 2;
    size_t length = data_[1];
    if (length >= 0x80) {
      // Long form. 0x80 (indefinite) cannot occur in DER; 3 length octets cover any input we
      // accept (kMaxKmsEnvelopeSize).
      size_t octets = length & 0x7f;
      if (octets == 0 || octets > 3) {
        return Malformed(absl::StrCat(Absl(what), ": unsupported length form"));
      }
      if (data_.size() < 2 + octets) return Malformed(absl::StrCat(Absl(what), ": truncated"));
      length = 0;
      for (size_t i = 0; i < octets; ++i) length = (length << 8) | data_[2 + i];
      header += octets;
    }
    if (length > data_.size() - header) {
      return Malformed(absl::StrCat(Absl(what), ": length ", length, " exceeds the ",
                                    data_.size() - header, " bytes left"));
    }
    ByteView contents = data_.subspan(header, length);
    data_.remove_prefix(header + length);
    return contents;
  }

  absl::Status ExpectEnd(std::string_view what) const {
    if (data_.empty()) return absl::OkStatus();
    return Malformed(absl::StrCat(Absl(what), ": ", data_.size(), " unexpected trailing bytes"));
  }

 private:
  ByteView data_;
};

bool Equal(ByteView a, ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

absl::Status ExpectVersion(DerReader& r, uint8_t version, std::string_view what) {
  ASSIGN_OR_RETURN(ByteView v, r.Read(kTagInteger, what));
  if (v.size() != 1 || v[0] != version) {
    return Malformed(absl::StrCat(Absl(what), ": expected ", version));
  }
  return absl::OkStatus();
}

absl::Status ExpectOid(DerReader& r, ByteView oid, std::string_view what) {
  ASSIGN_OR_RETURN(ByteView got, r.Read(kTagOid, what));
  if (!Equal(got, oid))
    return Malformed(absl::StrCat(Absl(what), ": unexpected object identifier"));
  return absl::OkStatus();
}

// An AlgorithmIdentifier naming SHA-256 with absent or NULL parameters (RFC 4055 §2.1 allows
// both; KMS sends NULL, OpenSSL omits them).
bool IsSha256(const X509_ALGOR* alg) {
  if (alg == nullptr) return false;
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, alg);
  return OBJ_obj2nid(oid) == NID_sha256 && (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL);
}

// Checks the keyEncryptionAlgorithm: id-RSAES-OAEP with RSAES-OAEP-params (RFC 8017 A.2.1)
// hashFunc = SHA-256, maskGenFunc = MGF1(SHA-256), pSourceFunc = default (empty label).
// The defaults (SHA-1) are refused: KMS always spells out SHA-256.
absl::Status CheckOaepSha256(const X509_ALGOR* alg) {
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, alg);
  if (OBJ_obj2nid(oid) != NID_rsaesOaep) {
    return Malformed("key encryption algorithm is not RSAES-OAEP");
  }
  if (ptype != V_ASN1_SEQUENCE || pval == nullptr) {
    return Malformed("RSAES-OAEP parameters absent (SHA-1 defaults are not accepted)");
  }
  // For V_ASN1_SEQUENCE the ASN1_STRING holds the complete DER of the SEQUENCE.
  const auto* seq = static_cast<const ASN1_STRING*>(pval);
  const unsigned char* p = ASN1_STRING_get0_data(seq);
  const unsigned char* end = p + ASN1_STRING_length(seq);
  OaepParamsPtr params(d2i_RSA_OAEP_PARAMS(nullptr, &p, ASN1_STRING_length(seq)));
  if (params == nullptr || p != end) {
    ERR_clear_error();
    return Malformed("RSAES-OAEP parameters are not valid DER");
  }
  if (!IsSha256(params->hashFunc)) return Malformed("RSAES-OAEP hash is not SHA-256");
  if (params->maskGenFunc == nullptr) {
    return Malformed("RSAES-OAEP MGF1 hash is not SHA-256 (default MGF1-SHA-1)");
  }
  X509_ALGOR_get0(&oid, &ptype, &pval, params->maskGenFunc);
  if (OBJ_obj2nid(oid) != NID_mgf1) return Malformed("RSAES-OAEP mask generation is not MGF1");
  if (ptype != V_ASN1_SEQUENCE || pval == nullptr) {
    return Malformed("RSAES-OAEP MGF1 hash is not SHA-256");
  }
  const auto* mgf_seq = static_cast<const ASN1_STRING*>(pval);
  p = ASN1_STRING_get0_data(mgf_seq);
  end = p + ASN1_STRING_length(mgf_seq);
  X509AlgorPtr mgf_hash(d2i_X509_ALGOR(nullptr, &p, ASN1_STRING_length(mgf_seq)));
  if (mgf_hash == nullptr || p != end || !IsSha256(mgf_hash.get())) {
    ERR_clear_error();
    return Malformed("RSAES-OAEP MGF1 hash is not SHA-256");
  }
  if (params->pSourceFunc != nullptr) {
    // pSpecified with an empty label equals the default; anything else is a label KMS never uses.
    X509_ALGOR_get0(&oid, &ptype, &pval, params->pSourceFunc);
    const auto* label = static_cast<const ASN1_STRING*>(pval);
    if (OBJ_obj2nid(oid) != NID_pSpecified || ptype != V_ASN1_OCTET_STRING || label == nullptr ||
        ASN1_STRING_length(label) != 0) {
      return Malformed("RSAES-OAEP label is not empty");
    }
  }
  return absl::OkStatus();
}

// The envelope as OpenSSL parsed it, plus the fields extracted from its DER re-encoding.
struct ParsedEnvelope {
  CmsPtr cms;
  KmsEnvelope fields;
};

absl::Status WalkDer(ByteView der, KmsEnvelope& out) {
  DerReader top(der);
  ASSIGN_OR_RETURN(ByteView content_info, top.Read(kTagSequence, "ContentInfo"));
  RETURN_IF_ERROR(top.ExpectEnd("ContentInfo"));

  DerReader ci(content_info);
  RETURN_IF_ERROR(ExpectOid(ci, kDerOidEnvelopedData, "ContentInfo.contentType"));
  ASSIGN_OR_RETURN(ByteView explicit_content,
                   ci.Read(kTagContext0Constructed, "ContentInfo.content"));
  RETURN_IF_ERROR(ci.ExpectEnd("ContentInfo"));

  DerReader wrapper(explicit_content);
  ASSIGN_OR_RETURN(ByteView enveloped, wrapper.Read(kTagSequence, "EnvelopedData"));
  RETURN_IF_ERROR(wrapper.ExpectEnd("ContentInfo.content"));

  // RFC 5652 §6.1: version 2 because the recipient is identified by subjectKeyIdentifier.
  DerReader env(enveloped);
  RETURN_IF_ERROR(ExpectVersion(env, 2, "EnvelopedData.version"));
  if (env.PeekTag(kTagContext0Constructed)) {
    return Malformed("EnvelopedData.originatorInfo is not accepted");
  }
  ASSIGN_OR_RETURN(ByteView recipient_infos, env.Read(kTagSet, "EnvelopedData.recipientInfos"));
  ASSIGN_OR_RETURN(ByteView eci, env.Read(kTagSequence, "EnvelopedData.encryptedContentInfo"));
  RETURN_IF_ERROR(env.ExpectEnd("EnvelopedData (unprotectedAttrs are not accepted)"));

  DerReader ris(recipient_infos);
  ASSIGN_OR_RETURN(ByteView ktri, ris.Read(kTagSequence, "KeyTransRecipientInfo"));
  RETURN_IF_ERROR(ris.ExpectEnd("recipientInfos (exactly one recipient is accepted)"));

  DerReader kt(ktri);
  RETURN_IF_ERROR(ExpectVersion(kt, 2, "KeyTransRecipientInfo.version"));
  ASSIGN_OR_RETURN(ByteView key_id, kt.Read(kTagContext0Primitive,
                                            "KeyTransRecipientInfo.rid subjectKeyIdentifier"));
  // The AlgorithmIdentifier was already checked on OpenSSL's parsed form (CheckOaepSha256).
  RETURN_IF_ERROR(kt.Read(kTagSequence, "keyEncryptionAlgorithm").status());
  ASSIGN_OR_RETURN(ByteView encrypted_key, kt.Read(kTagOctetString, "encryptedKey"));
  RETURN_IF_ERROR(kt.ExpectEnd("KeyTransRecipientInfo"));
  if (key_id.empty()) return Malformed("subjectKeyIdentifier is empty");
  if (encrypted_key.empty() || encrypted_key.size() > kMaxEncryptedKeySize) {
    return Malformed(absl::StrCat("encryptedKey size ", encrypted_key.size(), " outside [1, ",
                                  kMaxEncryptedKeySize, "]"));
  }

  DerReader ec(eci);
  RETURN_IF_ERROR(ExpectOid(ec, kDerOidData, "encryptedContentInfo.contentType"));
  ASSIGN_OR_RETURN(ByteView content_alg, ec.Read(kTagSequence, "contentEncryptionAlgorithm"));
  if (!ec.PeekTag(kTagContext0Primitive)) {
    return Malformed("encryptedContent is absent (detached content is not accepted)");
  }
  ASSIGN_OR_RETURN(ByteView ciphertext, ec.Read(kTagContext0Primitive, "encryptedContent"));
  RETURN_IF_ERROR(ec.ExpectEnd("encryptedContentInfo"));

  DerReader ca(content_alg);
  RETURN_IF_ERROR(ExpectOid(ca, kDerOidAes256Cbc, "contentEncryptionAlgorithm (AES-256-CBC)"));
  ASSIGN_OR_RETURN(ByteView iv, ca.Read(kTagOctetString, "AES-256-CBC IV"));
  RETURN_IF_ERROR(ca.ExpectEnd("contentEncryptionAlgorithm"));
  if (iv.size() != kAesBlockSize) {
    return Malformed(absl::StrCat("AES-256-CBC IV is ", iv.size(), " bytes, expected 16"));
  }
  if (ciphertext.empty() || ciphertext.size() % kAesBlockSize != 0) {
    return Malformed(absl::StrCat("encryptedContent size ", ciphertext.size(),
                                  " is not a non-zero multiple of 16"));
  }

  out.recipient_key_id.assign(key_id.begin(), key_id.end());
  out.key_encryption_oid = kOidRsaesOaep;
  out.oaep_hash_oid = kOidSha256;
  out.mgf_oid = kOidMgf1;
  out.mgf_hash_oid = kOidSha256;
  out.encrypted_key.assign(encrypted_key.begin(), encrypted_key.end());
  out.content_type_oid = kOidData;
  out.content_encryption_oid = kOidAes256Cbc;
  out.iv.assign(iv.begin(), iv.end());
  out.ciphertext.assign(ciphertext.begin(), ciphertext.end());
  return absl::OkStatus();
}

absl::StatusOr<ParsedEnvelope> Parse(ByteView ber) {
  if (ber.empty() || ber.size() > kMaxKmsEnvelopeSize) {
    return Malformed(absl::StrCat("size ", ber.size(), " outside [1, ", kMaxKmsEnvelopeSize, "]"));
  }
  ParsedEnvelope parsed;
  const unsigned char* p = ber.data();
  parsed.cms.reset(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(ber.size())));
  if (parsed.cms == nullptr) {
    return OpenSslError("KMS envelope: not a CMS ContentInfo", absl::StatusCode::kInvalidArgument);
  }
  size_t consumed = static_cast<size_t>(p - ber.data());
  if (consumed != ber.size()) {
    return Malformed(absl::StrCat(ber.size() - consumed, " trailing bytes after ContentInfo"));
  }
  CMS_ContentInfo* cms = parsed.cms.get();
  if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped) {
    return Malformed("content type is not EnvelopedData");
  }
  STACK_OF(CMS_RecipientInfo)* recipients = CMS_get0_RecipientInfos(cms);
  if (recipients == nullptr || sk_CMS_RecipientInfo_num(recipients) != 1) {
    return Malformed(
        absl::StrCat("expected exactly one RecipientInfo, found ",
                     recipients == nullptr ? 0 : sk_CMS_RecipientInfo_num(recipients)));
  }
  CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(recipients, 0);
  if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS) {
    return Malformed("RecipientInfo is not a KeyTransRecipientInfo");
  }
  X509_ALGOR* key_alg = nullptr;
  if (CMS_RecipientInfo_ktri_get0_algs(ri, nullptr, nullptr, &key_alg) != 1 || key_alg == nullptr) {
    return OpenSslError("KMS envelope: keyEncryptionAlgorithm unavailable");
  }
  RETURN_IF_ERROR(CheckOaepSha256(key_alg));

  int der_len = i2d_CMS_ContentInfo(cms, nullptr);
  if (der_len <= 0) {
    return OpenSslError("KMS envelope: cannot re-encode as DER",
                        absl::StatusCode::kInvalidArgument);
  }
  Bytes der(static_cast<size_t>(der_len));
  unsigned char* out = der.data();
  if (i2d_CMS_ContentInfo(cms, &out) != der_len) {
    return OpenSslError("KMS envelope: cannot re-encode as DER");
  }
  RETURN_IF_ERROR(WalkDer(der, parsed.fields));
  return parsed;
}

// A certificate that only carries the recipient's public key and subjectKeyIdentifier.
// OpenSSL 3.0 adds key-transport recipients only from an X509 (CMS_add1_recipient_cert), and
// reading the key id (X509_get0_subject_key_id) caches the certificate's extensions, which
// needs an encodable, hence signed, certificate. We sign it with a throwaway Ed25519 key: the
// certificate never leaves this function and nothing ever verifies it.
absl::StatusOr<X509Ptr> MakeRecipientCarrier(const EVP_PKEY* key) {
  ASSIGN_OR_RETURN(Bytes spki, PublicKeyToSpkiDer(key));
  Sha256Digest key_id = Sha256(spki);
  X509Ptr cert(X509_new());
  Asn1OctetStringPtr ski(ASN1_OCTET_STRING_new());
  EvpPkeyPtr signer(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (cert == nullptr || ski == nullptr || signer == nullptr ||
      X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      // X509_set_pubkey takes a reference; OpenSSL's reference counts are atomic.
      X509_set_pubkey(cert.get(), const_cast<EVP_PKEY*>(key)) != 1 ||
      ASN1_OCTET_STRING_set(ski.get(), key_id.data(), static_cast<int>(key_id.size())) != 1 ||
      X509_add1_ext_i2d(cert.get(), NID_subject_key_identifier, ski.get(), 0, X509V3_ADD_DEFAULT) !=
          1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 0) == nullptr ||
      X509_sign(cert.get(), signer.get(), nullptr) <= 0) {
    return OpenSslError("KMS envelope build: recipient carrier");
  }
  return cert;
}

}  // namespace

absl::StatusOr<KmsEnvelope> ParseKmsEnvelope(ByteView ber) {
  ASSIGN_OR_RETURN(ParsedEnvelope parsed, Parse(ber));
  return std::move(parsed.fields);
}

absl::StatusOr<Bytes> BuildKmsEnvelope(const EVP_PKEY* rsa_public_key, ByteView plaintext) {
  RETURN_IF_ERROR(CheckRsaRecipientKey(rsa_public_key));
  if (plaintext.size() > kMaxKmsEnvelopePlaintextSize) {
    return absl::InvalidArgumentError(absl::StrCat("KMS envelope build: plaintext size ",
                                                   plaintext.size(), " exceeds ",
                                                   kMaxKmsEnvelopePlaintextSize));
  }
  ASSIGN_OR_RETURN(X509Ptr carrier, MakeRecipientCarrier(rsa_public_key));

  // OpenSSL draws the content-encryption key and the IV from its CSPRNG and wipes the key when
  // the CMS structure is freed.
  CmsPtr cms(CMS_EnvelopedData_create(EVP_aes_256_cbc()));
  if (cms == nullptr) return OpenSslError("KMS envelope build: CMS_EnvelopedData_create");
  CMS_RecipientInfo* ri =
      CMS_add1_recipient_cert(cms.get(), carrier.get(), CMS_USE_KEYID | CMS_KEY_PARAM);
  if (ri == nullptr) return OpenSslError("KMS envelope build: CMS_add1_recipient_cert");
  EVP_PKEY_CTX* pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
  if (pctx == nullptr || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
    return OpenSslError("KMS envelope build: RSAES-OAEP parameters");
  }
  // Embedded (not detached) content, as CMS_encrypt does without CMS_DETACHED.
  if (CMS_set_detached(cms.get(), 0) != 1) {
    return OpenSslError("KMS envelope build: CMS_set_detached");
  }

  // CMS_final() would copy the plaintext through an unwiped 4 KiB stack buffer; instead the
  // plaintext is written straight into the cipher BIO chain, whose state OpenSSL wipes on free.
  {
    BioPtr chain(CMS_dataInit(cms.get(), nullptr));
    if (chain == nullptr) return OpenSslError("KMS envelope build: CMS_dataInit");
    if (!plaintext.empty() &&
        BIO_write(chain.get(), plaintext.data(), static_cast<int>(plaintext.size())) !=
            static_cast<int>(plaintext.size())) {
      return OpenSslError("KMS envelope build: encrypting content");
    }
    if (BIO_flush(chain.get()) <= 0 || CMS_dataFinal(cms.get(), chain.get()) != 1) {
      return OpenSslError("KMS envelope build: CMS_dataFinal");
    }
  }

  int len = i2d_CMS_ContentInfo(cms.get(), nullptr);
  if (len <= 0) return OpenSslError("KMS envelope build: i2d_CMS_ContentInfo");
  Bytes der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  if (i2d_CMS_ContentInfo(cms.get(), &out) != len) {
    return OpenSslError("KMS envelope build: i2d_CMS_ContentInfo");
  }
  return der;
}

absl::StatusOr<SecretBytes> DecryptKmsEnvelope(const EVP_PKEY* rsa_private_key, ByteView envelope) {
  RETURN_IF_ERROR(CheckRsaRecipientKey(rsa_private_key));
  ASSIGN_OR_RETURN(ParsedEnvelope parsed, Parse(envelope));
  const size_t modulus_size = static_cast<size_t>(EVP_PKEY_get_size(rsa_private_key));
  if (parsed.fields.encrypted_key.size() != modulus_size) {
    return absl::PermissionDeniedError(
        absl::StrCat("KMS envelope decrypt: encryptedKey is ", parsed.fields.encrypted_key.size(),
                     " bytes but the RSA modulus is ", modulus_size, " bytes (not for this key)"));
  }
  CMS_ContentInfo* cms = parsed.cms.get();
  CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(CMS_get0_RecipientInfos(cms), 0);

  // CMS_DEBUG_DECRYPT makes a content key of the wrong length an error. Without it OpenSSL
  // would substitute a random key (the Million Message Attack countermeasure for PKCS#1 v1.5) and
  // about 1 in 256 wrong-key decryptions would "succeed" with garbage. RSAES-OAEP is
  // CCA2-secure, so reporting the failure leaks nothing useful. Called with no key and no output,
  // CMS_decrypt only records the flag (the idiom OpenSSL's own `cms` app uses).
  if (CMS_decrypt(cms, nullptr, nullptr, nullptr, nullptr, CMS_DEBUG_DECRYPT) != 1) {
    return OpenSslError("KMS envelope decrypt: CMS_decrypt setup");
  }
  // The RecipientInfo owns the key it is given and frees it with the CMS structure: give it a
  // reference of its own.
  if (EVP_PKEY_up_ref(const_cast<EVP_PKEY*>(rsa_private_key)) != 1) {
    return OpenSslError("KMS envelope decrypt: EVP_PKEY_up_ref");
  }
  if (CMS_RecipientInfo_set0_pkey(ri, const_cast<EVP_PKEY*>(rsa_private_key)) != 1) {
    EVP_PKEY_free(const_cast<EVP_PKEY*>(rsa_private_key));
    return OpenSslError("KMS envelope decrypt: CMS_RecipientInfo_set0_pkey");
  }
  // RSAES-OAEP unwrap of the content key, with the hash/MGF from keyEncryptionAlgorithm.
  if (CMS_RecipientInfo_decrypt(cms, ri) != 1) {
    return OpenSslError("KMS envelope decrypt: content key unwrap failed (wrong key or tampered)",
                        absl::StatusCode::kPermissionDenied);
  }

  // Read the plaintext from the decrypting BIO chain straight into secret storage (CMS_decrypt
  // would copy it through an unwiped stack buffer). CBC plaintext is shorter than its ciphertext,
  // so one extra byte of room proves the read was complete.
  BioPtr chain(CMS_dataInit(cms, nullptr));
  if (chain == nullptr) {
    return OpenSslError("KMS envelope decrypt: content decryption setup failed",
                        absl::StatusCode::kPermissionDenied);
  }
  SecretBytes buffer(parsed.fields.ciphertext.size() + 1);
  absl::Span<uint8_t> room = buffer.RevealMutable();
  size_t total = 0;
  while (total < room.size()) {
    size_t want = std::min<size_t>(room.size() - total, INT_MAX);
    int n = BIO_read(chain.get(), room.data() + total, static_cast<int>(want));
    if (n < 0) {
      return OpenSslError("KMS envelope decrypt: content decryption failed",
                          absl::StatusCode::kPermissionDenied);
    }
    if (n == 0) break;
    total += static_cast<size_t>(n);
  }
  BIO* cipher = BIO_find_type(chain.get(), BIO_TYPE_CIPHER);
  if (total >= room.size() || cipher == nullptr || BIO_get_cipher_status(cipher) != 1) {
    return OpenSslError("KMS envelope decrypt: content decryption failed (bad padding)",
                        absl::StatusCode::kPermissionDenied);
  }
  return SecretBytes::CopyFrom(buffer.Reveal().first(total));
}

}  // namespace lockout::crypto
