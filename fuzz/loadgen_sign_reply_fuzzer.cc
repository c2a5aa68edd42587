// libFuzzer target: `lockout bench`'s classification of the enclave's sign replies
// (loadgen::ParseSignReply, run on every reply frame's payload a possibly hostile server sends).
//
// The first input byte picks the protocol (even: v2, odd: v1) and the expected v2 id (byte / 2);
// the rest is the reply's JSON text. Properties checked (abort on violation):
//   * kSigned carries a non-empty signature and no reason;
//   * kRefused and kMalformed carry a reason that is 1..64 printable ASCII bytes (reasons become
//     report keys, so the peer must not be able to inject control characters or grow them) and
//     no signature; kMalformed's is exactly "bad reply";
//   * v2: a reply that is not kMalformed echoed the expected id;
//   * the function is deterministic.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/common/json.h"
#include "src/loadgen/sign_reply.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using lockout::fuzz::Check;
  using lockout::loadgen::Protocol;
  using lockout::loadgen::SignReply;
  if (size < 1) return 0;
  const Protocol protocol = (data[0] & 1) != 0 ? Protocol::kV1 : Protocol::kV2;
  const uint64_t expected_id = data[0] >> 1;
  const std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);

  const SignReply r = lockout::loadgen::ParseSignReply(protocol, payload, expected_id);
  switch (r.kind) {
    case SignReply::Kind::kSigned:
      Check(!r.signature.empty(), "signed reply without signature bytes");
      Check(r.reason.empty(), "signed reply with a reason");
      break;
    case SignReply::Kind::kRefused:
    case SignReply::Kind::kMalformed:
      Check(r.signature.empty(), "refused/malformed reply with signature bytes");
      Check(!r.reason.empty() && r.reason.size() <= lockout::loadgen::kMaxReasonLength,
            "reason length out of bounds");
      Check(lockout::fuzz::IsPrintableAscii(r.reason), "reason is not printable ASCII");
      if (r.kind == SignReply::Kind::kMalformed) {
        Check(r.reason == "bad reply", "malformed reply with another reason");
      }
      break;
  }
  if (protocol == Protocol::kV2 && r.kind != SignReply::Kind::kMalformed) {
    absl::StatusOr<nlohmann::json> json = lockout::ParseJson(payload);
    Check(json.ok() && json->is_object() && json->contains("id") &&
              (*json)["id"].is_number_unsigned() && (*json)["id"].get<uint64_t>() == expected_id,
          "accepted a v2 reply whose id is not the request's");
  }
  const SignReply again = lockout::loadgen::ParseSignReply(protocol, payload, expected_id);
  Check(again.kind == r.kind && again.signature == r.signature && again.reason == r.reason,
        "not deterministic");
  return 0;
}
