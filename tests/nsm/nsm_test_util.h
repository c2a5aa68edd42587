#pragma once

// Shared helpers for the NSM tests: readable GoogleTest output for messages, and CBOR builders.

#include <ostream>
#include <string_view>

#include "gtest/gtest.h"
#include "src/common/cbor.h"
#include "src/common/encoding.h"
#include "src/nsm/nsm_message.h"

namespace lockout::nsm {

// GoogleTest finds these by ADL, so failures print "ExtendPCR{index=4, data=3B}", not raw bytes.
inline void PrintTo(const NsmRequest& r, std::ostream* os) { *os << Describe(r); }
inline void PrintTo(const NsmResponse& r, std::ostream* os) { *os << Describe(r); }

namespace testing {

inline Bytes Hex(std::string_view hex) {
  absl::StatusOr<Bytes> b = HexDecode(hex);
  EXPECT_TRUE(b.ok()) << "bad hex in test: " << hex;
  return b.ok() ? *b : Bytes{};
}

inline Bytes Serialize(const CborPtr& item) {
  absl::StatusOr<Bytes> b = CborSerialize(item.get());
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : Bytes{};
}

// {name: body}
inline CborPtr Tag(std::string_view name, CborPtr body) {
  CborPtr m = CborMap(1);
  CborMapAdd(m.get(), CborText(name), std::move(body));
  return m;
}

// A map built in insertion order: MapOf().Add("index", CborUint(3)).Take().
class MapOf {
 public:
  MapOf& Add(std::string_view key, CborPtr value) {
    CborMapAdd(map_.get(), CborText(key), std::move(value));
    return *this;
  }
  CborPtr Take() { return std::move(map_); }

 private:
  CborPtr map_ = CborMap(16);
};

}  // namespace testing
}  // namespace lockout::nsm
