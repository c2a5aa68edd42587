// nsm_measure_probe: a small client of the local NSM socket for tests/integration/
// local_nsm_measure_test.py. It is the "genuine binary" of those tests (its PCR0 is what a policy
// would pin) and plays the attacks that need a binary to connect first and then hand over:
//
//   nsm_measure_probe --socket PATH attest PUBHEX
//       connect, ask for a document binding PUBHEX (hex of a public key), print the outcome
//   nsm_measure_probe --fd N attest PUBHEX
//       the same on an already connected descriptor N (inherited across exec)
//   nsm_measure_probe --socket PATH then-exec PROG ARG...
//       connect without close-on-exec, DescribePCR(0) so the connection is measured as this
//       binary, then exec PROG ARG... with every "{fd}" in ARG replaced by the descriptor number
//   nsm_measure_probe --socket PATH fork-attest PUBHEX
//       connect, DescribePCR(0), fork; the child asks for the document on the inherited
//       connection while this process (the one measured) stays alive until the child is done
//
// Output: one JSON line {"pcr0": HEX, "public_key": HEX} for a document, {"error": NAME} for an
// NSM error response, {"transport": MESSAGE} when the connection fails; exit 0 for a document,
// 3 for an NSM error, 4 for a transport error, 2 for usage.

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "src/attest/attestation_document.h"
#include "src/common/encoding.h"
#include "src/nsm/nsm_message.h"
#include "src/nsm/nsm_socket_framing.h"

namespace {

using lockout::Bytes;

constexpr absl::Duration kTimeout = absl::Seconds(20);

int Usage() {
  std::fprintf(stderr,
               "usage: nsm_measure_probe (--socket PATH | --fd N) attest PUBHEX\n"
               "       nsm_measure_probe --socket PATH then-exec PROG ARG...\n"
               "       nsm_measure_probe --socket PATH fork-attest PUBHEX\n");
  return 2;
}

int Connect(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);  // no SOCK_CLOEXEC: then-exec passes it on
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return -1;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  return fd;
}

// `s` as the inside of a JSON string.
std::string JsonEscaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

int Transport(const std::string& message) {
  std::printf("{\"transport\": \"%s\"}\n", JsonEscaped(message).c_str());
  return 4;
}

// Sends `request` and returns the decoded response, or prints the transport failure.
bool Call(int fd, const lockout::nsm::NsmRequest& request, lockout::nsm::NsmResponse* response,
          int* exit_code) {
  absl::StatusOr<Bytes> encoded = lockout::nsm::EncodeRequest(request);
  absl::Status written =
      encoded.ok() ? lockout::nsm::WriteFrame(fd, *encoded, lockout::nsm::kMaxRequestSize, kTimeout)
                   : encoded.status();
  if (!written.ok()) {
    *exit_code = Transport(std::string(written.message()));
    return false;
  }
  absl::StatusOr<Bytes> frame =
      lockout::nsm::ReadFrame(fd, lockout::nsm::kMaxResponseSize, kTimeout);
  if (!frame.ok()) {
    *exit_code = Transport(std::string(frame.status().message()));
    return false;
  }
  absl::StatusOr<lockout::nsm::NsmResponse> decoded = lockout::nsm::DecodeResponse(*frame);
  if (!decoded.ok()) {
    *exit_code = Transport(std::string(decoded.status().message()));
    return false;
  }
  *response = *std::move(decoded);
  return true;
}

int PrintError(const lockout::nsm::NsmResponse& r) {
  if (const auto* e = std::get_if<lockout::nsm::ErrorResponse>(&r)) {
    std::printf("{\"error\": \"%s\"}\n", std::string(lockout::nsm::ErrorCodeName(e->code)).c_str());
    return 3;
  }
  return Transport(std::string("unexpected response ") + std::string(lockout::nsm::VariantName(r)));
}

int Attest(int fd, const std::string& public_key_hex) {
  absl::StatusOr<Bytes> public_key = lockout::HexDecode(public_key_hex);
  if (!public_key.ok()) return Usage();
  lockout::nsm::AttestationRequest request;
  request.public_key = *public_key;
  lockout::nsm::NsmResponse response;
  int exit_code = 0;
  if (!Call(fd, request, &response, &exit_code)) return exit_code;
  const auto* a = std::get_if<lockout::nsm::AttestationResponse>(&response);
  if (a == nullptr) return PrintError(response);
  absl::StatusOr<lockout::attest::AttestationDocument> doc =
      lockout::attest::ParseAttestationDocument(a->document);
  if (!doc.ok()) return Transport(std::string(doc.status().message()));
  std::printf("{\"pcr0\": \"%s\", \"public_key\": \"%s\"}\n",
              lockout::HexEncode(doc->pcrs.at(0)).c_str(),
              lockout::HexEncode(doc->public_key.value_or(Bytes{})).c_str());
  return 0;
}

// DescribePCR(0): returns once the service has measured this connection.
bool Measured(int fd, int* exit_code) {
  lockout::nsm::NsmResponse response;
  if (!Call(fd, lockout::nsm::DescribePcrRequest{0}, &response, exit_code)) return false;
  if (!std::holds_alternative<lockout::nsm::DescribePcrResponse>(response)) {
    *exit_code = PrintError(response);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 3) return Usage();
  int fd = -1;
  if (args[0] == "--fd") {
    if (!absl::SimpleAtoi(args[1], &fd) || fd < 0) return Usage();
  } else if (args[0] == "--socket") {
    fd = Connect(args[1]);
    if (fd < 0) return Transport(std::string("cannot connect: ") + std::strerror(errno));
  } else {
    return Usage();
  }
  const std::string& command = args[2];
  if (command == "attest" && args.size() == 4) return Attest(fd, args[3]);

  if (command == "then-exec" && args.size() >= 4 && args[0] == "--socket") {
    int exit_code = 0;
    if (!Measured(fd, &exit_code)) return exit_code;
    std::vector<std::string> exec_args;
    for (size_t i = 3; i < args.size(); ++i) {
      exec_args.push_back(absl::StrReplaceAll(args[i], {{"{fd}", std::to_string(fd)}}));
    }
    std::vector<char*> exec_argv;
    for (std::string& a : exec_args) exec_argv.push_back(a.data());
    exec_argv.push_back(nullptr);
    ::execv(exec_argv[0], exec_argv.data());
    return Transport(std::string("exec failed: ") + std::strerror(errno));
  }

  if (command == "fork-attest" && args.size() == 4 && args[0] == "--socket") {
    int exit_code = 0;
    if (!Measured(fd, &exit_code)) return exit_code;
    std::fflush(stdout);
    const pid_t child = ::fork();
    if (child < 0) return Transport("fork failed");
    if (child == 0) {
      const int rc = Attest(fd, args[3]);
      std::fflush(stdout);
      ::_exit(rc);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 4;
  }
  return Usage();
}
