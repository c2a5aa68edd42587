// lockout_sign_bench: signature throughput, in-process and over the enclave's protocols.
//
//   lockout_sign_bench raw --key-type p256 --seconds 5 [--secure-heap]
//       one thread, one SigningContext, back-to-back signatures of a 32-byte message;
//       --secure-heap first sets up OpenSSL's secure heap exactly as lockout-enclave does (its
//       private BIGNUMs then live there), which is what the enclave's signatures cost
//   lockout_sign_bench raw --key-type secp256k1 --hd [--context reused|per-request]
//       the signer is an HD seed's child (m/44'/60'/0'/0/0), looked up in the enclave's keyring
//       (enclave::HdKeyring::SignerFor, a cache hit) before every signature, as a v2 request with
//       a path does; per-request (the default with --hd) signs through Signer::Sign, which makes
//       a SigningContext for each signature; reused keeps one (the single-key path's way);
//       pooled signs through the keyring's DerivedSigner::Sign (what the enclave does now)
//   lockout_sign_bench v2 --connect tcp://127.0.0.1:5010 --seconds 5 --window 64
//       one connection, `window` sign requests in flight (pipelined), replies counted
//   lockout_sign_bench v1 --connect tcp://127.0.0.1:5010 --seconds 5 --clients 4
//       the seed's test.py loop: a new connection per request, `clients` loops in parallel
//
// Prints one JSON line: {"mode", "key_type", "signatures", "seconds", "per_second"}. Over the
// network the first signature is verified against the enclave's public key (a benchmark of a
// server that signs garbage would be worthless).

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>

#include <array>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/crypto/openssl_util.h"
#include "src/enclave/hd_keyring.h"
#include "src/hd/seed_secret.h"
#include "src/net/socket.h"
#include "src/signer/signer.h"

namespace {

using lockout::Bytes;
using lockout::ByteView;
namespace net = lockout::net;
namespace signer = lockout::signer;

constexpr absl::Duration kIo = absl::Seconds(30);
const std::string kMessage = "lockout benchmark message 32 B!!";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "lockout_sign_bench: %s\n", what.c_str());
  std::exit(1);
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void Report(const std::string& mode, const std::string& key_type, uint64_t n, double seconds,
            double cpu_seconds = 0) {
  nlohmann::json j = {{"mode", mode},
                      {"key_type", key_type},
                      {"signatures", n},
                      {"seconds", seconds},
                      {"per_second", static_cast<double>(n) / seconds}};
  if (cpu_seconds > 0) j["cpu_seconds"] = cpu_seconds;
  std::printf("%s\n", j.dump().c_str());
}

// One thread: an HD child's signature per iteration, its signer looked up in the keyring first.
int RawHd(const std::string& key_type, double seconds, const std::string& context) {
  auto curve = lockout::hd::CurveForKeyTypeName(key_type);
  if (!curve.ok()) Die(std::string(curve.status().message()));
  lockout::SecretBytes seed(64);
  for (size_t i = 0; i < seed.size(); ++i) seed.RevealMutable()[i] = static_cast<uint8_t>(i);
  auto ring = lockout::enclave::HdKeyring::FromSeed(*curve, std::move(seed));
  if (!ring.ok()) Die(std::string(ring.status().message()));
  auto path = lockout::hd::DerivationPath::Parse(
      *curve == lockout::hd::Curve::kEd25519 ? "m/44'/60'/0'/0'/0'" : "m/44'/60'/0'/0/0");
  if (!path.ok()) Die(std::string(path.status().message()));
  const bool reuse = context == "reused";
  const ByteView message = lockout::AsBytes(kMessage);
  std::array<uint8_t, signer::kMaxSignatureSize> sig;
  const signer::Signer* ctx_signer = nullptr;
  std::unique_ptr<signer::SigningContext> ctx;
  uint64_t n = 0;
  const double cpu0 = ProcessCpuSeconds();
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  while (true) {
    for (int i = 0; i < 16; ++i) {
      if (context == "pooled") {
        auto pooled = (*ring)->DerivedFor(*path);
        if (!pooled.ok()) Die(std::string(pooled.status().message()));
        if (!(*pooled)->Sign(message, signer::SignOptions{}).ok()) Die("sign failed");
        continue;
      }
      auto derived = (*ring)->SignerFor(*path);
      if (!derived.ok()) Die(std::string(derived.status().message()));
      if (!reuse) {
        if (!(*derived)->Sign(message, signer::SignOptions{}).ok()) Die("sign failed");
        continue;
      }
      if (ctx_signer != derived->get() || ctx == nullptr) {
        auto made = (*derived)->NewContext();
        if (!made.ok()) Die(std::string(made.status().message()));
        ctx = *std::move(made);
        ctx_signer = derived->get();
      }
      if (!ctx->Sign(message, absl::MakeSpan(sig)).ok()) Die("sign failed");
    }
    n += 16;
    if (absl::Now() >= end) break;
  }
  if ((*ring)->derivations() != 1) Die("the derived signer was not cached");
  Report("raw-hd-context-" + context, key_type, n, absl::ToDoubleSeconds(absl::Now() - start),
         ProcessCpuSeconds() - cpu0);
  return 0;
}

int Raw(const std::string& key_type, double seconds, bool secure_heap) {
  // The arguments of lockout-enclave's main.cc: 256 KiB, 16-byte minimum allocations.
  if (secure_heap && CRYPTO_secure_malloc_init(size_t{1} << 18, 16) == 0) {
    Die("CRYPTO_secure_malloc_init failed");
  }
  auto type = signer::ParseKeyType(key_type);
  if (!type.ok()) Die(std::string(type.status().message()));
  auto signer = signer::Signer::Generate(*type);
  if (!signer.ok()) Die(std::string(signer.status().message()));
  auto ctx = (*signer)->NewContext();
  if (!ctx.ok()) Die(std::string(ctx.status().message()));
  std::array<uint8_t, signer::kMaxSignatureSize> sig;
  const ByteView message = lockout::AsBytes(kMessage);
  uint64_t n = 0;
  const double cpu0 = ProcessCpuSeconds();
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  while (true) {
    for (int i = 0; i < 64; ++i) {
      if (!(*ctx)->Sign(message, absl::MakeSpan(sig)).ok()) Die("sign failed");
    }
    n += 64;
    if (absl::Now() >= end) break;
  }
  Report(secure_heap ? "raw-secure-heap" : "raw", key_type, n,
         absl::ToDoubleSeconds(absl::Now() - start), ProcessCpuSeconds() - cpu0);
  return 0;
}

struct KeyInfo {
  std::string type;
  Bytes spki;
};

// The deadline for one blocking step.
absl::Time Io() { return absl::Now() + kIo; }

net::BlockingStream ConnectOrDie(const net::Endpoint& ep) {
  auto stream = net::BlockingStream::Connect(ep, Io());
  if (!stream.ok()) Die(std::string(stream.status().message()));
  return *std::move(stream);
}

nlohmann::json ReadJson(net::BlockingStream& stream, net::FrameDecoder& decoder) {
  auto f = net::ReadFrame(stream, decoder, Io());
  if (!f.ok() || !f->has_value()) Die("read failed: " + std::string(f.status().message()));
  return nlohmann::json::parse((*f)->payload);
}

KeyInfo FetchKey(const net::Endpoint& ep) {
  net::BlockingStream stream = ConnectOrDie(ep);
  if (!net::WriteFrame(stream, net::FrameKind::kV2, R"({"id":0,"op":"public_key"})", Io()).ok()) {
    Die("write failed");
  }
  net::FrameDecoder decoder;
  nlohmann::json j = ReadJson(stream, decoder);
  if (j.value("ok", false) != true) Die("public_key failed: " + j.dump());
  return {j["key_type"], *lockout::Base64Decode(j["spki_der"].get<std::string>())};
}

void CheckSignature(const KeyInfo& key, std::string_view hex) {
  auto sig = lockout::HexDecodeAllowPrefix(hex);
  if (!sig.ok()) Die("signature is not hex");
  const unsigned char* p = key.spki.data();
  lockout::crypto::EvpPkeyPtr pub(d2i_PUBKEY(nullptr, &p, static_cast<long>(key.spki.size())));
  lockout::crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = key.type == "ed25519" ? nullptr : EVP_sha256();
  if (pub == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pub.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), sig->data(), sig->size(),
                       reinterpret_cast<const unsigned char*>(kMessage.data()),
                       kMessage.size()) != 1) {
    Die("the enclave's signature does not verify");
  }
}

int V2(const net::Endpoint& ep, double seconds, int window) {
  const KeyInfo key = FetchKey(ep);
  net::BlockingStream stream = ConnectOrDie(ep);
  // The client must cost less than the server, or it measures itself: requests are prebuilt
  // (ids cycle through 0..window-1), replies are read in bulk and only the first is parsed as
  // JSON; the others are checked for their id and "ok":true by prefix.
  const std::string b64 = lockout::Base64Encode(lockout::AsBytes(kMessage));
  std::vector<std::string> requests, prefixes;
  for (int i = 0; i < window; ++i) {
    requests.push_back(
        *net::EncodeV2(nlohmann::json({{"id", i}, {"op", "sign"}, {"message", b64}}).dump()));
    prefixes.push_back("{\"id\":" + std::to_string(i) + ",\"ok\":true,");
  }
  std::string batch;
  for (const std::string& r : requests) batch += r;
  if (!stream.WriteAll(batch, Io()).ok()) Die("write failed");
  net::FrameDecoder decoder;
  std::vector<uint8_t> buf(1 << 16);
  uint64_t done = 0, sent = static_cast<uint64_t>(window);
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  bool sending = true;
  batch.clear();
  while (done < sent) {
    const absl::StatusOr<size_t> n = stream.ReadSome(absl::MakeSpan(buf), Io());
    if (!n.ok()) Die("read failed: " + std::string(n.status().message()));
    if (*n == 0) Die("connection closed");
    if (!decoder.Feed(ByteView(buf.data(), *n)).ok()) Die("bad reply framing");
    for (;;) {
      auto f = decoder.Next();
      if (!f.ok()) Die("bad reply framing");
      if (!f->has_value()) break;
      const size_t slot = done % static_cast<uint64_t>(window);
      const std::string& payload = (*f)->payload;
      if (payload.compare(0, prefixes[slot].size(), prefixes[slot]) != 0)
        Die("bad reply: " + payload);
      if (done == 0) {
        CheckSignature(key, nlohmann::json::parse(payload)["signature"].get<std::string>());
      }
      ++done;
      if (sending) {
        batch += requests[slot];
        ++sent;
      }
    }
    if (sending && absl::Now() >= end) sending = false;
    // Refill in bursts of half a window, as a pipelining client would: the window never empties,
    // and neither side pays a syscall per request.
    if (!batch.empty() && (!sending || batch.size() >= requests[0].size() * requests.size() / 2)) {
      if (!stream.WriteAll(batch, Io()).ok()) Die("write failed");
      batch.clear();
    }
  }
  Report("v2", key.type, done, absl::ToDoubleSeconds(absl::Now() - start));
  return 0;
}

int V1(const net::Endpoint& ep, double seconds, int clients) {
  const KeyInfo key = FetchKey(ep);
  const std::string request =
      "{\"bytes\": \"" + lockout::Base64Encode(lockout::AsBytes(kMessage)) + "\"}$$$";
  std::atomic<uint64_t> done{0};
  std::atomic<bool> checked{false};
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      while (absl::Now() < end) {
        net::BlockingStream stream = ConnectOrDie(ep);
        if (!stream.WriteAll(request, Io()).ok()) Die("write failed");
        net::FrameDecoder decoder;
        nlohmann::json j = ReadJson(stream, decoder);
        if (j.value("success", "") != "True") Die("sign failed: " + j.dump());
        if (!checked.exchange(true)) CheckSignature(key, j["data"].get<std::string>());
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  Report("v1", key.type, done.load(), absl::ToDoubleSeconds(absl::Now() - start));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lockout_sign_bench: signature throughput (raw, v2 pipelined, v1)"};
  app.require_subcommand(1);
  std::string key_type = "p256", connect;
  double seconds = 5;
  int window = 64, clients = 1;
  CLI::App* raw = app.add_subcommand("raw", "In-process, one thread");
  raw->add_option("--key-type", key_type)->capture_default_str();
  raw->add_option("--seconds", seconds)->capture_default_str();
  bool secure_heap = false;
  raw->add_flag("--secure-heap", secure_heap,
                "Set up OpenSSL's secure heap first, as lockout-enclave does");
  bool hd = false;
  std::string context = "per-request";
  raw->add_flag("--hd", hd, "Sign with an HD seed's child, looked up in an enclave keyring");
  raw->add_option("--context", context,
                  "With --hd: a SigningContext per signature, one reused, or the keyring's pool")
      ->check(CLI::IsMember({"per-request", "reused", "pooled"}))
      ->capture_default_str();
  CLI::App* v2 = app.add_subcommand("v2", "Pipelined v2 over one connection");
  v2->add_option("--connect", connect)->required();
  v2->add_option("--seconds", seconds)->capture_default_str();
  v2->add_option("--window", window)->capture_default_str();
  CLI::App* v1 = app.add_subcommand("v1", "The seed's protocol, a connection per request");
  v1->add_option("--connect", connect)->required();
  v1->add_option("--seconds", seconds)->capture_default_str();
  v1->add_option("--clients", clients)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (raw->parsed() && hd) return RawHd(key_type, seconds, context);
  if (raw->parsed()) return Raw(key_type, seconds, secure_heap);
  auto ep = net::Endpoint::Parse(connect);
  if (!ep.ok()) Die(std::string(ep.status().message()));
  if (v2->parsed()) return V2(*ep, seconds, window < 1 ? 1 : window);
  return V1(*ep, seconds, clients < 1 ? 1 : clients);
}
