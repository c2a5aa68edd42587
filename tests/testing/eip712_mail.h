#pragma once

// The EIP-712 specification's "Mail" example (assets/eip-712/Example.js), as eth_signTypedData_v4
// takes it. Its published signature is by the key keccak256("cow"), whose address is
// kEip712MailSigner ("Cow"'s wallet).

#include <string_view>

namespace lockout::testing {

inline constexpr std::string_view kEip712Mail = R"({"types": {
  "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                   {"name": "chainId", "type": "uint256"},
                   {"name": "verifyingContract", "type": "address"}],
  "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
  "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"},
           {"name": "contents", "type": "string"}]},
 "primaryType": "Mail",
 "domain": {"name": "Ether Mail", "version": "1", "chainId": 1,
            "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
 "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
             "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
             "contents": "Hello, Bob!"}})";

inline constexpr std::string_view kEip712MailSigner = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";

}  // namespace lockout::testing
