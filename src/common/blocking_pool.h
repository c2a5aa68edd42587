#pragma once

// BlockingPool: a few threads for work that blocks, so that the event loops (net::ConnectionServer)
// never wait on it (issue 10 item 5): the enclave's attest (an NSM call), key load and per-request
// decrypt; the relay's upstream calls (IMDS, Secrets Manager); the local NSM service's measurement
// of its caller and document signing. A job that answers a connection posts its result back to
// the connection's strand.
//
//   BlockingPool pool({.threads = 2, .queue_limit = 16});
//   absl::Status s = pool.Submit([](int thread_index) { ... });
//   if (absl::IsResourceExhausted(s)) ... answer "busy" ...
//
// Bounded: at most `threads` jobs run at once and at most `queue_limit` more wait; Submit refuses
// (ResourceExhausted) instead of queueing past that, so a client flooding blocking requests gets
// a clear "busy" and cannot grow memory or delay others without bound. A job receives the index
// (0..threads-1) of the thread running it, for per-thread state.
// Stop() (and the destructor) runs no job that has not started, waits for running ones and joins;
// jobs not run are destroyed unrun (their destructors release what they hold).
// Thread-safety: all methods are thread-safe; jobs must not call Stop().

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace lockout {

struct BlockingPoolOptions {
  int threads = 2;
  size_t queue_limit = 16;
};

class BlockingPool final {
 public:
  using Job = std::function<void(int thread_index)>;

  // InvalidArgument unless 1 <= threads <= 256 and queue_limit <= 65536 (0: no job waits; at
  // most `threads` are accepted at once).
  static absl::Status Validate(const BlockingPoolOptions& options);
  // Starts the threads. `options` must be valid (Validate).
  explicit BlockingPool(BlockingPoolOptions options);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Queues `job`. ResourceExhausted("busy: ...") if `threads + queue_limit` jobs are already
  // accepted and unfinished (running or waiting); FailedPrecondition after Stop().
  absl::Status Submit(Job job);

  // Drops queued jobs, waits for running ones, joins the threads. Idempotent.
  void Stop();

  // Jobs waiting (not running).
  size_t queued() const;
  // Jobs running.
  int running() const;

 private:
  void Loop(int index);

  const BlockingPoolOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace lockout
