#include "src/relay/relay_client.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/secret_bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/net/blocking_stream.h"
#include "src/net/socket.h"

namespace lockout::relay {
namespace {

// Finds the first "$$$" in buf[0, size) starting the search at `from`.
std::optional<size_t> FindTerminator(ByteView buf, size_t from) {
  const std::string_view t = net::kV1Terminator;
  for (size_t i = from; i + t.size() <= buf.size(); ++i) {
    if (std::memcmp(buf.data() + i, t.data(), t.size()) == 0) return i;
  }
  return std::nullopt;
}

// Reads one v1 frame (JSON + "$$$") from `stream` into `buf` (capacity: largest payload + 3).
// Returns the payload size. The reply is read into secret memory because it carries credentials;
// src/net's FrameDecoder would keep copies in buffers nobody wipes.
absl::StatusOr<size_t> ReadReplyFrame(net::BlockingStream& stream, SecretBytes& buf,
                                      absl::Time deadline) {
  absl::Span<uint8_t> out = buf.RevealMutable();
  const std::string& peer = stream.peer();
  size_t filled = 0;
  while (true) {
    if (filled == out.size()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("relay reply from ", peer, " exceeds ", out.size() - 3, " bytes"));
    }
    absl::StatusOr<size_t> n = stream.ReadSome(out.subspan(filled), deadline);
    if (!n.ok()) {
      if (absl::IsDeadlineExceeded(n.status())) {
        return absl::DeadlineExceededError(absl::StrCat("no complete reply from relay ", peer,
                                                        " in time (", filled, " bytes received)"));
      }
      return n.status();
    }
    if (*n == 0) {
      if (filled == 0) {
        return absl::UnavailableError(
            absl::StrCat("relay ", peer, " closed the connection without replying"));
      }
      return absl::DataLossError(absl::StrCat(
          "relay ", peer, " closed the connection mid-reply after ", filled, " bytes"));
    }
    const size_t before = filled;
    filled += *n;
    if (out[0] != '{') {
      return absl::InvalidArgumentError("malformed relay reply: not a v1 frame");
    }
    const size_t from = before >= 2 ? before - 2 : 0;
    if (std::optional<size_t> end = FindTerminator(out.first(filled), from)) return *end;
  }
}

}  // namespace

RelayClient::RelayClient(RelayClientOptions options) : options_(std::move(options)) {}

namespace {

// One request frame out, one v1 reply frame back (into secret memory: a get_secret reply carries
// credentials); returns the reply payload's size within `buf`.
absl::StatusOr<size_t> Exchange(const RelayClientOptions& options, std::string_view request,
                                SecretBytes& buf, size_t max_request = kMaxRequestSize) {
  const Clock& clock = *options.clock;
  ASSIGN_OR_RETURN(
      net::BlockingStream stream,
      net::BlockingStream::Connect(options.endpoint, clock.Now() + options.connect_timeout, clock));
  const absl::Time deadline = clock.Now() + options.timeout;
  RETURN_IF_ERROR(net::WriteFrame(stream, net::FrameKind::kV1, request, deadline, max_request + 8));
  return ReadReplyFrame(stream, buf, deadline);
}

}  // namespace

absl::StatusOr<GetSecretReply> RelayClient::GetSecret(std::string_view secret_name) const {
  ASSIGN_OR_RETURN(std::string request,
                   EncodeGetSecretRequest(GetSecretRequest{std::string(secret_name)}));
  SecretBytes buf(options_.max_reply_size + net::kV1Terminator.size());
  ASSIGN_OR_RETURN(size_t payload_size, Exchange(options_, request, buf));
  return DecodeReply(buf.RevealAsString().substr(0, payload_size));
}

absl::StatusOr<std::string> RelayClient::GetSigningPolicy() const {
  SecretBytes buf(options_.max_reply_size + net::kV1Terminator.size());
  ASSIGN_OR_RETURN(size_t payload_size, Exchange(options_, EncodeGetSigningPolicyRequest(), buf));
  return DecodeGetSigningPolicyReply(buf.RevealAsString().substr(0, payload_size));
}

absl::StatusOr<size_t> RelayClient::AppendAudit(const std::vector<std::string>& lines) const {
  ASSIGN_OR_RETURN(std::string request, EncodeAppendAuditRequest(lines));
  // The reply is a few bytes and carries nothing secret; the buffer is sized for it alone.
  SecretBytes buf(std::min(options_.max_reply_size, size_t{4096}) + net::kV1Terminator.size());
  ASSIGN_OR_RETURN(size_t payload_size, Exchange(options_, request, buf, kMaxAuditRequestSize));
  ASSIGN_OR_RETURN(size_t appended,
                   DecodeAppendAuditReply(buf.RevealAsString().substr(0, payload_size)));
  if (appended != lines.size()) {
    return absl::DataLossError(
        absl::StrCat("relay appended ", appended, " of ", lines.size(), " audit lines"));
  }
  return appended;
}

absl::StatusOr<size_t> RelayClient::AppendLog(const AppendLogRequest& request) const {
  ASSIGN_OR_RETURN(std::string text, EncodeAppendLogRequest(request));
  SecretBytes buf(std::min(options_.max_reply_size, size_t{4096}) + net::kV1Terminator.size());
  ASSIGN_OR_RETURN(size_t payload_size, Exchange(options_, text, buf));
  return DecodeAppendLogReply(buf.RevealAsString().substr(0, payload_size));
}

absl::StatusOr<GetCredentialsReply> RelayClient::GetCredentials() const {
  SecretBytes buf(options_.max_reply_size + net::kV1Terminator.size());
  ASSIGN_OR_RETURN(size_t payload_size, Exchange(options_, EncodeGetCredentialsRequest(), buf));
  return DecodeGetCredentialsReply(buf.RevealAsString().substr(0, payload_size));
}

absl::StatusOr<std::string> RelayClient::PutSecret(std::string_view secret_name,
                                                   ByteView secret) const {
  ASSIGN_OR_RETURN(std::string request,
                   EncodePutSecretRequest(PutSecretRequest{
                       std::string(secret_name), Bytes(secret.begin(), secret.end())}));
  SecretBytes buf(std::min(options_.max_reply_size, size_t{4096}) + net::kV1Terminator.size());
  ASSIGN_OR_RETURN(size_t payload_size, Exchange(options_, request, buf));
  return DecodePutSecretReply(buf.RevealAsString().substr(0, payload_size));
}

}  // namespace lockout::relay
