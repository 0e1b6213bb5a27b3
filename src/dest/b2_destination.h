// B2Destination: the Destination interface over B2Client (Backblaze B2's
// native API).
//
// Mapping: Put -> b2_upload_file; Head -> HEAD on the download-by-name URL;
// List -> b2_list_file_names (continuation token = nextFileName, folders =
// common prefixes); Get -> b2_download_file_by_name; Delete -> every version of
// the name (b2_list_file_versions + b2_delete_file_version; hiding is not
// deleting); multipart -> B2 large files (upload ID = the large file's fileId).
//
// Metadata: user metadata travels as B2 file info (X-Bz-Info-*). The engine's
// "mtime" ("<seconds>.<nanoseconds>") is kept as is and also stored as B2's
// convention src_last_modified_millis, so other B2 tools see the source time;
// a "large_file_sha1" entry given to StartMultipart is B2's convention for the
// whole file's SHA-1. Reading back, metadata is the file info without those two
// conventions, with "mtime" derived from src_last_modified_millis for files
// that lack one.
//
// Every error message starts with the destination name. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "b2/b2_client.h"
#include "dest/destination.h"
#include "http/http_client.h"
#include "util/result.h"

namespace ck {

// What B2 allows: large files with parts of min_part_size (the account's
// absoluteMinimumPartSize, at least 5,000,000 bytes) to 5 GB (the last may be
// smaller), at most 10000 parts, a single upload up to 5 GB, names up to 1024
// bytes, SHA-1 verified, no MD5 ETags.
Capabilities B2Capabilities(uint64_t absolute_minimum_part_size);

// "1700000000.5" (seconds since the epoch, optional fraction) -> milliseconds,
// rounded down: 1700000000500. nullopt when s is not of that form.
std::optional<int64_t> MtimeToMillis(std::string_view s);
// Milliseconds -> the engine's mtime form with nine fraction digits:
// 1700000000500 -> "1700000000.500000000".
std::string MillisToMtime(int64_t ms);

// User metadata -> B2 file info: the same entries plus
// src_last_modified_millis when "mtime" parses (see MtimeToMillis).
std::map<std::string, std::string> B2FileInfoFromMetadata(
    const std::map<std::string, std::string>& metadata);
// B2 file info -> user metadata: without src_last_modified_millis and
// large_file_sha1; "mtime" from src_last_modified_millis when absent.
std::map<std::string, std::string> MetadataFromB2FileInfo(
    const std::map<std::string, std::string>& file_info);

class B2Destination final : public Destination {
 public:
  // Takes ownership of client; name is what name() returns.
  B2Destination(std::string name, std::unique_ptr<B2Client> client);

  // The destination name given at construction.
  const std::string& name() const override { return name_; }
  // B2Capabilities() with the account's absoluteMinimumPartSize once the
  // client has authorized (5,000,000 before that). Sends nothing.
  Capabilities capabilities() const override;
  // Authorizes (always one b2_authorize_account) and resolves the bucket: OK,
  // kAuth (wrong key, key not allowed this bucket), kNotFound "bucket X does
  // not exist", kTransient (network, 5xx).
  Status Check() override;
  // B2Client::Probe: the cached token and one b2_get_upload_url (class A, free).
  Status Probe() override;
  // b2_upload_file with X-Bz-Content-Sha1 = req.sha1 (20 raw bytes, else
  // kInvalidArgument) and file info from req.metadata. Returns etag "" and
  // version_id = the fileId. kChecksumMismatch when the server saw other bytes.
  Result<PutResult> Put(const PutRequest& req) override;
  // HEAD by name: size, sha1_hex (contentSha1, or large_file_sha1 for large
  // files), version_id (fileId), last_modified_ms (upload time), metadata.
  // kNotFound when the name does not exist or is hidden.
  Result<ObjectInfo> Head(const std::string& key) override;
  // One b2_list_file_names page (max_keys clamped to 1..10000); with a
  // delimiter, B2's folders are the common prefixes. The continuation token is
  // B2's nextFileName.
  Result<ListPage> List(const ListOptions& opts) override;
  // b2_download_file_by_name (optionally a range); see Destination::Get.
  Status Get(const std::string& key, const GetOptions& opts,
             const std::function<bool(std::string_view)>& sink) override;
  // Deletes every version of the name, hide markers included (unfinished
  // large files of that name are left alone, like S3's multipart uploads).
  // OK when nothing exists.
  Status Delete(const std::string& key) override;
  // b2_start_large_file with file info from metadata; returns the fileId.
  Result<std::string> StartMultipart(const std::string& key,
                                     const std::map<std::string, std::string>& metadata,
                                     const std::string& content_type) override;
  // b2_upload_part with the part's SHA-1 (20 raw bytes, else
  // kInvalidArgument). The result's checksum is the hex SHA-1, etag "".
  // kNotFound when the large file is gone.
  Result<PartInfo> UploadPart(const std::string& key, const std::string& upload_id,
                              const PartUpload& part) override;
  // b2_list_parts (all pages): number, size and hex SHA-1 (checksum) of each
  // part. kNotFound when the large file no longer exists (finished or cancelled).
  Result<std::vector<PartInfo>> ListParts(const std::string& key,
                                          const std::string& upload_id) override;
  // b2_finish_large_file with the parts' checksums (hex SHA-1) in part order;
  // parts must be numbered 1..N (kInvalidArgument otherwise). When the finish
  // fails because the file is no longer unfinished (a retried finish whose
  // first attempt succeeded), b2_get_file_info decides: success when the file
  // is there, complete, with this name and the parts' total size; otherwise
  // kPermanent (the upload is gone and must start over). Never kNotFound.
  Result<PutResult> CompleteMultipart(const std::string& key, const std::string& upload_id,
                                      const std::vector<PartInfo>& parts) override;
  // b2_cancel_large_file; OK when the large file no longer exists.
  Status AbortMultipart(const std::string& key, const std::string& upload_id) override;
  // b2_list_unfinished_large_files (all pages) whose names start with prefix.
  Result<std::vector<MultipartUploadInfo>> ListMultipartUploads(const std::string& prefix) override;

  // The underlying client.
  B2Client& client() { return *client_; }

 private:
  std::string name_;
  std::unique_ptr<B2Client> client_;
};

// Builds a B2 destination named `name` (also used as opts.name, the label of
// every error message). `http` is not owned and must outlive the destination.
// Fails with B2Client::Make's errors: kConfig for bad options, kAuth for
// missing credentials. Sends nothing (Check() authorizes).
Result<std::unique_ptr<Destination>> MakeB2Destination(const std::string& name,
                                                       B2ClientOptions opts, HttpClient* http);

}  // namespace ck
