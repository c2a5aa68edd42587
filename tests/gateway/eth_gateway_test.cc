#include "src/gateway/eth_gateway.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "tests/testing/eip712_mail.h"

namespace lockout::gateway {
namespace {

// EIP-712's Mail example and its signer ("Cow"'s wallet).
constexpr std::string_view kMail = lockout::testing::kEip712Mail;
constexpr std::string_view kCow = lockout::testing::kEip712MailSigner;
constexpr std::string_view kMailSignature =
    "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
    "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c";

eth::RecoverableSignature MailSignature() {
  auto sig = ops::ParseWalletSignature(kMailSignature, "signature");
  EXPECT_TRUE(sig.ok()) << sig.status();
  return *sig;
}

// Returns the Mail signature for everything; counts calls.
class FakeBackend : public EthBackend {
 public:
  absl::StatusOr<ops::EthSignedTransaction> SignTransaction(const nlohmann::json&) override {
    ++calls;
    return absl::FailedPreconditionError("enclave: unauthorized");
  }
  absl::StatusOr<eth::RecoverableSignature> PersonalSign(ByteView) override {
    ++calls;
    return MailSignature();
  }
  absl::StatusOr<eth::RecoverableSignature> SignTypedData(const nlohmann::json&) override {
    ++calls;
    return MailSignature();
  }
  int calls = 0;
};

class EthGatewayTest : public ::testing::Test {
 protected:
  EthGatewayTest()
      : backend_(std::make_shared<FakeBackend>()),
        gateway_(*eth::ParseAddress(kCow, "address"), backend_) {}

  nlohmann::json Call(std::string_view method, nlohmann::json params) {
    nlohmann::json request = {
        {"jsonrpc", "2.0"}, {"id", 9}, {"method", method}, {"params", params}};
    nlohmann::json reply = nlohmann::json::parse(gateway_.Handle(request.dump()));
    EXPECT_EQ(reply["id"], 9);
    EXPECT_EQ(reply["jsonrpc"], "2.0");
    return reply;
  }
  int ErrorCode(std::string_view method, nlohmann::json params) {
    nlohmann::json reply = Call(method, std::move(params));
    return reply.contains("error") ? reply["error"]["code"].get<int>() : 0;
  }

  std::shared_ptr<FakeBackend> backend_;
  EthGateway gateway_;
};

TEST_F(EthGatewayTest, Accounts) {
  EXPECT_EQ(Call("eth_accounts", nlohmann::json::array())["result"], nlohmann::json::array({kCow}));
  EXPECT_EQ(ErrorCode("eth_accounts", {1}), kInvalidParams);
}

TEST_F(EthGatewayTest, TypedDataSignatureIsCheckedAndReturned) {
  nlohmann::json mail = nlohmann::json::parse(kMail);
  EXPECT_EQ(Call("eth_signTypedData_v4", {kCow, mail})["result"], kMailSignature);
  EXPECT_EQ(Call("eth_signTypedData_v4", {kCow, std::string(kMail)})["result"], kMailSignature);
  EXPECT_EQ(backend_->calls, 2);
}

TEST_F(EthGatewayTest, ASignatureThatDoesNotRecoverToTheAddressIsAServerError) {
  // The fake returns the Mail signature for a personal message: it recovers to someone else.
  nlohmann::json reply = Call("personal_sign", {"0x68656c6c6f", kCow});
  EXPECT_EQ(reply["error"]["code"], kServerError);
  EXPECT_EQ(ErrorCode("eth_sign", {kCow, "0x68656c6c6f"}), kServerError);
}

TEST_F(EthGatewayTest, EnclaveRefusalIsAServerErrorWithItsText) {
  nlohmann::json reply = Call("eth_signTransaction", {{{"nonce", "0x0"},
                                                       {"gas", "0x5208"},
                                                       {"gasPrice", "0x1"},
                                                       {"chainId", "0x1"},
                                                       {"to", kCow},
                                                       {"value", "0x0"}}});
  EXPECT_EQ(reply["error"]["code"], kServerError);
  EXPECT_EQ(reply["error"]["message"], "enclave: unauthorized");
}

TEST_F(EthGatewayTest, BadParamsAreRefusedBeforeTheEnclaveIsAsked) {
  const std::string other = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
  EXPECT_EQ(ErrorCode("eth_sendTransaction", nlohmann::json::array()), kMethodNotFound);
  EXPECT_EQ(ErrorCode("personal_sign", {"0x68", other}), kInvalidParams);
  EXPECT_EQ(ErrorCode("personal_sign", {other, "0x68"}), kInvalidParams);  // eth_sign's order
  EXPECT_EQ(ErrorCode("personal_sign", {"hello", kCow}), kInvalidParams);  // not hex
  EXPECT_EQ(ErrorCode("personal_sign", {"0x6", kCow}), kInvalidParams);    // odd hex
  EXPECT_EQ(ErrorCode("personal_sign", {"0x68"}), kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_sign", {"0x68", kCow}), kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_sign", {"0xcd2a3d9f938e13cd947ec05abc7fe734df8dd82", "0x68"}),
            kInvalidParams);
  // Mixed case that is not the checksum.
  EXPECT_EQ(ErrorCode("eth_sign", {"0xcD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826", "0x68"}),
            kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_signTypedData_v4", {other, nlohmann::json::parse(kMail)}),
            kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_signTypedData_v4", {kCow, "{not json"}), kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_signTypedData_v4", {kCow, {{"types", 1}}}), kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_signTypedData_v4", {kCow, 5}), kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_signTransaction", {{{"nonce", "0x0"}}}), kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_signTransaction", {{{"from", other}, {"nonce", "0x0"}}}),
            kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_signTransaction", {"0x00"}), kInvalidParams);
  EXPECT_EQ(ErrorCode("eth_signTransaction", nlohmann::json::object()), kInvalidParams);
  EXPECT_EQ(backend_->calls, 0);
}

TEST_F(EthGatewayTest, ProtocolErrorsComeFromTheParser) {
  nlohmann::json reply = nlohmann::json::parse(gateway_.Handle("{"));
  EXPECT_EQ(reply["error"]["code"], kParseError);
  EXPECT_TRUE(reply["id"].is_null());
}

}  // namespace
}  // namespace lockout::gateway
