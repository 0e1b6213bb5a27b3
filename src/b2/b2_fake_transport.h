// Test helper (header only, used by the B2 client and destination unit tests):
// a fake B2Transport that records every request (with its body read out) and
// answers either from a script of replies, in order, or from a handler.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "b2/b2_client.h"
#include "http/http_client.h"

namespace ck::testing_b2 {

// One request as the transport saw it (the body pointer is not kept).
struct SentRequest {
  std::string method;
  std::string url;
  HttpHeaders headers;
  std::string body;
  std::string Header(std::string_view name) const { return FindHeader(headers, name); }
  // The last path segment of the URL: "b2_list_file_names" for API calls.
  std::string Op() const {
    std::string path = url.substr(0, url.find('?'));
    return path.substr(path.rfind('/') + 1);
  }
};

class FakeTransport {
 public:
  using Handler = std::function<Result<HttpResponse>(const SentRequest&)>;

  // Queues a reply for the next request (used when no handler is set).
  void Reply(int status, std::string body = "", HttpHeaders headers = {}) {
    std::lock_guard<std::mutex> l(mu_);
    replies_.push_back(HttpResponse{status, std::move(headers), std::move(body)});
  }
  // Queues a transport failure (e.g. kTransient "connection reset").
  void Fail(Status st) {
    std::lock_guard<std::mutex> l(mu_);
    replies_.push_back(std::move(st));
  }
  // Answers every request with handler (thread-safe use is the handler's job).
  void SetHandler(Handler h) {
    std::lock_guard<std::mutex> l(mu_);
    handler_ = std::move(h);
  }

  Result<HttpResponse> Send(const HttpRequest& r) {
    SentRequest s{r.method, r.url, r.headers, ""};
    if (r.body != nullptr) {
      s.body.resize(r.body->size());
      size_t off = 0;
      while (off < s.body.size()) {
        auto n = r.body->ReadAt(off, s.body.data() + off, s.body.size() - off);
        if (!n.ok() || *n == 0) break;
        off += *n;
      }
    }
    Handler h;
    Result<HttpResponse> resp = Status(ErrorKind::kInternal, "no scripted reply");
    {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(s);
      h = handler_;
      if (!h && !replies_.empty()) {
        resp = std::move(replies_.front());
        replies_.pop_front();
      }
    }
    if (h) resp = h(s);
    if (resp.ok() && r.body_sink && resp->status >= 200 && resp->status < 300) {
      if (!resp->body.empty() && !r.body_sink(resp->body))
        return Status(ErrorKind::kCancelled, "download aborted by the receiver");
      resp->body.clear();
    }
    return resp;
  }

  B2Transport transport() {
    return [this](const HttpRequest& r) { return Send(r); };
  }

  std::vector<SentRequest> requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  SentRequest request(size_t i) const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_.at(i);
  }
  size_t count() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_.size();
  }
  // How many requests had this Op().
  size_t count(std::string_view op) const {
    std::lock_guard<std::mutex> l(mu_);
    size_t n = 0;
    for (const auto& r : requests_) n += r.Op() == op ? 1 : 0;
    return n;
  }
  size_t pending_replies() const {
    std::lock_guard<std::mutex> l(mu_);
    return replies_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<SentRequest> requests_;
  std::deque<Result<HttpResponse>> replies_;
  Handler handler_;
};

// A v2 b2_authorize_account reply for a key restricted to bucket "bkt" (id
// "bid") unless restricted is false (then "allowed" has nulls).
inline std::string AuthReply(const std::string& token, bool restricted = true,
                             uint64_t min_part = 5000000) {
  std::string allowed =
      restricted
          ? R"({"bucketId":"bid","bucketName":"bkt","capabilities":["listFiles","readFiles","writeFiles","deleteFiles"],"namePrefix":null})"
          : R"({"bucketId":null,"bucketName":null,"capabilities":["listBuckets","listFiles","readFiles","writeFiles","deleteFiles"],"namePrefix":null})";
  return R"({"accountId":"acc1","authorizationToken":")" + token +
         R"(","apiUrl":"https://api001.example.com","downloadUrl":"https://f001.example.com",)" +
         R"("recommendedPartSize":100000000,"absoluteMinimumPartSize":)" +
         std::to_string(min_part) + R"(,"s3ApiUrl":"https://s3.example.com","allowed":)" + allowed +
         "}";
}

inline std::string ErrorReply(int status, const std::string& code, const std::string& message) {
  return R"({"status":)" + std::to_string(status) + R"(,"code":")" + code + R"(","message":")" +
         message + R"("})";
}

inline std::string UploadUrlReply(const std::string& url, const std::string& token) {
  return R"({"bucketId":"bid","uploadUrl":")" + url + R"(","authorizationToken":")" + token +
         R"("})";
}

// A b2_upload_file reply for `name` with the given SHA-1 and length.
inline std::string FileReply(const std::string& file_id, const std::string& name,
                             const std::string& sha1_hex, uint64_t length,
                             const std::string& action = "upload",
                             const std::string& file_info = "{}") {
  return R"({"accountId":"acc1","action":")" + action + R"(","bucketId":"bid","contentLength":)" +
         std::to_string(length) + R"(,"contentSha1":")" + sha1_hex +
         R"(","contentType":"application/octet-stream","fileId":")" + file_id + R"(","fileInfo":)" +
         file_info + R"(,"fileName":")" + name + R"(","uploadTimestamp":1700000000123})";
}

inline B2ClientOptions TestOptions() {
  B2ClientOptions o;
  o.name = "my-b2";
  o.key_id = "0012keyid";
  o.application_key = "K001secretapplicationkey";
  o.bucket = "bkt";
  return o;
}

}  // namespace ck::testing_b2
