// B2Client: Backblaze B2's native API (v2 paths; the subset a backup tool
// needs) over HttpClient. One client talks to one bucket and is shared by many
// worker threads. Follows /work/shared/docs/b2-native-api.md.
//
// Authorization. The first call authorizes (b2_authorize_account, HTTP Basic
// with key ID and application key) and caches the account token, apiUrl,
// downloadUrl and part sizes; the bucket name is resolved to its ID once (from
// the key's allowed buckets, else b2_list_buckets). When a call is answered
// 401 bad_auth_token / expired_auth_token, the client authorizes again and
// sends the call once more; when several threads see the expiry at once, only
// one of them authorizes and the others reuse its token. A second refusal is
// kAuth.
//
// Uploads. b2_upload_file and b2_upload_part go to upload URLs that serve one
// upload at a time. The client keeps a pool of URL/token pairs per bucket
// (b2_get_upload_url) and per large file (b2_get_upload_part_url): an upload
// checks one out exclusively and returns it only after it succeeded, so no URL
// is ever used by two uploads at once, and a URL that saw any failure (5xx,
// 408, 401, a broken or timed-out connection, ...) is thrown away and never
// used again. When the URL's token itself was refused (401, "more than one
// upload using auth token") the client at once tries one fresh URL. Every other
// failure comes back classified -- kTransient for 5xx/408/connection errors
// (with Retry-After when the server sent one), kThrottled for 429 -- and the
// caller's retry layer (RetryingDestination) waits and calls again; that next
// call checks out a different URL (or fetches a new one), so a routine 503 from
// a busy storage pod is retried on a fresh URL and never re-sent to the dead
// one. The client itself never sleeps.
//
// Names. File names are exact UTF-8 bytes (1..1024 bytes, no control
// characters); X-Bz-File-Name, X-Bz-Info-* values and the download path carry
// them percent-encoded as B2 documents (see b2_encoding.h); JSON bodies carry
// them as plain UTF-8.
//
// Errors are classified Status values (see b2_errors.h) whose message starts
// "<name>: <operation> <file name, file ID or bucket>: ". No message contains
// the application key or a token. Thread-safe: all methods may be called
// concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "b2/b2_encoding.h"
#include "b2/b2_errors.h"
#include "b2/b2_json.h"
#include "http/http_client.h"
#include "util/env.h"
#include "util/result.h"

namespace ck {

struct B2ClientOptions {
  // Label that starts every error message, usually the destination name. Default "b2".
  std::string name = "b2";
  // Where b2_authorize_account is sent: "scheme://host[:port]" (http or https,
  // no path; a trailing '/' is dropped). Default "https://api.backblazeb2.com".
  // Every other call goes to the apiUrl / downloadUrl / upload URLs the server
  // returns.
  std::string api_url = "https://api.backblazeb2.com";
  // Application key ID and application key. Both required: Make returns kAuth
  // "missing credentials" when either is empty.
  std::string key_id;
  std::string application_key;
  // Bucket name. Required (letters, digits and '-', at most 63 characters).
  std::string bucket;
  // Clock for the age of upload URLs. Not owned; null: Env::Default(). The
  // client never sleeps (RetryingDestination does the waiting, with this Env).
  Env* env = nullptr;
  // Per-request timeout; 0 = the HttpClient's default. Default 0.
  std::chrono::milliseconds request_timeout{0};
  // An idle upload URL older than this is discarded instead of reused (B2
  // honours them for 24 h). Default 23 h.
  std::chrono::seconds upload_url_max_age{23 * 3600};
};

// Sends one HTTP request; HttpClient::Send in production, a fake in tests.
using B2Transport = std::function<Result<HttpResponse>(const HttpRequest&)>;

// What the account's authorization says, without the token.
struct B2AccountInfo {
  std::string account_id;
  std::string api_url;
  std::string download_url;
  uint64_t recommended_part_size = 0;       // 100,000,000 on B2
  uint64_t absolute_minimum_part_size = 0;  // 5,000,000 on B2
  std::string bucket_id;                    // "" until the bucket was resolved
};

struct B2UploadFileRequest {
  std::string file_name;
  const BodySource* body = nullptr;  // null: empty file. Not owned.
  std::string sha1;                  // raw 20-byte SHA-1; empty: computed by reading the body
  std::string content_type = "application/octet-stream";  // empty: application/octet-stream
  // X-Bz-Info-<key>: at most 10, keys of letters, digits, '-' and '_' (at most
  // 50 bytes, stored lowercase, no "b2-" prefix), values valid UTF-8.
  std::map<std::string, std::string> file_info;
};

struct B2UploadPartRequest {
  std::string file_id;
  int part_number = 0;               // 1..10000
  const BodySource* body = nullptr;  // not owned
  std::string sha1;                  // raw 20-byte SHA-1; empty: computed by reading the body
};

struct B2ListFileNamesRequest {
  std::string prefix;
  std::string delimiter;        // "" = flat
  std::string start_file_name;  // inclusive; "" = from the start
  int max_file_count = 1000;    // clamped to 1..10000 (billed per 1000 returned)
};

struct B2ListFileVersionsRequest {
  std::string prefix;
  std::string delimiter;
  std::string start_file_name;  // inclusive
  std::string start_file_id;    // only together with start_file_name
  int max_file_count = 1000;    // clamped to 1..10000
};

// Inclusive byte range [first, last].
struct B2Range {
  uint64_t first = 0;
  uint64_t last = 0;
};

class B2Client {
 public:
  // Validates options (api_url http(s)://host[:port], bucket name, credentials
  // present and free of spaces and control characters, no ':' in the key ID)
  // and applies the defaults documented on B2ClientOptions. kConfig on invalid
  // options, kAuth when the key ID or application key is empty. Sends nothing.
  // `http` is not owned and must outlive the client.
  static Result<std::unique_ptr<B2Client>> Make(B2ClientOptions options, HttpClient* http);
  // Same, sending requests through `transport` (tests).
  static Result<std::unique_ptr<B2Client>> MakeWithTransport(B2ClientOptions options,
                                                             B2Transport transport);

  // The effective options (defaults applied).
  const B2ClientOptions& options() const { return options_; }

  // Sends b2_authorize_account now (even when a token is cached), caches the
  // result, and resolves the bucket name to its ID again. kAuth (wrong key,
  // key restricted to other buckets, key unfit for this API version),
  // kNotFound "bucket X does not exist", kTransient (network, 5xx).
  Status Authorize();

  // A cheap reachability check for frequent health checks: authorizes only
  // when no token is cached (or the cached one was rejected), then sends one
  // b2_get_upload_url (Class A, free) and keeps the URL in the upload pool
  // unless it already holds 8. Errors as for Authorize.
  Status Probe();

  // The cached account information, authorizing and resolving the bucket
  // first when that has not happened yet. Errors as for Authorize.
  Result<B2AccountInfo> AccountInfo();
  // The cached account information without sending anything; nullopt before
  // the first successful authorization.
  std::optional<B2AccountInfo> CachedAccountInfo() const;

  // b2_upload_file to a pooled upload URL (see the header comment), with
  // X-Bz-Content-Sha1 always sent. Returns the file object B2 stored (action
  // "upload"). kInvalidName for a bad name, kInvalidArgument for bad info,
  // digests or a body over 5 GiB, kChecksumMismatch when the server saw other
  // bytes (or reports another SHA-1 or length than sent).
  Result<B2File> UploadFile(const B2UploadFileRequest& req);

  // HEAD on the download-by-name URL: the newest version's size, ID, SHA-1,
  // upload time and file info (decoded), with action "upload". kNotFound when
  // the name does not exist or its newest version is hidden.
  Result<B2File> HeadFileByName(const std::string& file_name);

  // b2_download_file_by_name (whole file, or `range`), streaming the body to
  // sink; sink returns false to stop (kCancelled). kNotFound when the file does
  // not exist; kPermanent when the server ignored the range or the range is not
  // satisfiable. On error the sink may have received part of the body: discard it.
  Status DownloadFileByName(const std::string& file_name, const std::optional<B2Range>& range,
                            const std::function<bool(std::string_view)>& sink);

  // b2_get_file_info. kNotFound when no such file version exists.
  Result<B2File> GetFileInfo(const std::string& file_id);

  // One page of b2_list_file_names. Folders (with a delimiter) come back with
  // action "folder"; next_file_name is nullopt on the last page.
  Result<B2FileList> ListFileNames(const B2ListFileNamesRequest& req);
  // One page of b2_list_file_versions (name order, newest first per name),
  // including hide markers and unfinished large files.
  Result<B2FileList> ListFileVersions(const B2ListFileVersionsRequest& req);

  // b2_hide_file: the name disappears from listings and downloads, its
  // versions stay. kNotFound when there is no such file.
  Result<B2File> HideFile(const std::string& file_name);
  // b2_delete_file_version. kNotFound (file_not_present) when that version
  // does not exist.
  Status DeleteFileVersion(const std::string& file_name, const std::string& file_id);

  // b2_start_large_file with file_info (same rules as B2UploadFileRequest;
  // "large_file_sha1" is the convention for the whole file's hex SHA-1).
  // Returns the file object (action "start"); its file_id names the upload.
  Result<B2File> StartLargeFile(const std::string& file_name, const std::string& content_type,
                                const std::map<std::string, std::string>& file_info);
  // b2_upload_part to a pooled part URL of that large file. kNotFound when the
  // large file no longer exists; kChecksumMismatch as for UploadFile.
  Result<B2Part> UploadPart(const B2UploadPartRequest& req);
  // b2_finish_large_file; part_sha1s[i] is the hex SHA-1 of part i+1. Returns
  // the finished file object (action "upload"). kNotFound when there is no
  // such unfinished large file (also when it was already finished).
  Result<B2File> FinishLargeFile(const std::string& file_id,
                                 const std::vector<std::string>& part_sha1s);
  // b2_cancel_large_file. kNotFound when there is no such unfinished large file.
  Status CancelLargeFile(const std::string& file_id);
  // One page of b2_list_parts from start_part_number (0 = from the first),
  // max_part_count clamped to 1..1000. kNotFound when the large file is gone.
  Result<B2PartList> ListPartsPage(const std::string& file_id, int start_part_number,
                                   int max_part_count = 1000);
  // Every part of the large file, ascending (follows nextPartNumber).
  Result<std::vector<B2Part>> ListParts(const std::string& file_id);
  // One page of b2_list_unfinished_large_files under name_prefix from
  // start_file_id ("" = first), max_file_count clamped to 1..100.
  Result<B2FileList> ListUnfinishedLargeFilesPage(const std::string& name_prefix,
                                                  const std::string& start_file_id,
                                                  int max_file_count = 100);
  // Every unfinished large file whose name starts with name_prefix.
  Result<std::vector<B2File>> ListUnfinishedLargeFiles(const std::string& name_prefix);

  // Diagnostics for tests: b2_authorize_account calls sent, idle pooled upload
  // URLs, idle pooled part URLs of one large file.
  uint64_t authorizations() const { return authorizations_.load(); }
  size_t idle_upload_urls() const;
  size_t idle_part_urls(const std::string& file_id) const;

 private:
  struct AuthState {
    B2Authorization auth;
    uint64_t generation = 0;
  };
  struct PooledUrl {
    B2UploadUrl url;
    std::chrono::steady_clock::time_point fetched;
  };
  struct ApiCall {
    std::string_view operation;
    std::string target;  // for messages
    B2Resource resource = B2Resource::kBucket;
    std::string body;  // JSON
  };
  B2Client(B2ClientOptions options, B2Transport transport);

  // The application key, key ID and current account token, plus `extra`.
  std::vector<std::string> Secrets(const std::string& extra = "") const;
  B2ErrorContext Context(std::string_view operation, std::string_view target,
                         B2Resource resource) const;
  Status ErrorFor(const B2ErrorContext& ctx, const HttpResponse& resp,
                  const std::string& extra_secret = "") const;

  std::shared_ptr<const AuthState> CurrentAuth() const;
  // Authorizes when nothing is cached yet.
  Result<std::shared_ptr<const AuthState>> EnsureAuthorized();
  // Authorizes again unless another thread already replaced `failed_generation`.
  Status Reauthorize(uint64_t failed_generation);
  // Sends b2_authorize_account and stores the result. auth_mu_ must be held.
  Status AuthorizeLocked();
  // The bucket ID, resolving it on first use (force: resolve again).
  Result<std::string> BucketId(bool force = false);

  // POST <apiUrl>/b2api/v2/<operation> with the account token; on 401
  // bad/expired token authorizes again and sends once more. A non-200 reply
  // becomes the classified error.
  Result<HttpResponse> Api(const ApiCall& call);
  // GET or HEAD on the download-by-name URL, with the same re-authorization.
  Result<HttpResponse> Download(const std::string& method, const std::string& file_name,
                                const std::optional<B2Range>& range,
                                const std::function<bool(std::string_view)>& sink);

  // Takes an idle URL of the pool `key` ("" = bucket uploads, else a large
  // file ID) or fetches a new one with b2_get_upload_url / b2_get_upload_part_url.
  Result<PooledUrl> CheckOutUrl(const std::string& key);
  // Always sends b2_get_upload_url (key "") / b2_get_upload_part_url.
  Result<PooledUrl> FetchUrl(const std::string& key);
  // Puts a URL that just served a successful upload back into its pool.
  void ReturnUrl(const std::string& key, PooledUrl url);
  // Drops the pool of a large file that was finished or cancelled.
  void DropPartUrls(const std::string& file_id);
  // Sends one upload (file or part) through pooled URLs as described in the
  // header comment. Returns the 200 reply.
  Result<HttpResponse> SendUpload(const std::string& pool_key, std::string_view operation,
                                  std::string_view target, const HttpHeaders& headers,
                                  const BodySource* body);

  B2ClientOptions options_;
  B2Transport transport_;

  mutable std::mutex mu_;                  // guards the fields below it up to the pools
  std::shared_ptr<const AuthState> auth_;  // null until the first authorization
  std::string bucket_id_;                  // "" until resolved
  std::map<std::string, std::vector<PooledUrl>> idle_urls_;  // "" = bucket uploads
  std::mutex auth_mu_;                                       // one authorization at a time
  std::mutex bucket_mu_;  // one bucket resolution at a time (taken before auth_mu_)
  std::atomic<uint64_t> authorizations_{0};
};

// Checks a B2 file name: 1..1024 bytes of valid UTF-8 without control
// characters (below 0x20, or DEL). kInvalidName otherwise.
Status ValidateB2FileName(std::string_view name);

// Checks file info for an upload or large file start and returns it with keys
// lowercased: at most 10 entries, keys 1..50 bytes of letters, digits, '-' and
// '_' (no "b2-" prefix, no two equal after lowercasing), values valid UTF-8.
// kInvalidArgument otherwise.
Result<std::map<std::string, std::string>> NormalizeB2FileInfo(
    const std::map<std::string, std::string>& file_info);

}  // namespace ck
