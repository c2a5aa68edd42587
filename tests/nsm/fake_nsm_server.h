#pragma once

// An in-test stand-in for the local NSM service: listens on a Unix socket in a fresh temporary
// directory and hands each accepted connection, one at a time, to a handler on a server thread.

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace lockout::nsm::testing {

class FakeNsmServer {
 public:
  // Handles one connection; the server closes the fd afterwards.
  using Handler = std::function<void(int fd)>;

  explicit FakeNsmServer(Handler handler) : handler_(std::move(handler)) {
    std::string templ = ::testing::TempDir() + "nsmXXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    dir_ = templ;
    path_ = dir_ + "/nsm.sock";
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    EXPECT_LT(path_.size(), sizeof(addr.sun_path));
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 8), 0);
    thread_ = std::thread([this] { Serve(); });
  }

  ~FakeNsmServer() {
    // shutdown() wakes a thread blocked in accept() on Linux.
    if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
    if (!path_.empty()) unlink(path_.c_str());
    if (!dir_.empty()) rmdir(dir_.c_str());
  }

  const std::string& path() const { return path_; }
  int connections() const { return connections_.load(); }
  // Connections the server has finished with and closed.
  int closed() const { return closed_.load(); }

 private:
  void Serve() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;  // shut down
      ++connections_;
      handler_(fd);
      close(fd);
      ++closed_;
    }
  }

  Handler handler_;
  std::string dir_;
  std::string path_;
  int listen_fd_ = -1;
  std::atomic<int> connections_{0};
  std::atomic<int> closed_{0};
  std::thread thread_;
};

}  // namespace lockout::nsm::testing
