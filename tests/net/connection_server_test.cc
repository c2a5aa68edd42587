#include "src/net/connection_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/write.hpp"
#include "gtest/gtest.h"

namespace lockout::net {
namespace {

namespace asio = boost::asio;

constexpr int kWaitMs = 10'000;  // generous: a bound on a failing test, never a sleep

// A test client: a blocking TCP socket with a receive timeout (plain POSIX, so the test does not
// depend on the layer it tests).
class Client {
 public:
  explicit Client(const Endpoint& server) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(server.port()));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return connected_; }
  bool Send(std::string_view s) {
    return send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Up to `n` bytes, or until EOF; waits at most kWaitMs in all.
  std::string Read(size_t n) {
    std::string out;
    while (out.size() < n) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, kWaitMs) <= 0) break;
      char buf[256];
      const ssize_t got = recv(fd_, buf, std::min(sizeof(buf), n - out.size()), 0);
      if (got <= 0) break;
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }
  // True once the server closed the connection (EOF or reset) within kWaitMs.
  bool SeesClose() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, kWaitMs) <= 0) return false;
    char c;
    return recv(fd_, &c, 1, 0) <= 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Shared observations of the connections a test server made.
struct Journal {
  std::atomic<int> started{0};
  std::atomic<int> closed{0};
  std::mutex mu;
  std::vector<std::string> reasons;
};

// Echoes what it reads, a byte at a time; counts activity; closes itself when idle past a deadline
// checked in Sweep (the server's clock).
class EchoConnection final : public Connection {
 public:
  EchoConnection(StreamSocket socket, Journal& journal, absl::Time opened,
                 absl::Duration idle_timeout)
      : Connection(std::move(socket)),
        journal_(journal),
        last_(opened),
        idle_timeout_(idle_timeout) {}
  ~EchoConnection() override = default;

  absl::Time last_activity() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return busy_ ? absl::InfiniteFuture() : last_;
  }

 protected:
  void Start() override {
    journal_.started.fetch_add(1);
    ReadOne();
  }
  void Sweep(absl::Time now) override {
    if (now - last_activity() > idle_timeout_) Close("idle");
  }
  void OnClosed(std::string_view why) override {
    std::lock_guard<std::mutex> lock(journal_.mu);
    journal_.reasons.emplace_back(why);
    journal_.closed.fetch_add(1);
  }

 private:
  void ReadOne() {
    asio::async_read(socket(), asio::buffer(&byte_, 1),
                     [self = shared_from_this(), this](boost::system::error_code ec, size_t) {
                       if (ec) {
                         Close("peer closed");
                         return;
                       }
                       {
                         std::lock_guard<std::mutex> lock(mu_);
                         last_ = server().clock().Now();
                         busy_ = byte_ == 'B';  // "a request in progress" until the next byte
                       }
                       asio::async_write(socket(), asio::buffer(&byte_, 1),
                                         [self, this](boost::system::error_code wec, size_t) {
                                           if (wec) {
                                             Close("write failed");
                                             return;
                                           }
                                           ReadOne();
                                         });
                     });
  }

  Journal& journal_;
  char byte_ = 0;
  mutable std::mutex mu_;
  absl::Time last_;
  bool busy_ = false;
  const absl::Duration idle_timeout_;
};

struct Fixture {
  explicit Fixture(ConnectionServerOptions options, absl::Duration idle_timeout = absl::Hours(1)) {
    absl::StatusOr<Listener> l = Listen(*Endpoint::Parse("tcp://127.0.0.1:0"));
    EXPECT_TRUE(l.ok()) << l.status();
    if (options.clock == &Clock::Real()) options.clock = &clock;
    options.sweep_interval = absl::Milliseconds(20);
    auto made = ConnectionServer::Start(
        *std::move(l),
        [this, idle_timeout](StreamSocket s) -> std::shared_ptr<Connection> {
          return std::make_shared<EchoConnection>(std::move(s), journal, clock.Now(), idle_timeout);
        },
        std::move(options));
    EXPECT_TRUE(made.ok()) << made.status();
    server = *std::move(made);
  }
  // Waits (bounded) until `pred` holds.
  template <typename Pred>
  static bool Eventually(Pred pred) {
    for (int i = 0; i < kWaitMs / 5; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  }

  FakeClock clock{absl::FromUnixSeconds(1'000'000)};
  Journal journal;
  std::unique_ptr<ConnectionServer> server;
};

TEST(ConnectionServerTest, RejectsBadOptions) {
  for (ConnectionServerOptions o :
       {ConnectionServerOptions{.threads = 0}, ConnectionServerOptions{.max_connections = 0},
        ConnectionServerOptions{.sweep_interval = absl::ZeroDuration()},
        ConnectionServerOptions{.clock = nullptr}}) {
    absl::StatusOr<Listener> l = Listen(*Endpoint::Parse("tcp://127.0.0.1:0"));
    ASSERT_TRUE(l.ok());
    auto s = ConnectionServer::Start(
        *std::move(l), [](StreamSocket) { return std::shared_ptr<Connection>(); }, o);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ConnectionServerTest, ServesManyClientsAtOnce) {
  Fixture f(ConnectionServerOptions{.threads = 2});
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<Client>(f.server->local_endpoint()));
    ASSERT_TRUE(clients.back()->connected());
  }
  for (size_t i = 0; i < 20; ++i) ASSERT_TRUE(clients[i]->Send(absl::StrCat("hello ", i % 10)));
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(clients[i]->Read(7), absl::StrCat("hello ", i % 10));
  EXPECT_EQ(f.server->connections(), 20);
  clients.clear();
  EXPECT_TRUE(Fixture::Eventually([&] { return f.server->connections() == 0; }));
  EXPECT_EQ(f.journal.closed.load(), 20);
}

TEST(ConnectionServerTest, RefusesPastTheCapWithTheReply) {
  Fixture f(ConnectionServerOptions{.max_connections = 2, .refusal_reply = "full\n"});
  Client a(f.server->local_endpoint()), b(f.server->local_endpoint());
  ASSERT_TRUE(a.Send("a") && b.Send("b"));
  ASSERT_EQ(a.Read(1), "a");
  ASSERT_EQ(b.Read(1), "b");
  Client c(f.server->local_endpoint());
  EXPECT_EQ(c.Read(100), "full\n");  // then EOF
  // The first two are untouched.
  ASSERT_TRUE(a.Send("x"));
  EXPECT_EQ(a.Read(1), "x");
  EXPECT_EQ(f.journal.started.load(), 2);
}

TEST(ConnectionServerTest, EvictsTheLongestIdleWhenFull) {
  Fixture f(ConnectionServerOptions{.max_connections = 2,
                                    .when_full = ConnectionServerOptions::WhenFull::kEvictIdlest});
  Client a(f.server->local_endpoint());
  ASSERT_TRUE(a.Send("a"));
  ASSERT_EQ(a.Read(1), "a");
  f.clock.Advance(absl::Seconds(5));
  Client b(f.server->local_endpoint());
  ASSERT_TRUE(b.Send("b"));
  ASSERT_EQ(b.Read(1), "b");  // b was active after a
  Client c(f.server->local_endpoint());
  ASSERT_TRUE(c.Send("c"));
  EXPECT_EQ(c.Read(1), "c");
  EXPECT_TRUE(a.SeesClose());
  ASSERT_TRUE(b.Send("b"));
  EXPECT_EQ(b.Read(1), "b");
  // The peer sees the close before OnClosed has run (the socket is closed first).
  ASSERT_TRUE(Fixture::Eventually([&] { return f.journal.closed.load() == 1; }));
  std::lock_guard<std::mutex> lock(f.journal.mu);
  EXPECT_EQ(f.journal.reasons, std::vector<std::string>{std::string(kEvictedReason)});
}

TEST(ConnectionServerTest, NeverEvictsABusyConnectionAndRefusesTheNewcomerInstead) {
  Fixture f(ConnectionServerOptions{.max_connections = 2,
                                    .when_full = ConnectionServerOptions::WhenFull::kEvictIdlest,
                                    .refusal_reply = "full\n"});
  Client a(f.server->local_endpoint()), b(f.server->local_endpoint());
  ASSERT_TRUE(a.Send("B") && b.Send("B"));  // both busy
  ASSERT_EQ(a.Read(1), "B");
  ASSERT_EQ(b.Read(1), "B");
  Client c(f.server->local_endpoint());
  EXPECT_EQ(c.Read(100), "full\n");
  ASSERT_TRUE(b.Send("b"));  // b is idle now: the next newcomer evicts it, not busy a
  ASSERT_EQ(b.Read(1), "b");
  Client d(f.server->local_endpoint());
  ASSERT_TRUE(d.Send("d"));
  EXPECT_EQ(d.Read(1), "d");
  EXPECT_TRUE(b.SeesClose());
  ASSERT_TRUE(a.Send("a"));
  EXPECT_EQ(a.Read(1), "a");
}

TEST(ConnectionServerTest, SweepDeadlinesFollowTheInjectedClock) {
  Fixture f(ConnectionServerOptions{}, /*idle_timeout=*/absl::Minutes(2));
  Client a(f.server->local_endpoint());
  ASSERT_TRUE(a.Send("a"));
  ASSERT_EQ(a.Read(1), "a");
  // Many sweeps pass in real time; the fake clock has not moved, so nothing is idle.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(a.Send("b"));
  ASSERT_EQ(a.Read(1), "b");
  // Two fake minutes later the next sweep closes it: no real two minutes spent.
  f.clock.Advance(absl::Minutes(2) + absl::Seconds(1));
  EXPECT_TRUE(a.SeesClose());
  ASSERT_TRUE(Fixture::Eventually([&] { return f.journal.closed.load() == 1; }));
  std::lock_guard<std::mutex> lock(f.journal.mu);
  EXPECT_EQ(f.journal.reasons, std::vector<std::string>{"idle"});
}

TEST(ConnectionServerTest, StopClosesEveryConnectionAndFreesIt) {
  auto f = std::make_unique<Fixture>(ConnectionServerOptions{.threads = 2});
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<Client>(f->server->local_endpoint()));
    ASSERT_TRUE(clients.back()->Send("z"));
    ASSERT_EQ(clients.back()->Read(1), "z");
  }
  std::vector<std::weak_ptr<Connection>> weak;
  for (const auto& c : f->server->Snapshot()) weak.push_back(c);
  ASSERT_EQ(weak.size(), 5u);
  f->server->Stop();
  f->server->Stop();  // idempotent
  EXPECT_EQ(f->journal.closed.load(), 5);
  EXPECT_EQ(f->server->connections(), 0);
  for (auto& c : clients) EXPECT_TRUE(c->SeesClose());
  f->server.reset();  // pending handlers go with the io_context
  for (const auto& w : weak) EXPECT_TRUE(w.expired());
}

// Work posted to executor() runs on every thread: two jobs from one connection's strand run at
// the same time on a two-thread server (each waits, bounded, for the other to start).
TEST(ConnectionServerTest, WorkFromOneConnectionRunsOnEveryThread) {
  Fixture f(ConnectionServerOptions{.threads = 2});
  Client a(f.server->local_endpoint());
  ASSERT_TRUE(a.Send("a"));
  ASSERT_EQ(a.Read(1), "a");
  std::vector<std::shared_ptr<Connection>> open = f.server->Snapshot();
  ASSERT_EQ(open.size(), 1u);
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  std::set<std::thread::id> threads;
  std::atomic<int> overlapped{0};
  auto job = [&] {
    std::unique_lock<std::mutex> lock(mu);
    ++running;
    threads.insert(std::this_thread::get_id());
    cv.notify_all();
    if (cv.wait_for(lock, std::chrono::milliseconds(kWaitMs), [&] { return running == 2; })) {
      overlapped.fetch_add(1);
    }
  };
  asio::post(open[0]->strand(), [&, ex = f.server->executor()] {
    asio::post(ex, job);
    asio::post(ex, job);
  });
  ASSERT_TRUE(Fixture::Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return running == 2;
  }));
  ASSERT_TRUE(Fixture::Eventually([&] { return overlapped.load() == 2; }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(threads.size(), 2u);
}

TEST(ConnectionServerTest, CloseByIdRunsOnTheConnectionsStrand) {
  Fixture f(ConnectionServerOptions{});
  Client a(f.server->local_endpoint());
  ASSERT_TRUE(a.Send("a"));
  ASSERT_EQ(a.Read(1), "a");
  const uint64_t id = f.server->Snapshot().at(0)->id();
  f.server->Close(id, "budget");
  f.server->Close(id + 1000, "no such connection");  // ignored
  EXPECT_TRUE(a.SeesClose());
  EXPECT_TRUE(Fixture::Eventually([&] { return f.server->connections() == 0; }));
  std::lock_guard<std::mutex> lock(f.journal.mu);
  EXPECT_EQ(f.journal.reasons, std::vector<std::string>{"budget"});
}

}  // namespace
}  // namespace lockout::net
