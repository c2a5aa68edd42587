#include "src/crypto/openssl_util.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::crypto {

absl::Status OpenSslError(std::string_view what, absl::StatusCode code) {
  unsigned long first = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  if (first == 0) return absl::Status(code, Absl(what));
  char buf[256];
  ERR_error_string_n(first, buf, sizeof(buf));
  return absl::Status(code, absl::StrCat(Absl(what), ": ", buf));
}

}  // namespace lockout::crypto
