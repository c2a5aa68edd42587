#include "src/operator/key_import.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/ec_private_key.h"
#include "src/crypto/openssl_util.h"

namespace lockout::ops {
namespace {

using signer::KeyType;
using DecoderCtxPtr =
    std::unique_ptr<OSSL_DECODER_CTX, crypto::OsslDeleter<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>>;

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kDashes = "-----";
constexpr size_t kRawKeyBytes = 32;
constexpr std::string_view kAccepted =
    "expected PEM \"PRIVATE KEY\" (PKCS#8) or \"EC PRIVATE KEY\" (SEC1), DER PKCS#8, or a raw "
    "key of 64 hex digits";

absl::Status Refuse(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("--import: ", Absl(what)));
}

bool IsSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

uint8_t HexValue(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
  return static_cast<uint8_t>(c - 'A' + 10);
}

std::string_view StripHexPrefix(std::string_view text) {
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    return text.substr(2);
  }
  return text;
}

// A PEM label from the file is echoed only when it looks like one (upper-case words): it is
// public framing, never key material, but an arbitrary line could be anything.
std::string SafeLabel(std::string_view label) {
  const bool plain = !label.empty() && label.size() <= 40 &&
                     std::all_of(label.begin(), label.end(), [](char c) {
                       return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ';
                     });
  return plain ? absl::StrCat("\"", Absl(label), "\"") : std::string("(unreadable label)");
}

absl::StatusOr<KeyType> KeyTypeOfCurve(std::string_view group) {
  if (group == "prime256v1" || group == "P-256") return KeyType::kP256;
  if (group == "secp384r1" || group == "P-384") return KeyType::kP384;
  if (group == "secp521r1" || group == "P-521") return KeyType::kP521;
  if (group == "secp256k1") return KeyType::kSecp256k1;
  return Refuse(absl::StrCat("an EC PRIVATE KEY on curve ", SafeLabel(group),
                             " (supported: P-256, P-384, P-521, secp256k1)"));
}

absl::StatusOr<std::unique_ptr<signer::Signer>> FromPkcs8(const SecretBytes& pkcs8,
                                                          std::string_view form,
                                                          std::optional<KeyType> expected) {
  absl::StatusOr<std::unique_ptr<signer::Signer>> key = signer::Signer::FromPkcs8(pkcs8, expected);
  if (!key.ok()) return Refuse(absl::StrCat(Absl(form), ": ", key.status().message()));
  return key;
}

// SEC 1 ECPrivateKey (RFC 5915) in PEM, decoded by OpenSSL's EC type-specific decoder (the
// curve comes from the key's own parameters), re-encoded as PKCS#8 by the one PKCS#8 encoder
// (crypto::PrivateKeyToPkcs8Der) and loaded like any PKCS#8 key.
absl::StatusOr<std::unique_ptr<signer::Signer>> FromSec1Pem(std::string_view pem,
                                                            std::optional<KeyType> expected) {
  if (pem.find("Proc-Type:") != std::string_view::npos) {
    return Refuse(
        "an encrypted EC PRIVATE KEY (Proc-Type header): lockout takes no passphrase; decrypt "
        "it into a pipe: openssl ec -in FILE | lockout create-key --import - ...");
  }
  EVP_PKEY* raw = nullptr;
  DecoderCtxPtr ctx(OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", "type-specific", "EC",
                                                  EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (ctx == nullptr) {
    ERR_clear_error();
    return absl::InternalError("--import: OpenSSL has no SEC1 decoder");
  }
  const unsigned char* data = reinterpret_cast<const unsigned char*>(pem.data());
  size_t size = pem.size();
  const int decoded = OSSL_DECODER_from_data(ctx.get(), &data, &size);
  crypto::EvpPkeyPtr pkey(raw);
  ERR_clear_error();
  if (decoded != 1 || pkey == nullptr) {
    return Refuse(
        "an EC PRIVATE KEY (SEC1) that does not decode: malformed, or explicit curve parameters "
        "rather than a named curve");
  }
  char group[64] = {};
  size_t group_size = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &group_size) != 1) {
    ERR_clear_error();
    return Refuse("an EC PRIVATE KEY without a named curve (explicit parameters are not supported)");
  }
  ASSIGN_OR_RETURN(KeyType type, KeyTypeOfCurve(std::string_view(group, group_size)));
  if (expected.has_value() && *expected != type) {
    return Refuse(absl::StrCat("the EC PRIVATE KEY is ", Absl(signer::KeyTypeName(type)),
                               ", not ", Absl(signer::KeyTypeName(*expected)), " (--type)"));
  }
  absl::StatusOr<SecretBytes> pkcs8 = crypto::PrivateKeyToPkcs8Der(pkey.get());
  pkey.reset();
  if (!pkcs8.ok()) return Refuse(absl::StrCat("SEC1 PEM: ", pkcs8.status().message()));
  return FromPkcs8(*pkcs8, "SEC1 PEM", type);
}

// 64 hex digits: a raw private key of `type`, decoded straight into SecretBytes.
absl::StatusOr<std::unique_ptr<signer::Signer>> FromRawHex(std::string_view digits,
                                                           KeyType type) {
  if (digits.size() != 2 * kRawKeyBytes) {
    return Refuse(absl::StrCat("a raw key is 64 hex digits (32 bytes); saw ", digits.size(),
                               " hex digits"));
  }
  SecretBytes raw(kRawKeyBytes);
  absl::Span<uint8_t> out = raw.RevealMutable();
  for (size_t i = 0; i < kRawKeyBytes; ++i) {
    out[i] = static_cast<uint8_t>((HexValue(digits[2 * i]) << 4) | HexValue(digits[2 * i + 1]));
  }
  absl::StatusOr<SecretBytes> pkcs8 = absl::InvalidArgumentError("");
  switch (type) {
    case KeyType::kSecp256k1:
      pkcs8 = crypto::EcPrivateKeyToPkcs8("secp256k1", raw);
      break;
    case KeyType::kP256:
      pkcs8 = crypto::EcPrivateKeyToPkcs8("P-256", raw);
      break;
    case KeyType::kEd25519:
      pkcs8 = crypto::Ed25519PrivateKeyToPkcs8(raw);
      break;
    default:
      return Refuse(absl::StrCat("a raw 32-byte key is secp256k1 (default), p256 or ed25519, not ",
                                 Absl(signer::KeyTypeName(type)), " (--type)"));
  }
  raw.Clear();
  if (!pkcs8.ok()) {
    return Refuse(absl::StrCat("raw ", Absl(signer::KeyTypeName(type)), " key: ",
                               pkcs8.status().message()));
  }
  return FromPkcs8(*pkcs8, "raw hex", type);
}

bool IsText(ByteView data) {
  return std::all_of(data.begin(), data.end(),
                     [](uint8_t c) { return IsSpace(c) || (c >= 0x20 && c < 0x7f); });
}

// What the input looks like, for the refusal: sizes and a class, never bytes.
std::string Describe(ByteView data) {
  if (!IsText(data)) {
    return absl::StrCat(data.size(),
                        " bytes of binary data that is not DER (it does not start with a "
                        "SEQUENCE, 0x30)");
  }
  const std::string_view s(reinterpret_cast<const char*>(data.data()), data.size());
  const std::string_view digits = StripHexPrefix(s);
  if (std::all_of(digits.begin(), digits.end(), IsHexDigit)) {
    return absl::StrCat(digits.size(), " hex digits");
  }
  return absl::StrCat(data.size(), " bytes of text that is neither PEM nor hex");
}

}  // namespace

absl::Status CheckImportArgument(std::string_view value) {
  const bool pem = value.find(kBegin) != std::string_view::npos ||
                   value.find("PRIVATE KEY") != std::string_view::npos;
  const std::string_view digits = StripHexPrefix(value);
  const bool hex = digits.size() >= 32 && std::all_of(digits.begin(), digits.end(), IsHexDigit);
  if (pem || hex) {
    return absl::InvalidArgumentError(
        "--import takes a FILE (or - for stdin), not the key itself: a key on the command line "
        "is visible to every user (ps) and stays in shell history");
  }
  if (value.empty()) return absl::InvalidArgumentError("--import: FILE is empty (use - for stdin)");
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> ReadSecretInput(const std::string& path, size_t max_size,
                                            std::string_view label) {
  const bool stdin_input = path == "-";
  const int fd = stdin_input ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(err == ENOENT ? absl::StatusCode::kNotFound
                                      : absl::StatusCode::kPermissionDenied,
                        absl::StrCat(Absl(label), ": ", std::strerror(err)));
  }
  SecretBuilder builder;
  uint8_t buffer[4096];
  absl::Status status = absl::OkStatus();
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = absl::InternalError(absl::StrCat(Absl(label), ": ", std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    builder.Append(ByteView(buffer, static_cast<size_t>(n)));
    if (builder.size() > max_size) {
      status = absl::InvalidArgumentError(
          absl::StrCat(Absl(label), ": the input exceeds ", max_size, " bytes"));
      break;
    }
  }
  WipeBytes(buffer, sizeof(buffer));
  if (!stdin_input) ::close(fd);
  SecretBytes out = std::move(builder).Finish();
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<SecretBytes> ReadPrivateKeyInput(const std::string& path) {
  absl::StatusOr<SecretBytes> out =
      ReadSecretInput(path, signer::kMaxPrivateKeySize, absl::StrCat("--import ", path));
  if (!out.ok()) return out.status();
  if (out->empty()) return Refuse(absl::StrCat(path == "-" ? "stdin" : path, " is empty"));
  return out;
}

absl::StatusOr<ImportedKey> ParseImportedKey(const SecretBytes& input,
                                             std::optional<KeyType> raw_type,
                                             std::optional<KeyType> expected) {
  const ByteView all = input.Reveal();
  if (all.empty()) return Refuse("the input is empty");
  ImportedKey out;
  // DER (binary; its version INTEGER alone holds bytes below 0x20), untrimmed: a binary key may
  // end in bytes that look like whitespace. Text that starts with '0' (0x30: "0x..." or hex
  // digits) is not DER.
  if (all[0] == 0x30 && !IsText(all)) {
    out.format = "PKCS#8 DER";
    ASSIGN_OR_RETURN(out.key, FromPkcs8(input, out.format, expected));
    return out;
  }
  size_t begin = 0;
  size_t end = all.size();
  while (begin < end && IsSpace(all[begin])) ++begin;
  while (end > begin && IsSpace(all[end - 1])) --end;
  const ByteView data = all.subspan(begin, end - begin);
  if (data.empty()) return Refuse("the input is only whitespace");
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());

  if (text.substr(0, kBegin.size()) == kBegin) {
    const size_t label_end = text.find(kDashes, kBegin.size());
    if (label_end == std::string_view::npos) return Refuse("a PEM BEGIN line without its end");
    std::string_view label = text.substr(kBegin.size(), label_end - kBegin.size());
    std::string_view block = text;
    if (label == "EC PARAMETERS") {
      // `openssl ecparam -genkey` writes the curve's parameters before the key.
      const size_t key_at = text.find("-----BEGIN EC PRIVATE KEY-----");
      if (key_at == std::string_view::npos) {
        return Refuse("EC PARAMETERS without an EC PRIVATE KEY block");
      }
      block = text.substr(key_at);
      label = "EC PRIVATE KEY";
    }
    if (label == "PRIVATE KEY") {
      out.format = "PKCS#8 PEM";
      ASSIGN_OR_RETURN(out.key,
                       FromPkcs8(SecretBytes::CopyFrom(block), out.format, expected));
      return out;
    }
    if (label == "EC PRIVATE KEY") {
      out.format = "SEC1 PEM";
      ASSIGN_OR_RETURN(out.key, FromSec1Pem(block, expected));
      return out;
    }
    if (label == "ENCRYPTED PRIVATE KEY") {
      return Refuse(
          "an encrypted PKCS#8 key (ENCRYPTED PRIVATE KEY): lockout takes no passphrase; "
          "decrypt it into a pipe: openssl pkcs8 -in FILE | lockout create-key --import - ...");
    }
    return Refuse(absl::StrCat("a PEM ", SafeLabel(label), " block is not a private key lockout "
                               "imports (", Absl(kAccepted), ")"));
  }

  const std::string_view digits = StripHexPrefix(text);
  if (!digits.empty() && std::all_of(digits.begin(), digits.end(), IsHexDigit)) {
    const KeyType type = raw_type.value_or(expected.value_or(KeyType::kSecp256k1));
    if (expected.has_value() && *expected != type) {
      return Refuse("the raw key's type and --type differ");
    }
    out.format = "raw hex";
    ASSIGN_OR_RETURN(out.key, FromRawHex(digits, type));
    return out;
  }
  return Refuse(absl::StrCat("not a private key: saw ", Describe(data), "; ", Absl(kAccepted)));
}

}  // namespace lockout::ops
