#include "src/common/blocking_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace lockout {

absl::Status BlockingPool::Validate(const BlockingPoolOptions& options) {
  if (options.threads < 1 || options.threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("blocking threads must be 1..256, not ", options.threads));
  }
  if (options.queue_limit > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("blocking queue limit must be 0..65536, not ", options.queue_limit));
  }
  return absl::OkStatus();
}

BlockingPool::BlockingPool(BlockingPoolOptions options) : options_(options) {
  threads_.reserve(static_cast<size_t>(options_.threads));
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this, i] { Loop(i); });
  }
}

BlockingPool::~BlockingPool() { Stop(); }

absl::Status BlockingPool::Submit(Job job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::FailedPreconditionError("blocking pool stopped");
  // Accepted and unfinished jobs (running + queued) are at most threads + queue_limit.
  const size_t capacity = static_cast<size_t>(options_.threads) + options_.queue_limit;
  if (static_cast<size_t>(running_) + queue_.size() >= capacity) {
    return absl::ResourceExhaustedError(absl::StrCat("busy: ", running_,
                                                     " blocking requests running, ", queue_.size(),
                                                     " queued (limit ", options_.queue_limit, ")"));
  }
  queue_.push_back(std::move(job));
  return absl::OkStatus();
}

void BlockingPool::Stop() {
  std::deque<Job> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    dropped.swap(queue_);
  }
  dropped.clear();  // outside the lock: a job's destructor may do anything
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

size_t BlockingPool::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

int BlockingPool::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void BlockingPool::Loop(int index) {
  for (;;) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BlockingPool* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->queue_.empty(); },
          this));
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    job(index);
    job = nullptr;
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

}  // namespace lockout
