// libFuzzer target: the client key file (src/auth/client_key.h), which `lockout sign
// --client-key` and `lockout bench --client-key` read.
//
// The input is the file's text. Properties checked (abort on violation):
//   * failures are InvalidArgument with a bounded printable message;
//   * a parsed key writes a file that parses back to the same name, algorithm and public key,
//     and its signatures verify with its public key.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/auth/client_key.h"

namespace auth = lockout::auth;
using lockout::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::unique_ptr<auth::ClientKey>> key = auth::ClientKey::ParseFile(text);
  if (!key.ok()) {
    lockout::fuzz::CheckErrorMessage(key.status(), 300);
    Check(key.status().code() == absl::StatusCode::kInvalidArgument, "not InvalidArgument");
    return 0;
  }
  const lockout::SecretBytes file = (*key)->ToFile();
  absl::StatusOr<std::unique_ptr<auth::ClientKey>> again =
      auth::ClientKey::ParseFile(file.RevealAsString());
  Check(again.ok(), "a written key file does not parse");
  Check((*again)->name() == (*key)->name() && (*again)->algorithm() == (*key)->algorithm() &&
            (*again)->public_key() == (*key)->public_key(),
        "the key changed in a write/read round trip");
  absl::StatusOr<std::unique_ptr<auth::ClientVerifier>> verifier =
      auth::ClientVerifier::Create((*key)->algorithm(), lockout::ToString((*key)->public_key()));
  Check(verifier.ok(), "a parsed key's public key is unusable");
  absl::StatusOr<lockout::Bytes> sig = (*key)->Sign(lockout::AsBytes(text));
  Check(sig.ok() && (*verifier)->Verify(lockout::AsBytes(text), *sig),
        "a parsed key's signature does not verify");
  return 0;
}
