#include "src/auth/client_key.h"

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/auth/request_auth.h"
#include "src/common/encoding.h"
#include "src/common/secret_json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/openssl_util.h"

namespace lockout::auth {
namespace {

constexpr size_t kScalarBytes = 32;  // Ed25519 seed, P-256 scalar
constexpr size_t kEd25519PublicBytes = 32;
constexpr size_t kP256PublicBytes = 65;
constexpr char kP256Group[] = "prime256v1";
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::string_view kFormat = "lockout-client-key-v1";
constexpr std::array<std::string_view, 5> kFileMembers = {"format", "name", "algorithm",
                                                          "private_key", "public_key"};

struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct BnClearDeleter {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
};
struct EcGroupDeleter {
  void operator()(EC_GROUP* p) const { EC_GROUP_free(p); }
};
struct EcPointDeleter {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};
using SecretBignumPtr = std::unique_ptr<BIGNUM, BnClearDeleter>;

absl::Status BadFile(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("client key file: ", Absl(field), ": ", Absl(what)));
}

// An EVP_PKEY of type EC on P-256 from OSSL_PARAMs holding a public point and, when `scalar` is
// given, the private scalar.
absl::StatusOr<crypto::EvpPkeyPtr> P256FromData(ByteView public_point, const BIGNUM* scalar) {
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kP256Group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, public_point.data(),
                                       public_point.size()) != 1 ||
      (scalar != nullptr &&
       OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar) != 1)) {
    return crypto::OpenSslError("building P-256 key parameters");
  }
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld.get()));
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return crypto::OpenSslError("EVP_PKEY_fromdata_init");
  }
  EVP_PKEY* raw = nullptr;
  const int selection = scalar != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1 || raw == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a valid P-256 key");
  }
  return crypto::EvpPkeyPtr(raw);
}

// The uncompressed public point d*G for the P-256 scalar `d`; InvalidArgument unless 0 < d < n.
absl::StatusOr<Bytes> P256PublicFromScalar(const BIGNUM* d) {
  std::unique_ptr<EC_GROUP, EcGroupDeleter> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  if (group == nullptr) return crypto::OpenSslError("EC_GROUP_new_by_curve_name");
  if (BN_is_zero(d) || BN_is_negative(d) || BN_cmp(d, EC_GROUP_get0_order(group.get())) >= 0) {
    return absl::InvalidArgumentError("the P-256 scalar is not in 1..n-1");
  }
  std::unique_ptr<EC_POINT, EcPointDeleter> point(EC_POINT_new(group.get()));
  Bytes out(kP256PublicBytes);
  if (point == nullptr ||
      EC_POINT_mul(group.get(), point.get(), d, nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(),
                         out.size(), nullptr) != out.size()) {
    return crypto::OpenSslError("computing the P-256 public key");
  }
  return out;
}

void AppendHexSecret(ByteView data, SecretBuilder& out) {
  std::array<char, 2> pair;
  for (uint8_t b : data) {
    pair[0] = kHexDigits[b >> 4];
    pair[1] = kHexDigits[b & 0xF];
    out.Append(std::string_view(pair.data(), pair.size()));
  }
  WipeBytes(pair.data(), pair.size());
}

// Hex of exactly `size` bytes into secret memory; InvalidArgument naming `field` otherwise.
absl::StatusOr<SecretBytes> DecodeSecretHex(std::string_view hex, size_t size,
                                            std::string_view field) {
  if (hex.size() != 2 * size) {
    return BadFile(field, absl::StrCat("must be ", size, " bytes (", 2 * size, " hex digits), not ",
                                       hex.size(), " digits"));
  }
  SecretBytes out(size);
  absl::Span<uint8_t> bytes = out.RevealMutable();
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < size; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return BadFile(field, "is not hex");
    bytes[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

}  // namespace

absl::StatusOr<ClientKeyAlgorithm> ParseClientKeyAlgorithm(std::string_view name) {
  if (name == "ed25519") return ClientKeyAlgorithm::kEd25519;
  if (name == "ecdsa-p256" || name == "p256") return ClientKeyAlgorithm::kEcdsaP256;
  return absl::InvalidArgumentError(
      "the client key algorithm must be ed25519 or ecdsa-p256 (p256)");
}

struct ClientKey::Impl {
  crypto::EvpPkeyPtr pkey;
  SecretBytes private_key;  // the 32-byte seed or scalar, as the key file holds it
};

ClientKey::ClientKey(std::string name, ClientKeyAlgorithm algorithm, std::unique_ptr<Impl> impl)
    : name_(std::move(name)), algorithm_(algorithm), impl_(std::move(impl)) {}
ClientKey::~ClientKey() = default;

absl::Status ClientKey::DerivePublicKey() {
  EVP_PKEY* pkey = impl_->pkey.get();
  if (algorithm_ == ClientKeyAlgorithm::kEd25519) {
    public_key_.resize(kEd25519PublicBytes);
    size_t len = public_key_.size();
    if (EVP_PKEY_get_raw_public_key(pkey, public_key_.data(), &len) != 1 ||
        len != kEd25519PublicBytes) {
      return crypto::OpenSslError("reading the Ed25519 public key");
    }
    return absl::OkStatus();
  }
  public_key_.resize(kP256PublicBytes);
  size_t len = 0;
  if (EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                     "uncompressed") != 1 ||
      EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, public_key_.data(),
                                      public_key_.size(), &len) != 1 ||
      len != kP256PublicBytes || public_key_[0] != 0x04) {
    return crypto::OpenSslError("reading the P-256 public key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ClientKey>> ClientKey::Generate(ClientKeyAlgorithm algorithm,
                                                               std::string_view name) {
  if (!IsValidClientName(name)) {
    return absl::InvalidArgumentError(
        "a client name is 1 to 64 characters of A-Z a-z 0-9 . _ - (as in the signing policy)");
  }
  auto impl = std::make_unique<Impl>();
  impl->private_key = SecretBytes(kScalarBytes);
  if (algorithm == ClientKeyAlgorithm::kEd25519) {
    impl->pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    size_t len = kScalarBytes;
    if (impl->pkey == nullptr ||
        EVP_PKEY_get_raw_private_key(impl->pkey.get(), impl->private_key.RevealMutable().data(),
                                     &len) != 1 ||
        len != kScalarBytes) {
      return crypto::OpenSslError("generating an Ed25519 key");
    }
  } else {
    impl->pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    BIGNUM* d = nullptr;
    if (impl->pkey == nullptr ||
        EVP_PKEY_get_bn_param(impl->pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) {
      return crypto::OpenSslError("generating a P-256 key");
    }
    SecretBignumPtr scalar(d);
    if (BN_bn2binpad(scalar.get(), impl->private_key.RevealMutable().data(), kScalarBytes) !=
        static_cast<int>(kScalarBytes)) {
      return crypto::OpenSslError("exporting the P-256 scalar");
    }
  }
  std::unique_ptr<ClientKey> key(new ClientKey(std::string(name), algorithm, std::move(impl)));
  RETURN_IF_ERROR(key->DerivePublicKey());
  return key;
}

absl::StatusOr<std::unique_ptr<ClientKey>> ClientKey::ParseFile(std::string_view text) {
  // SecretJson: the private key's hex is decoded into secret memory only (secret_json.h says
  // why nlohmann's parser would leave copies behind).
  absl::StatusOr<SecretJson> doc = SecretJson::Parse(text, kMaxClientKeyFileSize, /*max_depth=*/2);
  if (!doc.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("client key file: not JSON: ", doc.status().message()));
  }
  if (!doc->is_object()) return BadFile("(document)", "must be a JSON object");
  for (const SecretJson::Member& m : doc->members()) {
    if (std::find(kFileMembers.begin(), kFileMembers.end(), m.name) == kFileMembers.end()) {
      return BadFile("(document)", absl::StrCat("unknown member of ", m.name.size(),
                                                " characters (want only format, name, "
                                                "algorithm, private_key, public_key)"));
    }
  }
  for (std::string_view member : kFileMembers) {
    if (doc->Find(member) == nullptr) return BadFile(member, "is required");
  }
  const SecretJson* format = doc->Find("format");
  if (!format->is_string() || format->RevealString() != kFormat) {
    return BadFile("format", absl::StrCat("must be \"", Absl(kFormat), "\""));
  }
  const SecretJson* name = doc->Find("name");
  const SecretJson* algorithm = doc->Find("algorithm");
  const SecretJson* private_key = doc->Find("private_key");
  const SecretJson* public_key = doc->Find("public_key");
  if (!name->is_string() || !IsValidClientName(name->RevealString())) {
    return BadFile("name", "must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
  }
  if (!algorithm->is_string()) return BadFile("algorithm", "must be a string");
  const std::string_view alg_name = algorithm->RevealString();
  ClientKeyAlgorithm alg;
  if (alg_name == "ed25519") {
    alg = ClientKeyAlgorithm::kEd25519;
  } else if (alg_name == "ecdsa-p256") {
    alg = ClientKeyAlgorithm::kEcdsaP256;
  } else {
    return BadFile("algorithm", "must be \"ed25519\" or \"ecdsa-p256\"");
  }
  if (!private_key->is_string()) return BadFile("private_key", "must be a hex string");
  if (!public_key->is_string()) return BadFile("public_key", "must be a hex string");
  ASSIGN_OR_RETURN(SecretBytes secret,
                   DecodeSecretHex(private_key->RevealString(), kScalarBytes, "private_key"));
  absl::StatusOr<Bytes> expected_public = HexDecode(public_key->RevealString());
  if (!expected_public.ok()) return BadFile("public_key", "is not hex");

  auto impl = std::make_unique<Impl>();
  if (alg == ClientKeyAlgorithm::kEd25519) {
    impl->pkey.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret.Reveal().data(),
                                                  secret.size()));
    if (impl->pkey == nullptr) return crypto::OpenSslError("loading the Ed25519 key");
  } else {
    SecretBignumPtr d(BN_secure_new());
    if (d == nullptr ||
        BN_bin2bn(secret.Reveal().data(), static_cast<int>(secret.size()), d.get()) == nullptr) {
      return crypto::OpenSslError("loading the P-256 scalar");
    }
    absl::StatusOr<Bytes> point = P256PublicFromScalar(d.get());
    if (!point.ok()) return BadFile("private_key", Std(point.status().message()));
    absl::StatusOr<crypto::EvpPkeyPtr> pkey = P256FromData(*point, d.get());
    if (!pkey.ok()) return BadFile("private_key", Std(pkey.status().message()));
    impl->pkey = *std::move(pkey);
  }
  impl->private_key = std::move(secret);
  std::unique_ptr<ClientKey> key(
      new ClientKey(std::string(name->RevealString()), alg, std::move(impl)));
  RETURN_IF_ERROR(key->DerivePublicKey());
  if (*expected_public != key->public_key()) {
    return BadFile("public_key", "is not the public half of private_key");
  }
  return key;
}

SecretBytes ClientKey::ToFile() const {
  SecretBuilder b;
  b.Append("{\"format\": \"");
  b.Append(kFormat);
  b.Append("\", \"name\": \"");
  b.Append(name_);  // validated: no character needs escaping
  b.Append("\", \"algorithm\": \"");
  b.Append(signpolicy::AlgorithmName(algorithm_));
  b.Append("\",\n \"private_key\": \"");
  AppendHexSecret(impl_->private_key.Reveal(), b);
  b.Append("\",\n \"public_key\": \"");
  b.Append(HexEncode(public_key_));
  b.Append("\"}\n");
  return std::move(b).Finish();
}

absl::StatusOr<Bytes> ClientKey::Sign(ByteView message) const {
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = algorithm_ == ClientKeyAlgorithm::kEd25519 ? nullptr : EVP_sha256();
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, impl_->pkey.get()) != 1) {
    return crypto::OpenSslError("EVP_DigestSignInit");
  }
  Bytes sig(kMaxClientSignatureSize);
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1) {
    return crypto::OpenSslError("EVP_DigestSign");
  }
  sig.resize(len);
  return sig;
}

struct ClientVerifier::Impl {
  crypto::EvpPkeyPtr pkey;
};

ClientVerifier::ClientVerifier(ClientKeyAlgorithm algorithm, std::unique_ptr<Impl> impl)
    : algorithm_(algorithm), impl_(std::move(impl)) {}
ClientVerifier::~ClientVerifier() = default;

absl::StatusOr<std::unique_ptr<ClientVerifier>> ClientVerifier::Create(
    ClientKeyAlgorithm algorithm, std::string_view public_key) {
  const ByteView raw = AsBytes(public_key);
  auto impl = std::make_unique<Impl>();
  if (algorithm == ClientKeyAlgorithm::kEd25519) {
    if (raw.size() != kEd25519PublicBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("an Ed25519 public key is 32 bytes, not ", raw.size()));
    }
    impl->pkey.reset(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
    if (impl->pkey == nullptr) return crypto::OpenSslError("loading an Ed25519 public key");
  } else {
    if (raw.size() != kP256PublicBytes || raw[0] != 0x04) {
      return absl::InvalidArgumentError(
          absl::StrCat("a P-256 public key is 65 bytes 04 || X || Y, not ", raw.size()));
    }
    ASSIGN_OR_RETURN(impl->pkey, P256FromData(raw, nullptr));
  }
  return std::unique_ptr<ClientVerifier>(new ClientVerifier(algorithm, std::move(impl)));
}

bool ClientVerifier::Verify(ByteView message, ByteView signature) const {
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = algorithm_ == ClientKeyAlgorithm::kEd25519 ? nullptr : EVP_sha256();
  // OpenSSL's ECDSA verification re-encodes the parsed DER and refuses any difference, so only
  // the one DER form of (r, s) verifies. (r, n-s) also verifies; that malleability does not
  // matter here: replays are caught by the nonce, not by the signature bytes.
  const bool ok = ctx != nullptr &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, impl_->pkey.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                   message.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace lockout::auth
