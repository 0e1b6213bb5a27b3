// MemoryDestination: an object store held in memory, for engine tests and as the
// reference behaviour in the destination conformance suite. It verifies the
// digests it is given exactly as a real server would (Content-MD5 / SHA-1), and
// lets tests script failures per operation.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "dest/destination.h"

namespace ck {

class MemoryDestination : public Destination {
 public:
  struct Options {
    std::string name = "memory";
    // Capabilities it declares; tests shrink min_part_size to keep data small.
    Capabilities caps{.multipart = true,
                      .min_part_size = 5u << 20,
                      .max_part_size = 5ull << 30,
                      .max_parts = 10000,
                      .max_single_put = 5ull << 30,
                      .max_key_bytes = 1024,
                      .verified_digest = DigestAlgo::kMd5,
                      .etag_is_md5 = true,
                      .multipart_etag_md5_of_md5s = true};
  };

  // Called before every operation with its name ("Put", "Head", "List", "Get",
  // "Delete", "StartMultipart", "UploadPart", "ListParts", "CompleteMultipart",
  // "AbortMultipart", "ListMultipartUploads", "Check") and the key (or prefix).
  // A non-OK return is what the operation returns, without doing anything.
  using FaultHook = std::function<Status(std::string_view op, const std::string& key)>;

  explicit MemoryDestination(Options opts);
  MemoryDestination() : MemoryDestination(Options{}) {}

  void set_fault_hook(FaultHook hook);
  // Number of calls of an operation so far (faulted ones included).
  uint64_t calls(std::string_view op) const;

  // Direct access for assertions. nullopt when absent.
  std::optional<std::string> ObjectData(const std::string& key) const;
  size_t object_count() const;
  size_t open_multipart_uploads() const;

  const std::string& name() const override { return opts_.name; }
  Capabilities capabilities() const override { return opts_.caps; }
  Status Check() override;
  Result<PutResult> Put(const PutRequest& req) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<ListPage> List(const ListOptions& opts) override;
  Status Get(const std::string& key, const GetOptions& opts,
             const std::function<bool(std::string_view)>& sink) override;
  Status Delete(const std::string& key) override;
  Result<std::string> StartMultipart(const std::string& key,
                                     const std::map<std::string, std::string>& metadata,
                                     const std::string& content_type) override;
  Result<PartInfo> UploadPart(const std::string& key, const std::string& upload_id,
                              const PartUpload& part) override;
  Result<std::vector<PartInfo>> ListParts(const std::string& key,
                                          const std::string& upload_id) override;
  Result<PutResult> CompleteMultipart(const std::string& key, const std::string& upload_id,
                                      const std::vector<PartInfo>& parts) override;
  Status AbortMultipart(const std::string& key, const std::string& upload_id) override;
  Result<std::vector<MultipartUploadInfo>> ListMultipartUploads(const std::string& prefix) override;

 private:
  struct Object {
    std::string data;
    std::string etag;
    std::string sha1_hex;
    std::map<std::string, std::string> metadata;
    int64_t modified_ms = 0;
  };
  struct Upload {
    std::string key;
    std::map<std::string, std::string> metadata;
    std::map<int, std::pair<std::string, std::string>> parts;  // number -> (data, md5 hex)
    int64_t initiated_ms = 0;
  };

  Status Enter(std::string_view op, const std::string& key);
  Result<std::string> ReadBody(const BodySource* body);

  Options opts_;
  mutable std::mutex mu_;
  FaultHook hook_;
  std::map<std::string, uint64_t, std::less<>> calls_;
  std::map<std::string, Object> objects_;
  std::map<std::string, Upload> uploads_;
  uint64_t next_upload_ = 1;
};

}  // namespace ck
