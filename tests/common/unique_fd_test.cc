#include "src/common/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace lockout {
namespace {

TEST(UniqueFdTest, ClosesOnDestructionAndReleasesOnRequest) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  { UniqueFd owned(fds[0]); }
  EXPECT_EQ(fcntl(fds[0], F_GETFD), -1);  // closed
  UniqueFd kept(fds[1]);
  const int raw = kept.release();
  EXPECT_FALSE(kept.valid());
  EXPECT_NE(fcntl(raw, F_GETFD), -1);
  close(raw);
}

TEST(UniqueFdTest, MoveTransfersOwnershipAndResetCloses) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  UniqueFd a(fds[0]);
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(b.get(), fds[0]);
  b.reset(fds[1]);
  EXPECT_EQ(fcntl(fds[0], F_GETFD), -1);  // the old one closed
  EXPECT_EQ(b.get(), fds[1]);
}

}  // namespace
}  // namespace lockout
