#include "src/localaws/nsm_service.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/attest/attestation_document.h"
#include "src/attest/verifier.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/logger.h"
#include "src/crypto/hash.h"
#include "src/localaws/nsm_service_ca.h"
#include "src/localaws/nsm_service_measure.h"
#include "src/localaws/nsm_service_pcrs.h"
#include "src/measure/process_image.h"
#include "src/nsm/nsm_client.h"
#include "src/nsm/nsm_message.h"
#include "src/nsm/nsm_socket_framing.h"
#include "src/nsm/unix_socket_nsm_device.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vectors.h"

namespace lockout::localaws {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kInstanceId[] = "i-0123456789abcdef0";
constexpr char kRoleArn[] = "arn:aws:iam::111122223333:role/lockout-enclave-instance";
constexpr absl::Duration kIo = absl::Seconds(10);

// ---- Independent computations (what the tests hold the service to) ----

Bytes Sha384OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  crypto::Sha384Hasher h;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n > 0)
      h.Update(ByteView(reinterpret_cast<const uint8_t*>(buf.data()), static_cast<size_t>(n)));
  }
  crypto::Sha384Digest d = h.Finish();
  return Bytes(d.begin(), d.end());
}

// SHA384(0^48 ‖ data), written out rather than through crypto::ExtendPcr.
Bytes ExtendedFromZero(ByteView data) {
  Bytes buf(48, 0);
  buf.insert(buf.end(), data.begin(), data.end());
  crypto::Sha384Digest d = crypto::Sha384(buf);
  return Bytes(d.begin(), d.end());
}

Bytes ExtendOf(ByteView old, ByteView data) {
  Bytes buf(old.begin(), old.end());
  buf.insert(buf.end(), data.begin(), data.end());
  crypto::Sha384Digest d = crypto::Sha384(buf);
  return Bytes(d.begin(), d.end());
}

Bytes ImagePcrOf(const std::string& exe_path) { return ExtendedFromZero(Sha384OfFile(exe_path)); }

const Bytes kZero48(48, 0);

// ---- Fixture plumbing ----

using ::lockout::testing::TempDir;

std::string RunCapture(const std::string& command, int* exit_code) {
  std::string out;
  FILE* f = ::popen(command.c_str(), "r");
  if (f == nullptr) {
    *exit_code = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const int status = ::pclose(f);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// A plain stream connection for sending hand-made frames.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  absl::Status Send(ByteView payload) { return nsm::WriteFrame(fd_, payload, 1 << 20, kIo); }
  absl::Status SendRaw(const Bytes& bytes) {
    if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(bytes.size())) {
      return absl::UnavailableError("send");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<nsm::NsmResponse> Receive() {
    absl::StatusOr<Bytes> frame = nsm::ReadFrame(fd_, nsm::kMaxResponseSize, kIo);
    if (!frame.ok()) return frame.status();
    return nsm::DecodeResponse(*frame);
  }
  absl::StatusOr<nsm::NsmResponse> Call(ByteView payload) {
    absl::Status sent = Send(payload);
    if (!sent.ok()) return sent;
    return Receive();
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::optional<nsm::ErrorCode> ErrorCodeOf(const absl::StatusOr<nsm::NsmResponse>& r) {
  if (!r.ok()) return std::nullopt;
  if (const auto* e = std::get_if<nsm::ErrorResponse>(&*r)) return e->code;
  return std::nullopt;
}

Bytes EncodeOrDie(const nsm::NsmRequest& request) {
  absl::StatusOr<Bytes> b = nsm::EncodeRequest(request);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : Bytes{};
}

// CBOR text string header for short strings (< 24 bytes).
void AppendText(Bytes& out, std::string_view s) {
  out.push_back(static_cast<uint8_t>(0x60 + s.size()));
  out.insert(out.end(), s.begin(), s.end());
}
void AppendByteString(Bytes& out, size_t n, uint8_t fill) {
  if (n < 24) {
    out.push_back(static_cast<uint8_t>(0x40 + n));
  } else if (n < 256) {
    out.push_back(0x58);
    out.push_back(static_cast<uint8_t>(n));
  } else {
    out.push_back(0x59);
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
  }
  out.insert(out.end(), n, fill);
}
// {"Attestation": {"user_data": h'..'|null, "nonce": ..., "public_key": ...}} by hand, so sizes
// beyond the NSM limits (which our encoder refuses) can be sent.
Bytes HandMadeAttestation(std::optional<size_t> user_data, std::optional<size_t> nonce,
                          std::optional<size_t> public_key) {
  Bytes out{0xa1};
  AppendText(out, "Attestation");
  out.push_back(0xa3);
  auto field = [&](std::string_view name, std::optional<size_t> n) {
    AppendText(out, name);
    if (n.has_value()) {
      AppendByteString(out, *n, 0x5a);
    } else {
      out.push_back(0xf6);
    }
  };
  field("user_data", user_data);
  field("nonce", nonce);
  field("public_key", public_key);
  return out;
}

class NsmServiceTest : public ::testing::Test {
 protected:
  NsmServiceTest() : clock_(absl::Now()) {}

  NsmServiceOptions Options(std::string socket_name = "nsm.sock") const {
    NsmServiceOptions o;
    o.state_dir = dir_.path() + "/state";
    o.socket_path = dir_.path() + "/" + socket_name;
    o.instance_id = kInstanceId;
    o.instance_role_arn = kRoleArn;
    return o;
  }

  std::unique_ptr<NsmService> StartOrDie(const NsmServiceOptions& o) {
    absl::StatusOr<std::unique_ptr<NsmService>> s = NsmService::Start(o, clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  void SetUp() override {
    service_ = StartOrDie(Options());
    ASSERT_NE(service_, nullptr);
  }

  std::unique_ptr<nsm::UnixSocketNsmDevice> Device(const NsmService& s) const {
    absl::StatusOr<std::unique_ptr<nsm::UnixSocketNsmDevice>> d =
        nsm::UnixSocketNsmDevice::Create(s.socket_path());
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  absl::StatusOr<attest::VerifiedAttestation> Verify(const Bytes& doc, const NsmService& s) {
    const std::vector<Bytes> roots{s.root_der()};
    return attest::VerifyAttestationDocument(doc, roots, clock_.Now());
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<NsmService> service_;
};

// ---- Measurement ----

TEST_F(NsmServiceTest, Pcr0IsTheMeasurementOfTheCallingExecutable) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  const Bytes expected = ImagePcrOf("/proc/self/exe");
  for (uint16_t i : std::initializer_list<uint16_t>{0, 1, 2}) {
    absl::StatusOr<nsm::DescribePcrResponse> pcr = client.DescribePcr(i);
    ASSERT_TRUE(pcr.ok()) << pcr.status();
    EXPECT_EQ(HexEncode(pcr->data), HexEncode(expected)) << "PCR" << i;
    EXPECT_TRUE(pcr->lock) << "PCR" << i;
  }
}

TEST_F(NsmServiceTest, Pcr3IsTheRoleArnAndPcr4TheInstanceIdAsOnAws) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  absl::StatusOr<nsm::DescribePcrResponse> pcr3 = client.DescribePcr(3);
  absl::StatusOr<nsm::DescribePcrResponse> pcr4 = client.DescribePcr(4);
  ASSERT_TRUE(pcr3.ok() && pcr4.ok());
  EXPECT_EQ(pcr3->data, ExtendedFromZero(AsBytes(kRoleArn)));
  EXPECT_EQ(pcr4->data, ExtendedFromZero(AsBytes(kInstanceId)));
}

TEST_F(NsmServiceTest, OtherBootPcrsAreZeroAndLockedAndUserPcrsAreZeroAndUnlocked) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  for (uint16_t i = 5; i < 32; ++i) {
    absl::StatusOr<nsm::DescribePcrResponse> pcr = client.DescribePcr(i);
    ASSERT_TRUE(pcr.ok()) << pcr.status();
    EXPECT_EQ(pcr->data, kZero48) << "PCR" << i;
    EXPECT_EQ(pcr->lock, i < 16) << "PCR" << i;
  }
  EXPECT_EQ(client.DescribePcr(32).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(client.DescribePcr(32).status().message()), HasSubstr("InvalidIndex"));
}

TEST_F(NsmServiceTest, ADifferentBinaryGetsADifferentPcr0) {
  const std::string python = "/usr/bin/python3";
  if (::access(python.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << python;
  const Bytes request = EncodeOrDie(nsm::DescribePcrRequest{0});
  // The request as any language would send it: 4-byte big-endian length + the CBOR.
  ASSERT_EQ(HexEncode(request), "a16b4465736372696265504352a165696e64657800");
  const std::string script = absl::StrCat(
      "import socket,struct,sys\n"
      "s=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM);s.connect(sys.argv[1])\n"
      "q=bytes.fromhex(sys.argv[2]);s.sendall(struct.pack('>I',len(q))+q)\n"
      "def rd(n):\n"
      "  b=b''\n"
      "  while len(b)<n:\n"
      "    c=s.recv(n-len(b))\n"
      "    if not c: sys.exit(3)\n"
      "    b+=c\n"
      "  return b\n"
      "print(rd(struct.unpack('>I',rd(4))[0]).hex())\n");
  const std::string script_path = dir_.path() + "/describe_pcr0.py";
  ASSERT_TRUE(WriteFileAtomic(script_path, AsBytes(script), 0644).ok());
  int rc = 0;
  std::string out = RunCapture(
      absl::StrCat(python, " ", script_path, " ", service_->socket_path(), " ", HexEncode(request)),
      &rc);
  ASSERT_EQ(rc, 0) << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  absl::StatusOr<Bytes> response_cbor = HexDecode(out);
  ASSERT_TRUE(response_cbor.ok()) << out;
  absl::StatusOr<nsm::NsmResponse> response = nsm::DecodeResponse(*response_cbor);
  ASSERT_TRUE(response.ok()) << response.status();
  const auto* pcr = std::get_if<nsm::DescribePcrResponse>(&*response);
  ASSERT_NE(pcr, nullptr);

  const std::string python_exe = std::filesystem::canonical(python).string();
  EXPECT_EQ(HexEncode(pcr->data), HexEncode(ImagePcrOf(python_exe)));
  EXPECT_NE(pcr->data, ImagePcrOf("/proc/self/exe"));
}

TEST(ExecutableMeasurerTest, HashesEachFileOnceAndMatchesTheFileBytes) {
  ExecutableMeasurer measurer;
  absl::StatusOr<ExecutableMeasurement> a = measurer.Measure(::getpid());
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<ExecutableMeasurement> b = measurer.Measure(::getpid());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(Bytes(a->sha384.begin(), a->sha384.end()), Sha384OfFile("/proc/self/exe"));
  EXPECT_EQ(a->sha384, b->sha384);
  EXPECT_EQ(measurer.files_hashed(), 1u);
  EXPECT_EQ(a->path, std::filesystem::canonical("/proc/self/exe").string());
}

TEST(ExecutableMeasurerTest, ANonexistentProcessIsNotFound) {
  ExecutableMeasurer measurer;
  // pid_max is at most 2^22 on Linux.
  EXPECT_EQ(measurer.Measure(static_cast<pid_t>(1 << 23)).status().code(),
            absl::StatusCode::kNotFound);
}

// ---- Attestation ----

TEST_F(NsmServiceTest, AttestationVerifiesAgainstTheRootAndCarriesTheRequestFields) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  const Bytes user_data = ToBytes("user data");
  const Bytes nonce = crypto::RandomBytes(32);
  const Bytes public_key = crypto::RandomBytes(91);
  absl::StatusOr<Bytes> doc = client.Attestation(user_data, nonce, public_key);
  ASSERT_TRUE(doc.ok()) << doc.status();

  absl::StatusOr<attest::VerifiedAttestation> v = Verify(*doc, *service_);
  ASSERT_TRUE(v.ok()) << v.status();
  const attest::AttestationDocument& d = v->document;
  EXPECT_EQ(d.user_data, user_data);
  EXPECT_EQ(d.nonce, nonce);
  EXPECT_EQ(d.public_key, public_key);
  EXPECT_EQ(d.digest, "SHA384");
  EXPECT_EQ(d.timestamp_ms, static_cast<uint64_t>(absl::ToUnixMillis(clock_.Now())));
  EXPECT_EQ(d.module_id, service_->module_id());
  EXPECT_THAT(d.module_id, ::testing::MatchesRegex("i-0123456789abcdef0-enc[0-9a-f]{16}"));
  ASSERT_EQ(d.cabundle.size(), 2u);
  EXPECT_EQ(d.cabundle[0], service_->root_der());
  EXPECT_EQ(d.cabundle[1], service_->intermediate_der());

  ASSERT_EQ(d.pcrs.size(), 16u);
  EXPECT_EQ(d.pcrs.at(0), ImagePcrOf("/proc/self/exe"));
  EXPECT_EQ(d.pcrs.at(1), d.pcrs.at(0));
  EXPECT_EQ(d.pcrs.at(2), d.pcrs.at(0));
  EXPECT_EQ(d.pcrs.at(3), ExtendedFromZero(AsBytes(kRoleArn)));
  EXPECT_EQ(d.pcrs.at(4), ExtendedFromZero(AsBytes(kInstanceId)));
  for (uint32_t i = 5; i < 16; ++i) EXPECT_EQ(d.pcrs.at(i), kZero48) << i;
}

TEST_F(NsmServiceTest, AttestationWithoutOptionalFieldsHasNulls) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  absl::StatusOr<Bytes> doc = client.Attestation(std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(doc.ok()) << doc.status();
  absl::StatusOr<attest::VerifiedAttestation> v = Verify(*doc, *service_);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->document.user_data.has_value());
  EXPECT_FALSE(v->document.nonce.has_value());
  EXPECT_FALSE(v->document.public_key.has_value());
}

TEST_F(NsmServiceTest, AttestationAcceptsFieldsAtTheNsmLimits) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  const Bytes user_data(512, 1), nonce(512, 2), public_key(1024, 3);
  absl::StatusOr<Bytes> doc = client.Attestation(user_data, nonce, public_key);
  ASSERT_TRUE(doc.ok()) << doc.status();
  absl::StatusOr<attest::VerifiedAttestation> v = Verify(*doc, *service_);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->document.public_key, public_key);
}

TEST_F(NsmServiceTest, OversizedAttestationFieldsAreInvalidArgument) {
  RawConnection raw(service_->socket_path());
  ASSERT_TRUE(raw.connected());
  // Sanity: the hand-made encoding is what our encoder writes for in-limit sizes.
  nsm::AttestationRequest in_limit;
  in_limit.user_data = Bytes(512, 0x5a);
  EXPECT_EQ(HandMadeAttestation(512, std::nullopt, std::nullopt), EncodeOrDie(in_limit));

  EXPECT_EQ(ErrorCodeOf(raw.Call(HandMadeAttestation(513, std::nullopt, std::nullopt))),
            nsm::ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrorCodeOf(raw.Call(HandMadeAttestation(std::nullopt, 513, std::nullopt))),
            nsm::ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrorCodeOf(raw.Call(HandMadeAttestation(std::nullopt, std::nullopt, 1025))),
            nsm::ErrorCode::kInvalidArgument);
  // An empty public key cannot go into a document (NSM spec: 1..1024 bytes).
  EXPECT_EQ(ErrorCodeOf(raw.Call(HandMadeAttestation(std::nullopt, std::nullopt, 0))),
            nsm::ErrorCode::kInvalidArgument);
  // The connection is still usable.
  absl::StatusOr<nsm::NsmResponse> ok = raw.Call(HandMadeAttestation(512, 512, 1024));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(std::holds_alternative<nsm::AttestationResponse>(*ok));
}

TEST_F(NsmServiceTest, DocumentsDoNotVerifyAgainstAnotherServicesRoot) {
  TempDir other_dir;
  NsmServiceOptions o = Options();
  o.state_dir = other_dir.path();
  o.socket_path = other_dir.path() + "/nsm.sock";
  auto other = StartOrDie(o);
  ASSERT_NE(other, nullptr);
  EXPECT_NE(other->root_der(), service_->root_der());
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  absl::StatusOr<Bytes> doc = client.Attestation(std::nullopt, ToBytes("n"), std::nullopt);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_FALSE(Verify(*doc, *other).ok());
  EXPECT_TRUE(Verify(*doc, *service_).ok());
}

TEST_F(NsmServiceTest, TheLeafIsReusedThenRotatedBeforeItExpires) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  auto leaf_now = [&]() -> Bytes {
    absl::StatusOr<Bytes> doc = client.Attestation(std::nullopt, std::nullopt, std::nullopt);
    EXPECT_TRUE(doc.ok()) << doc.status();
    if (!doc.ok()) return {};
    absl::StatusOr<attest::VerifiedAttestation> v = Verify(*doc, *service_);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? v->document.certificate : Bytes{};
  };
  const Bytes first = leaf_now();
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(leaf_now(), first);
  clock_.Advance(absl::Hours(1) + absl::Minutes(5));  // 2 h 05 of 3 h: under a third left
  const Bytes second = leaf_now();
  EXPECT_NE(second, first);
  clock_.Advance(absl::Hours(2) + absl::Minutes(30));  // the first leaf has expired by now
  const Bytes third = leaf_now();
  EXPECT_FALSE(third.empty());
}

// ---- Debug mode ----

TEST_F(NsmServiceTest, DebugModeZeroesImagePcrsButKeepsPcr3And4LikeNitro) {
  NsmServiceOptions o = Options("debug.sock");
  o.debug_mode = true;
  auto debug = StartOrDie(o);
  ASSERT_NE(debug, nullptr);
  EXPECT_EQ(debug->root_der(), service_->root_der());  // same CA, same state dir
  auto device = Device(*debug);
  nsm::NsmClient client(*device);
  absl::StatusOr<Bytes> doc = client.Attestation(std::nullopt, ToBytes("n"), std::nullopt);
  ASSERT_TRUE(doc.ok()) << doc.status();
  absl::StatusOr<attest::VerifiedAttestation> v = Verify(*doc, *debug);
  ASSERT_TRUE(v.ok()) << v.status();
  const auto& pcrs = v->document.pcrs;
  for (uint32_t i : {0u, 1u, 2u, 8u}) EXPECT_EQ(pcrs.at(i), kZero48) << i;
  EXPECT_EQ(pcrs.at(3), ExtendedFromZero(AsBytes(kRoleArn)));
  EXPECT_EQ(pcrs.at(4), ExtendedFromZero(AsBytes(kInstanceId)));
  absl::StatusOr<nsm::DescribePcrResponse> pcr0 = client.DescribePcr(0);
  ASSERT_TRUE(pcr0.ok());
  EXPECT_EQ(pcr0->data, kZero48);
}

// ---- PCRs 16..31 ----

TEST_F(NsmServiceTest, ExtendPcrChainsSha384AndShowsInDescribeAndDocuments) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  const Bytes a = ToBytes("first"), b = ToBytes("second");
  absl::StatusOr<Bytes> once = client.ExtendPcr(16, a);
  ASSERT_TRUE(once.ok()) << once.status();
  EXPECT_EQ(*once, ExtendedFromZero(a));
  absl::StatusOr<Bytes> twice = client.ExtendPcr(16, b);
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ(*twice, ExtendOf(ExtendedFromZero(a), b));
  absl::StatusOr<nsm::DescribePcrResponse> described = client.DescribePcr(16);
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->data, *twice);
  EXPECT_FALSE(described->lock);

  absl::StatusOr<Bytes> doc = client.Attestation(std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(doc.ok());
  absl::StatusOr<attest::VerifiedAttestation> v = Verify(*doc, *service_);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->document.pcrs.size(), 17u);
  EXPECT_EQ(v->document.pcrs.at(16), *twice);
}

TEST_F(NsmServiceTest, BootPcrsAreReadOnlyAndIndicesBeyond31AreInvalid) {
  RawConnection raw(service_->socket_path());
  ASSERT_TRUE(raw.connected());
  for (uint16_t i : std::initializer_list<uint16_t>{0, 3, 15}) {
    EXPECT_EQ(ErrorCodeOf(raw.Call(EncodeOrDie(nsm::ExtendPcrRequest{i, ToBytes("x")}))),
              nsm::ErrorCode::kReadOnlyIndex)
        << i;
    EXPECT_EQ(ErrorCodeOf(raw.Call(EncodeOrDie(nsm::LockPcrRequest{i}))),
              nsm::ErrorCode::kReadOnlyIndex)
        << i;
  }
  for (uint16_t i : std::initializer_list<uint16_t>{32, 255, 65535}) {
    EXPECT_EQ(ErrorCodeOf(raw.Call(EncodeOrDie(nsm::ExtendPcrRequest{i, ToBytes("x")}))),
              nsm::ErrorCode::kInvalidIndex)
        << i;
    EXPECT_EQ(ErrorCodeOf(raw.Call(EncodeOrDie(nsm::LockPcrRequest{i}))),
              nsm::ErrorCode::kInvalidIndex)
        << i;
    EXPECT_EQ(ErrorCodeOf(raw.Call(EncodeOrDie(nsm::DescribePcrRequest{i}))),
              nsm::ErrorCode::kInvalidIndex)
        << i;
  }
  EXPECT_EQ(ErrorCodeOf(raw.Call(EncodeOrDie(nsm::LockPcrsRequest{33}))),
            nsm::ErrorCode::kInvalidIndex);
}

TEST_F(NsmServiceTest, LockedPcrsRefuseExtensionAndAreListedByDescribeNsm) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  ASSERT_TRUE(client.ExtendPcr(17, ToBytes("x")).ok());
  ASSERT_TRUE(client.LockPcr(17).ok());
  absl::Status extend = client.ExtendPcr(17, ToBytes("y")).status();
  EXPECT_EQ(extend.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(extend.message()), HasSubstr("ReadOnlyIndex"));
  EXPECT_THAT(std::string(client.LockPcr(17).message()), HasSubstr("ReadOnlyIndex"));
  absl::StatusOr<nsm::DescribePcrResponse> pcr17 = client.DescribePcr(17);
  ASSERT_TRUE(pcr17.ok());
  EXPECT_TRUE(pcr17->lock);
  EXPECT_EQ(pcr17->data, ExtendedFromZero(ToBytes("x")));

  ASSERT_TRUE(client.LockPcrs(20).ok());  // locks 16..19 as well
  absl::StatusOr<nsm::DescribeNsmResponse> d = client.DescribeNsm();
  ASSERT_TRUE(d.ok()) << d.status();
  std::set<uint16_t> expected;
  for (uint16_t i = 0; i < 20; ++i) expected.insert(i);
  EXPECT_EQ(d->locked_pcrs, expected);
  EXPECT_EQ(d->max_pcrs, 32);
  EXPECT_EQ(d->version_major, 1);
  EXPECT_EQ(d->version_minor, 0);
  EXPECT_EQ(d->version_patch, 0);
  EXPECT_EQ(d->digest, nsm::Digest::kSha384);
  EXPECT_EQ(d->module_id, service_->module_id());
  EXPECT_EQ(client.ExtendPcr(18, ToBytes("z")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(NsmServiceTest, GetRandomReturns256FreshBytes) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  absl::StatusOr<SecretBytes> r1 = client.GetRandom();
  absl::StatusOr<SecretBytes> r2 = client.GetRandom();
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->size(), 256u);
  EXPECT_FALSE(r1->Equals(*r2));
}

// ---- Bad input ----

TEST_F(NsmServiceTest, GarbageFramesGetInvalidArgumentAndTheConnectionKeepsServing) {
  RawConnection raw(service_->socket_path());
  ASSERT_TRUE(raw.connected());
  const std::vector<Bytes> garbage = {
      {},                                                                         // empty frame
      {0xff},                                                                     // CBOR break
      ToBytes("{\"DescribePCR\":0}"),                                             // JSON, not CBOR
      {0x6b, 'D', 'e', 's', 'c', 'r'},                                            // truncated text
      {0xa1, 0x6b, 'D', 'e', 's', 'c', 'r', 'i', 'b', 'e', 'P', 'C', 'R', 0x00},  // wrong type
      {0x82, 0x01, 0x02},                                                         // array
      {0x9f, 0x9f, 0x9f, 0x9f, 0x9f},  // indefinite nesting
  };
  for (const Bytes& g : garbage) {
    EXPECT_EQ(ErrorCodeOf(raw.Call(g)), nsm::ErrorCode::kInvalidArgument) << HexEncode(g);
  }
  absl::StatusOr<nsm::NsmResponse> ok = raw.Call(EncodeOrDie(nsm::DescribePcrRequest{3}));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(std::holds_alternative<nsm::DescribePcrResponse>(*ok));
}

TEST_F(NsmServiceTest, EveryTruncationOfAValidRequestIsRefused) {
  RawConnection raw(service_->socket_path());
  ASSERT_TRUE(raw.connected());
  const Bytes full = EncodeOrDie(nsm::ExtendPcrRequest{20, ToBytes("data to extend")});
  for (size_t n = 0; n < full.size(); ++n) {
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(ErrorCodeOf(raw.Call(cut)), nsm::ErrorCode::kInvalidArgument) << n;
  }
  absl::StatusOr<nsm::NsmResponse> ok = raw.Call(full);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(std::holds_alternative<nsm::ExtendPcrResponse>(*ok));
}

TEST_F(NsmServiceTest, BitFlippedRequestsGetAWellFormedAnswer) {
  RawConnection raw(service_->socket_path());
  ASSERT_TRUE(raw.connected());
  nsm::AttestationRequest attest;
  attest.nonce = ToBytes("nonce");
  attest.public_key = ToBytes("key");
  const std::vector<Bytes> requests = {EncodeOrDie(attest),
                                       EncodeOrDie(nsm::ExtendPcrRequest{16, ToBytes("abc")}),
                                       EncodeOrDie(nsm::LockPcrsRequest{16})};
  for (const Bytes& request : requests) {
    for (size_t i = 0; i < request.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes flipped = request;
        flipped[i] = static_cast<uint8_t>(flipped[i] ^ (1u << bit));
        absl::StatusOr<nsm::NsmResponse> r = raw.Call(flipped);
        ASSERT_TRUE(r.ok()) << "byte " << i << " bit " << bit << ": " << r.status();
      }
    }
  }
}

TEST_F(NsmServiceTest, AnOversizedFrameIsAnsweredInputTooLargeAndTheServiceKeepsServing) {
  {
    RawConnection raw(service_->socket_path());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.SendRaw({0xff, 0xff, 0xff, 0xff}).ok());
    EXPECT_EQ(ErrorCodeOf(raw.Receive()), nsm::ErrorCode::kInputTooLarge);
    // Then the service hangs up: the stream cannot be resynchronised.
    EXPECT_EQ(raw.Receive().status().code(), absl::StatusCode::kOutOfRange);
  }
  {
    RawConnection raw(service_->socket_path());
    ASSERT_TRUE(raw.connected());
    Bytes just_over(nsm::kMaxRequestSize + 1, 0);
    EXPECT_EQ(ErrorCodeOf(raw.Call(just_over)), nsm::ErrorCode::kInputTooLarge);
  }
  {
    RawConnection raw(service_->socket_path());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.SendRaw({0x00, 0x00, 0x00, 0x10, 0xa1}).ok());  // truncated, then gone
  }
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  EXPECT_TRUE(client.DescribePcr(0).ok());
}

// True if the service closed `c` (EOF or reset) within `timeout`.
bool ClosedByPeerWithin(const RawConnection& c, absl::Duration timeout) {
  pollfd p{c.fd(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) != 1) return false;
  char byte = 0;
  return ::recv(c.fd(), &byte, 1, MSG_DONTWAIT) <= 0;
}

TEST_F(NsmServiceTest, AtTheLimitANewConnectionClosesTheLongestIdleOne) {
  NsmServiceOptions o = Options("limited.sock");
  o.max_connections = 2;
  auto limited = StartOrDie(o);
  ASSERT_NE(limited, nullptr);
  RawConnection oldest(limited->socket_path());
  ASSERT_TRUE(oldest.connected());
  ASSERT_TRUE(oldest.Call(EncodeOrDie(nsm::DescribePcrRequest{0})).ok());
  RawConnection newer(limited->socket_path());
  ASSERT_TRUE(newer.connected());
  ASSERT_TRUE(newer.Call(EncodeOrDie(nsm::DescribePcrRequest{0})).ok());
  // `oldest` answers again, so `newer` is now the one longest without an answer.
  ASSERT_TRUE(oldest.Call(EncodeOrDie(nsm::DescribePcrRequest{0})).ok());

  RawConnection fresh(limited->socket_path());
  ASSERT_TRUE(fresh.connected());
  EXPECT_TRUE(fresh.Call(EncodeOrDie(nsm::DescribePcrRequest{0})).ok());
  EXPECT_TRUE(ClosedByPeerWithin(newer, absl::Seconds(5)));
  EXPECT_TRUE(oldest.Call(EncodeOrDie(nsm::DescribePcrRequest{0})).ok());
}

TEST_F(NsmServiceTest, SilentConnectionsCannotKeepAFreshClientOut) {
  // Connections that never send a byte (what filled the socket and kept a booting enclave at
  // "nsm unavailable") are each closed in turn for a client that talks.
  NsmServiceOptions o = Options("crowded.sock");
  o.max_connections = 4;
  auto crowded = StartOrDie(o);
  ASSERT_NE(crowded, nullptr);
  std::vector<std::unique_ptr<RawConnection>> silent;
  for (int i = 0; i < 12; ++i) {
    silent.push_back(std::make_unique<RawConnection>(crowded->socket_path()));
    ASSERT_TRUE(silent.back()->connected());
  }
  for (int i = 0; i < 3; ++i) {
    auto device = Device(*crowded);
    nsm::NsmClient client(*device);
    EXPECT_TRUE(client.DescribePcr(0).ok()) << "client " << i;
  }
}

// Deadlines run on the service's clock (clock_, a FakeClock): these tests advance it instead of
// sleeping for a timeout, and wait in real time only for the next sweep (every 20 ms).
constexpr absl::Duration kSeveralSweeps = absl::Milliseconds(200);

TEST_F(NsmServiceTest, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
  NsmServiceOptions o = Options("idle.sock");
  o.idle_timeout = absl::Seconds(30);
  o.sweep_interval = absl::Milliseconds(20);
  auto idle = StartOrDie(o);
  ASSERT_NE(idle, nullptr);
  RawConnection c(idle->socket_path());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Call(EncodeOrDie(nsm::DescribePcrRequest{0})).ok());
  clock_.Advance(absl::Seconds(29));
  EXPECT_FALSE(ClosedByPeerWithin(c, kSeveralSweeps));
  ASSERT_TRUE(c.Call(EncodeOrDie(nsm::DescribePcrRequest{0})).ok());  // restarts the timer
  clock_.Advance(absl::Seconds(29));
  EXPECT_FALSE(ClosedByPeerWithin(c, kSeveralSweeps));
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(ClosedByPeerWithin(c, absl::Seconds(5)));
  // A device notices the closed connection and reconnects without a failed call.
  // The process's user PCRs survive that: a sealed PCR16 is not lost to an idle close.
  auto device = Device(*idle);
  nsm::NsmClient client(*device);
  absl::StatusOr<Bytes> sealed = client.ExtendPcr(16, ToBytes("policy"));
  ASSERT_TRUE(sealed.ok());
  ASSERT_TRUE(client.LockPcr(16).ok());
  clock_.Advance(absl::Seconds(31));
  absl::SleepFor(kSeveralSweeps);  // the service closes the device's connection meanwhile
  absl::StatusOr<nsm::DescribePcrResponse> after = client.DescribePcr(16);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->data, *sealed);
  EXPECT_TRUE(after->lock);
}

TEST_F(NsmServiceTest, ASilentConnectionIsClosedAfterTheIdleTimeout) {
  NsmServiceOptions o = Options("silent.sock");
  o.idle_timeout = absl::Seconds(30);
  o.sweep_interval = absl::Milliseconds(20);
  auto service = StartOrDie(o);
  ASSERT_NE(service, nullptr);
  {
    auto device = Device(*service);  // the executable's hash is cached from now on
    nsm::NsmClient client(*device);
    ASSERT_TRUE(client.DescribePcr(0).ok());
  }
  RawConnection c(service->socket_path());
  ASSERT_TRUE(c.connected());
  absl::SleepFor(kSeveralSweeps);  // accepted (the idle timer starts) and measured
  clock_.Advance(absl::Seconds(29));
  EXPECT_FALSE(ClosedByPeerWithin(c, kSeveralSweeps));
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(ClosedByPeerWithin(c, absl::Seconds(5)));
}

TEST_F(NsmServiceTest, AFrameThatDoesNotCompleteIsClosedAfterTheFrameTimeout) {
  NsmServiceOptions o = Options("slow.sock");
  o.frame_timeout = absl::Seconds(10);
  o.sweep_interval = absl::Milliseconds(20);
  auto service = StartOrDie(o);
  ASSERT_NE(service, nullptr);
  RawConnection c(service->socket_path());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Call(EncodeOrDie(nsm::DescribePcrRequest{0})).ok());  // measured and reading
  // A byte now and then, never a whole frame: the timeout counts from the frame's first byte.
  ASSERT_TRUE(c.SendRaw({0x00}).ok());
  for (int i = 0; i < 2; ++i) {
    absl::SleepFor(kSeveralSweeps);
    clock_.Advance(absl::Seconds(4));
    ASSERT_TRUE(c.SendRaw({0x00}).ok());
  }
  EXPECT_FALSE(ClosedByPeerWithin(c, kSeveralSweeps));
  clock_.Advance(absl::Seconds(3));  // 11 s after the first byte
  EXPECT_TRUE(ClosedByPeerWithin(c, absl::Seconds(5)));
  // Others are still served.
  auto device = Device(*service);
  nsm::NsmClient client(*device);
  EXPECT_TRUE(client.DescribePcr(0).ok());
}

TEST_F(NsmServiceTest, AnAnswerNotReadIsNotWaitedForBeyondTheFrameTimeout) {
  // A peer that keeps asking for documents (~5 KiB each) and never reads them fills the socket
  // buffers; the service's write then waits at most frame_timeout, and it reads nothing more
  // from that peer meanwhile.
  NsmServiceOptions o = Options("unread.sock");
  o.frame_timeout = absl::Seconds(10);
  o.sweep_interval = absl::Milliseconds(20);
  auto service = StartOrDie(o);
  ASSERT_NE(service, nullptr);
  RawConnection c(service->socket_path());
  ASSERT_TRUE(c.connected());
  const Bytes request = EncodeOrDie(nsm::AttestationRequest{
      Bytes(nsm::kMaxUserDataSize, 1), Bytes(nsm::kMaxNonceSize, 2), std::nullopt});
  Bytes frame{0, 0, static_cast<uint8_t>(request.size() >> 8),
              static_cast<uint8_t>(request.size() & 0xff)};
  frame.insert(frame.end(), request.begin(), request.end());
  // Requests until our own send buffer is full (a partial frame at the end is fine).
  bool full = false;
  for (int i = 0; i < 100000 && !full; ++i) {
    if (::send(c.fd(), frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
      full = errno == EAGAIN || errno == EWOULDBLOCK;
      if (!full) break;
    }
  }
  ASSERT_TRUE(full);
  // Until the answers waiting for us stop growing: the service's write is stalled.
  int waiting = -1;
  for (int i = 0; i < 200; ++i) {
    int now = 0;
    ASSERT_EQ(::ioctl(c.fd(), FIONREAD, &now), 0);
    if (now == waiting) break;
    waiting = now;
    absl::SleepFor(absl::Milliseconds(300));
  }
  // Closed, without our reading a byte (reading would let the stalled write go on). On a loaded
  // machine the service may still have been answering queued requests when the answers seemed to
  // stop growing, and a write that starts after the clock moved has a fresh deadline: so the
  // clock moves past frame_timeout again each round. A send to a closed peer fails with EPIPE
  // (or ECONNRESET) at once, full buffer or not; to a live one it is EAGAIN.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  bool closed = false;
  const char probe = 0;
  while (!closed && absl::Now() < deadline) {
    clock_.Advance(absl::Seconds(11));
    absl::SleepFor(kSeveralSweeps);
    const ssize_t n = ::send(c.fd(), &probe, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    closed = n < 0 && (errno == EPIPE || errno == ECONNRESET);
  }
  EXPECT_TRUE(closed);
}

TEST(NsmServiceOptionsTest, TheIdleTimeoutDefaultsToFiveMinutes) {
  EXPECT_EQ(NsmServiceOptions{}.idle_timeout, absl::Minutes(5));
}

// ---- Lifecycle and persistence ----

TEST_F(NsmServiceTest, StopClosesIdleConnectionsAndRemovesTheSocket) {
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  ASSERT_TRUE(client.DescribePcr(0).ok());  // an open, idle connection
  service_->Stop();
  struct stat st {};
  EXPECT_NE(::lstat(Options().socket_path.c_str(), &st), 0);
  EXPECT_FALSE(client.DescribePcr(0).ok());
  service_->Stop();  // idempotent
}

TEST_F(NsmServiceTest, RestartKeepsTheSameCaAndReplacesTheStaleSocket) {
  const Bytes root = service_->root_der();
  const Bytes intermediate = service_->intermediate_der();
  const std::string module_id = service_->module_id();
  service_.reset();
  // A stale socket file (nobody listening) where the new service wants to listen.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = Options().socket_path;
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  service_ = StartOrDie(Options());
  ASSERT_NE(service_, nullptr);
  EXPECT_EQ(service_->root_der(), root);
  EXPECT_EQ(service_->intermediate_der(), intermediate);
  EXPECT_NE(service_->module_id(), module_id);  // a new "enclave" per start

  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  absl::StatusOr<Bytes> doc = client.Attestation(std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(doc.ok());
  const std::vector<Bytes> old_root{root};
  EXPECT_TRUE(attest::VerifyAttestationDocument(*doc, old_root, clock_.Now()).ok());
}

TEST_F(NsmServiceTest, PrivateKeysArePersistedOwnerOnly) {
  const std::string ca_dir = Options().state_dir + "/nsm/";
  for (std::string_view f : {kNsmRootKeyFile, kNsmIntermediateKeyFile}) {
    struct stat st {};
    ASSERT_EQ(::stat((ca_dir + std::string(f)).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  struct stat st {};
  ASSERT_EQ(::stat(ca_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST_F(NsmServiceTest, ALiveSocketOrANonSocketFileIsNotReplaced) {
  // The running service owns Options().socket_path.
  absl::StatusOr<std::unique_ptr<NsmService>> second = NsmService::Start(Options(), clock_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  const std::string file = dir_.path() + "/not-a-socket";
  ASSERT_TRUE(WriteFileAtomic(file, ToBytes("keep me")).ok());
  NsmServiceOptions o = Options();
  o.socket_path = file;
  EXPECT_EQ(NsmService::Start(o, clock_).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> kept = ReadFileString(file);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, "keep me");
  // And the first service still answers.
  auto device = Device(*service_);
  nsm::NsmClient client(*device);
  EXPECT_TRUE(client.DescribePcr(0).ok());
}

TEST_F(NsmServiceTest, BadOptionsAreRefused) {
  auto refused = [&](auto mutate) {
    NsmServiceOptions o = Options("other.sock");
    mutate(o);
    return NsmService::Start(o, clock_).status().code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused([](NsmServiceOptions& o) { o.instance_id = ""; }));
  EXPECT_TRUE(refused([](NsmServiceOptions& o) { o.instance_id = "i-1,CN=evil"; }));
  EXPECT_TRUE(refused([](NsmServiceOptions& o) { o.socket_path = "relative.sock"; }));
  EXPECT_TRUE(refused([](NsmServiceOptions& o) { o.socket_path = "/" + std::string(200, 'a'); }));
  EXPECT_TRUE(refused([](NsmServiceOptions& o) { o.max_connections = 0; }));
  EXPECT_TRUE(refused([](NsmServiceOptions& o) { o.state_dir = ""; }));
}

TEST(NsmCertificateChainTest, ConcurrentCreationOnOneDirectoryYieldsOneRoot) {
  TempDir dir;
  FakeClock clock(absl::Now());
  const std::string ca_dir = dir.path() + "/nsm";
  std::vector<Bytes> roots(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < roots.size(); ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<std::unique_ptr<NsmCertificateChain>> c =
          NsmCertificateChain::LoadOrCreate(ca_dir, clock);
      if (c.ok()) roots[i] = (*c)->root_der();
    });
  }
  for (auto& t : threads) t.join();
  for (const Bytes& r : roots) {
    EXPECT_FALSE(r.empty());
    EXPECT_EQ(r, roots[0]);
  }
}

TEST(NsmCertificateChainTest, AnExpiringIntermediateIsReissuedUnderTheSameRoot) {
  TempDir dir;
  FakeClock clock(absl::Now());
  absl::StatusOr<std::unique_ptr<NsmCertificateChain>> first =
      NsmCertificateChain::LoadOrCreate(dir.path(), clock);
  ASSERT_TRUE(first.ok()) << first.status();
  clock.Advance(kNsmIntermediateValidity - kIntermediateRenewBefore / 2);
  absl::StatusOr<std::unique_ptr<NsmCertificateChain>> later =
      NsmCertificateChain::LoadOrCreate(dir.path(), clock);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ((*later)->root_der(), (*first)->root_der());
  EXPECT_NE((*later)->intermediate_der(), (*first)->intermediate_der());
}

TEST(NsmCertificateChainTest, ARootCertificateWithoutItsKeyIsAnErrorNotReplaced) {
  TempDir dir;
  FakeClock clock(absl::Now());
  absl::StatusOr<std::unique_ptr<NsmCertificateChain>> first =
      NsmCertificateChain::LoadOrCreate(dir.path(), clock);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(::unlink((dir.path() + "/" + std::string(kNsmRootKeyFile)).c_str()), 0);
  EXPECT_EQ(NsmCertificateChain::LoadOrCreate(dir.path(), clock).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(NsmCertificateChainTest, AGarbledKeyFileIsRefused) {
  TempDir dir;
  FakeClock clock(absl::Now());
  ASSERT_TRUE(NsmCertificateChain::LoadOrCreate(dir.path(), clock).ok());
  ASSERT_TRUE(
      WriteFileAtomic(dir.path() + "/" + std::string(kNsmRootKeyFile),
                      ToBytes("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
          .ok());
  absl::Status s = NsmCertificateChain::LoadOrCreate(dir.path(), clock).status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(std::string(kNsmRootKeyFile)));
}

// ---- Logs ----

TEST_F(NsmServiceTest, LogsNeverCarryRequestBytes) {
  std::ostringstream logs;
  Logger::Default().SetStream(&logs);
  Logger::Default().SetLevel(LogLevel::kDebug);
  const std::string canary = "c4n4ry-5ecret-d0-not-log";
  {
    auto device = Device(*service_);
    nsm::NsmClient client(*device);
    ASSERT_TRUE(client.Attestation(AsBytes(canary), AsBytes(canary), AsBytes(canary)).ok());
    ASSERT_TRUE(client.ExtendPcr(16, AsBytes(canary)).ok());
    RawConnection raw(service_->socket_path());
    ASSERT_TRUE(raw.Call(AsBytes(canary)).ok());
  }
  service_->Stop();
  Logger::Default().SetLevel(LogLevel::kInfo);
  Logger::Default().SetStream(nullptr);
  const std::string text = logs.str();
  EXPECT_THAT(text, HasSubstr("nsm_connection"));
  EXPECT_THAT(text, HasSubstr("nsm_request"));
  EXPECT_THAT(text, Not(HasSubstr(canary)));
  EXPECT_THAT(text, Not(HasSubstr(HexEncode(AsBytes(canary)))));
}

// ---- The `lockout nsm` CLI ----

class NsmCliTest : public NsmServiceTest {
 protected:
  std::string Lockout() const { return testing::BinaryDir() + "/lockout"; }
  std::string NsmFlag() const { return " --nsm unix://" + service_->socket_path(); }
};

TEST_F(NsmCliTest, AttestWritesADocumentMeasuringTheLockoutBinary) {
  const std::string out = dir_.path() + "/doc.cbor";
  const std::string key = dir_.path() + "/key.der";
  const Bytes public_key = crypto::RandomBytes(120);
  ASSERT_TRUE(WriteFileAtomic(key, public_key).ok());
  int rc = 0;
  std::string stdout_text =
      RunCapture(Lockout() + " nsm attest" + NsmFlag() + " --public-key-der " + key +
                     " --user-data-hex 0a0b --nonce-hex 00ff10 --out " + out + " 2>&1",
                 &rc);
  ASSERT_EQ(rc, 0) << stdout_text;
  absl::StatusOr<Bytes> doc = ReadFile(out);
  ASSERT_TRUE(doc.ok());
  absl::StatusOr<attest::VerifiedAttestation> v = Verify(*doc, *service_);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->document.public_key, public_key);
  EXPECT_EQ(v->document.user_data, (Bytes{0x0a, 0x0b}));
  EXPECT_EQ(v->document.nonce, (Bytes{0x00, 0xff, 0x10}));
  EXPECT_EQ(v->document.pcrs.at(0), ImagePcrOf(Lockout()));
  EXPECT_NE(v->document.pcrs.at(0), ImagePcrOf("/proc/self/exe"));
}

TEST_F(NsmCliTest, AModifiedCopyOfTheBinaryGetsADifferentPcr0) {
  const std::string copy = dir_.path() + "/lockout-modified";
  std::filesystem::copy_file(Lockout(), copy);
  {
    std::ofstream append(copy, std::ios::binary | std::ios::app);
    append << "tampered";  // trailing bytes: still a runnable ELF
  }
  std::filesystem::permissions(copy, std::filesystem::perms::owner_all);
  const std::string original_doc = dir_.path() + "/original.cbor";
  const std::string modified_doc = dir_.path() + "/modified.cbor";
  int rc = 0;
  std::string text =
      RunCapture(Lockout() + " nsm attest" + NsmFlag() + " --out " + original_doc + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << text;
  text = RunCapture(copy + " nsm attest" + NsmFlag() + " --out " + modified_doc + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << text;
  absl::StatusOr<Bytes> a = ReadFile(original_doc), b = ReadFile(modified_doc);
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<attest::VerifiedAttestation> va = Verify(*a, *service_);
  absl::StatusOr<attest::VerifiedAttestation> vb = Verify(*b, *service_);
  ASSERT_TRUE(va.ok() && vb.ok());
  EXPECT_NE(va->document.pcrs.at(0), vb->document.pcrs.at(0));
  EXPECT_EQ(vb->document.pcrs.at(0), ImagePcrOf(copy));
}

TEST_F(NsmCliTest, DescribePcrPrintsJson) {
  int rc = 0;
  std::string text = RunCapture(Lockout() + " nsm describe-pcr 4" + NsmFlag(), &rc);
  ASSERT_EQ(rc, 0) << text;
  nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["index"], 4);
  EXPECT_EQ(j["lock"], true);
  EXPECT_EQ(j["data"], HexEncode(ExtendedFromZero(AsBytes(kInstanceId))));

  text = RunCapture(Lockout() + " nsm describe-pcr 40" + NsmFlag() + " 2>&1", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_THAT(text, HasSubstr("InvalidIndex"));
}

TEST_F(NsmCliTest, UserPcrStateBelongsToTheProcessNotTheConnection) {
  auto first = Device(*service_);
  nsm::NsmClient a(*first);
  absl::StatusOr<Bytes> extended = a.ExtendPcr(16, ToBytes("x"));
  ASSERT_TRUE(extended.ok());
  ASSERT_TRUE(a.LockPcr(16).ok());
  // Another connection of this process sees the same NSM, as another fd of one enclave's /dev/nsm.
  auto second = Device(*service_);
  nsm::NsmClient b(*second);
  absl::StatusOr<nsm::DescribePcrResponse> shared = b.DescribePcr(16);
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->data, *extended);
  EXPECT_TRUE(shared->lock);
  // Another process starts from zero and unlocked, twice (each run is a new process).
  for (int run = 0; run < 2; ++run) {
    int rc = 0;
    std::string text = RunCapture(Lockout() + " nsm describe-pcr 16" + NsmFlag(), &rc);
    ASSERT_EQ(rc, 0) << text;
    nlohmann::json j = nlohmann::json::parse(text);
    EXPECT_EQ(j["data"], HexEncode(kZero48));
    EXPECT_EQ(j["lock"], false);
  }
}

TEST(ProcessPcrTableTest, OneBankPerProcessIdentity) {
  ProcessPcrTable table(8, [](const ProcessIdentity&) { return true; });
  int initialised = 0;
  auto init = [&](PcrBank&) { ++initialised; };
  const ProcessIdentity p{100, 7, {}};
  ProcessIdentity reused_pid = p;
  reused_pid.start_time = 8;
  ProcessIdentity exec_ed = p;
  exec_ed.executable_sha384[0] = 1;
  absl::StatusOr<std::shared_ptr<PcrBank>> a = table.BankOf(p, init);
  absl::StatusOr<std::shared_ptr<PcrBank>> again = table.BankOf(p, init);
  absl::StatusOr<std::shared_ptr<PcrBank>> other = table.BankOf(reused_pid, init);
  absl::StatusOr<std::shared_ptr<PcrBank>> third = table.BankOf(exec_ed, init);
  ASSERT_TRUE(a.ok() && again.ok() && other.ok() && third.ok());
  EXPECT_EQ(a->get(), again->get());
  EXPECT_NE(a->get(), other->get());
  EXPECT_NE(a->get(), third->get());
  EXPECT_EQ(initialised, 3);
  EXPECT_EQ(table.size(), 3u);
}

TEST(ProcessPcrTableTest, WhenFullExitedProcessesAreDroppedAndLiveOnesKept) {
  std::set<pid_t> alive;
  ProcessPcrTable table(4, [&](const ProcessIdentity& p) { return alive.count(p.pid) > 0; });
  auto init = [](PcrBank&) {};
  for (pid_t pid = 1; pid <= 4; ++pid) {
    alive.insert(pid);
    ASSERT_TRUE(table.BankOf({pid, 1, {}}, init).ok());
  }
  // Full of live processes: a newcomer is refused and nobody's PCRs are forgotten.
  absl::StatusOr<std::shared_ptr<PcrBank>> refused = table.BankOf({5, 1, {}}, init);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(table.size(), 4u);
  // Two exit: the newcomer gets a bank and the survivors keep theirs.
  absl::StatusOr<std::shared_ptr<PcrBank>> survivor = table.BankOf({3, 1, {}}, init);
  alive.erase(1);
  alive.erase(2);
  EXPECT_TRUE(table.BankOf({5, 1, {}}, init).ok());
  EXPECT_EQ(table.size(), 3u);
  absl::StatusOr<std::shared_ptr<PcrBank>> survivor_again = table.BankOf({3, 1, {}}, init);
  ASSERT_TRUE(survivor.ok() && survivor_again.ok());
  EXPECT_EQ(survivor->get(), survivor_again->get());
}

TEST(ProcessPcrTableTest, TheDefaultLivenessCheckReadsTheStartTime) {
  ProcessPcrTable table(1);
  auto init = [](PcrBank&) {};
  absl::StatusOr<uint64_t> start = measure::ReadStartTime(::getpid());
  ASSERT_TRUE(start.ok());
  ASSERT_TRUE(table.BankOf({::getpid(), *start + 1, {}}, init).ok());  // not this process: gone
  EXPECT_TRUE(table.BankOf({::getpid(), *start, {}}, init).ok());      // replaces it
  EXPECT_EQ(table.BankOf({::getpid(), *start + 2, {}}, init).status().code(),
            absl::StatusCode::kResourceExhausted);  // this one runs: kept
}

TEST_F(NsmCliTest, RandomPrintsTheRequestedNumberOfHexBytes) {
  int rc = 0;
  std::string text = RunCapture(Lockout() + " nsm random --bytes 300" + NsmFlag(), &rc);
  ASSERT_EQ(rc, 0) << text;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  EXPECT_EQ(text.size(), 600u);
  EXPECT_TRUE(HexDecode(text).ok());
}

TEST_F(NsmCliTest, TheSocketComesFromTheEnvironmentWhenNoFlagIsGiven) {
  int rc = 0;
  std::string text = RunCapture(
      "LOCKOUT_NSM_SOCKET=" + service_->socket_path() + " " + Lockout() + " nsm describe", &rc);
  ASSERT_EQ(rc, 0) << text;
  nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["module_id"], service_->module_id());
  EXPECT_EQ(j["max_pcrs"], 32);
}

TEST_F(NsmCliTest, UsageAndConnectionErrorsHaveDistinctExitCodes) {
  int rc = 0;
  RunCapture(Lockout() + " nsm attest" + NsmFlag() + " --nonce-hex zz --out " + dir_.path() +
                 "/x 2>/dev/null",
             &rc);
  EXPECT_EQ(rc, 2);
  std::string text = RunCapture(
      Lockout() + " nsm describe-pcr 0 --nsm unix://" + dir_.path() + "/nobody.sock 2>&1", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_THAT(text, HasSubstr("nobody.sock"));
}

}  // namespace
}  // namespace lockout::localaws
