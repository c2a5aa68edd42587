#include "src/signer/signer.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <array>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/crypto/keccak.h"
#include "src/crypto/openssl_util.h"
#include "src/crypto/rsa_key.h"
#include "src/signer/ecdsa_signature.h"
#include "src/signer/key_memory_lock.h"

namespace lockout::signer {
namespace {

using crypto::EvpPkeyPtr;
using crypto::OpenSslError;

constexpr std::string_view kPemHeader = "-----BEGIN PRIVATE KEY-----";
constexpr std::string_view kPemFooter = "-----END PRIVATE KEY-----";
constexpr size_t kSecp256k1ScalarSize = 32;
constexpr size_t kMaxDigestSize = 64;  // SHA-512
constexpr size_t kRecoverableSize = 65;

struct P8Deleter {
  void operator()(PKCS8_PRIV_KEY_INFO* p) const { PKCS8_PRIV_KEY_INFO_free(p); }
};
using P8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, P8Deleter>;

struct MdDeleter {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
using EvpMdPtr = std::unique_ptr<EVP_MD, MdDeleter>;

struct Secp256k1Deleter {
  void operator()(secp256k1_context* c) const { secp256k1_context_destroy(c); }
};
using Secp256k1ContextPtr = std::unique_ptr<secp256k1_context, Secp256k1Deleter>;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// PEM "PRIVATE KEY" (RFC 7468 §10) to DER, in secret memory. We decode it ourselves rather than
// through PEM_read_bio so that every buffer that held the base64 text or the DER is wiped.
absl::StatusOr<SecretBytes> PemToDer(std::string_view pem) {
  size_t begin = 0;
  while (begin < pem.size() && IsSpace(pem[begin])) ++begin;
  if (pem.substr(begin, kPemHeader.size()) != kPemHeader) {
    return absl::InvalidArgumentError("private key PEM: expected a PRIVATE KEY (PKCS#8) block");
  }
  begin += kPemHeader.size();
  const size_t end = pem.find(kPemFooter, begin);
  if (end == std::string_view::npos) {
    return absl::InvalidArgumentError("private key PEM: no END PRIVATE KEY line");
  }
  for (size_t i = end + kPemFooter.size(); i < pem.size(); ++i) {
    if (!IsSpace(pem[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("private key PEM: unexpected data after the END line at offset ", i));
    }
  }
  SecretBytes b64(end - begin);
  size_t n = 0;
  for (size_t i = begin; i < end; ++i) {
    if (!IsSpace(pem[i])) b64.RevealMutable()[n++] = static_cast<uint8_t>(pem[i]);
  }
  absl::StatusOr<Bytes> der = Base64Decode(b64.RevealAsString().substr(0, n));
  if (!der.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("private key PEM: bad base64 body: ", std::string(der.status().message())));
  }
  SecretBytes out = SecretBytes::CopyFrom(*der);
  WipeBytes(*der);
  return out;
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKeyInfo(ByteView der) {
  const unsigned char* p = der.data();
  P8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (p8 == nullptr) {
    return OpenSslError("private key is not a PKCS#8 PrivateKeyInfo",
                        absl::StatusCode::kInvalidArgument);
  }
  if (p != der.data() + der.size()) {
    return absl::InvalidArgumentError(absl::StrCat("private key: ", der.data() + der.size() - p,
                                                   " trailing bytes after the PKCS#8 structure"));
  }
  EvpPkeyPtr pkey(EVP_PKCS82PKEY(p8.get()));
  if (pkey == nullptr) {
    return OpenSslError("private key: unsupported or malformed PKCS#8 key",
                        absl::StatusCode::kInvalidArgument);
  }
  return pkey;
}

absl::StatusOr<KeyType> DetectKeyType(const EVP_PKEY* pkey) {
  const int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_ED25519) return KeyType::kEd25519;
  if (id != EVP_PKEY_EC) {
    return absl::InvalidArgumentError(
        absl::StrCat("private key: unsupported algorithm (", OBJ_nid2sn(id),
                     "); supported: EC on P-256/P-384/P-521/secp256k1, Ed25519"));
  }
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &len) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("private key: EC key without a named curve");
  }
  const std::string_view name(group, len);
  if (name == "prime256v1" || name == "P-256") return KeyType::kP256;
  if (name == "secp384r1" || name == "P-384") return KeyType::kP384;
  if (name == "secp521r1" || name == "P-521") return KeyType::kP521;
  if (name == "secp256k1") return KeyType::kSecp256k1;
  return absl::InvalidArgumentError(absl::StrCat("private key: unsupported curve ", Absl(name)));
}

size_t FieldSize(KeyType type) {
  switch (type) {
    case KeyType::kP256:
    case KeyType::kSecp256k1:
      return 32;
    case KeyType::kP384:
      return 48;
    case KeyType::kP521:
      return 66;
    case KeyType::kEd25519:
      return 32;
  }
  return 0;
}

absl::Status AppendBnParam(const EVP_PKEY* pkey, const char* param, size_t width, Bytes& out) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) {
    return OpenSslError("public key: cannot read the point");
  }
  crypto::BignumPtr owned(bn);
  const size_t at = out.size();
  out.resize(at + width);
  if (BN_bn2binpad(bn, out.data() + at, static_cast<int>(width)) < 0) {
    return OpenSslError("public key: coordinate too large");
  }
  return absl::OkStatus();
}

// secp256k1's private scalar, for libsecp256k1, in locked secret memory.
absl::StatusOr<SecretBytes> ExtractScalar(const EVP_PKEY* pkey) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1) {
    return OpenSslError("private key: no private scalar", absl::StatusCode::kInvalidArgument);
  }
  SecretBytes scalar(kSecp256k1ScalarSize);
  KeyMemoryLock::Process().Record("secp256k1 scalar", scalar.Lock());
  const int rc = BN_bn2binpad(bn, scalar.RevealMutable().data(), kSecp256k1ScalarSize);
  BN_clear_free(bn);
  if (rc < 0) return absl::InvalidArgumentError("private key: scalar longer than 32 bytes");
  return scalar;
}

// The group order n and floor(n/2), big-endian, `width` bytes each.
absl::Status ReadOrder(const EVP_PKEY* pkey, size_t width,
                       std::array<uint8_t, kMaxEcdsaScalarSize>& order,
                       std::array<uint8_t, kMaxEcdsaScalarSize>& half_order) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_ORDER, &bn) != 1) {
    return OpenSslError("cannot read the curve order");
  }
  crypto::BignumPtr n(bn);
  crypto::BignumPtr half(BN_new());
  if (half == nullptr || BN_rshift1(half.get(), n.get()) != 1 ||
      BN_bn2binpad(n.get(), order.data(), static_cast<int>(width)) < 0 ||
      BN_bn2binpad(half.get(), half_order.data(), static_cast<int>(width)) < 0) {
    return OpenSslError("cannot encode the curve order");
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kP256:
      return "p256";
    case KeyType::kP384:
      return "p384";
    case KeyType::kP521:
      return "p521";
    case KeyType::kSecp256k1:
      return "secp256k1";
    case KeyType::kEd25519:
      return "ed25519";
  }
  return "unknown";
}

absl::StatusOr<KeyType> ParseKeyType(std::string_view name) {
  for (KeyType t :
       {KeyType::kP256, KeyType::kP384, KeyType::kP521, KeyType::kSecp256k1, KeyType::kEd25519}) {
    if (name == KeyTypeName(t)) return t;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown key type \"", Absl(name), "\" (expected p256, p384, p521, secp256k1 or ed25519)"));
}

std::string_view HashAlgorithmName(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::kSha256:
      return "sha256";
    case HashAlgorithm::kSha384:
      return "sha384";
    case HashAlgorithm::kSha512:
      return "sha512";
    case HashAlgorithm::kKeccak256:
      return "keccak256";
    case HashAlgorithm::kNone:
      return "none";
  }
  return "unknown";
}

namespace {
// The name as it may be quoted in an error: short printable ASCII only.
std::string Quotable(std::string_view name) {
  if (name.size() > 32) return absl::StrCat("of ", name.size(), " bytes");
  for (char c : name) {
    if (c < 0x20 || c > 0x7e) return absl::StrCat("of ", name.size(), " bytes");
  }
  return absl::StrCat("\"", Absl(name), "\"");
}
}  // namespace

absl::StatusOr<HashAlgorithm> ParseHashAlgorithm(std::string_view name) {
  for (HashAlgorithm h : {HashAlgorithm::kSha256, HashAlgorithm::kSha384, HashAlgorithm::kSha512,
                          HashAlgorithm::kKeccak256, HashAlgorithm::kNone}) {
    if (name == HashAlgorithmName(h)) return h;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown hash ", Quotable(name), " (expected sha256, sha384, sha512, keccak256 or none)"));
}

std::string_view SignatureFormatName(SignatureFormat format) {
  switch (format) {
    case SignatureFormat::kDer:
      return "der";
    case SignatureFormat::kRaw:
      return "raw";
    case SignatureFormat::kRecoverable:
      return "recoverable";
  }
  return "unknown";
}

absl::StatusOr<SignatureFormat> ParseSignatureFormat(std::string_view name) {
  for (SignatureFormat f :
       {SignatureFormat::kDer, SignatureFormat::kRaw, SignatureFormat::kRecoverable}) {
    if (name == SignatureFormatName(f)) return f;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown signature format ", Quotable(name),
                                                 " (expected der, raw or recoverable)"));
}

absl::StatusOr<ResolvedSignOptions> ResolveSignOptions(KeyType type, const SignOptions& options) {
  if (type == KeyType::kEd25519) {
    const HashAlgorithm hash = options.hash.value_or(HashAlgorithm::kNone);
    const SignatureFormat format = options.format.value_or(SignatureFormat::kRaw);
    if (hash != HashAlgorithm::kNone || format != SignatureFormat::kRaw) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ed25519 signs the message itself (PureEdDSA) as a 64-byte signature: hash must be "
          "none and format raw, not hash ",
          Absl(HashAlgorithmName(hash)), " format ", Absl(SignatureFormatName(format))));
    }
    return ResolvedSignOptions{hash, format};
  }
  const HashAlgorithm hash = options.hash.value_or(HashAlgorithm::kSha256);
  const SignatureFormat format = options.format.value_or(SignatureFormat::kDer);
  if (format == SignatureFormat::kRecoverable && type != KeyType::kSecp256k1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "format recoverable is for secp256k1 keys only, not ", Absl(KeyTypeName(type))));
  }
  return ResolvedSignOptions{hash, format};
}

size_t PrehashedDigestSize(KeyType type) {
  switch (type) {
    case KeyType::kP256:
    case KeyType::kSecp256k1:
      return 32;
    case KeyType::kP384:
      return 48;
    case KeyType::kP521:
      return 64;
    case KeyType::kEd25519:
      return 0;
  }
  return 0;
}

absl::StatusOr<Bytes> ComputeDigest(HashAlgorithm hash, ByteView message) {
  const EVP_MD* md = nullptr;
  switch (hash) {
    case HashAlgorithm::kSha256:
      md = EVP_sha256();
      break;
    case HashAlgorithm::kSha384:
      md = EVP_sha384();
      break;
    case HashAlgorithm::kSha512:
      md = EVP_sha512();
      break;
    case HashAlgorithm::kKeccak256: {
      const crypto::Keccak256Digest d = crypto::Keccak256(message);
      return Bytes(d.begin(), d.end());
    }
    case HashAlgorithm::kNone:
      return absl::InvalidArgumentError("hash none has no digest: the message is the digest");
  }
  Bytes out(kMaxDigestSize);
  unsigned int len = 0;
  if (EVP_Digest(message.data(), message.size(), out.data(), &len, md, nullptr) != 1) {
    return OpenSslError("digest failed");
  }
  out.resize(len);
  return out;
}

absl::StatusOr<Bytes> RecoverSecp256k1PublicKey(ByteView digest, ByteView signature) {
  if (signature.size() != kRecoverableSize) {
    return absl::InvalidArgumentError(absl::StrCat("recoverable signature of ", signature.size(),
                                                   " bytes, expected ", kRecoverableSize));
  }
  if (digest.size() < 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest of ", digest.size(), " bytes, need at least 32"));
  }
  const int recid = signature[64];
  if (recid > 3) {
    return absl::InvalidArgumentError(absl::StrCat("recovery id ", recid,
                                                   " (expected 0 or 1; 27/28 and EIP-155 v are "
                                                   "Ethereum encodings of it)"));
  }
  Secp256k1ContextPtr ctx(secp256k1_context_create(SECP256K1_CONTEXT_NONE));
  if (ctx == nullptr) return absl::InternalError("secp256k1_context_create failed");
  secp256k1_ecdsa_recoverable_signature sig;
  secp256k1_pubkey pub;
  if (secp256k1_ecdsa_recoverable_signature_parse_compact(ctx.get(), &sig, signature.data(),
                                                          recid) != 1) {
    return absl::InvalidArgumentError("recoverable signature: r or s out of range");
  }
  if (secp256k1_ecdsa_recover(ctx.get(), &pub, &sig, digest.data()) != 1) {
    return absl::InvalidArgumentError("recoverable signature: no public key recovers from it");
  }
  Bytes out(65);
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(ctx.get(), out.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

struct Signer::Impl {
  EvpPkeyPtr pkey;
  SecretBytes secp256k1_scalar;  // secp256k1 only
  // NIST curves: the group order n and floor(n/2), big-endian, FieldSize() bytes each: for
  // low-s normalisation.
  std::array<uint8_t, kMaxEcdsaScalarSize> order{};
  std::array<uint8_t, kMaxEcdsaScalarSize> half_order{};
};

Signer::Signer(KeyType type, std::unique_ptr<Impl> impl) : type_(type), impl_(std::move(impl)) {}
Signer::~Signer() = default;

absl::StatusOr<std::unique_ptr<Signer>> Signer::FromPkcs8(const SecretBytes& pkcs8,
                                                          std::optional<KeyType> expected) {
  if (pkcs8.empty()) return absl::InvalidArgumentError("private key is empty");
  if (pkcs8.size() > kMaxPrivateKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "private key is ", pkcs8.size(), " bytes, over the limit of ", kMaxPrivateKeySize));
  }
  absl::StatusOr<EvpPkeyPtr> pkey;
  const std::string_view text = pkcs8.RevealAsString();
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '-') {
    ASSIGN_OR_RETURN(SecretBytes der, PemToDer(text));
    pkey = ParsePrivateKeyInfo(der.Reveal());
  } else {
    pkey = ParsePrivateKeyInfo(pkcs8.Reveal());
  }
  if (!pkey.ok()) return pkey.status();

  ASSIGN_OR_RETURN(KeyType type, DetectKeyType(pkey->get()));
  if (expected.has_value() && *expected != type) {
    return absl::InvalidArgumentError(absl::StrCat("private key is ", Absl(KeyTypeName(type)),
                                                   ", expected ", Absl(KeyTypeName(*expected))));
  }
  if (type != KeyType::kEd25519) {
    // OpenSSL takes a PKCS#8 EC key's embedded public point as given (RFC 5915 makes it
    // optional and unchecked). A point that does not belong to the scalar would make us publish
    // a key our signatures do not verify under: require Q = d·G.
    crypto::EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey->get(), nullptr));
    if (check == nullptr || EVP_PKEY_pairwise_check(check.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          "private key: the embedded public key does not match the private scalar");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->pkey = *std::move(pkey);
  if (type == KeyType::kSecp256k1) {
    ASSIGN_OR_RETURN(impl->secp256k1_scalar, ExtractScalar(impl->pkey.get()));
  } else if (type != KeyType::kEd25519) {
    RETURN_IF_ERROR(ReadOrder(impl->pkey.get(), FieldSize(type), impl->order, impl->half_order));
  }
  std::unique_ptr<Signer> signer(new Signer(type, std::move(impl)));
  RETURN_IF_ERROR(signer->ComputePublicForms());
  return signer;
}

absl::StatusOr<std::unique_ptr<Signer>> Signer::Generate(KeyType type) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    case KeyType::kP256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::kP384:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyType::kP521:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
      break;
    case KeyType::kSecp256k1:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1");
      break;
    case KeyType::kEd25519:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (raw == nullptr) return OpenSslError("key generation failed");
  auto impl = std::make_unique<Impl>();
  impl->pkey.reset(raw);
  // One code path for every key: round-trip through PKCS#8 as a loaded key would.
  Signer tmp(type, std::move(impl));
  ASSIGN_OR_RETURN(SecretBytes pkcs8, tmp.ExportPkcs8());
  return FromPkcs8(pkcs8, type);
}

absl::StatusOr<SecretBytes> Signer::ExportPkcs8() const {
  P8Ptr p8(EVP_PKEY2PKCS8(impl_->pkey.get()));
  if (p8 == nullptr) return OpenSslError("cannot encode the private key as PKCS#8");
  const int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
  if (len <= 0) return OpenSslError("cannot encode the private key as PKCS#8");
  SecretBytes out(static_cast<size_t>(len));
  unsigned char* p = out.RevealMutable().data();
  if (i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &p) != len) {
    return OpenSslError("cannot encode the private key as PKCS#8");
  }
  return out;
}

absl::Status Signer::ComputePublicForms() {
  EVP_PKEY* pkey = impl_->pkey.get();
  if (type_ != KeyType::kEd25519) {
    // SPKI with the uncompressed point, whatever form the PKCS#8 carried (RFC 5480 §2.2).
    if (EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                       "uncompressed") != 1) {
      return OpenSslError("cannot select the uncompressed point form");
    }
  }
  ASSIGN_OR_RETURN(spki_der_, crypto::PublicKeyToSpkiDer(pkey));

  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), pkey) != 1) {
    return OpenSslError("cannot encode the public key as PEM");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  spki_pem_.assign(data, static_cast<size_t>(n));

  raw_public_.clear();
  if (type_ == KeyType::kEd25519) {
    size_t len = 32;
    raw_public_.resize(len);
    if (EVP_PKEY_get_raw_public_key(pkey, raw_public_.data(), &len) != 1 || len != 32) {
      return OpenSslError("cannot read the Ed25519 public key");
    }
    return absl::OkStatus();
  }
  const size_t width = FieldSize(type_);
  raw_public_.push_back(0x04);
  RETURN_IF_ERROR(AppendBnParam(pkey, OSSL_PKEY_PARAM_EC_PUB_X, width, raw_public_));
  RETURN_IF_ERROR(AppendBnParam(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, width, raw_public_));

  if (type_ == KeyType::kSecp256k1) {
    // libsecp256k1 must agree with OpenSSL about the public key, or we would sign with a key
    // other than the one we publish.
    Secp256k1ContextPtr ctx(secp256k1_context_create(SECP256K1_CONTEXT_NONE));
    if (ctx == nullptr) return absl::InternalError("secp256k1_context_create failed");
    const unsigned char* seckey = impl_->secp256k1_scalar.Reveal().data();
    secp256k1_pubkey pub;
    if (secp256k1_ec_seckey_verify(ctx.get(), seckey) != 1 ||
        secp256k1_ec_pubkey_create(ctx.get(), &pub, seckey) != 1) {
      return absl::InvalidArgumentError("private key: secp256k1 scalar out of range");
    }
    std::array<uint8_t, 65> ser{};
    size_t len = ser.size();
    secp256k1_ec_pubkey_serialize(ctx.get(), ser.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
    if (len != raw_public_.size() ||
        !crypto::ConstantTimeEquals(ByteView(ser.data(), len), raw_public_)) {
      return absl::InvalidArgumentError(
          "private key: the PKCS#8 public key does not match its private scalar");
    }
  }
  return absl::OkStatus();
}

// ---- SigningContext ----

struct SigningContext::Impl {
  EvpMdPtr sha256, sha384, sha512;  // ECDSA keys only
  crypto::EvpMdCtxPtr md_ctx;       // the SHA-2 digests for ECDSA; DigestSign for Ed25519
  crypto::EvpPkeyCtxPtr pkey_ctx;   // OpenSSL ECDSA, sign-initialised once
  Secp256k1ContextPtr secp;         // secp256k1, randomised

  // The digest of `message` under `hash` into `out` (kMaxDigestSize bytes); its length.
  // hash none: the message itself, which must be `prehashed_size` bytes.
  absl::StatusOr<size_t> Digest(HashAlgorithm hash, ByteView message, size_t prehashed_size,
                                uint8_t* out) {
    const EVP_MD* md = nullptr;
    switch (hash) {
      case HashAlgorithm::kSha256:
        md = sha256.get();
        break;
      case HashAlgorithm::kSha384:
        md = sha384.get();
        break;
      case HashAlgorithm::kSha512:
        md = sha512.get();
        break;
      case HashAlgorithm::kKeccak256: {
        const crypto::Keccak256Digest d = crypto::Keccak256(message);
        std::memcpy(out, d.data(), d.size());
        return d.size();
      }
      case HashAlgorithm::kNone:
        if (message.size() != prehashed_size) {
          return absl::InvalidArgumentError(absl::StrCat("hash none: the message must be the ",
                                                         prehashed_size, "-byte digest, not ",
                                                         message.size(), " bytes"));
        }
        std::memcpy(out, message.data(), message.size());
        return message.size();
    }
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(md_ctx.get(), md, nullptr) != 1 ||
        EVP_DigestUpdate(md_ctx.get(), message.data(), message.size()) != 1 ||
        EVP_DigestFinal_ex(md_ctx.get(), out, &len) != 1) {
      return OpenSslError("digest failed");
    }
    return len;
  }
};

SigningContext::SigningContext(const Signer& signer, std::unique_ptr<Impl> impl)
    : signer_(signer), impl_(std::move(impl)) {}
SigningContext::~SigningContext() = default;

absl::StatusOr<std::unique_ptr<SigningContext>> Signer::NewContext() const {
  auto impl = std::make_unique<SigningContext::Impl>();
  impl->md_ctx.reset(EVP_MD_CTX_new());
  if (impl->md_ctx == nullptr) return OpenSslError("EVP_MD_CTX_new failed");
  if (type_ != KeyType::kEd25519) {
    impl->sha256.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
    impl->sha384.reset(EVP_MD_fetch(nullptr, "SHA384", nullptr));
    impl->sha512.reset(EVP_MD_fetch(nullptr, "SHA512", nullptr));
    if (impl->sha256 == nullptr || impl->sha384 == nullptr || impl->sha512 == nullptr) {
      return OpenSslError("cannot fetch SHA-2");
    }
  }
  switch (type_) {
    case KeyType::kP256:
    case KeyType::kP384:
    case KeyType::kP521:
      impl->pkey_ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->pkey.get(), nullptr));
      if (impl->pkey_ctx == nullptr || EVP_PKEY_sign_init(impl->pkey_ctx.get()) != 1) {
        return OpenSslError("cannot initialise ECDSA signing");
      }
      break;
    case KeyType::kSecp256k1: {
      impl->secp.reset(secp256k1_context_create(SECP256K1_CONTEXT_NONE));
      if (impl->secp == nullptr) return absl::InternalError("secp256k1_context_create failed");
      // Blinding against side channels (libsecp256k1 recommends it for signing contexts).
      Bytes seed = crypto::RandomBytes(32);
      const int ok = secp256k1_context_randomize(impl->secp.get(), seed.data());
      WipeBytes(seed);
      if (ok != 1) return absl::InternalError("secp256k1_context_randomize failed");
      break;
    }
    case KeyType::kEd25519:
      break;
  }
  return std::unique_ptr<SigningContext>(new SigningContext(*this, std::move(impl)));
}

absl::StatusOr<Bytes> Signer::Sign(ByteView message, const SignOptions& options) const {
  ASSIGN_OR_RETURN(std::unique_ptr<SigningContext> ctx, NewContext());
  std::array<uint8_t, kMaxSignatureSize> sig{};
  ASSIGN_OR_RETURN(size_t n, ctx->Sign(message, options, absl::MakeSpan(sig)));
  return Bytes(sig.begin(), sig.begin() + static_cast<std::ptrdiff_t>(n));
}

absl::StatusOr<size_t> SigningContext::Sign(ByteView message, absl::Span<uint8_t> out) {
  return Sign(message, SignOptions{}, out);
}

absl::StatusOr<size_t> SigningContext::Sign(ByteView message, const SignOptions& options,
                                            absl::Span<uint8_t> out) {
  if (out.size() < kMaxSignatureSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature buffer of ", out.size(), " bytes, need ", kMaxSignatureSize));
  }
  const KeyType type = signer_.key_type();
  ASSIGN_OR_RETURN(const ResolvedSignOptions resolved, ResolveSignOptions(type, options));
  if (type == KeyType::kEd25519) {
    EVP_MD_CTX* ctx = impl_->md_ctx.get();
    size_t len = out.size();
    if (EVP_MD_CTX_reset(ctx) != 1 ||
        EVP_DigestSignInit_ex(ctx, nullptr, nullptr, nullptr, nullptr, signer_.impl_->pkey.get(),
                              nullptr) != 1 ||
        EVP_DigestSign(ctx, out.data(), &len, message.data(), message.size()) != 1) {
      return OpenSslError("Ed25519 signing failed");
    }
    return len;
  }

  std::array<uint8_t, kMaxDigestSize> digest;
  ASSIGN_OR_RETURN(const size_t digest_len,
                   impl_->Digest(resolved.hash, message, PrehashedDigestSize(type), digest.data()));
  const size_t width = FieldSize(type);

  if (type == KeyType::kSecp256k1) {
    // libsecp256k1 signs a 32-byte digest. A longer one (SHA-384/512) is truncated to its
    // leftmost 256 bits, as ECDSA does for a digest longer than the order (FIPS 186-5 §6.4.1,
    // bits2int); its RFC 6979 nonce derivation (the default nonce function) reduces those 32
    // bytes mod n, which is RFC 6979's bits2octets. libsecp256k1 always produces low-s.
    const unsigned char* seckey = signer_.impl_->secp256k1_scalar.Reveal().data();
    if (resolved.format == SignatureFormat::kRecoverable) {
      secp256k1_ecdsa_recoverable_signature sig;
      if (secp256k1_ecdsa_sign_recoverable(impl_->secp.get(), &sig, digest.data(), seckey, nullptr,
                                           nullptr) != 1) {
        return absl::InternalError("secp256k1 signing failed");
      }
      int recid = 0;
      secp256k1_ecdsa_recoverable_signature_serialize_compact(impl_->secp.get(), out.data(), &recid,
                                                              &sig);
      out[64] = static_cast<uint8_t>(recid);
      return kRecoverableSize;
    }
    secp256k1_ecdsa_signature sig;
    if (secp256k1_ecdsa_sign(impl_->secp.get(), &sig, digest.data(), seckey, nullptr, nullptr) !=
        1) {
      return absl::InternalError("secp256k1 signing failed");
    }
    if (resolved.format == SignatureFormat::kRaw) {
      secp256k1_ecdsa_signature_serialize_compact(impl_->secp.get(), out.data(), &sig);
      return 2 * width;
    }
    size_t len = out.size();
    if (secp256k1_ecdsa_signature_serialize_der(impl_->secp.get(), out.data(), &len, &sig) != 1) {
      return absl::InternalError("secp256k1 DER serialisation failed");
    }
    return len;
  }

  // NIST curves through OpenSSL. OpenSSL truncates a digest longer than the order itself.
  std::array<uint8_t, kMaxEcdsaDerSize> der;
  size_t der_len = der.size();
  if (EVP_PKEY_sign(impl_->pkey_ctx.get(), der.data(), &der_len, digest.data(), digest_len) != 1) {
    return OpenSslError("ECDSA signing failed");
  }
  // OpenSSL does not normalise s: both s and n − s verify, so a third party could turn one valid
  // signature into another. Make it low-s (s ≤ n/2), as libsecp256k1 does, so each signature we
  // issue has one form.
  std::array<uint8_t, 2 * kMaxEcdsaScalarSize> rs;
  ASSIGN_OR_RETURN(const size_t rs_len,
                   EcdsaDerToRaw(ByteView(der.data(), der_len), width, absl::MakeSpan(rs)));
  NormalizeLowS(absl::MakeSpan(rs.data() + width, width),
                ByteView(signer_.impl_->order.data(), width),
                ByteView(signer_.impl_->half_order.data(), width));
  if (resolved.format == SignatureFormat::kRaw) {
    std::memcpy(out.data(), rs.data(), rs_len);
    return rs_len;
  }
  return EcdsaRawToDer(ByteView(rs.data(), rs_len), out);
}

}  // namespace lockout::signer
