#include "src/signer/key_memory_lock.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/logger.h"
#include "src/signer/signer.h"
#include "tests/testing/memory_lock.h"

namespace lockout::signer {
namespace {

using ::testing::HasSubstr;

// Captures the default logger and starts from a fresh process record.
class KeyMemoryLockTest : public ::testing::Test {
 protected:
  KeyMemoryLockTest() {
    KeyMemoryLock::Process().ResetForTest();
    Logger::Default().SetStream(&logs_);
  }
  ~KeyMemoryLockTest() override {
    Logger::Default().SetStream(nullptr);
    KeyMemoryLock::Process().ResetForTest();
  }
  int Count(std::string_view event) const {
    const std::string text = logs_.str();
    int n = 0;
    for (size_t at = text.find(event); at != std::string::npos; at = text.find(event, at + 1)) {
      ++n;
    }
    return n;
  }
  std::ostringstream logs_;
};

TEST_F(KeyMemoryLockTest, LockedUntilARefusalIsRecorded) {
  KeyMemoryLock& record = KeyMemoryLock::Process();
  EXPECT_TRUE(record.locked());
  record.Record("pkcs8", true);
  EXPECT_TRUE(record.locked());
  EXPECT_EQ(Count("key_memory_not_locked"), 0);
  record.Record("pkcs8", false);
  record.Record("pkcs8", true);  // a later success does not hide the earlier refusal
  EXPECT_FALSE(record.locked());
}

TEST_F(KeyMemoryLockTest, RefusalIsLoggedOnceAsAnErrorNamingTheMemory) {
  KeyMemoryLock& record = KeyMemoryLock::Process();
  for (int attempt = 0; attempt < 5; ++attempt) record.Record("openssl secure heap", false);
  EXPECT_EQ(Count("key_memory_not_locked"), 1);
  EXPECT_THAT(logs_.str(), HasSubstr("\"memory\":\"openssl secure heap\""));
  EXPECT_THAT(logs_.str(), HasSubstr("\"level\":\"error\""));
  EXPECT_THAT(logs_.str(), HasSubstr("RLIMIT_MEMLOCK"));
}

TEST_F(KeyMemoryLockTest, Secp256k1ScalarThatCannotBeLockedIsReported) {
  absl::StatusOr<std::unique_ptr<Signer>> unlocked;
  {
    testing::ScopedMemoryLockDenied denied;
    ASSERT_TRUE(denied.ok()) << denied.why();
    unlocked = Signer::Generate(KeyType::kSecp256k1);
  }
  ASSERT_TRUE(unlocked.ok()) << unlocked.status();  // the key still works
  EXPECT_FALSE(KeyMemoryLock::Process().locked());
  EXPECT_EQ(Count("key_memory_not_locked"), 1);
  EXPECT_THAT(logs_.str(), HasSubstr("secp256k1 scalar"));
}

TEST_F(KeyMemoryLockTest, Secp256k1ScalarUnderANormalLimitIsLocked) {
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::Generate(KeyType::kSecp256k1);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_TRUE(KeyMemoryLock::Process().locked());
  EXPECT_EQ(Count("key_memory_not_locked"), 0);
}

}  // namespace
}  // namespace lockout::signer
