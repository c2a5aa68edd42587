// libFuzzer target for the enclave's v2 request handling, differential: the sign fast path
// (ParseSimpleSign + in-place reply) against the general JSON path.
//
// The input is one v2 payload. Properties checked (abort on violation):
//   * neither path crashes;
//   * both give byte-identical replies (an ed25519 key, whose signatures are deterministic);
//   * whatever ParseSimpleSign accepts is a JSON object whose "op" is "sign", whose "message" is
//     the string it returned, and whose "id" prints as the literal it returned.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"
#include "src/common/logger.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/request_handler.h"
#include "src/signer/signer.h"

namespace {

using lockout::enclave::HandlerOptions;
using lockout::enclave::KeyManager;
using lockout::enclave::RequestHandler;
using lockout::enclave::WorkerState;
using lockout::signer::KeyType;
using lockout::signer::Signer;

void Check(bool condition) {
  if (!condition) std::abort();
}

struct Handlers {
  std::unique_ptr<KeyManager> keys;
  std::unique_ptr<RequestHandler> fast;
  std::unique_ptr<RequestHandler> general;
};

Handlers& Get() {
  static Handlers* h = [] {
    lockout::Logger::Default().SetLevel(lockout::LogLevel::kError);  // bad requests log at info
    auto* out = new Handlers;
    absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::Generate(KeyType::kEd25519);
    Check(signer.ok());
    out->keys = KeyManager::WithSigner(*std::move(signer));
    HandlerOptions general;
    general.sign_fast_path = false;
    out->fast = std::make_unique<RequestHandler>(*out->keys, nullptr);
    out->general = std::make_unique<RequestHandler>(*out->keys, nullptr, general);
    return out;
  }();
  return *h;
}

std::string Reply(RequestHandler& handler, const std::string& payload) {
  WorkerState state;
  std::string out;
  Check(!handler.Handle(
      lockout::net::Frame{.kind = lockout::net::FrameKind::kV2, .payload = payload}, state, out));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string payload(reinterpret_cast<const char*>(data), size);
  Handlers& h = Get();
  Check(Reply(*h.fast, payload) == Reply(*h.general, payload));

  if (std::optional<lockout::enclave::SimpleSign> simple =
          lockout::enclave::ParseSimpleSign(payload)) {
    const nlohmann::json j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
    Check(j.is_object() && j.value("op", "") == "sign");
    Check(j["message"].is_string() && j["message"].get<std::string>() == simple->message_b64);
    const nlohmann::json id = j.contains("id") ? j["id"] : nlohmann::json(nullptr);
    Check(id.dump() == simple->id_json);
    if (j.contains("hash")) {
      Check(j["hash"].is_string() && simple->options.hash.has_value() &&
            lockout::signer::HashAlgorithmName(*simple->options.hash) ==
                j["hash"].get<std::string>());
    } else {
      Check(!simple->options.hash.has_value());
    }
    if (j.contains("format")) {
      Check(j["format"].is_string() && simple->options.format.has_value() &&
            lockout::signer::SignatureFormatName(*simple->options.format) ==
                j["format"].get<std::string>());
    } else {
      Check(!simple->options.format.has_value());
    }
  }
  return 0;
}
