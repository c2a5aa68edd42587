#pragma once

// KMS "CiphertextForRecipient" envelopes: CMS EnvelopedData (RFC 5652 §6) with one
// KeyTransRecipientInfo using RSAES-OAEP (RFC 8017; SHA-256, MGF1-SHA-256, empty label; RFC 4055
// identifiers) and AES-256-CBC content encryption (RFC 3565).
//
// AWS KMS Decrypt / GenerateDataKey / GenerateRandom called with
// Recipient={AttestationDocument, KeyEncryptionAlgorithm: RSAES_OAEP_SHA_256} return the plaintext
// in this form, encrypted to the RSA public key in the attestation document. The enclave parses
// and decrypts it (DecryptKmsEnvelope); the local KMS emulator builds it (BuildKmsEnvelope).
//
// All functions are thread-safe (no shared state); keys are borrowed, never retained.
// Error messages carry sizes, offsets and field names, never key or plaintext bytes. Callers that
// answer a network peer should map every failure to one generic error and log the status text.

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/crypto/openssl_util.h"

namespace lockout::crypto {

// Object identifiers (dotted form) of the one algorithm profile KMS uses.
inline constexpr char kOidEnvelopedData[] = "1.2.840.113549.1.7.3";
inline constexpr char kOidData[] = "1.2.840.113549.1.7.1";
inline constexpr char kOidRsaesOaep[] = "1.2.840.113549.1.1.7";
inline constexpr char kOidMgf1[] = "1.2.840.113549.1.1.8";
inline constexpr char kOidSha256[] = "2.16.840.1.101.3.4.2.1";
inline constexpr char kOidAes256Cbc[] = "2.16.840.1.101.3.4.1.42";

// Limits applied before any parsing or allocation. KMS plaintexts are at most 4096 bytes, so a
// real envelope is under 5 KiB; the limits leave ample room.
inline constexpr size_t kMaxKmsEnvelopeSize = 64 * 1024;
inline constexpr size_t kMaxKmsEnvelopePlaintextSize = 32 * 1024;

// The fields of a validated KMS envelope. All byte fields are public (ciphertexts, IV, key id).
struct KmsEnvelope {
  // recipientIdentifier: the subjectKeyIdentifier KMS put in the KeyTransRecipientInfo.
  Bytes recipient_key_id;
  // keyEncryptionAlgorithm: always kOidRsaesOaep with SHA-256 and MGF1-SHA-256.
  std::string key_encryption_oid;
  std::string oaep_hash_oid;
  std::string mgf_oid;
  std::string mgf_hash_oid;
  // The RSA-OAEP-encrypted content-encryption key (as long as the RSA modulus).
  Bytes encrypted_key;
  // encryptedContentInfo: content type kOidData, algorithm kOidAes256Cbc with a 16-byte IV.
  std::string content_type_oid;
  std::string content_encryption_oid;
  Bytes iv;
  // AES-256-CBC ciphertext (PKCS#7 padded; a non-zero multiple of 16 bytes).
  Bytes ciphertext;
};

// Parses a BER or DER ContentInfo holding a KMS-shaped EnvelopedData (untrusted input).
// Strict: exactly the ContentInfo and no trailing bytes; EnvelopedData version 2 without
// originatorInfo or unprotectedAttrs; exactly one RecipientInfo, a KeyTransRecipientInfo version 2
// identified by subjectKeyIdentifier; RSAES-OAEP with SHA-256, MGF1-SHA-256 and the default
// (empty) label; encrypted key 1..512 bytes; content type data; AES-256-CBC with a 16-byte IV;
// the encrypted content present, non-empty, a multiple of 16 bytes.
// Errors: kInvalidArgument naming the first violated rule (no input bytes in the text).
absl::StatusOr<KmsEnvelope> ParseKmsEnvelope(ByteView ber);

// Builds a KMS-shaped EnvelopedData (DER) that carries `plaintext` for `rsa_public_key`: a fresh
// random 256-bit content-encryption key and IV (OpenSSL's RNG), AES-256-CBC over the plaintext,
// the key wrapped with RSAES-OAEP-SHA-256/MGF1-SHA-256. The recipient is identified by
// subjectKeyIdentifier = SHA-256 of the key's DER SubjectPublicKeyInfo (KMS does not document
// how it derives its 32-byte identifier; decryption does not depend on it).
// `plaintext` may be a secret (pass SecretBytes::Reveal()): it is streamed straight into the
// cipher and not copied into unwiped buffers. `rsa_public_key` is borrowed (public or private
// RSA key of kRsaRecipientMinBits..kRsaRecipientMaxBits bits, see rsa_key.h).
// Errors: kInvalidArgument for a bad key or a plaintext over kMaxKmsEnvelopePlaintextSize;
// kInternal if OpenSSL fails.
absl::StatusOr<Bytes> BuildKmsEnvelope(const EVP_PKEY* rsa_public_key, ByteView plaintext);

// Validates `envelope` with ParseKmsEnvelope, unwraps the content-encryption key with
// `rsa_private_key` (borrowed) and decrypts the content with OpenSSL CMS.
// Returns the plaintext in SecretBytes; every intermediate plaintext buffer is wiped.
// Errors: kInvalidArgument for a malformed envelope or an unusable key; kPermissionDenied when the
// key does not unwrap the content key or the content does not decrypt (wrong key, tampering).
absl::StatusOr<SecretBytes> DecryptKmsEnvelope(const EVP_PKEY* rsa_private_key, ByteView envelope);

}  // namespace lockout::crypto
