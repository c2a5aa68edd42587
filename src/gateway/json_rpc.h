#pragma once

// JSON-RPC 2.0 (https://www.jsonrpc.org/specification) for `lockout gateway`: the request
// parser and the response builders. The body is untrusted (anyone who can reach the port):
//
//   * at most kMaxRpcBody bytes (the HTTP server refuses larger bodies before buffering them),
//     nesting bounded by ParseJsonStrict, duplicate member names refused;
//   * one request object per body: batches (a JSON array) are refused with -32600, so one HTTP
//     request is one enclave round trip;
//   * "jsonrpc" must be "2.0", "method" a string, "params" (if present) an array or object,
//     "id" a string, a number or null (absent: a notification, answered anyway — the gateway
//     never has side effects worth hiding, and an HTTP reply must carry a body);
//   * the reply echoes "id" as sent (null when the request could not be parsed that far).
//
// Error codes: -32700 parse error, -32600 invalid request, -32601 method not found,
// -32602 invalid params, -32000 server error (the enclave refused or could not be reached).

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "nlohmann/json.hpp"

namespace lockout::gateway {

inline constexpr size_t kMaxRpcBody = 256 << 10;

enum RpcErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kServerError = -32000,
};

struct RpcRequest {
  nlohmann::json id;  // string, number or null
  std::string method;
  nlohmann::json params = nlohmann::json::array();  // array or object
};

struct RpcError {
  nlohmann::json id;  // echoed; null when unknown
  int code = kInvalidRequest;
  std::string message;
};

// Parses one request body. Never throws.
std::variant<RpcRequest, RpcError> ParseRpcRequest(std::string_view body);

// {"jsonrpc":"2.0","id":ID,"result":RESULT}
std::string RpcResult(const nlohmann::json& id, const nlohmann::json& result);
// {"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M}}
std::string RpcErrorReply(const RpcError& error);

}  // namespace lockout::gateway
