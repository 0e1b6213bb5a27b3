#include "web/web_assets.h"

#include <algorithm>

namespace ck {

std::string_view ContentTypeFor(std::string_view path) {
  auto ends = [&](std::string_view s) {
    return path.size() >= s.size() && path.substr(path.size() - s.size()) == s;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json")) return "application/json";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

bool FindWebAsset(std::string_view request_path, WebAsset* out) {
  std::string_view p = request_path;
  if (auto q = p.find_first_of("?#"); q != std::string_view::npos) p = p.substr(0, q);
  if (p.empty() || p == "/") p = "/index.html";
  if (p.find("..") != std::string_view::npos) return false;
  const auto& table = WebAssetTable();
  for (const auto& e : table) {
    if (e.path == p) {
      out->body = e.body;
      out->content_type = ContentTypeFor(p);
      return true;
    }
  }
  return false;
}

}  // namespace ck
