// The dashboard's static files (web/), embedded in the binary at build time by
// cmake/embed_assets.cmake. The page therefore works with no internet and no
// files installed beside the binary.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ck {

struct WebAssetEntry {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view body;
};

// Every embedded file, sorted by path. Generated.
const std::vector<WebAssetEntry>& WebAssetTable();

struct WebAsset {
  std::string_view body;
  std::string_view content_type;  // from the extension, with charset for text
};

// The asset for a request path: "/" and "" serve "/index.html"; a query string
// is ignored. False for anything not embedded (including any path with "..").
bool FindWebAsset(std::string_view request_path, WebAsset* out);

// The content type for a file name's extension ("application/octet-stream"
// when unknown).
std::string_view ContentTypeFor(std::string_view path);

}  // namespace ck
