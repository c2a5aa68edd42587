// LOCKOUT_VERSION and LOCKOUT_GIT_COMMIT come from src/cliutil/CMakeLists.txt (this file only).

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/strings.h"

#ifndef LOCKOUT_VERSION
#define LOCKOUT_VERSION "0.0.0"
#endif
#ifndef LOCKOUT_GIT_COMMIT
#define LOCKOUT_GIT_COMMIT "unknown"
#endif

namespace lockout::cliutil {

std::string VersionText(std::string_view program) {
  return absl::StrCat(Absl(program), " ", LOCKOUT_VERSION, " (commit ", LOCKOUT_GIT_COMMIT, ")");
}

}  // namespace lockout::cliutil
