#include "src/relay/relay_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/secret_bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/net/socket.h"

namespace lockout::relay {
namespace {

// Milliseconds left until `deadline` for poll(), at least 0, rounded up.
int PollTimeoutMs(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(left + absl::Milliseconds(1) - absl::Nanoseconds(1));
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

// Finds the first "$$$" in buf[0, size) starting the search at `from`.
std::optional<size_t> FindTerminator(ByteView buf, size_t from) {
  const std::string_view t = net::kV1Terminator;
  for (size_t i = from; i + t.size() <= buf.size(); ++i) {
    if (std::memcmp(buf.data() + i, t.data(), t.size()) == 0) return i;
  }
  return std::nullopt;
}

// Reads one v1 frame (JSON + "$$$") from `fd` into `buf` (capacity: largest payload + 3).
// Returns the payload size. The reply is read into secret memory because it carries credentials;
// src/net's FrameDecoder would keep copies in buffers nobody wipes.
absl::StatusOr<size_t> ReadReplyFrame(int fd, SecretBytes& buf, absl::Time deadline,
                                      std::string_view peer) {
  absl::Span<uint8_t> out = buf.RevealMutable();
  size_t filled = 0;
  while (true) {
    if (filled == out.size()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("relay reply from ", Absl(peer), " exceeds ", out.size() - 3, " bytes"));
    }
    pollfd pfd{fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, PollTimeoutMs(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("poll on relay connection ", Absl(peer), ": ", std::strerror(errno)));
    }
    if (ready == 0) {
      return absl::DeadlineExceededError(absl::StrCat("no complete reply from relay ", Absl(peer),
                                                      " in time (", filled, " bytes received)"));
    }
    const ssize_t n = ::recv(fd, out.data() + filled, out.size() - filled, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return absl::UnavailableError(
          absl::StrCat("reading from relay ", Absl(peer), ": ", std::strerror(errno)));
    }
    if (n == 0) {
      if (filled == 0) {
        return absl::UnavailableError(
            absl::StrCat("relay ", Absl(peer), " closed the connection without replying"));
      }
      return absl::DataLossError(absl::StrCat(
          "relay ", Absl(peer), " closed the connection mid-reply after ", filled, " bytes"));
    }
    const size_t before = filled;
    filled += static_cast<size_t>(n);
    if (out[0] != '{') {
      return absl::InvalidArgumentError("malformed relay reply: not a v1 frame");
    }
    const size_t from = before >= 2 ? before - 2 : 0;
    if (std::optional<size_t> end = FindTerminator(out.first(filled), from)) return *end;
  }
}

}  // namespace

RelayClient::RelayClient(RelayClientOptions options) : options_(std::move(options)) {}

absl::StatusOr<GetSecretReply> RelayClient::GetSecret(std::string_view secret_name) const {
  ASSIGN_OR_RETURN(std::string request,
                   EncodeGetSecretRequest(GetSecretRequest{std::string(secret_name)}));
  const std::string peer = options_.endpoint.ToString();
  ASSIGN_OR_RETURN(UniqueFd fd, net::Connect(options_.endpoint, options_.connect_timeout));
  const absl::Time deadline = absl::Now() + options_.timeout;
  RETURN_IF_ERROR(
      net::WriteFrame(fd.get(), net::FrameKind::kV1, request, options_.timeout, kMaxRequestSize));
  SecretBytes buf(options_.max_reply_size + net::kV1Terminator.size());
  ASSIGN_OR_RETURN(size_t payload_size, ReadReplyFrame(fd.get(), buf, deadline, peer));
  return DecodeReply(buf.RevealAsString().substr(0, payload_size));
}

}  // namespace lockout::relay
