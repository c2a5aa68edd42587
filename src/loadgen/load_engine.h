#pragma once

// The load generator behind `lockout bench`: drives sign requests at a running lockout-enclave
// over v1 or v2 (docs/PROTOCOL.md §1-2) and measures what comes back.
//
// Model: options.connections *lanes*, spread round-robin over options.threads client threads,
// each thread with its own Boost.Asio io_context (no locks on the request path; per-thread
// figures are merged at the end).
//   * v2: a lane is one long-lived connection with up to `pipeline` requests in flight.
//   * v1: a lane opens a new connection per request (the seed's protocol), one at a time.
//   * Closed loop (no rate): a lane keeps its window full.
//   * Open loop (rate): requests start on an ArrivalSchedule; latency is measured from the
//     scheduled start, so queueing behind a full window or a reconnect counts.
// The first options.warmup is not measured; requests whose start falls in the next
// options.duration are; afterwards the run waits up to options.request_timeout for their replies
// (those still missing count as "timeout"). A failed connection fails its in-flight requests
// (counted by reason) and is re-opened after a short pause, so errors never become a hot loop.
//
// Every request signs a different message of options.message_size bytes. `verify` (if set) checks
// a uniform random sample of the measured window's signatures — each client thread keeps up to
// its share of options.verify_sample of them (reservoir sampling) — after the run, so verifying
// never slows the requests being measured. It checks min(its share, the thread's signatures).
// Memory is bounded: per connection one window of requests and replies; per thread one
// fixed-size histogram and at most its share of verify_sample signatures.
//
// Errors: RunLoad fails only if the run cannot start (InvalidArgument for bad options,
// the endpoint's resolution error, Internal if Boost.Asio throws); everything that goes wrong
// with requests is in the report.
// Thread-safety: RunLoad blocks until the run is over; `authenticator` and `verify` are called
// from every client thread at once and must be thread-safe.

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/loadgen/load_options.h"
#include "src/loadgen/load_report.h"
#include "src/loadgen/request_authenticator.h"

namespace lockout::loadgen {

// Checks one signature over `message`; non-OK = the signature does not verify (the message is a
// short reason, no data).
using SignatureVerifier = std::function<absl::Status(ByteView message, ByteView signature)>;

struct LoadHooks {
  // Decorates every v2 request; null = NoAuthentication.
  RequestAuthenticator* authenticator = nullptr;
  // Null: no signature is verified (report.verify_requested is then 0).
  SignatureVerifier verify;
};

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options, const LoadHooks& hooks,
                                   uint32_t cpu_count);

}  // namespace lockout::loadgen
