#pragma once

// Shared helpers for the attestation tests: the three real documents (found through
// LOCKOUT_VECTOR_OR_SKIP) with their facts from index.json, and a generated P-384 PKI.

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/attest/attestation_document.h"
#include "src/attest/cert_authority.h"
#include "src/common/bytes.h"

namespace lockout::attest::testing {

struct RealDocument {
  std::string file;
  Bytes bytes;           // the COSE_Sign1 (base64 already decoded)
  nlohmann::json facts;  // its entry in index.json
  absl::Time timestamp;
  absl::Time window_start;  // chain_valid_window_utc
  absl::Time window_end;
};

// Fills `docs` from index.json and the files it names (in `dir`). Test failures on errors.
void LoadRealDocuments(const std::string& index_path, std::vector<RealDocument>* docs);

absl::Time Rfc3339(std::string_view text);
Bytes Hex(std::string_view hex);
// Offset of `needle` inside `haystack`; test failure (and npos) if absent.
size_t Find(const Bytes& haystack, ByteView needle);
Bytes FlipBit(Bytes data, size_t offset, int bit = 0);

// CertificateOptions without path length.
CertificateOptions Options(std::string subject, absl::Time not_before, absl::Time not_after);

// root -> intermediate -> leaf (all P-384), valid around `now`, in the NSM's shape.
struct TestPki {
  CertAuthority root;
  CertAuthority intermediate;
  CertifiedKey leaf;
};
TestPki MakeTestPki(absl::Time now);
// Valid fields signed by `pki.leaf`: 16 PCRs, cabundle [root, intermediate], all optionals.
AttestationDocument SampleFields(const TestPki& pki, absl::Time now);

}  // namespace lockout::attest::testing
