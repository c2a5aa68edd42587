#include "src/common/unique_fd.h"

#include <unistd.h>

namespace lockout {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) {
    // close() is not retried on EINTR: on Linux the descriptor is released regardless.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace lockout
