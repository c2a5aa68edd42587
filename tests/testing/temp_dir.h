#pragma once

// TempDir: a fresh directory under /tmp for one test, removed with everything in it when the
// object goes. Under /tmp rather than $TMPDIR so that Unix socket paths inside it stay well under
// the 108-byte sun_path limit. If the directory cannot be made the test fails and path() is
// empty (and nothing is removed).

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "gtest/gtest.h"

namespace lockout::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "lockout-test") {
    std::string pattern = "/tmp/" + std::string(prefix) + "-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    } else {
      ADD_FAILURE() << "mkdtemp " << pattern << " failed";
    }
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace lockout::testing
