#include "src/gateway/json_rpc.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/json.h"
#include "src/common/strings.h"

namespace lockout::gateway {

std::variant<RpcRequest, RpcError> ParseRpcRequest(std::string_view body) {
  if (body.size() > kMaxRpcBody) {
    return RpcError{nullptr, kInvalidRequest,
                    absl::StrCat("request body over ", kMaxRpcBody, " bytes")};
  }
  absl::StatusOr<nlohmann::json> json = ParseJsonStrict(body, kMaxRpcBody);
  if (!json.ok()) return RpcError{nullptr, kParseError, "parse error: not one JSON document"};
  if (json->is_array()) {
    return RpcError{nullptr, kInvalidRequest, "batch requests are not supported"};
  }
  if (!json->is_object()) return RpcError{nullptr, kInvalidRequest, "request is not an object"};
  RpcRequest request;
  auto id = json->find("id");
  if (id != json->end()) {
    if (!id->is_string() && !id->is_number() && !id->is_null()) {
      return RpcError{nullptr, kInvalidRequest, "\"id\" must be a string, a number or null"};
    }
    request.id = *id;
  }
  auto version = json->find("jsonrpc");
  if (version == json->end() || !version->is_string() || *version != "2.0") {
    return RpcError{request.id, kInvalidRequest, "\"jsonrpc\" must be \"2.0\""};
  }
  auto method = json->find("method");
  if (method == json->end() || !method->is_string()) {
    return RpcError{request.id, kInvalidRequest, "\"method\" must be a string"};
  }
  request.method = method->get<std::string>();
  auto params = json->find("params");
  if (params != json->end()) {
    if (!params->is_array() && !params->is_object()) {
      return RpcError{request.id, kInvalidRequest, "\"params\" must be an array or an object"};
    }
    request.params = *params;
  }
  for (const auto& [key, value] : json->items()) {
    if (key != "id" && key != "jsonrpc" && key != "method" && key != "params") {
      return RpcError{request.id, kInvalidRequest, "unknown member in the request"};
    }
  }
  return request;
}

std::string RpcResult(const nlohmann::json& id, const nlohmann::json& result) {
  nlohmann::ordered_json out;
  out["jsonrpc"] = "2.0";
  out["id"] = id;
  out["result"] = result;
  return out.dump();
}

std::string RpcErrorReply(const RpcError& error) {
  nlohmann::ordered_json out;
  out["jsonrpc"] = "2.0";
  out["id"] = error.id;
  out["error"] = {{"code", error.code}, {"message", error.message}};
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace lockout::gateway
