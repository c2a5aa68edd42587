// Fuzzes the NSM message codec (src/nsm/nsm_message.h) with arbitrary bytes, as both a request
// (what the local NSM service decodes) and a response (what the enclave decodes).
//
// Properties checked on every input the decoder accepts (abort on violation):
//   - the decoded value re-encodes without error;
//   - the re-encoding decodes to the same value;
//   - the re-encoding is canonical: encoding the value decoded from it gives the same bytes.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "src/nsm/nsm_message.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "nsm_fuzzer: %s\n", what);
  std::abort();
}

template <typename Value, typename Decode, typename Encode>
void CheckRoundTrip(lockout::ByteView input, Decode decode, Encode encode) {
  absl::StatusOr<Value> value = decode(input);
  if (!value.ok()) return;
  (void)lockout::nsm::Describe(*value);
  absl::StatusOr<lockout::Bytes> encoded = encode(*value);
  if (!encoded.ok()) Fail("accepted value does not re-encode");
  absl::StatusOr<Value> again = decode(*encoded);
  if (!again.ok()) Fail("re-encoded value does not decode");
  if (!(*again == *value)) Fail("round trip changed the value");
  absl::StatusOr<lockout::Bytes> encoded_again = encode(*again);
  if (!encoded_again.ok() || *encoded_again != *encoded) Fail("encoding is not canonical");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const lockout::ByteView input(data, size);
  CheckRoundTrip<lockout::nsm::NsmRequest>(
      input, [](lockout::ByteView b) { return lockout::nsm::DecodeRequest(b); },
      [](const lockout::nsm::NsmRequest& r) { return lockout::nsm::EncodeRequest(r); });
  CheckRoundTrip<lockout::nsm::NsmResponse>(
      input, [](lockout::ByteView b) { return lockout::nsm::DecodeResponse(b); },
      [](const lockout::nsm::NsmResponse& r) { return lockout::nsm::EncodeResponse(r); });
  return 0;
}
