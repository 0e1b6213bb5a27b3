#include "http/http_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

namespace ck {
namespace {

class LoopbackServer {
 public:
  LoopbackServer() {
    srv_.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("X-Test", "  spaced  ");
      res.set_content("world", "text/plain");
    });
    srv_.Put("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Len", std::to_string(req.body.size()));
      res.set_header("X-Got-Ct", req.get_header_value("Content-Type"));
      res.set_content(req.body, "application/octet-stream");
    });
    srv_.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Got-Ct", req.get_header_value("Content-Type"));
      res.set_content(req.body, "application/octet-stream");
    });
    srv_.Delete("/thing",
                [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    srv_.Get("/status/503", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_header("Retry-After", "2");
      res.set_content("busy", "text/plain");
    });
    srv_.Get(R"(/raw/.*)", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.target, "text/plain");
    });
    srv_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(1 << 20, 'x'), "application/octet-stream");
    });
    srv_.Get("/peer", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu_);
      peers_.insert(req.remote_port);
      res.set_content("ok", "text/plain");
    });
    srv_.set_keep_alive_max_count(1000);
    port_ = srv_.bind_to_any_port("127.0.0.1");
    th_ = std::thread([this] { srv_.listen_after_bind(); });
    while (!srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LoopbackServer() {
    srv_.stop();
    th_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  size_t distinct_peers() {
    std::lock_guard<std::mutex> l(mu_);
    return peers_.size();
  }

 private:
  httplib::Server srv_;
  int port_ = 0;
  std::thread th_;
  std::mutex mu_;
  std::set<int> peers_;
};

std::unique_ptr<HttpClient> MakeClient() {
  auto c = HttpClient::Make(HttpClientOptions{});
  EXPECT_TRUE(c.ok());
  return std::move(c).value();
}

TEST(HttpClientTest, GetReturnsBodyAndTrimmedHeaders) {
  LoopbackServer s;
  auto c = MakeClient();
  auto r = c->Send({.method = "GET", .url = s.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "world");
  EXPECT_EQ(r->Header("x-test"), "spaced");
  EXPECT_EQ(c->requests_sent(), 1u);
}

TEST(HttpClientTest, PutSendsBodyWithoutExpectContinue) {
  LoopbackServer s;
  auto c = MakeClient();
  std::string data(300000, 'a');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  MemoryBody body(data);
  auto r = c->Send({.method = "PUT", .url = s.url("/echo"), .body = &body});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("X-Len"), "300000");
  EXPECT_EQ(r->body, data);
}

// Small in-memory bodies go out with the headers (sizes around the 60 KiB
// switch); the bytes, the length and the absence of an added Content-Type
// must not depend on the path taken, nor must a given Content-Type.
TEST(HttpClientTest, SmallAndLargeBodiesArriveIntactWithTheirOwnContentType) {
  LoopbackServer s;
  auto c = MakeClient();
  for (size_t n : {size_t{0}, size_t{1}, size_t{4096}, size_t{61439}, size_t{61440}, size_t{61441},
                   size_t{70000}}) {
    std::string data(n, '\0');
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>(i * 7 + n);
    MemoryBody body(data);
    for (const char* method : {"PUT", "POST"}) {
      auto r = c->Send({.method = method, .url = s.url("/echo"), .body = &body});
      ASSERT_TRUE(r.ok()) << method << " " << n << ": " << r.status().ToString();
      EXPECT_EQ(r->status, 200) << method << " " << n;
      EXPECT_EQ(r->body, data) << method << " " << n;
      EXPECT_EQ(r->Header("X-Got-Ct"), "") << method << " " << n;
      auto typed = c->Send({.method = method,
                            .url = s.url("/echo"),
                            .headers = {{"Content-Type", "text/x-ck"}},
                            .body = &body});
      ASSERT_TRUE(typed.ok());
      EXPECT_EQ(typed->body, data) << method << " " << n;
      EXPECT_EQ(typed->Header("X-Got-Ct"), "text/x-ck") << method << " " << n;
    }
  }
}

TEST(HttpClientTest, PutAndPostWithoutBodySendZeroLength) {
  LoopbackServer s;
  auto c = MakeClient();
  auto r = c->Send({.method = "PUT", .url = s.url("/echo")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Header("X-Len"), "0");
  auto p = c->Send({.method = "POST", .url = s.url("/echo")});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->status, 200);
  // curl's default form content type is not added behind our back
  EXPECT_EQ(p->Header("X-Got-Ct"), "");
}

TEST(HttpClientTest, HeadAndDelete) {
  LoopbackServer s;
  auto c = MakeClient();
  auto h = c->Send({.method = "HEAD", .url = s.url("/hello")});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->status, 200);
  EXPECT_TRUE(h->body.empty());
  auto d = c->Send({.method = "DELETE", .url = s.url("/thing")});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, 204);
}

TEST(HttpClientTest, HttpErrorsAreResponsesNotStatuses) {
  LoopbackServer s;
  auto c = MakeClient();
  auto r = c->Send({.method = "GET", .url = s.url("/status/503")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->Header("retry-after"), "2");
  auto nf = c->Send({.method = "GET", .url = s.url("/missing")});
  ASSERT_TRUE(nf.ok());
  EXPECT_EQ(nf->status, 404);
}

TEST(HttpClientTest, PathIsSentAsIs) {
  LoopbackServer s;
  auto c = MakeClient();
  auto r = c->Send({.method = "GET", .url = s.url("/raw/a/../b/./c//d%2Fe")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "/raw/a/../b/./c//d%2Fe");
}

TEST(HttpClientTest, RefusedConnectionIsTransientAndNamesTheCause) {
  // Bind a port, then close it so nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  auto c = MakeClient();
  auto r =
      c->Send({.method = "GET",
               .url = "http://127.0.0.1:" + std::to_string(port) + "/secret?X-Amz-Signature=abc"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kTransient);
  EXPECT_NE(r.status().message().find("could not connect"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("X-Amz-Signature"), std::string::npos)
      << "URL query (possibly a presigned credential) leaked: " << r.status().message();
}

TEST(HttpClientTest, BodySinkStreamsAndCanAbort) {
  LoopbackServer s;
  auto c = MakeClient();
  size_t got = 0;
  HttpRequest req{.method = "GET", .url = s.url("/big")};
  req.body_sink = [&](std::string_view d) {
    got += d.size();
    return true;
  };
  auto r = c->Send(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got, 1u << 20);
  EXPECT_TRUE(r->body.empty());
  // error bodies are collected, not streamed
  HttpRequest err_req{.method = "GET", .url = s.url("/status/503")};
  bool called = false;
  err_req.body_sink = [&](std::string_view) { return called = true; };
  auto e = c->Send(err_req);
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(called);
  EXPECT_EQ(e->body, "busy");
  req.body_sink = [](std::string_view) { return false; };
  auto a = c->Send(req);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().kind(), ErrorKind::kCancelled);
}

class FailingBody : public BodySource {
 public:
  uint64_t size() const override { return 1000; }
  Result<size_t> ReadAt(uint64_t, char*, size_t) const override {
    return Status(ErrorKind::kPermissionDenied, "f.txt: permission denied");
  }
};

TEST(HttpClientTest, BodyReadErrorIsReturnedAsIs) {
  LoopbackServer s;
  auto c = MakeClient();
  FailingBody body;
  auto r = c->Send({.method = "PUT", .url = s.url("/echo"), .body = &body});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kPermissionDenied);
}

TEST(HttpClientTest, ConnectionsAreReused) {
  LoopbackServer s;
  auto c = MakeClient();
  for (int i = 0; i < 20; ++i) {
    auto r = c->Send({.method = "GET", .url = s.url("/peer")});
    ASSERT_TRUE(r.ok());
  }
  EXPECT_EQ(s.distinct_peers(), 1u) << "each request opened a new connection";
}

TEST(HttpClientTest, ConcurrentSendsAreSafe) {
  LoopbackServer s;
  auto c = MakeClient();
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto r = c->Send({.method = "GET", .url = s.url("/hello")});
        if (r.ok() && r->body == "world") ok++;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_LE(s.distinct_peers(), 8u + 0u + 8u);
}

}  // namespace
}  // namespace ck
