#include "src/gateway/json_rpc.h"

#include <string>

#include "gtest/gtest.h"

namespace lockout::gateway {
namespace {

RpcError ErrorOf(std::string_view body) {
  auto parsed = ParseRpcRequest(body);
  EXPECT_TRUE(std::holds_alternative<RpcError>(parsed)) << body;
  if (auto* e = std::get_if<RpcError>(&parsed)) return *e;
  return {};
}

TEST(JsonRpcTest, ParsesARequestAndEchoesItsId) {
  auto parsed = ParseRpcRequest(
      R"({"jsonrpc": "2.0", "id": "abc", "method": "eth_accounts", "params": []})");
  ASSERT_TRUE(std::holds_alternative<RpcRequest>(parsed));
  const auto& r = std::get<RpcRequest>(parsed);
  EXPECT_EQ(r.method, "eth_accounts");
  EXPECT_EQ(r.id, "abc");
  EXPECT_EQ(RpcResult(r.id, nlohmann::json::array()),
            R"({"jsonrpc":"2.0","id":"abc","result":[]})");
  auto numeric = ParseRpcRequest(R"({"jsonrpc": "2.0", "id": 7, "method": "m"})");
  ASSERT_TRUE(std::holds_alternative<RpcRequest>(numeric));
  EXPECT_EQ(std::get<RpcRequest>(numeric).id, 7);
  EXPECT_TRUE(std::get<RpcRequest>(numeric).params.is_array());
  auto notification = ParseRpcRequest(R"({"jsonrpc": "2.0", "method": "m", "params": {}})");
  ASSERT_TRUE(std::holds_alternative<RpcRequest>(notification));
  EXPECT_TRUE(std::get<RpcRequest>(notification).id.is_null());
}

TEST(JsonRpcTest, MalformedJsonIsAParseErrorWithNullId) {
  for (std::string_view body : {"", "{", "{\"jsonrpc\": \"2.0\",}", "nul", "\xff\xfe",
                                R"({"id": 1, "id": 2, "jsonrpc": "2.0", "method": "m"})"}) {
    RpcError e = ErrorOf(body);
    EXPECT_EQ(e.code, kParseError) << body;
    EXPECT_TRUE(e.id.is_null());
  }
  EXPECT_EQ(RpcErrorReply(ErrorOf("{")),
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error: not one JSON document"}})");
}

TEST(JsonRpcTest, InvalidRequests) {
  EXPECT_EQ(ErrorOf(R"([{"jsonrpc": "2.0", "id": 1, "method": "m"}])").code, kInvalidRequest);
  EXPECT_EQ(ErrorOf("[]").code, kInvalidRequest);
  EXPECT_EQ(ErrorOf("42").code, kInvalidRequest);
  RpcError wrong_version = ErrorOf(R"({"jsonrpc": "1.0", "id": 5, "method": "m"})");
  EXPECT_EQ(wrong_version.code, kInvalidRequest);
  EXPECT_EQ(wrong_version.id, 5);  // echoed when known
  EXPECT_EQ(ErrorOf(R"({"jsonrpc": 2.0, "id": 5, "method": "m"})").code, kInvalidRequest);
  EXPECT_EQ(ErrorOf(R"({"id": 5, "method": "m"})").code, kInvalidRequest);
  EXPECT_EQ(ErrorOf(R"({"jsonrpc": "2.0", "id": 5})").code, kInvalidRequest);
  EXPECT_EQ(ErrorOf(R"({"jsonrpc": "2.0", "id": 5, "method": 3})").code, kInvalidRequest);
  EXPECT_EQ(ErrorOf(R"({"jsonrpc": "2.0", "id": 5, "method": "m", "params": "x"})").code,
            kInvalidRequest);
  EXPECT_EQ(ErrorOf(R"({"jsonrpc": "2.0", "id": 5, "method": "m", "extra": 1})").code,
            kInvalidRequest);
  RpcError bad_id = ErrorOf(R"({"jsonrpc": "2.0", "id": {"a": 1}, "method": "m"})");
  EXPECT_EQ(bad_id.code, kInvalidRequest);
  EXPECT_TRUE(bad_id.id.is_null());
}

TEST(JsonRpcTest, OversizedAndDeepBodiesAreRefused) {
  std::string big = R"({"jsonrpc": "2.0", "id": 1, "method": "m", "params": [")" +
                    std::string(kMaxRpcBody, 'a') + "\"]}";
  EXPECT_EQ(ErrorOf(big).code, kInvalidRequest);
  std::string deep = R"({"jsonrpc": "2.0", "id": 1, "method": "m", "params": )" +
                     std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(ErrorOf(deep).code, kParseError);
}

}  // namespace
}  // namespace lockout::gateway
