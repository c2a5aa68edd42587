#pragma once

// The local NSM service: answers the CBOR messages of /dev/nsm (nsm/nsm_message.h) on a Unix
// socket, each message framed as a 4-byte big-endian length + the exact CBOR bytes
// (nsm/nsm_socket_framing.h), so any language can talk to it.
//
// Measurement. It measures the calling process itself: at accept, SO_PEERCRED gives the peer's
// pid and /proc/PID/exe the file it runs (nsm_service_measure.h). Per connection:
//   PCR0 = SHA384(0^48 ‖ SHA384(exe bytes))   (measure/local_pcr0.h; a modified binary gets a
//                                              different PCR0)
//   PCR1 = PCR2 = PCR0                         stand-ins: there is no kernel or ramdisk locally,
//                                              and a policy on PCR1/PCR2 should still bind the
//                                              binary rather than be trivially satisfiable
//   PCR3 = SHA384(0^48 ‖ instance role ARN)    as on AWS (zero if there is no role)
//   PCR4 = SHA384(0^48 ‖ instance id)          as on AWS
//   PCR5..15 zero (PCR8: no EIF signing certificate); PCR0..15 are locked, as after boot.
// PCRs 16..31 start zero and unlocked and can be extended (SHA384(old ‖ data)) and locked. Their
// state is per process — the nearest local analogue of one enclave's NSM — and shared by all its
// connections, so a process that reconnects keeps its sealed PCR16 while another process starts
// from zero (nsm_service_pcrs.h; at most 4096 live processes).
// Debug mode: PCR0, PCR1, PCR2 and PCR8 read as zero (in documents and DescribePCR) while PCR3
// and PCR4 keep their values — what real debug-mode documents show
// (shared/vectors/attestation/index.json: evervault debug documents).
//
// Guests (docs/RUN-ENCLAVE.md). A connection from a QEMU that `lockout run-enclave` started (a
// configured emulator binary, options.guest_emulators) is the guest's NSM stream: it gets the
// PCR0/1/2 (and PCR8) of the EIF that QEMU booted, computed from the EIF itself, under the rules
// of qemu/guest_measure.h (run-enclave's exact arguments, sealed memfds holding the EIF and the
// very kernel and ramdisks QEMU loaded, not traced); any other process running such a binary is
// refused. Per request: sent by that pid, same start time, still not traced.
//
// Vouching (not in debug mode). The executable's PCR0 is only given to a process that runs
// nothing but that executable and root-owned system libraries (measure/process_image.h: no LD_*
// loader variables, no preloaded, substituted or patched code, not traced). Every request is
// checked again: its bytes must have been sent by the connecting pid (SO_PASSCRED /
// SCM_CREDENTIALS, so a fork or a process the socket was passed to is refused), and that pid must
// still be the same process (start time) running the same executable (so connect-then-exec is
// refused) and pass the rules. A refused request is answered InvalidOperation, logged
// (nsm_connection_refused / nsm_request_refused with the reason) and the connection is closed.
// What this still cannot see is listed in docs/LOCAL-AWS.md ("What local measurement cannot
// see"); this service is a development stand-in, not a security boundary on its own.
//
// Requests (errors as the Nitro NSM returns them, see also QEMU's virtio-nsm):
//   DescribePCR{index}     index >= 32: InvalidIndex
//   ExtendPCR{index,data}  index >= 32: InvalidIndex; locked (incl. 0..15): ReadOnlyIndex
//   LockPCR{index}         index >= 32: InvalidIndex; already locked: ReadOnlyIndex
//   LockPCRs{range}        range > 32: InvalidIndex; locks [0, range)
//   DescribeNSM            version 1.0.0, max_pcrs 32, locked_pcrs, SHA384, module_id
//   GetRandom              256 random bytes (as the Nitro NSM)
//   Attestation            user_data <= 512, nonce <= 512, public_key <= 1024 bytes, else
//                          InvalidArgument. A COSE_Sign1/ES384 document (attest/builder.h):
//                          module_id, digest SHA384, timestamp = clock now (ms), pcrs 0..15 plus
//                          every extended or locked PCR >= 16, certificate = leaf, cabundle =
//                          [root, intermediate] (root first, as on AWS).
//   anything undecodable   InvalidArgument, and the connection stays usable (framing intact)
//   frame over 4 KiB       InputTooLarge, then the connection is closed (the stream cannot be
//                          resynchronised)
//
// Certificates (nsm_service_ca.h): a P-384 root and intermediate persist in <state_dir>/nsm/;
// a leaf valid `leaf_validity` (AWS: ~3 h) is issued at start and reissued when less than a
// third of its validity is left. module_id is "<instance_id>-enc<16 hex>", fixed per start.
//
// Socket: a stale socket file (nobody listening) is replaced; a live one is an error; the file
// gets `socket_mode` (default 0666: answers describe the caller's own binary, so socket
// permissions add nothing; put the socket in a private directory to restrict it) before anything
// is served (a connection made before the mode was set is closed unanswered), and Stop removes it
// if it is still ours.
//
// Serving: on the one event layer (net::ConnectionServer, Asio) with one I/O thread; the work that
// blocks (measuring the caller, vouching for it again per request, signing documents) runs on a
// pool of `worker_threads` (common/blocking_pool.h) and its answer is posted back to the
// connection. A connection has at most one job at a time and the pool queues at most
// 2 * max_connections, so memory stays bounded. When it is full (a burst of connections; jobs of
// evicted connections still queued) the job is submitted again at every sweep for up to
// `frame_timeout`; after that the caller is refused (nsm_connection_refused), or the request is
// answered InternalError (nsm_busy; the Nitro NSM has no "busy") and the connection stays usable.
// At most `max_connections` are open: a connection beyond the cap closes the open connection that
// has gone longest without an answer (accepted but silent, or idle between requests; never one
// whose request is being answered: if every open connection is answering one, the newcomer is
// refused instead), logged as nsm_connection_evicted, so that a fresh client — an enclave
// booting next to stale connections — is served. A frame must complete within
// `frame_timeout` once its first byte arrives, and an answer must be read within it; a
// connection idle between frames (or silent after connecting) is closed after `idle_timeout`
// (default 5 minutes). Deadlines are checked every `sweep_interval` against the service's clock,
// so tests advance a FakeClock instead of sleeping. When accept fails (out of descriptors or
// memory) the service stops accepting for 100 ms, doubling to 1 s, and logs nsm_accept_failed at
// most once per 10 s. UnixSocketNsmDevice reconnects on its next call when its connection was
// closed.
//
// Logs (JSON lines): connections with pid, executable path and PCR0; refusals with the pid and
// the rule broken; requests at debug level with Describe(request) (sizes only). Never
// documents, user data, nonces, keys or environment values.
//
// Thread-safety: Start/Stop/accessors may be called from any thread; Stop is idempotent. Stop
// must not be called from a job of the service itself.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/bytes.h"
#include "src/common/clock.h"

namespace lockout::localaws {

struct NsmServiceOptions {
  std::string state_dir;    // CA chain in <state_dir>/nsm
  std::string socket_path;  // Unix socket to serve on (a stale file is replaced)
  std::string instance_id;  // 1..64 of [A-Za-z0-9-], e.g. "i-0123456789abcdef0"
  std::string instance_role_arn;
  bool debug_mode = false;
  int max_connections = 64;
  // Extensions.
  unsigned socket_mode = 0666;
  absl::Duration leaf_validity = absl::Hours(3);
  absl::Duration frame_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(300);  // InfiniteDuration(): never
  // Threads measuring callers and answering requests (1..256).
  int worker_threads = 2;
  // How often deadlines are checked.
  absl::Duration sweep_interval = absl::Milliseconds(250);
  // Guests: a connecting process running one of these (its resolved executable path) is taken
  // for a QEMU that `lockout run-enclave` started, and gets its EIF's PCRs if it passes
  // qemu/guest_measure.h's rules (refused otherwise). Empty: no guests.
  std::vector<std::string> guest_emulators = {"/usr/bin/qemu-system-x86_64"};
};

class NsmConnection;

class NsmService {
 public:
  // Loads or creates the CA, issues a leaf, binds the socket and starts serving.
  // `clock` must outlive the service. Errors: InvalidArgument (options), FailedPrecondition/
  // Unavailable (CA files, socket in use or not creatable), Internal (OpenSSL).
  static absl::StatusOr<std::unique_ptr<NsmService>> Start(NsmServiceOptions options,
                                                           const Clock& clock);
  ~NsmService();  // Stops.
  NsmService(const NsmService&) = delete;
  NsmService& operator=(const NsmService&) = delete;

  // Stops accepting, closes every connection, joins every thread and removes the socket file
  // (if it is still ours). Idempotent.
  void Stop();

  // DER of the local root CA that local KMS must trust.
  const Bytes& root_der() const;
  const Bytes& intermediate_der() const;
  const std::string& socket_path() const;
  // "<instance_id>-enc<16 hex>".
  const std::string& module_id() const;

 private:
  struct Impl;
  friend class NsmConnection;
  explicit NsmService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::localaws
