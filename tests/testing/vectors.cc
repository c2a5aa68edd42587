#include "tests/testing/vectors.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "src/common/file.h"
#include "src/common/strings.h"

namespace lockout::testing {

std::string VectorsDir() {
  const char* env = std::getenv("LOCKOUT_VECTORS_DIR");
  if (env != nullptr && *env != '\0') return env;
  return LOCKOUT_DEFAULT_VECTORS_DIR;
}

VectorLookup FindVector(std::string_view relative) {
  VectorLookup r;
  const char* req = std::getenv("LOCKOUT_REQUIRE_VECTORS");
  r.required = req != nullptr && std::string_view(req) == "1";
  r.path = absl::StrCat(VectorsDir(), "/", Absl(relative));
  std::error_code ec;
  r.found = std::filesystem::is_regular_file(r.path, ec);
  if (!r.found) {
    r.message = absl::StrCat("*** TEST VECTOR MISSING: ", r.path,
                             " — set LOCKOUT_VECTORS_DIR to the shared/vectors directory",
                             r.required ? " (required: LOCKOUT_REQUIRE_VECTORS=1)" : "; skipping");
    std::cerr << r.message << "\n";
  }
  return r;
}

std::string SourceDir() { return LOCKOUT_SOURCE_DIR; }
std::string TestDataPath(std::string_view relative) {
  return absl::StrCat(LOCKOUT_SOURCE_DIR, "/tests/testdata/", Absl(relative));
}
std::string BinaryDir() { return LOCKOUT_BINARY_DIR; }

Bytes ReadTestFile(const std::string& path) {
  absl::StatusOr<Bytes> b = ReadFile(path);
  if (!b.ok()) {
    ADD_FAILURE() << "cannot read " << path << ": " << b.status();
    return {};
  }
  return *std::move(b);
}

}  // namespace lockout::testing
