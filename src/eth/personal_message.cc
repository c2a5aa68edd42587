#include "src/eth/personal_message.h"

#include <string>

namespace lockout::eth {

crypto::Keccak256Digest PersonalMessageHash(ByteView message) {
  std::string prefixed =
      "\x19"
      "Ethereum Signed Message:\n" +
      std::to_string(message.size());
  prefixed.append(message.begin(), message.end());
  return crypto::Keccak256(AsBytes(prefixed));
}

}  // namespace lockout::eth
