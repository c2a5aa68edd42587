#pragma once

// Finding test data.
//
// Real vectors live outside the project (../shared/vectors, never copied in). Their directory is
// the LOCKOUT_VECTORS_DIR environment variable, else the CMake cache value of the same name.
// When a vector is absent the test is skipped with a loud message, unless the environment sets
// LOCKOUT_REQUIRE_VECTORS=1 (CI does), in which case it fails.
//
//   TEST(Foo, Bar) {
//     LOCKOUT_VECTOR_OR_SKIP(path, "attestation/aws-nitro-enclaves-root-g1.pem");
//     ...
//   }

#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "src/common/bytes.h"

namespace lockout::testing {

struct VectorLookup {
  bool found = false;
  bool required = false;
  std::string path;     // full path (valid when found)
  std::string message;  // why it is missing
};

std::string VectorsDir();
VectorLookup FindVector(std::string_view relative);
// The project's own test data: <source>/tests/testdata/<relative>.
std::string TestDataPath(std::string_view relative);
// Where built executables are (build/<preset>/bin or build/bin).
std::string BinaryDir();
std::string SourceDir();
// Reads a file or fails the test (ADD_FAILURE, returns empty).
Bytes ReadTestFile(const std::string& path);

}  // namespace lockout::testing

#define LOCKOUT_VECTOR_OR_SKIP(var, relative)                                                    \
  std::string var;                                                                               \
  do {                                                                                           \
    ::lockout::testing::VectorLookup lockout_lookup_ = ::lockout::testing::FindVector(relative); \
    if (!lockout_lookup_.found) {                                                                \
      if (lockout_lookup_.required) FAIL() << lockout_lookup_.message;                           \
      GTEST_SKIP() << lockout_lookup_.message;                                                   \
    }                                                                                            \
    var = lockout_lookup_.path;                                                                  \
  } while (false)
