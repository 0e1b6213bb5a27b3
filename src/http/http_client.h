// HttpClient: the one place libcurl is used. Keeps a pool of connections
// (keep-alive) that concurrent callers share.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "util/hash.h"
#include "util/result.h"

namespace ck {

// A request body that can be read more than once (a retry re-reads it).
// ReadAt must be thread-safe with respect to other readers of the same body.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual uint64_t size() const = 0;
  // Copies up to n bytes at offset into buf; returns the count (0 only at end).
  virtual Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) const = 0;
};

// A body held in memory (not owned: the view must outlive the request).
class MemoryBody : public BodySource {
 public:
  explicit MemoryBody(std::string_view data) : data_(data) {}
  uint64_t size() const override { return data_.size(); }
  Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) const override;
  std::string_view data() const { return data_; }

 private:
  std::string_view data_;
};

// Raw digest of a whole body, read in 1 MiB pieces; a null body is empty.
// kChanged when the body yields fewer bytes than its size.
Result<std::string> DigestBody(const BodySource* body, DigestAlgo algo);

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive header lookup; empty string if absent.
std::string FindHeader(const HttpHeaders& h, std::string_view name);

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // fully encoded: the client sends it as is
  HttpHeaders headers;
  const BodySource* body = nullptr;  // null: no body (Content-Length: 0 for PUT/POST)
  // Overrides the client's default timeout for this request when non-zero.
  std::chrono::milliseconds timeout{0};
  // When set, a 2xx response body is streamed to this callback instead of being
  // collected in HttpResponse::body (for large downloads); bodies of other
  // statuses (error documents) are still collected. Return false to abort.
  std::function<bool(std::string_view)> body_sink;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names as sent by the server
  std::string body;
  std::string Header(std::string_view name) const { return FindHeader(headers, name); }
};

struct HttpClientOptions {
  // Time allowed to establish a TCP (and TLS) connection. Default 10 s.
  std::chrono::milliseconds connect_timeout{10000};
  // Whole-request limit; 0 = none. Default 0 (low_speed_* guards stalls).
  std::chrono::milliseconds request_timeout{0};
  // Abort a transfer slower than low_speed_bytes/s for low_speed_time. Default 1 B/s for 60 s.
  long low_speed_bytes = 1;
  std::chrono::seconds low_speed_time{60};
  // Maximum idle connections kept for reuse. Default 32.
  int max_idle_connections = 32;
  // CA bundle path for TLS; empty = system default.
  std::string ca_bundle;
  std::string user_agent = "cloudkeep/0.1";
};

class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> Make(const HttpClientOptions& options);
  ~HttpClient();

  // Performs one request. Transport failures (DNS, refused, reset, timeout)
  // come back as kTransient with a message naming the cause; any HTTP status,
  // including 4xx/5xx, is a successful Result carrying that status.
  // Thread-safe: concurrent calls use different connections.
  Result<HttpResponse> Send(const HttpRequest& request);

  // Number of requests sent so far (all methods).
  uint64_t requests_sent() const;

 private:
  explicit HttpClient(HttpClientOptions options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ck
