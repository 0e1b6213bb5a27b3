#include "http/http_client.h"

#include <curl/curl.h>

#include <strings.h>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

namespace ck {

namespace {
// Largest in-memory body sent together with the headers (curl's own limit
// for appending POSTFIELDS to the request is 64 KiB).
constexpr uint64_t kInlineBodyMax = 60 * 1024;
}  // namespace

Result<size_t> MemoryBody::ReadAt(uint64_t offset, char* buf, size_t n) const {
  if (offset >= data_.size()) return size_t{0};
  size_t k = std::min<size_t>(n, data_.size() - static_cast<size_t>(offset));
  std::memcpy(buf, data_.data() + offset, k);
  return k;
}

Result<std::string> DigestBody(const BodySource* body, DigestAlgo algo) {
  Hasher h(algo);
  if (body == nullptr) return h.Finish();
  std::string buf(1 << 20, '\0');
  uint64_t off = 0;
  while (off < body->size()) {
    CK_ASSIGN_OR_RETURN(size_t n, body->ReadAt(off, buf.data(), buf.size()));
    if (n == 0) return Status(ErrorKind::kChanged, "body shorter than announced");
    h.Update(buf.data(), n);
    off += n;
  }
  return h.Finish();
}

std::string FindHeader(const HttpHeaders& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return {};
}

namespace {

std::once_flag g_curl_init;

struct Transfer {
  const HttpRequest* req = nullptr;
  const BodySource* body = nullptr;  // never null once set up
  HttpResponse* resp = nullptr;
  uint64_t offset = 0;
  Status body_error;  // why the body read failed, if it did
  bool sink_aborted = false;
  CURL* handle = nullptr;
  int to_sink = -1;  // -1 undecided, 1 stream to body_sink (2xx), 0 collect (errors)
};

size_t ReadCb(char* buf, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t want = size * nitems;
  auto r = t->body->ReadAt(t->offset, buf, want);
  if (!r.ok()) {
    t->body_error = r.status();
    return CURL_READFUNC_ABORT;
  }
  if (*r == 0 && t->offset < t->body->size()) {
    t->body_error = Status(ErrorKind::kChanged, "body shorter than announced (file shrank?)");
    return CURL_READFUNC_ABORT;
  }
  t->offset += *r;
  return *r;
}

int SeekCb(void* userdata, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(userdata);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  t->offset = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteCb(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nmemb;
  if (t->req->body_sink && t->to_sink < 0) {
    long code = 0;
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &code);
    t->to_sink = (code >= 200 && code < 300) ? 1 : 0;
  }
  if (t->to_sink == 1) {
    if (!t->req->body_sink(std::string_view(ptr, n))) {
      t->sink_aborted = true;
      return 0;
    }
  } else {
    t->resp->body.append(ptr, n);
  }
  return n;
}

size_t HeaderCb(char* buf, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nitems;
  std::string_view line(buf, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    t->resp->headers.clear();  // a new response (after 100-continue or a redirect)
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  t->resp->headers.emplace_back(std::string(name), std::string(value));
  return n;
}

std::string TransportMessage(CURLcode rc, const char* errbuf, const std::string& url) {
  // Keep the scheme://host:port only: URLs can carry presigned credentials.
  std::string where = url;
  if (auto p = where.find("://"); p != std::string::npos) {
    auto slash = where.find('/', p + 3);
    if (slash != std::string::npos) where.resize(slash);
  }
  std::string what;
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
      what = "could not resolve host";
      break;
    case CURLE_COULDNT_CONNECT:
      what = "could not connect (connection refused or host unreachable)";
      break;
    case CURLE_OPERATION_TIMEDOUT:
      what = "timed out";
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      what = "TLS handshake failed";
      break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      what = "connection lost";
      break;
    default:
      what = curl_easy_strerror(rc);
  }
  if (errbuf != nullptr && errbuf[0] != '\0') {
    what += " (";
    what += errbuf;
    what += ")";
  }
  return where + ": " + what;
}

}  // namespace

struct HttpClient::Impl {
  HttpClientOptions opts;
  std::mutex mu;
  std::vector<CURL*> idle;
  std::atomic<uint64_t> sent{0};

  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> l(mu);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void Release(CURL* h, bool reusable) {
    if (reusable) {
      std::lock_guard<std::mutex> l(mu);
      if (static_cast<int>(idle.size()) < opts.max_idle_connections) {
        idle.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }
  ~Impl() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }
};

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(options);
}

HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Make(const HttpClientOptions& options) {
  if (options.connect_timeout.count() <= 0)
    return InvalidArgument("HttpClientOptions.connect_timeout must be positive");
  if (options.max_idle_connections < 0)
    return InvalidArgument("HttpClientOptions.max_idle_connections must be >= 0");
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::unique_ptr<HttpClient>(new HttpClient(options));
}

uint64_t HttpClient::requests_sent() const {
  return impl_->sent.load();
}

Result<HttpResponse> HttpClient::Send(const HttpRequest& req) {
  const auto& o = impl_->opts;
  CURL* h = impl_->Acquire();
  if (h == nullptr) return Internal("curl_easy_init failed");
  curl_easy_reset(h);

  HttpResponse resp;
  Transfer t;
  t.req = &req;
  t.resp = &resp;
  t.handle = h;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  auto timeout = req.timeout.count() > 0 ? req.timeout : o.request_timeout;
  if (timeout.count() > 0)
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, o.low_speed_bytes);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(o.low_speed_time.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  // curl allocates its receive buffer for every transfer after a reset: a
  // large one only where large responses come back (downloads, listings), not
  // for the 200-byte answer to each small upload.
  if (req.method == "GET") curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024L);
  if (!o.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o.ca_bundle.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteCb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, HeaderCb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);

  const uint64_t body_size = req.body != nullptr ? req.body->size() : 0;
  // A small body already in memory goes out in the same send as the headers
  // (curl appends in-memory POSTFIELDS below 64 KiB to the request): one
  // syscall and one TCP segment per small upload instead of two.
  const auto* mem_body = dynamic_cast<const MemoryBody*>(req.body);
  const bool inline_body = mem_body != nullptr && body_size <= kInlineBodyMax &&
                           (req.method == "PUT" || req.method == "POST");
  if (inline_body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_size));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body_size == 0 ? "" : mem_body->data().data());
    if (req.method == "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
  } else if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
  } else if (req.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_size));
  } else if (req.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  static const MemoryBody kEmpty("");
  t.body = req.body != nullptr ? req.body : &kEmpty;
  if (!inline_body && (req.body != nullptr || req.method == "PUT" || req.method == "POST")) {
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadCb);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, SeekCb);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
  }

  curl_slist* hdrs = nullptr;
  bool has_ct = false;
  for (const auto& [k, v] : req.headers) {
    if (strcasecmp(k.c_str(), "Content-Type") == 0) has_ct = true;
    std::string line = k + (v.empty() ? ";" : ": " + v);
    hdrs = curl_slist_append(hdrs, line.c_str());
  }
  hdrs = curl_slist_append(hdrs, "Expect:");  // no 100-continue round trip
  // curl would add a form Content-Type to a POST or an inline body.
  if (!has_ct && (req.method == "POST" || inline_body)) {
    hdrs = curl_slist_append(hdrs, "Content-Type:");
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

  impl_->sent.fetch_add(1);
  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(hdrs);

  if (rc != CURLE_OK) {
    impl_->Release(h, false);
    if (!t.body_error.ok()) return t.body_error;
    if (t.sink_aborted) return Status(ErrorKind::kCancelled, "download aborted by the receiver");
    return Status(ErrorKind::kTransient, TransportMessage(rc, errbuf, req.url));
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  resp.status = static_cast<int>(code);
  impl_->Release(h, true);
  return resp;
}

}  // namespace ck
