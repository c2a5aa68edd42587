#include "src/enclave/server.h"

#include <errno.h>
#include <sched.h>
#include <sys/resource.h>

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/blocking_pool.h"
#include "src/common/logger.h"
#include "src/enclave/connection_rules.h"
#include "src/enclave/signing_connection.h"
#include "src/net/connection_server.h"
#include "src/net/socket.h"

namespace lockout::enclave {
namespace {

// Descriptors kept for what is not a client connection (listener, the event loop's own
// descriptors, NSM, relay and KMS sockets, log files), plus one per thread.
constexpr int kDescriptorHeadroom = 64;

// Makes RLIMIT_NOFILE and max_connections agree (connection_rules.h), and says what it did.
int FitDescriptors(int max_connections, int extra_headroom) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return max_connections;
  const DescriptorPlan plan = FitDescriptorLimit(max_connections, limit.rlim_cur, limit.rlim_max,
                                                 kDescriptorHeadroom + extra_headroom);
  const rlim_t old_soft = limit.rlim_cur;
  if (plan.soft_limit != limit.rlim_cur) {
    limit.rlim_cur = plan.soft_limit;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      LogWarn("descriptor_limit", {{"error", std::strerror(errno)}});
    }
  }
  const std::string what = plan.Describe(max_connections, old_soft);
  if (plan.lowered) {
    LogWarn("descriptor_limit", {{"detail", what}});
  } else {
    LogInfo("descriptor_limit", {{"detail", what}});
  }
  return plan.max_connections;
}

}  // namespace

int AvailableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

// Members in dependency order: the ConnectionServer (declared last) is destroyed first, with
// every pending handler and connection, while the service and pool they refer to still exist.
struct Server::Impl {
  ServerOptions options;
  std::unique_ptr<BlockingPool> pool;
  std::unique_ptr<SigningService> service;
  std::unique_ptr<net::ConnectionServer> connections;
  bool stopped = false;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options,
                                                      RequestHandler& handler) {
  if (options.threads < 1 || options.threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be 1..1024, not ", options.threads));
  }
  if (options.max_connections < 1 || options.max_in_flight < 1) {
    return absl::InvalidArgumentError("max_connections and max_in_flight must be >= 1");
  }
  if (options.clock == nullptr) return absl::InvalidArgumentError("a clock is required");
  const BlockingPoolOptions pool_options{.threads = options.blocking_threads,
                                         .queue_limit = options.blocking_queue};
  if (absl::Status s = BlockingPool::Validate(pool_options); !s.ok()) return s;
  // The budget must hold at least one connection's largest frame and a reply.
  const size_t min_budget = MaxUnprocessedInput(options.max_frame_size, kReadChunk) + (64 << 10);
  if (options.memory_budget < min_budget) {
    return absl::InvalidArgumentError(absl::StrCat(
        "memory budget of ", options.memory_budget, " bytes is below one largest frame (",
        min_budget, " bytes with max_frame_size ", options.max_frame_size, ")"));
  }
  if (options.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("idle timeout must be positive");
  }
  // Validates the size limit once; every connection's decoder is made the same way.
  absl::StatusOr<net::FrameDecoder> probe = net::FrameDecoder::Create(options.max_frame_size);
  if (!probe.ok()) return probe.status();

  options.max_connections =
      FitDescriptors(options.max_connections, options.threads + options.blocking_threads);

  absl::StatusOr<net::Listener> listener = net::Listen(options.listen, /*backlog=*/1024);
  if (!listener.ok()) return listener.status();

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->pool = std::make_unique<BlockingPool>(pool_options);
  const ConnectionLimits limits{.max_frame_size = options.max_frame_size,
                                .max_pending_output = options.max_pending_output,
                                .max_in_flight = options.max_in_flight,
                                .max_in_flight_bytes = options.max_in_flight_bytes,
                                .idle_timeout = options.idle_timeout,
                                .frame_timeout = options.frame_timeout,
                                .write_timeout = options.write_timeout,
                                .drain_timeout = absl::Seconds(2),
                                .workers = options.threads};
  impl->service =
      std::make_unique<SigningService>(handler, limits, options.memory_budget, *impl->pool,
                                       options.blocking_threads, *options.clock);
  net::ConnectionServerOptions cs_options;
  cs_options.threads = options.threads;
  cs_options.max_connections = options.max_connections;
  cs_options.when_full = net::ConnectionServerOptions::WhenFull::kRefuse;
  cs_options.sweep_interval = options.sweep_interval;
  cs_options.clock = options.clock;
  cs_options.name = "enclave";  // log events enclave_accept_failed, enclave_connection_refused
  SigningService* service = impl->service.get();
  absl::StatusOr<std::unique_ptr<net::ConnectionServer>> cs = net::ConnectionServer::Start(
      *std::move(listener),
      [service](net::StreamSocket socket) { return service->NewConnection(std::move(socket)); },
      cs_options);
  if (!cs.ok()) return cs.status();
  impl->connections = *std::move(cs);
  LogInfo("server_listening", {{"listen", impl->connections->local_endpoint().ToString()},
                               {"threads", options.threads},
                               {"max_frame_size", options.max_frame_size},
                               {"max_connections", options.max_connections},
                               {"memory_budget", options.memory_budget},
                               {"max_in_flight", options.max_in_flight},
                               {"blocking_threads", options.blocking_threads},
                               {"blocking_queue", options.blocking_queue}});
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }

const net::Endpoint& Server::local_endpoint() const { return impl_->connections->local_endpoint(); }

int Server::connections() const { return impl_->connections->connections(); }
int Server::max_connections() const { return impl_->options.max_connections; }
size_t Server::buffered_bytes() const { return impl_->service->budget().used(); }

void Server::Stop() {
  if (impl_ == nullptr || impl_->stopped) return;
  impl_->stopped = true;
  // The threads first (every connection is closed; handlers not run stay queued, harmless), then
  // the blocking pool: running jobs finish and post to the stopped event loop, queued ones are
  // dropped. The ConnectionServer itself, with whatever is still queued, goes with Impl.
  impl_->connections->Stop();
  impl_->service->DropQueued();
  impl_->pool->Stop();
}

}  // namespace lockout::enclave
