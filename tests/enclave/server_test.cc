#include "src/enclave/server.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/crypto/hash.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/request_handler.h"
#include "src/signer/signer.h"
#include "tests/enclave/enclave_test_util.h"

namespace lockout::enclave {
namespace {

using testing::Client;
using testing::FakeNsmDevice;
using testing::VerifySignature;

// Polls `done` every 5 ms for at most 10 s (a bound on a failing test, not a sleep).
template <typename F>
bool WaitFor(F done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Lets the server run a few sweeps (of 5 ms in the tests that set it) on the current fake time.
void LetSweepsRun() { absl::SleepFor(absl::Milliseconds(60)); }

std::string SignFrame(const nlohmann::json& id, std::string_view message) {
  return *net::EncodeV2(
      nlohmann::json({{"id", id}, {"op", "sign"}, {"message", Base64Encode(AsBytes(message))}})
          .dump());
}

// The seed's test.py, byte for byte: json.dumps({"bytes": b64}) + "$$$" on a new connection,
// recv until "$$$", strip it, json.loads.
nlohmann::json SeedTestPy(const net::Endpoint& ep, std::string_view message) {
  Client c = Client::Connect(ep);
  // A plain blocking socket, like Python's.
  fcntl(c.fd(), F_SETFL, fcntl(c.fd(), F_GETFL) & ~O_NONBLOCK);
  c.Send("{\"bytes\": \"" + Base64Encode(AsBytes(message)) + "\"}$$$");
  std::string response;
  char buf[1024];
  while (response.find("$$$") == std::string::npos) {
    const ssize_t n = recv(c.fd(), buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  EXPECT_TRUE(response.size() >= 3 && response.substr(response.size() - 3) == "$$$") << response;
  response.resize(response.size() - 3);
  return nlohmann::json::parse(response, nullptr, false);
}

class ServerTest : public ::testing::Test {
 protected:
  void StartWith(signer::KeyType type, int threads = 2, ServerOptions options = {}) {
    auto signer = signer::Signer::Generate(type);
    ASSERT_TRUE(signer.ok()) << signer.status();
    spki_ = (*signer)->public_key_der();
    ed25519_ = type == signer::KeyType::kEd25519;
    keys_ = KeyManager::WithSigner(*std::move(signer));
    StartServer(threads, options);
  }
  void StartServer(int threads, ServerOptions options) {
    handler_ = std::make_unique<RequestHandler>(*keys_, &nsm_);
    options.listen = *net::Endpoint::Parse("tcp://127.0.0.1:0");
    options.threads = threads;
    auto server = Server::Start(options, *handler_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  const net::Endpoint& ep() const { return server_->local_endpoint(); }

  bool Verifies(std::string_view message, std::string_view hex_sig) {
    auto sig = HexDecodeAllowPrefix(hex_sig);
    return sig.ok() && VerifySignature(spki_, ed25519_, AsBytes(message), *sig);
  }

  FakeNsmDevice nsm_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<RequestHandler> handler_;
  std::unique_ptr<Server> server_;
  Bytes spki_;
  bool ed25519_ = false;
};

TEST_F(ServerTest, SeedTestPyGetsAVerifiableSignatureOnEveryNewConnection) {
  StartWith(signer::KeyType::kP521);
  for (int i = 0; i < 3; ++i) {
    nlohmann::json reply = SeedTestPy(ep(), "Hello, sign this message!");
    ASSERT_TRUE(reply.is_object()) << reply;
    EXPECT_EQ(reply["success"], "True");
    const std::string data = reply["data"];
    ASSERT_EQ(data.rfind("0x", 0), 0u);
    EXPECT_TRUE(Verifies("Hello, sign this message!", data));
  }
}

TEST_F(ServerTest, V1ReplyHasTheSeedsExactShapeAndTheConnectionIsClosedAfterIt) {
  StartWith(signer::KeyType::kP256);
  Client c = Client::Connect(ep());
  c.Send("{\"bytes\": \"" + Base64Encode(AsBytes("m")) + "\"}$$$");
  auto frame = c.Read();
  ASSERT_TRUE(frame.ok() && frame->has_value()) << frame.status();
  EXPECT_EQ((*frame)->kind, net::FrameKind::kV1);
  EXPECT_EQ((*frame)->payload.rfind("{\"success\": \"True\", \"data\": \"0x", 0), 0u);
  EXPECT_TRUE(c.ReadsEof());
}

TEST_F(ServerTest, V1BadRequestsGetTheSeedsErrorShapeAndTheServerKeepsServing) {
  StartWith(signer::KeyType::kP256);
  for (std::string_view bad : {"{\"bytes\": \"not base64!\"}$$$", "{\"nope\": 1}$$$",
                               "{\"bytes\": 5}$$$", "{not json}$$$", "{\"bytes\": \"QQ==\"$$$"}) {
    Client c = Client::Connect(ep());
    c.Send(bad);
    nlohmann::json reply = c.ReadJson();
    EXPECT_EQ(reply["success"], "False") << bad;
    EXPECT_EQ(reply["error"], "Error: bad request") << bad;
  }
  nlohmann::json ok = SeedTestPy(ep(), "still here");
  EXPECT_EQ(ok["success"], "True");
}

TEST_F(ServerTest, V2PipelinedSignRequestsAreAnsweredInOrderWithTheirIds) {
  StartWith(signer::KeyType::kSecp256k1);
  Client c = Client::Connect(ep());
  std::string batch;
  constexpr int kN = 200;
  for (int i = 0; i < kN; ++i) {
    nlohmann::json req = {
        {"id", i % 2 == 0 ? nlohmann::json(i) : nlohmann::json("s" + std::to_string(i))},
        {"op", "sign"},
        {"message", Base64Encode(AsBytes("msg " + std::to_string(i)))}};
    batch += *net::EncodeV2(req.dump());
  }
  c.Send(batch);
  for (int i = 0; i < kN; ++i) {
    nlohmann::json reply = c.ReadJson();
    ASSERT_TRUE(reply.is_object());
    const nlohmann::json want_id =
        i % 2 == 0 ? nlohmann::json(i) : nlohmann::json("s" + std::to_string(i));
    EXPECT_EQ(reply["id"], want_id);
    EXPECT_EQ(reply["ok"], true);
    EXPECT_TRUE(Verifies("msg " + std::to_string(i), reply["signature"].get<std::string>()));
  }
}

TEST_F(ServerTest, V2PublicKeyAndHealthDescribeTheLoadedKey) {
  StartWith(signer::KeyType::kEd25519);
  Client c = Client::Connect(ep());
  c.SendV2({{"id", 1}, {"op", "public_key"}});
  c.SendV2({{"id", 2}, {"op", "health"}});
  nlohmann::json pk = c.ReadJson();
  EXPECT_EQ(pk["id"], 1);
  EXPECT_EQ(pk["key_type"], "ed25519");
  EXPECT_EQ(Base64Decode(pk["spki_der"].get<std::string>()).value_or(Bytes{}), spki_);
  EXPECT_EQ(pk["public_key_pem"].get<std::string>().rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  EXPECT_EQ(pk["public_key_raw"].get<std::string>().size(), 64u);
  nlohmann::json health = c.ReadJson();
  EXPECT_EQ(health["id"], 2);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["key_type"], "ed25519");
  EXPECT_EQ(health["pcr0"], HexEncode(nsm_.pcr0));
}

TEST_F(ServerTest, V2AttestBindsTheSigningKeyAndTheClientNonce) {
  StartWith(signer::KeyType::kP384);
  Client c = Client::Connect(ep());
  const Bytes nonce = ToBytes("client nonce 123");
  c.SendV2({{"id", "a"}, {"op", "attest"}, {"nonce", Base64Encode(nonce)}});
  nlohmann::json reply = c.ReadJson();
  ASSERT_EQ(reply["ok"], true) << reply;
  auto doc = attest::ParseAttestationDocument(
      Base64Decode(reply["document"].get<std::string>()).value_or(Bytes{}));
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->public_key, spki_);
  const crypto::Sha256Digest h = crypto::Sha256(spki_);
  EXPECT_EQ(doc->user_data, Bytes(h.begin(), h.end()));
  EXPECT_EQ(doc->nonce, nonce);
  EXPECT_EQ(reply["spki_sha256"], HexEncode(ByteView(h.data(), h.size())));
}

TEST_F(ServerTest, V2AttestWithAnOversizedNonceIsABadRequest) {
  StartWith(signer::KeyType::kP256);
  Client c = Client::Connect(ep());
  const int calls_before = nsm_.calls.load();  // the handler read PCR0 once at start
  c.SendV2({{"id", 1}, {"op", "attest"}, {"nonce", Base64Encode(Bytes(513, 1))}});
  nlohmann::json reply = c.ReadJson();
  EXPECT_EQ(reply["ok"], false);
  EXPECT_EQ(reply["error"], "bad request");
  EXPECT_EQ(nsm_.calls.load(), calls_before);
}

TEST_F(ServerTest, V2AttestWhenTheNsmFailsIsAGenericErrorAndTheConnectionLives) {
  StartWith(signer::KeyType::kP256);
  nsm_.down = true;
  Client c = Client::Connect(ep());
  c.SendV2({{"id", 1}, {"op", "attest"}});
  c.SendV2({{"id", 2}, {"op", "sign"}, {"message", Base64Encode(AsBytes("x"))}});
  EXPECT_EQ(c.ReadJson()["error"], "attestation unavailable");
  EXPECT_EQ(c.ReadJson()["ok"], true);
}

TEST_F(ServerTest, V2MalformedRequestsGetClearErrorsAndTheConnectionKeepsServing) {
  StartWith(signer::KeyType::kP256);
  Client c = Client::Connect(ep());
  struct Case {
    std::string payload;
    nlohmann::json id;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"not json", nullptr, "bad request"},
      {"[1,2]", nullptr, "bad request"},
      {R"({"id":7})", 7, "bad request"},
      {R"({"id":7,"op":5})", 7, "bad request"},
      {R"({"id":8,"op":"frobnicate"})", 8, "unknown op"},
      {R"({"id":9,"op":"sign"})", 9, "bad request"},
      {R"({"id":10,"op":"sign","message":"%%%"})", 10, "bad request"},
      {R"({"id":{"x":1},"op":"health"})", nullptr, "bad request"},
      {R"({"id":")" + std::string(300, 'x') + R"(","op":"health"})", nullptr, "bad request"},
      {"", nullptr, "bad request"},
  };
  for (const Case& k : cases) c.Send(*net::EncodeV2(k.payload));
  for (const Case& k : cases) {
    nlohmann::json reply = c.ReadJson();
    EXPECT_EQ(reply["ok"], false) << k.payload;
    EXPECT_EQ(reply["id"], k.id) << k.payload;
    EXPECT_EQ(reply["error"], k.error) << k.payload;
  }
  c.SendV2({{"id", "after"}, {"op", "sign"}, {"message", Base64Encode(AsBytes("x"))}});
  EXPECT_EQ(c.ReadJson()["ok"], true);
}

TEST_F(ServerTest, OversizedV2FrameIsRefusedBeforeItsBodyAndOthersAreServed) {
  ServerOptions options;
  options.max_frame_size = 4096;
  StartWith(signer::KeyType::kP256, 1, options);
  Client big = Client::Connect(ep());
  big.Send(std::string("\x00\x10\x00\x00", 4));  // claims 1 MiB
  nlohmann::json reply = big.ReadJson();
  EXPECT_EQ(reply["error"], "frame too large");
  EXPECT_TRUE(big.ReadsEof());
  EXPECT_EQ(SeedTestPy(ep(), "fine")["success"], "True");
}

TEST_F(ServerTest, OversizedV1FrameGetsAV1ErrorAndIsClosed) {
  ServerOptions options;
  options.max_frame_size = 1024;
  StartWith(signer::KeyType::kP256, 1, options);
  Client c = Client::Connect(ep());
  c.Send("{\"bytes\": \"" + std::string(4000, 'A'));
  nlohmann::json reply = c.ReadJson();
  EXPECT_EQ(reply["success"], "False");
  EXPECT_EQ(reply["error"], "Error: frame too large");
}

TEST_F(ServerTest, GarbageIsABadFrameAndTheServerKeepsServing) {
  StartWith(signer::KeyType::kP256);
  Client c = Client::Connect(ep());
  c.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  nlohmann::json reply = c.ReadJson();
  EXPECT_EQ(reply["error"], "bad frame");
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_EQ(SeedTestPy(ep(), "fine")["success"], "True");
}

TEST_F(ServerTest, TruncatedFramesThenCloseDoNotDisturbTheServer) {
  StartWith(signer::KeyType::kP256, 1);
  const std::string v2 = *net::EncodeV2(R"({"id":1,"op":"health"})");
  const std::string v1 = "{\"bytes\": \"QQ==\"}$$$";
  for (const std::string& full : {v2, v1}) {
    for (size_t cut = 1; cut < full.size(); cut += 3) {
      Client c = Client::Connect(ep());
      c.Send(full.substr(0, cut));
      shutdown(c.fd(), SHUT_WR);
      EXPECT_TRUE(c.ReadsEof()) << "cut at " << cut;
    }
  }
  EXPECT_EQ(SeedTestPy(ep(), "fine")["success"], "True");
}

TEST_F(ServerTest, V1AndV2ShareThePort) {
  StartWith(signer::KeyType::kP256);
  Client v2 = Client::Connect(ep());
  v2.SendV2({{"id", 1}, {"op", "sign"}, {"message", Base64Encode(AsBytes("two"))}});
  EXPECT_EQ(SeedTestPy(ep(), "one")["success"], "True");
  nlohmann::json reply = v2.ReadJson();
  EXPECT_TRUE(Verifies("two", reply["signature"].get<std::string>()));
}

TEST_F(ServerTest, ASlowClientDoesNotStallAnotherOnTheSameWorker) {
  StartWith(signer::KeyType::kP256, /*threads=*/1);
  // Half a frame, then silence.
  Client slow = Client::Connect(ep());
  slow.Send(std::string("\x00\x00\x00\x40{\"id\":", 10));
  // A client that pipelines a lot and reads nothing for now.
  Client hog = Client::Connect(ep());
  std::string batch;
  for (int i = 0; i < 2000; ++i) {
    batch +=
        *net::EncodeV2(nlohmann::json({{"id", i}, {"op", "sign"}, {"message", "QQ=="}}).dump());
  }
  std::thread writer([&] { hog.Send(batch); });
  Client fast = Client::Connect(ep());
  for (int i = 0; i < 20; ++i) {
    fast.SendV2({{"id", i}, {"op", "health"}});
    EXPECT_EQ(fast.ReadJson()["id"], i);
  }
  EXPECT_EQ(SeedTestPy(ep(), "seed client too")["success"], "True");
  // Now the hog reads everything it asked for.
  for (int i = 0; i < 2000; ++i) {
    nlohmann::json r = hog.ReadJson();
    ASSERT_EQ(r["id"], i);
  }
  writer.join();
}

TEST_F(ServerTest, AStalledFrameIsClosedAfterTheFrameTimeout) {
  ServerOptions options;
  options.frame_timeout = absl::Milliseconds(300);
  StartWith(signer::KeyType::kP256, 1, options);
  Client slow = Client::Connect(ep());
  slow.Send(std::string("\x00\x00\x00\x40{", 5));
  EXPECT_TRUE(slow.ReadsEof());  // within the client's 10 s read deadline
}

TEST_F(ServerTest, ManyConcurrentClientsAllGetValidSignatures) {
  StartWith(signer::KeyType::kP256, 2);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      Client c = Client::Connect(ep());
      for (int i = 0; i < 10; ++i) {
        const std::string m = "t" + std::to_string(t) + "i" + std::to_string(i);
        c.SendV2({{"id", i}, {"op", "sign"}, {"message", Base64Encode(AsBytes(m))}});
        nlohmann::json r = c.ReadJson();
        if (r["id"] == i && Verifies(m, r["signature"].get<std::string>())) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 160);
}

TEST_F(ServerTest, ManyV1ClientsOnManyThreadsAllGetTheirReply) {
  // v1 connections come and go fast; each new one may reuse the event loop's state of one just
  // closed, and must not inherit its hang-up (a spurious wake-up once closed fresh connections).
  StartWith(signer::KeyType::kP256, 2);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  constexpr int kClients = 4;
  constexpr int kEach = 400;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string m = absl::StrCat("t", t, "i", i);
        Client c = Client::Connect(ep());
        c.Send("{\"bytes\": \"" + Base64Encode(AsBytes(m)) + "\"}$$$");
        nlohmann::json reply = c.ReadJson();
        if (reply.is_object() && reply["success"] == "True" &&
            Verifies(m, reply["data"].get<std::string>())) {
          ++good;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), kClients * kEach);
}

TEST_F(ServerTest, ConnectionsOverTheLimitAreClosedAndOthersStillWork) {
  ServerOptions options;
  options.max_connections = 2;
  StartWith(signer::KeyType::kP256, 1, options);
  Client a = Client::Connect(ep());
  Client b = Client::Connect(ep());
  a.SendV2({{"id", 1}, {"op", "health"}});
  b.SendV2({{"id", 1}, {"op", "health"}});
  EXPECT_EQ(a.ReadJson()["ok"], true);
  EXPECT_EQ(b.ReadJson()["ok"], true);
  Client c = Client::Connect(ep());
  auto r = c.Read();
  EXPECT_TRUE(!r.ok() || !r->has_value());  // closed (EOF or reset)
  a.SendV2({{"id", 2}, {"op", "health"}});
  EXPECT_EQ(a.ReadJson()["id"], 2);
}

// Deadlines are checked against the injected clock: these tests advance a FakeClock instead of
// waiting for the timeouts.
class ServerClockTest : public ServerTest {
 protected:
  ServerOptions FakeTimeOptions() {
    ServerOptions options;
    options.clock = &clock_;
    options.sweep_interval = absl::Milliseconds(5);
    return options;
  }
  // The server reads clock_, which (a member of this subclass) is destroyed before it.
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
  }
  FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
};

TEST_F(ServerClockTest, IdleTimeoutCountsCompleteFramesNotBytes) {
  ServerOptions options = FakeTimeOptions();
  options.idle_timeout = absl::Seconds(60);
  StartWith(signer::KeyType::kP256, 2, options);
  Client trickler = Client::Connect(ep());
  Client worker = Client::Connect(ep());
  ASSERT_TRUE(WaitFor([&] { return server_->connections() == 2; }));
  for (int step = 1; step <= 5; ++step) {  // 50 s of fake time, one space every 10 s
    clock_.Advance(absl::Seconds(10));
    trickler.Send(" ");
    worker.SendV2({{"id", step}, {"op", "health"}});
    EXPECT_EQ(worker.ReadJson()["id"], step);
  }
  LetSweepsRun();
  EXPECT_EQ(server_->connections(), 2);  // 50 s < 60 s: nobody is idle yet
  clock_.Advance(absl::Seconds(15));     // the trickler: 65 s without a frame; the worker: 15 s
  EXPECT_TRUE(trickler.ReadsEof());
  worker.SendV2({{"id", "still"}, {"op", "health"}});
  EXPECT_EQ(worker.ReadJson()["id"], "still");
}

TEST_F(ServerClockTest, AStartedFrameMustCompleteWithinTheFrameTimeout) {
  ServerOptions options = FakeTimeOptions();
  options.frame_timeout = absl::Seconds(10);
  StartWith(signer::KeyType::kP256, 1, options);
  Client slow = Client::Connect(ep());
  slow.Send(std::string("\x00\x00\x00\x40{", 5));
  // The frame is timed from when the server reads its first bytes (their buffer is charged).
  ASSERT_TRUE(WaitFor([&] { return server_->buffered_bytes() > 0; }));
  LetSweepsRun();
  clock_.Advance(absl::Seconds(9));
  LetSweepsRun();
  EXPECT_EQ(server_->connections(), 1);
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(slow.ReadsEof());
  EXPECT_TRUE(WaitFor([&] { return server_->connections() == 0; }));
}

TEST_F(ServerClockTest, APeerThatDoesNotReadItsRepliesIsClosedAfterTheWriteTimeout) {
  ServerOptions options = FakeTimeOptions();
  options.write_timeout = absl::Seconds(5);
  options.idle_timeout = absl::Hours(1);
  options.frame_timeout = absl::Hours(1);
  StartWith(signer::KeyType::kP256, 2, options);
  // ~500-byte replies to ~40-byte requests: 20,000 of them fill every socket buffer on the way.
  Client hog = Client::Connect(ep());
  std::string batch;
  for (int i = 0; i < 20000; ++i) {
    batch += *net::EncodeV2(nlohmann::json({{"id", i}, {"op", "public_key"}}).dump());
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    // The server stops reading once its replies back up; this gives up when it is closed.
    for (size_t at = 0; at < batch.size() && !stop.load();) {
      const ssize_t n =
          send(hog.fd(), batch.data() + at, batch.size() - at, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        at += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        return;
      } else {
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
  });
  Client reader = Client::Connect(ep());
  ASSERT_TRUE(WaitFor([&] { return server_->connections() == 2; }));
  // One fake second per step; the reader keeps working throughout.
  int steps = 0;
  for (; steps < 200 && server_->connections() == 2; ++steps) {
    clock_.Advance(absl::Seconds(1));
    reader.SendV2({{"id", steps}, {"op", "health"}});
    EXPECT_EQ(reader.ReadJson()["id"], steps);
    absl::SleepFor(absl::Milliseconds(20));
  }
  stop = true;
  writer.join();
  EXPECT_EQ(server_->connections(), 1) << "the hog was not closed after " << steps << " steps";
  EXPECT_GT(steps, 5);  // not before its output had been stuck for the write timeout
  reader.SendV2({{"id", "after"}, {"op", "health"}});
  EXPECT_EQ(reader.ReadJson()["id"], "after");
}

TEST_F(ServerTest, RepliesStayInRequestOrderWhenWorkersFinishOutOfOrder) {
  StartWith(signer::KeyType::kP256, /*threads=*/4);
  // The attest waits 300 ms in the NSM (on the blocking pool) while the workers answer the
  // requests after it: they finish first, and must still be written after it.
  nsm_.attest_delay_ms = 300;
  std::string batch;
  std::vector<nlohmann::json> ids;
  for (int i = 0; i < 1200; ++i) {
    const nlohmann::json id = i % 3 == 0 ? nlohmann::json(i) : nlohmann::json(absl::StrCat("r", i));
    ids.push_back(id);
    if (i == 10 || i == 700) {
      batch += *net::EncodeV2(nlohmann::json({{"id", id}, {"op", "attest"}}).dump());
    } else if (i % 50 == 7) {
      batch += *net::EncodeV2(nlohmann::json({{"id", id}, {"op", "health"}}).dump());
    } else {
      batch += SignFrame(id, absl::StrCat("m", i));
    }
  }
  Client c = Client::Connect(ep());
  std::thread writer([&] { c.Send(batch); });
  for (int i = 0; i < 1200; ++i) {
    nlohmann::json reply = c.ReadJson();
    ASSERT_EQ(reply["id"], ids[static_cast<size_t>(i)]) << "reply " << i;
    ASSERT_EQ(reply["ok"], true) << reply;
    if (reply.contains("signature")) {
      EXPECT_TRUE(Verifies(absl::StrCat("m", i), reply["signature"].get<std::string>())) << i;
    }
  }
  writer.join();
  EXPECT_GE(nsm_.max_attesting.load(), 1);
}

TEST_F(ServerTest, RequestsInFlightPerConnectionAreBoundedInNumber) {
  // Attests wait 100 ms each in the NSM; the pool could run 4 at once, the connection may have
  // only 2 in flight.
  ServerOptions options;
  options.blocking_threads = 4;
  options.max_in_flight = 2;
  StartWith(signer::KeyType::kP256, 2, options);
  nsm_.attest_delay_ms = 100;
  Client c = Client::Connect(ep());
  std::string batch;
  for (int i = 0; i < 12; ++i) {
    batch += *net::EncodeV2(nlohmann::json({{"id", i}, {"op", "attest"}}).dump());
  }
  c.Send(batch);
  for (int i = 0; i < 12; ++i) {
    nlohmann::json reply = c.ReadJson();
    EXPECT_EQ(reply["id"], i);
    EXPECT_EQ(reply["ok"], true) << reply;
  }
  EXPECT_EQ(nsm_.max_attesting.load(), 2);
}

TEST_F(ServerTest, WithoutALowBoundThePoolRunsOneConnectionsAttestsTogether) {
  // The control for the test above: the same load with the default bound uses the whole pool.
  ServerOptions options;
  options.blocking_threads = 4;
  StartWith(signer::KeyType::kP256, 2, options);
  nsm_.attest_delay_ms = 100;
  Client c = Client::Connect(ep());
  std::string batch;
  for (int i = 0; i < 12; ++i) {
    batch += *net::EncodeV2(nlohmann::json({{"id", i}, {"op", "attest"}}).dump());
  }
  c.Send(batch);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(c.ReadJson()["id"], i);
  EXPECT_GT(nsm_.max_attesting.load(), 2);
}

TEST_F(ServerTest, RequestsInFlightPerConnectionAreBoundedInBytes) {
  ServerOptions options;
  options.blocking_threads = 4;
  options.max_in_flight_bytes = 1;  // one request at a time, whatever its size
  StartWith(signer::KeyType::kP256, 2, options);
  nsm_.attest_delay_ms = 50;
  Client c = Client::Connect(ep());
  std::string batch;
  for (int i = 0; i < 8; ++i) {
    batch += *net::EncodeV2(nlohmann::json({{"id", i}, {"op", "attest"}}).dump());
  }
  c.Send(batch);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(c.ReadJson()["id"], i);
  EXPECT_EQ(nsm_.max_attesting.load(), 1);
}

// Pipelines rounds of 64 sign requests on one connection until `done` or 300 rounds.
template <typename F>
int PipelineUntil(Client& c, F done) {
  int round = 0;
  for (; round < 300 && !done(); ++round) {
    std::string batch;
    for (int i = 0; i < 64; ++i) batch += SignFrame(i, "m");
    c.Send(batch);
    for (int i = 0; i < 64; ++i) {
      nlohmann::json reply = c.ReadJson();
      if (reply["id"] != i || reply["ok"] != true) {
        ADD_FAILURE() << reply;
        return round;
      }
    }
  }
  return round;
}

TEST_F(ServerTest, OnePipelinedConnectionIsSignedByEveryWorker) {
  StartWith(signer::KeyType::kP256, /*threads=*/2);
  Client c = Client::Connect(ep());
  const int rounds =
      PipelineUntil(c, [&] { return handler_->stats().max_workers_one_connection() >= 2; });
  EXPECT_EQ(handler_->stats().max_workers_one_connection(), 2) << "after " << rounds << " rounds";
  c.SendV2({{"id", "h"}, {"op", "health"}});
  EXPECT_EQ(c.ReadJson()["max_workers_one_connection"], 2);
}

TEST_F(ServerTest, OneWorkerSignsAloneAndHealthSaysSo) {
  StartWith(signer::KeyType::kP256, /*threads=*/1);
  Client c = Client::Connect(ep());
  PipelineUntil(c, [&, n = 0]() mutable { return ++n > 20; });
  c.SendV2({{"id", "h"}, {"op", "health"}});
  EXPECT_EQ(c.ReadJson()["max_workers_one_connection"], 1);
}

// A manager whose loader never succeeds: requests fail fast and health says why.
TEST(ServerKeyNotLoadedTest, RequestsFailWithKeyNotLoadedAndHealthSaysWhy) {
  KeyManagerOptions options;
  options.mode = LoadMode::kBoot;
  options.initial_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(20);
  KeyManager keys(
      [](LoadFailure* f) -> absl::StatusOr<std::unique_ptr<signer::Signer>> {
        absl::Status s = absl::UnavailableError("relay: connection refused");
        *f = LoadFailure{s, "relay unavailable", RetryClass::kTransient};
        return s;
      },
      options);
  keys.Start();
  RequestHandler handler(keys, nullptr);
  ServerOptions server_options;
  server_options.listen = *net::Endpoint::Parse("tcp://127.0.0.1:0");
  auto server = Server::Start(server_options, handler);
  ASSERT_TRUE(server.ok());
  const net::Endpoint ep = (*server)->local_endpoint();

  nlohmann::json v1 = SeedTestPy(ep, "m");
  EXPECT_EQ(v1["success"], "False");
  EXPECT_EQ(v1["error"], "Error: key not loaded");

  Client c = Client::Connect(ep);
  // The first attempt may not have finished yet; poll health until it reports the reason.
  nlohmann::json health;
  for (int i = 0; i < 500; ++i) {
    c.SendV2({{"id", i}, {"op", "health"}});
    health = c.ReadJson();
    if (health["reason"] == "relay unavailable") break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(health["status"], "loading");
  EXPECT_EQ(health["reason"], "relay unavailable");
  EXPECT_EQ(health["detail"], "relay: connection refused");  // the whole cause, for operators
  c.SendV2({{"id", "p"}, {"op", "public_key"}});
  EXPECT_EQ(c.ReadJson()["error"], "key not loaded");
  c.SendV2({{"id", "a"}, {"op", "attest"}});
  EXPECT_EQ(c.ReadJson()["error"], "key not loaded");
}

}  // namespace
}  // namespace lockout::enclave
