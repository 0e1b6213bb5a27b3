// Builds ready-to-use destinations from configuration: resolves credentials,
// creates the backend and wraps it in the decorator stack, in one place:
//
//   ConcurrencyLimited( Retrying( Instrumented( backend ) ) )
//
// Instrumented sits inside Retrying so metrics and logs see every request sent.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "config/credentials.h"
#include "dest/decorators.h"
#include "dest/destination.h"
#include "http/http_client.h"
#include "util/env.h"

namespace ck {

struct DestinationHandle {
  std::string name;
  std::string type;
  bool enabled = true;
  std::string prefix;
  int transfers = 4;
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  std::unique_ptr<Destination> dest;  // null when unavailable
  std::shared_ptr<DestinationMetrics> metrics;
  RetryingDestination* retry_layer = nullptr;  // inside dest, for its counters
  // Non-OK when the destination cannot be used (missing credentials, bad
  // settings); the message names the destination and the cause.
  Status unavailable;
};

struct FactoryDeps {
  HttpClient* http = nullptr;  // not owned; must outlive the destinations
  Env* env = nullptr;          // not owned
  GetEnvFn getenv;             // environment lookup (credentials)
};

// Never fails as a whole: problems land in DestinationHandle::unavailable.
DestinationHandle BuildDestination(const DestinationConfig& cfg, const SyncConfig& sync,
                                   const FactoryDeps& deps);

// Wraps a backend in the standard decorator stack (exposed for tests).
std::unique_ptr<Destination> Decorate(std::unique_ptr<Destination> backend,
                                      std::shared_ptr<DestinationMetrics> metrics,
                                      const RetryPolicy& policy, int concurrency, Env* env,
                                      RetryingDestination** retry_layer);

}  // namespace ck
