// libFuzzer target: the relay's decoder of the enclave's append_log request
// (relay::DecodeAppendLogRequest), whose lines end up in the relay's own log and whose counters
// become metric names. The enclave side of the vsock is untrusted from the relay's point of view.
//
// The input is the request's JSON text. Properties checked (abort on violation):
//   * a failure is InvalidArgument or Unimplemented with a bounded printable message;
//   * a success holds at most kMaxLogLines objects of at most kMaxLogLineMembers members, at
//     most kMaxLogCounters counters with valid names (so every metric name is valid) in strictly
//     increasing order;
//   * it re-encodes (ASCII, no '$'), and the encoding decodes to the same request (a fixpoint).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/relay/relay_protocol.h"

using lockout::fuzz::Check;
namespace relay = lockout::relay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<relay::AppendLogRequest> request = relay::DecodeAppendLogRequest(text);
  if (!request.ok()) {
    lockout::fuzz::CheckErrorMessage(request.status(), 200);
    Check(request.status().code() == absl::StatusCode::kInvalidArgument ||
              request.status().code() == absl::StatusCode::kUnimplemented,
          "unexpected error code");
    return 0;
  }
  Check(request->lines.size() <= relay::kMaxLogLines, "too many lines accepted");
  for (const nlohmann::json& line : request->lines) {
    Check(line.is_object() && line.size() <= relay::kMaxLogLineMembers, "a line is not an object");
  }
  Check(request->counters.size() <= relay::kMaxLogCounters, "too many counters accepted");
  for (size_t i = 0; i < request->counters.size(); ++i) {
    Check(relay::IsValidLogCounterName(request->counters[i].first), "invalid counter name");
    if (i > 0) {
      Check(request->counters[i - 1].first < request->counters[i].first, "counters not sorted");
    }
  }
  absl::StatusOr<std::string> encoded = relay::EncodeAppendLogRequest(*request);
  if (!encoded.ok()) {
    // Only the size limit may refuse what was decoded (escaping can grow the text).
    Check(encoded.status().code() == absl::StatusCode::kInvalidArgument, "unexpected error code");
    return 0;
  }
  for (char c : *encoded) {
    Check(c != '$' && static_cast<unsigned char>(c) < 0x80, "encoding is not escaped ASCII");
  }
  absl::StatusOr<relay::AppendLogRequest> again = relay::DecodeAppendLogRequest(*encoded);
  Check(again.ok(), "the re-encoded request does not decode");
  Check(again->lines == request->lines && again->counters == request->counters &&
            again->dropped == request->dropped,
        "the re-encoded request decodes differently");
  absl::StatusOr<std::string> encoded_again = relay::EncodeAppendLogRequest(*again);
  Check(encoded_again.ok() && *encoded_again == *encoded, "encoding is not a fixpoint");
  return 0;
}
