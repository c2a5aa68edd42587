#include "src/eif/eif_signature.h"

#include <openssl/pem.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "src/common/cbor.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/openssl_util.h"

namespace lockout::eif {
namespace {

using crypto::BignumPtr;
using crypto::BioPtr;
using crypto::EcdsaSigPtr;
using crypto::EvpMdCtxPtr;
using crypto::EvpPkeyPtr;
using crypto::X509Ptr;

constexpr std::string_view kCertKey = "signing_certificate";
constexpr std::string_view kSignatureKey = "signature";
constexpr uint64_t kCoseSign1Tag = 18;
constexpr int64_t kCoseHeaderAlg = 1;

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("EIF signature section: ", Absl(what)));
}

// serde_cbor writes a Rust Vec<u8> as an array of unsigned integers.
CborPtr U8Array(ByteView bytes) {
  CborPtr array = CborArray(bytes.size());
  for (uint8_t b : bytes) CborArrayPush(array.get(), CborUint(b));
  return array;
}

absl::StatusOr<Bytes> ReadU8Array(const cbor_item_t* item, std::string_view field) {
  if (item == nullptr || !cbor_isa_array(item)) {
    return Invalid(absl::StrCat(Absl(field), " is not an array of bytes"));
  }
  Bytes out;
  out.reserve(cbor_array_size(item));
  cbor_item_t** items = cbor_array_handle(item);
  for (size_t i = 0; i < cbor_array_size(item); ++i) {
    std::optional<uint64_t> v = CborGetUint(items[i]);
    if (!v.has_value() || *v > 0xFF) {
      return Invalid(absl::StrCat(Absl(field), "[", i, "] is not an integer 0..255"));
    }
    out.push_back(static_cast<uint8_t>(*v));
  }
  return out;
}

struct CoseAlg {
  int64_t id;
  const EVP_MD* (*md)();
  int key_bits;
  size_t coord_size;
};
constexpr CoseAlg kCoseAlgs[] = {
    {-7, EVP_sha256, 256, 32},   // ES256
    {-35, EVP_sha384, 384, 48},  // ES384
    {-36, EVP_sha512, 521, 66},  // ES512
};

const CoseAlg* AlgForId(int64_t id) {
  for (const CoseAlg& a : kCoseAlgs) {
    if (a.id == id) return &a;
  }
  return nullptr;
}
const CoseAlg* AlgForKey(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return nullptr;
  for (const CoseAlg& a : kCoseAlgs) {
    if (a.key_bits == EVP_PKEY_get_bits(key)) return &a;
  }
  return nullptr;
}

// RFC 9052 §4.4: Sig_structure = ["Signature1", protected, external_aad = h'', payload].
absl::StatusOr<Bytes> SigStructure(ByteView protected_bytes, ByteView payload) {
  CborPtr s = CborArray(4);
  CborArrayPush(s.get(), CborText("Signature1"));
  CborArrayPush(s.get(), CborByteString(protected_bytes));
  CborArrayPush(s.get(), CborByteString(ByteView()));
  CborArrayPush(s.get(), CborByteString(payload));
  return CborSerialize(s.get());
}

absl::StatusOr<X509Ptr> ParsePemCertificate(ByteView pem) {
  if (pem.empty()) return absl::InvalidArgumentError("EIF signing certificate is empty");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return crypto::OpenSslError("BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return crypto::OpenSslError("EIF signing certificate is not a PEM certificate",
                                absl::StatusCode::kInvalidArgument);
  }
  return cert;
}

// The integer value of a CBOR int item (major types 0 and 1), if it fits in int64.
std::optional<int64_t> CborGetInt(const cbor_item_t* item) {
  if (item == nullptr || !cbor_is_int(item)) return std::nullopt;
  uint64_t magnitude = cbor_get_int(item);
  if (magnitude > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  const auto m = static_cast<int64_t>(magnitude);
  return cbor_isa_uint(item) ? m : -1 - m;
}

}  // namespace

absl::StatusOr<std::vector<PcrSignature>> ParseSignatureSection(ByteView section) {
  if (section.size() > kMaxSignatureSectionSize) {
    return Invalid(
        absl::StrCat(section.size(), " bytes exceeds the limit of ", kMaxSignatureSectionSize));
  }
  absl::StatusOr<CborPtr> root = CborParse(section);
  if (!root.ok()) return Invalid(std::string(root.status().message()));
  const cbor_item_t* array = root->get();
  if (!cbor_isa_array(array) || cbor_array_size(array) == 0) {
    return Invalid("expected a non-empty array of PCR signatures");
  }
  std::vector<PcrSignature> out;
  cbor_item_t** entries = cbor_array_handle(array);
  for (size_t i = 0; i < cbor_array_size(array); ++i) {
    const cbor_item_t* entry = entries[i];
    if (!cbor_isa_map(entry) || cbor_map_size(entry) != 2 || !CborCheckUniqueTextKeys(entry).ok()) {
      return Invalid(absl::StrCat("entry ", i, " is not a map of signing_certificate, signature"));
    }
    PcrSignature sig;
    ASSIGN_OR_RETURN(sig.signing_certificate, ReadU8Array(CborMapGet(entry, kCertKey), kCertKey));
    ASSIGN_OR_RETURN(sig.signature, ReadU8Array(CborMapGet(entry, kSignatureKey), kSignatureKey));
    out.push_back(std::move(sig));
  }
  return out;
}

absl::StatusOr<Bytes> EncodeSignatureSection(const std::vector<PcrSignature>& entries) {
  CborPtr array = CborArray(entries.size());
  for (const PcrSignature& e : entries) {
    CborPtr map = CborMap(2);
    CborMapAdd(map.get(), CborText(kCertKey), U8Array(e.signing_certificate));
    CborMapAdd(map.get(), CborText(kSignatureKey), U8Array(e.signature));
    CborArrayPush(array.get(), std::move(map));
  }
  return CborSerialize(array.get());
}

absl::StatusOr<Bytes> CertificatePemToDer(ByteView pem) {
  ASSIGN_OR_RETURN(X509Ptr cert, ParsePemCertificate(pem));
  int len = i2d_X509(cert.get(), nullptr);
  if (len <= 0) return crypto::OpenSslError("i2d_X509");
  Bytes der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  if (i2d_X509(cert.get(), &p) != len) return crypto::OpenSslError("i2d_X509");
  return der;
}

absl::StatusOr<crypto::Sha384Digest> Pcr8FromCertificatePem(ByteView pem) {
  ASSIGN_OR_RETURN(Bytes der, CertificatePemToDer(pem));
  return crypto::ExtendPcr(crypto::Sha384Digest{}, crypto::Sha384(der));
}

Bytes EncodePcrInfo(int32_t register_index, ByteView register_value) {
  CborPtr map = CborMap(2);
  CborPtr index;
  if (register_index >= 0) {
    index = CborUint(static_cast<uint64_t>(register_index));
  } else {
    // CBOR negative integer -1-n; libcbor stores n and keeps the width it was built with, so
    // pick the shortest one as serde_cbor does.
    const auto n = static_cast<uint32_t>(-1 - int64_t{register_index});
    if (n <= 0xFF) {
      index = CborPtr(cbor_build_negint8(static_cast<uint8_t>(n)));
    } else if (n <= 0xFFFF) {
      index = CborPtr(cbor_build_negint16(static_cast<uint16_t>(n)));
    } else {
      index = CborPtr(cbor_build_negint32(n));
    }
  }
  CborMapAdd(map.get(), CborText("register_index"), std::move(index));
  CborMapAdd(map.get(), CborText("register_value"), U8Array(register_value));
  absl::StatusOr<Bytes> out = CborSerialize(map.get());
  // Serialising items we just built cannot fail short of allocation failure.
  if (!out.ok()) std::abort();
  return *std::move(out);
}

absl::StatusOr<PcrSignature> SignPcr0(const crypto::Sha384Digest& pcr0, ByteView cert_pem,
                                      const SecretBytes& private_key_pem) {
  ASSIGN_OR_RETURN(X509Ptr cert, ParsePemCertificate(cert_pem));
  ByteView key_pem = private_key_pem.Reveal();
  if (key_pem.empty()) return absl::InvalidArgumentError("EIF signing key is empty");
  BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  if (bio == nullptr) return crypto::OpenSslError("BIO_new_mem_buf");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return crypto::OpenSslError("EIF signing key is not a PEM private key",
                                absl::StatusCode::kInvalidArgument);
  }
  const CoseAlg* alg = AlgForKey(key.get());
  if (alg == nullptr) {
    return absl::InvalidArgumentError("EIF signing key must be EC P-256, P-384 or P-521");
  }

  // Protected header {1: alg}.
  CborPtr protected_map = CborMap(1);
  CborMapAdd(protected_map.get(), CborUint(kCoseHeaderAlg),
             CborPtr(cbor_build_negint8(static_cast<uint8_t>(-1 - alg->id))));
  ASSIGN_OR_RETURN(Bytes protected_bytes, CborSerialize(protected_map.get()));
  const Bytes payload = EncodePcrInfo(0, pcr0);
  ASSIGN_OR_RETURN(Bytes to_sign, SigStructure(protected_bytes, payload));

  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t der_len = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, alg->md(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_len, to_sign.data(), to_sign.size()) != 1) {
    return crypto::OpenSslError("EVP_DigestSign");
  }
  Bytes der(der_len);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_len, to_sign.data(), to_sign.size()) != 1) {
    return crypto::OpenSslError("EVP_DigestSign");
  }
  const uint8_t* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (sig == nullptr) return crypto::OpenSslError("d2i_ECDSA_SIG");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  // COSE (RFC 9053 §2.1): r ‖ s, each left-padded to the curve's size.
  Bytes raw(2 * alg->coord_size);
  const int coord = static_cast<int>(alg->coord_size);
  if (BN_bn2binpad(r, raw.data(), coord) != coord ||
      BN_bn2binpad(s, raw.data() + alg->coord_size, coord) != coord) {
    return crypto::OpenSslError("BN_bn2binpad");
  }

  CborPtr cose = CborArray(4);
  CborArrayPush(cose.get(), CborByteString(protected_bytes));
  CborArrayPush(cose.get(), CborMap(0));
  CborArrayPush(cose.get(), CborByteString(payload));
  CborArrayPush(cose.get(), CborByteString(raw));
  PcrSignature out;
  out.signing_certificate.assign(cert_pem.begin(), cert_pem.end());
  ASSIGN_OR_RETURN(out.signature, CborSerialize(cose.get()));
  return out;
}

absl::StatusOr<bool> VerifyPcr0Signature(const PcrSignature& entry,
                                         const crypto::Sha384Digest& pcr0) {
  ASSIGN_OR_RETURN(X509Ptr cert, ParsePemCertificate(entry.signing_certificate));
  absl::StatusOr<CborPtr> parsed = CborParse(entry.signature);
  if (!parsed.ok()) return Invalid(absl::StrCat("COSE_Sign1: ", parsed.status().message()));
  const cbor_item_t* cose = parsed->get();
  CborPtr untagged;  // cbor_tag_item returns a new reference
  if (cbor_isa_tag(cose)) {
    if (cbor_tag_value(cose) != kCoseSign1Tag) return Invalid("COSE_Sign1 has a foreign tag");
    untagged = CborPtr(cbor_tag_item(cose));
    cose = untagged.get();
  }
  if (!cbor_isa_array(cose) || cbor_array_size(cose) != 4) {
    return Invalid("COSE_Sign1 is not an array of 4 items");
  }
  cbor_item_t** parts = cbor_array_handle(cose);
  std::optional<Bytes> protected_bytes = CborGetBytes(parts[0]);
  std::optional<Bytes> payload = CborGetBytes(parts[2]);
  std::optional<Bytes> raw_sig = CborGetBytes(parts[3]);
  if (!protected_bytes || !cbor_isa_map(parts[1]) || !payload || !raw_sig) {
    return Invalid("COSE_Sign1 items have the wrong types");
  }
  absl::StatusOr<CborPtr> header = CborParse(*protected_bytes);
  if (!header.ok() || !cbor_isa_map(header->get())) {
    return Invalid("COSE_Sign1 protected header is not a map");
  }
  const cbor_item_t* alg_item = nullptr;
  cbor_pair* pairs = cbor_map_handle(header->get());
  for (size_t i = 0; i < cbor_map_size(header->get()); ++i) {
    if (CborGetInt(pairs[i].key) == kCoseHeaderAlg) alg_item = pairs[i].value;
  }
  std::optional<int64_t> alg_id = CborGetInt(alg_item);
  const CoseAlg* alg = alg_id ? AlgForId(*alg_id) : nullptr;
  if (alg == nullptr) return Invalid("COSE_Sign1 algorithm is not ES256, ES384 or ES512");

  EvpPkeyPtr key(X509_get_pubkey(cert.get()));
  if (key == nullptr) return crypto::OpenSslError("X509_get_pubkey");
  if (AlgForKey(key.get()) != alg) return false;  // key and algorithm disagree
  if (raw_sig->size() != 2 * alg->coord_size) return false;

  EcdsaSigPtr sig(ECDSA_SIG_new());
  BignumPtr r(BN_bin2bn(raw_sig->data(), static_cast<int>(alg->coord_size), nullptr));
  BignumPtr s(
      BN_bin2bn(raw_sig->data() + alg->coord_size, static_cast<int>(alg->coord_size), nullptr));
  if (sig == nullptr || r == nullptr || s == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return crypto::OpenSslError("ECDSA_SIG_set0");
  }
  r.release();  // owned by sig now
  s.release();
  int der_len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (der_len <= 0) return crypto::OpenSslError("i2d_ECDSA_SIG");
  Bytes der(static_cast<size_t>(der_len));
  uint8_t* p = der.data();
  i2d_ECDSA_SIG(sig.get(), &p);

  ASSIGN_OR_RETURN(Bytes signed_bytes, SigStructure(*protected_bytes, *payload));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, alg->md(), nullptr, key.get()) != 1) {
    return crypto::OpenSslError("EVP_DigestVerifyInit");
  }
  const int verified =
      EVP_DigestVerify(ctx.get(), der.data(), der.size(), signed_bytes.data(), signed_bytes.size());
  ERR_clear_error();
  if (verified != 1) return false;
  return *payload == EncodePcrInfo(0, pcr0);
}

}  // namespace lockout::eif
