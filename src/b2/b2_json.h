// The JSON shapes of B2's native API replies (fact sheet §1-§10), parsed
// liberally: v1 "size" is accepted for v2 "contentLength", the v3/v4
// authorize layouts for the v2 one, nulls for absent fields.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace ck {

// What b2_authorize_account returned, whatever the API version.
struct B2Authorization {
  std::string account_id;
  std::string token;  // account authorization token (secret)
  std::string api_url;
  std::string download_url;
  std::string s3_api_url;
  uint64_t recommended_part_size = 0;
  uint64_t absolute_minimum_part_size = 0;
  // Buckets the key is restricted to, {bucketId, bucketName} (either may be
  // empty when the reply omits it); empty when the key is not restricted.
  std::vector<std::pair<std::string, std::string>> allowed_buckets;
  std::vector<std::string> capabilities;
  std::string name_prefix;  // "" when unrestricted
};

// A file object (upload, start, hide or folder), as listed or uploaded.
struct B2File {
  std::string file_id;  // empty for folders
  std::string file_name;
  std::string action;  // "upload", "start", "hide", "folder"
  uint64_t content_length = 0;
  std::string content_sha1;  // 40 hex, "none" (large files) or "unverified:<hex>"; may be empty
  std::string content_type;
  int64_t upload_timestamp = 0;                  // ms since the epoch
  std::map<std::string, std::string> file_info;  // plain UTF-8 values
};

// One uploaded part of a large file.
struct B2Part {
  std::string file_id;
  int part_number = 0;
  uint64_t content_length = 0;
  std::string content_sha1;  // 40 hex
  int64_t upload_timestamp = 0;
};

struct B2UploadUrl {
  std::string url;
  std::string token;  // upload authorization token (secret)
};

struct B2Bucket {
  std::string bucket_id;
  std::string bucket_name;
};

struct B2FileList {
  std::vector<B2File> files;
  std::optional<std::string> next_file_name;  // nullopt when the listing is done
  std::optional<std::string> next_file_id;    // list_file_versions / unfinished large files
};

struct B2PartList {
  std::vector<B2Part> parts;
  std::optional<int> next_part_number;  // nullopt when done
};

// Each parser returns kTransient "malformed reply: ..." when the body is not
// JSON or lacks a required field (a garbled reply is not the caller's fault,
// and a second attempt may well succeed).
Result<B2Authorization> ParseB2Authorization(std::string_view body);
Result<B2File> ParseB2File(std::string_view body);
Result<B2Part> ParseB2Part(std::string_view body);
Result<B2UploadUrl> ParseB2UploadUrl(std::string_view body);
Result<std::vector<B2Bucket>> ParseB2Buckets(std::string_view body);
// {files, nextFileName, nextFileId}
Result<B2FileList> ParseB2FileList(std::string_view body);
// {parts, nextPartNumber}
Result<B2PartList> ParseB2PartList(std::string_view body);

}  // namespace ck
