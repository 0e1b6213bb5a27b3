// Streaming message digests (OpenSSL EVP), HMAC, hex and base64.
// Hasher objects are not thread-safe; use one per thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace ck {

enum class DigestAlgo { kMd5, kSha1, kSha256 };

class Hasher {
 public:
  explicit Hasher(DigestAlgo algo);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Update(const void* data, size_t len);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // Returns the raw digest and resets the hasher for reuse.
  std::string Finish();

  DigestAlgo algo() const { return algo_; }

 private:
  DigestAlgo algo_;
  evp_md_ctx_st* ctx_;
};

// One-shot digests (raw bytes).
std::string Md5(std::string_view data);
std::string Sha1(std::string_view data);
std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);

std::string HexEncode(std::string_view raw);  // lowercase
// Returns false on odd length or a non-hex character.
bool HexDecode(std::string_view hex, std::string* raw);
std::string Base64Encode(std::string_view raw);

// SHA-256 of the empty string, hex.
inline constexpr std::string_view kEmptySha256Hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

}  // namespace ck
