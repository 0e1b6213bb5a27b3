#include "dest/factory.h"

#include "dest/b2_destination.h"
#include "dest/s3_destination.h"

namespace ck {

std::unique_ptr<Destination> Decorate(std::unique_ptr<Destination> backend,
                                      std::shared_ptr<DestinationMetrics> metrics,
                                      const RetryPolicy& policy, int concurrency, Env* env,
                                      RetryingDestination** retry_layer) {
  std::unique_ptr<Destination> d =
      std::make_unique<InstrumentedDestination>(std::move(backend), std::move(metrics));
  auto retrying = std::make_unique<RetryingDestination>(std::move(d), policy, env);
  if (retry_layer != nullptr) *retry_layer = retrying.get();
  return std::make_unique<ConcurrencyLimitedDestination>(std::move(retrying), concurrency);
}

DestinationHandle BuildDestination(const DestinationConfig& cfg, const SyncConfig& sync,
                                   const FactoryDeps& deps) {
  DestinationHandle h;
  h.name = cfg.name;
  h.type = cfg.type;
  h.enabled = cfg.enabled;
  h.prefix = cfg.prefix;
  h.transfers = cfg.transfers > 0 ? cfg.transfers : sync.transfers;
  h.multipart_threshold =
      cfg.multipart_threshold > 0 ? cfg.multipart_threshold : sync.multipart_threshold;
  h.part_size = cfg.part_size > 0 ? cfg.part_size : sync.part_size;
  h.metrics = std::make_shared<DestinationMetrics>();
  if (!cfg.enabled) {
    h.unavailable = Status(ErrorKind::kConfig, "destination " + cfg.name + " is disabled");
    return h;
  }
  if (deps.http == nullptr) {
    h.unavailable = Internal("no HTTP client");
    return h;
  }

  std::unique_ptr<Destination> backend;
  if (cfg.type == "s3") {
    auto creds = ResolveS3Credentials(cfg, deps.getenv);
    if (!creds.ok()) {
      h.unavailable = creds.status();
      return h;
    }
    S3ClientOptions o;
    o.name = cfg.name;
    o.endpoint = cfg.endpoint;
    o.region = cfg.region;
    o.bucket = cfg.bucket;
    o.path_style = cfg.path_style;
    o.credentials =
        AwsCredentials{creds->access_key_id, creds->secret_access_key, creds->session_token};
    auto d = MakeS3Destination(cfg.name, std::move(o), deps.http, cfg.sign_payload);
    if (!d.ok()) {
      h.unavailable = d.status();
      return h;
    }
    backend = std::move(d).value();
  } else if (cfg.type == "b2") {
    auto creds = ResolveB2Credentials(cfg, deps.getenv);
    if (!creds.ok()) {
      h.unavailable = creds.status();
      return h;
    }
    B2ClientOptions o;
    o.name = cfg.name;
    o.api_url = cfg.api_url;
    o.key_id = creds->key_id;
    o.application_key = creds->application_key;
    o.bucket = cfg.bucket;
    o.env = deps.env;
    auto d = MakeB2Destination(cfg.name, std::move(o), deps.http);
    if (!d.ok()) {
      h.unavailable = d.status();
      return h;
    }
    backend = std::move(d).value();
  } else {
    h.unavailable = Status(ErrorKind::kConfig, "destination " + cfg.name + ": type \"" + cfg.type +
                                                   "\" is not supported by this build");
    return h;
  }
  RetryPolicy policy;
  policy.max_retries = sync.request_retries;
  // file uploads plus their parts in flight, plus a little room for listings
  int concurrency = 2 * h.transfers + 2;
  h.dest = Decorate(std::move(backend), h.metrics, policy, concurrency, deps.env, &h.retry_layer);
  return h;
}

}  // namespace ck
