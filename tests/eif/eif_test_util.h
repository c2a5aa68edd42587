#pragma once

// Helpers for the EIF tests that deliberately share no code with src/eif/: a bitwise CRC-32, a
// PCR computed straight from OpenSSL EVP, a raw EIF layout builder, and the independent Python
// implementation (tests/eif/independent_eif.py).

#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "tests/testing/vectors.h"

namespace lockout::eif::testutil {

// Bit-at-a-time CRC-32/ISO-HDLC (no table), continuing from `crc` like zlib.crc32(data, crc).
inline uint32_t BitwiseCrc32(ByteView data, uint32_t crc = 0) {
  crc = ~crc;
  for (uint8_t b : data) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// SHA384(0^48 ‖ SHA384(parts...)) with raw EVP calls.
inline std::string IndependentPcrHex(std::initializer_list<ByteView> parts) {
  unsigned char inner[48];
  unsigned char outer[48];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha384(), nullptr);
  for (ByteView p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  EVP_DigestFinal_ex(ctx, inner, &len);
  unsigned char buf[96] = {};
  for (int i = 0; i < 48; ++i) buf[48 + i] = inner[i];
  EVP_DigestInit_ex(ctx, EVP_sha384(), nullptr);
  EVP_DigestUpdate(ctx, buf, sizeof(buf));
  EVP_DigestFinal_ex(ctx, outer, &len);
  EVP_MD_CTX_free(ctx);
  static const char* kDigits = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : outer) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}

inline void PutBe(Bytes& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void SetBe(Bytes& out, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
  }
}

// Header field offsets (from the format definition, not from src/eif).
inline constexpr size_t kVersionAt = 4;
inline constexpr size_t kNumSectionsAt = 26;
inline constexpr size_t kOffsetsAt = 28;
inline constexpr size_t kSizesAt = 28 + 32 * 8;
inline constexpr size_t kCrcAt = 544;
inline constexpr size_t kHeader = 548;

// Recomputes the header CRC after a deliberate edit.
inline void FixCrc(Bytes& eif) {
  uint32_t crc = BitwiseCrc32(ByteView(eif).subspan(0, kCrcAt));
  crc = BitwiseCrc32(ByteView(eif).subspan(kHeader), crc);
  SetBe(eif, kCrcAt, crc, 4);
}

struct RawSection {
  uint16_t type;
  Bytes data;
};

// Lays out `sections` contiguously after a version-`version` header with a correct CRC.
inline Bytes RawEif(const std::vector<RawSection>& sections, uint16_t version = 4) {
  Bytes out = {'.', 'e', 'i', 'f'};
  PutBe(out, version, 2);
  PutBe(out, 0, 2);        // flags
  PutBe(out, 1 << 30, 8);  // default_mem
  PutBe(out, 2, 8);        // default_cpus
  PutBe(out, 0, 2);        // reserved
  PutBe(out, sections.size(), 2);
  uint64_t pos = kHeader;
  std::vector<uint64_t> offsets(32, 0);
  std::vector<uint64_t> sizes(32, 0);
  for (size_t i = 0; i < sections.size() && i < 32; ++i) {
    offsets[i] = pos;
    sizes[i] = sections[i].data.size();
    pos += 12 + sections[i].data.size();
  }
  for (uint64_t o : offsets) PutBe(out, o, 8);
  for (uint64_t s : sizes) PutBe(out, s, 8);
  PutBe(out, 0, 4);  // unused
  PutBe(out, 0, 4);  // crc, fixed below
  for (const RawSection& s : sections) {
    PutBe(out, s.type, 2);
    PutBe(out, 0, 2);
    PutBe(out, s.data.size(), 8);
    out.insert(out.end(), s.data.begin(), s.data.end());
  }
  FixCrc(out);
  return out;
}

inline std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/eif_test_" + std::to_string(getpid()) + "_" + name;
}

inline void WriteBytes(const std::string& path, ByteView data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// Runs `command`, returning its stdout and exit status.
struct RunResult {
  int status = -1;
  std::string out;
};
inline RunResult Run(const std::string& command) {
  RunResult r;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// The independent Python measurement of the EIF at `path`.
inline nlohmann::json IndependentMeasure(const std::string& path) {
  const std::string script = lockout::testing::SourceDir() + "/tests/eif/independent_eif.py";
  RunResult r = Run("python3 '" + script + "' measure '" + path + "'");
  EXPECT_EQ(r.status, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(j.is_object()) << r.out;
  return j;
}

}  // namespace lockout::eif::testutil
