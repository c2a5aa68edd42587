// libFuzzer target: authenticated v2 requests (src/auth/request_auth.h, request_verifier.h).
// Anyone who can reach the enclave's port sends these bytes; under a signing policy every one of
// them goes through RequestVerifier::CheckV2 before anything else happens.
//
// The input is a v2 request payload. Properties checked (abort on violation):
//   * ParseAuthFields fails with InvalidArgument and a bounded printable message, or yields
//     fields within their documented bounds;
//   * the canonical encoding starts with the tag and is a function of the request's meaning: the
//     request printed and parsed again encodes to the same bytes;
//   * CheckV2 never admits a request the fuzzer cannot have signed (the policy's one client has
//     a key the fuzzer does not hold), counts exactly one refusal per refused request, and a
//     refusal's logged client name is empty or a valid client name.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/auth/client_key.h"
#include "src/auth/request_auth.h"
#include "src/auth/request_verifier.h"
#include "src/common/clock.h"
#include "src/common/json.h"

namespace {

using lockout::fuzz::Check;
namespace auth = lockout::auth;

struct Fixture {
  lockout::FakeClock clock{absl::FromUnixMillis(1765000000000)};
  std::unique_ptr<auth::RequestVerifier> verifier;
  Fixture() {
    auto policy = std::make_shared<lockout::signpolicy::SigningPolicy>();
    // A key generated at start: the fuzzer cannot produce its signatures.
    std::unique_ptr<auth::ClientKey> key =
        *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "gateway");
    policy->clients.push_back({.name = "gateway",
                               .algorithm = auth::ClientKeyAlgorithm::kEd25519,
                               .public_key = lockout::ToString(key->public_key()),
                               .ops = {"health", "sign"},
                               .keys = {"*"}});
    policy->max_nonces = 16;
    verifier = *auth::RequestVerifier::Create(policy, clock);
  }
};

uint64_t TotalRefusals(const auth::RequestVerifier& v) {
  uint64_t n = 0;
  for (uint64_t c : v.Refusals()) n += c;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<nlohmann::json> request = lockout::ParseJsonStrict(text);
  if (!request.ok() || !request->is_object()) return 0;

  if (auto it = request->find("auth"); it != request->end()) {
    absl::StatusOr<auth::AuthFields> fields = auth::ParseAuthFields(*it);
    if (!fields.ok()) {
      lockout::fuzz::CheckErrorMessage(fields.status(), 200);
      Check(fields.status().code() == absl::StatusCode::kInvalidArgument, "not InvalidArgument");
    } else {
      Check(auth::IsValidClientName(fields->client), "client name out of bounds");
      Check(fields->timestamp_ms >= 0, "negative timestamp");
      Check(fields->nonce.size() >= auth::kMinNonceBytes &&
                fields->nonce.size() <= auth::kMaxNonceBytes,
            "nonce size out of bounds");
      Check(!fields->signature.empty() && fields->signature.size() <= auth::kMaxClientSignatureSize,
            "signature size out of bounds");
      absl::StatusOr<std::string> enc =
          auth::CanonicalRequest(*request, fields->client, fields->timestamp_ms, fields->nonce);
      if (enc.ok()) {
        Check(enc->starts_with(auth::kRequestTag), "encoding without its tag");
        absl::StatusOr<nlohmann::json> again = lockout::ParseJson(request->dump());
        Check(again.ok(), "a parsed request does not parse after printing");
        absl::StatusOr<std::string> enc2 =
            auth::CanonicalRequest(*again, fields->client, fields->timestamp_ms, fields->nonce);
        Check(enc2.ok() && *enc2 == *enc, "the encoding changed after a print/parse round trip");
      }
    }
  }

  const uint64_t before = TotalRefusals(*fixture->verifier);
  const auth::Decision d = fixture->verifier->CheckV2(*request, size, "lockout/signing-key",
                                                      auth::RequestVerifier::Mode::kAdmit);
  Check(!d.allowed, "a request the fuzzer cannot have signed was admitted");
  Check(TotalRefusals(*fixture->verifier) == before + 1, "a refusal was not counted exactly once");
  Check(d.client.empty() || auth::IsValidClientName(d.client), "logged client name not a name");
  return 0;
}
