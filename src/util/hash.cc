#include "util/hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

namespace ck {
namespace {
// OpenSSL 3 looks an algorithm up by name (locks, allocations) every time a
// context is initialised with EVP_md5() and friends; fetch each one once. When
// a fetch fails (e.g. a FIPS-only configuration refusing MD5), fall back to the
// legacy handle, which then reports the error at use.
const EVP_MD* FetchOr(const char* name, const EVP_MD* legacy) {
  const EVP_MD* m = EVP_MD_fetch(nullptr, name, nullptr);
  return m != nullptr ? m : legacy;
}

const EVP_MD* MdFor(DigestAlgo a) {
  static const EVP_MD* const kMd5 = FetchOr("MD5", EVP_md5());
  static const EVP_MD* const kSha1 = FetchOr("SHA1", EVP_sha1());
  static const EVP_MD* const kSha256 = FetchOr("SHA256", EVP_sha256());
  switch (a) {
    case DigestAlgo::kMd5:
      return kMd5;
    case DigestAlgo::kSha1:
      return kSha1;
    case DigestAlgo::kSha256:
      return kSha256;
  }
  return kSha256;
}

// Per-thread contexts for the one-shot functions: no allocation per call.
struct ThreadContexts {
  EVP_MD_CTX* md[3] = {nullptr, nullptr, nullptr};
  EVP_MAC_CTX* hmac_sha256 = nullptr;
  ThreadContexts() = default;
  ThreadContexts(const ThreadContexts&) = delete;
  ThreadContexts& operator=(const ThreadContexts&) = delete;
  ~ThreadContexts() {
    for (EVP_MD_CTX* c : md) EVP_MD_CTX_free(c);
    EVP_MAC_CTX_free(hmac_sha256);
  }
  EVP_MD_CTX* Md(DigestAlgo a) {
    EVP_MD_CTX*& c = md[static_cast<int>(a)];
    if (c == nullptr && (c = EVP_MD_CTX_new()) == nullptr)
      throw std::runtime_error("EVP_MD_CTX_new failed");
    return c;
  }
  // An HMAC-SHA256 context with its digest set; EVP_MAC_init re-keys it.
  EVP_MAC_CTX* Hmac() {
    if (hmac_sha256 != nullptr) return hmac_sha256;
    static EVP_MAC* const kHmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (kHmac == nullptr) throw std::runtime_error("EVP_MAC_fetch(HMAC) failed");
    EVP_MAC_CTX* c = EVP_MAC_CTX_new(kHmac);
    if (c == nullptr) throw std::runtime_error("EVP_MAC_CTX_new failed");
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(c, params) != 1) {
      EVP_MAC_CTX_free(c);
      throw std::runtime_error("HMAC: cannot select SHA-256");
    }
    return hmac_sha256 = c;
  }
};

ThreadContexts& Contexts() {
  thread_local ThreadContexts contexts;
  return contexts;
}
}  // namespace

Hasher::Hasher(DigestAlgo algo) : algo_(algo), ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex2(ctx_, MdFor(algo_), nullptr) != 1)
    throw std::runtime_error("EVP_DigestInit_ex2 failed");
}

Hasher::~Hasher() {
  if (ctx_ != nullptr) EVP_MD_CTX_free(ctx_);
}

Hasher::Hasher(Hasher&& o) noexcept : algo_(o.algo_), ctx_(o.ctx_) {
  o.ctx_ = nullptr;
}

Hasher& Hasher::operator=(Hasher&& o) noexcept {
  if (this != &o) {
    if (ctx_ != nullptr) EVP_MD_CTX_free(ctx_);
    algo_ = o.algo_;
    ctx_ = o.ctx_;
    o.ctx_ = nullptr;
  }
  return *this;
}

void Hasher::Update(const void* data, size_t len) {
  if (len > 0) EVP_DigestUpdate(ctx_, data, len);
}

std::string Hasher::Finish() {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, buf, &n);
  EVP_DigestInit_ex2(ctx_, MdFor(algo_), nullptr);
  return std::string(reinterpret_cast<char*>(buf), n);
}

static std::string OneShot(DigestAlgo a, std::string_view d) {
  EVP_MD_CTX* ctx = Contexts().Md(a);
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestInit_ex2(ctx, MdFor(a), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, d.data(), d.size()) != 1 || EVP_DigestFinal_ex(ctx, buf, &n) != 1)
    throw std::runtime_error("digest failed");
  return std::string(reinterpret_cast<char*>(buf), n);
}

std::string Md5(std::string_view data) {
  return OneShot(DigestAlgo::kMd5, data);
}
std::string Sha1(std::string_view data) {
  return OneShot(DigestAlgo::kSha1, data);
}
std::string Sha256(std::string_view data) {
  return OneShot(DigestAlgo::kSha256, data);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  EVP_MAC_CTX* ctx = Contexts().Hmac();
  // EVP_MAC_init refuses a null key pointer even with length 0.
  static const unsigned char kNoKey[1] = {0};
  const auto* k = key.empty() ? kNoKey : reinterpret_cast<const unsigned char*>(key.data());
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t n = 0;
  if (EVP_MAC_init(ctx, k, key.size(), nullptr) != 1 ||
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx, out, &n, sizeof(out)) != 1)
    throw std::runtime_error("HMAC-SHA256 failed");
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string HexEncode(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(raw.size() * 2);
  for (size_t i = 0; i < raw.size(); ++i) {
    auto c = static_cast<unsigned char>(raw[i]);
    out[2 * i] = kDigits[c >> 4];
    out[2 * i + 1] = kDigits[c & 15];
  }
  return out;
}

static int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool HexDecode(std::string_view hex, std::string* raw) {
  if (hex.size() % 2 != 0) return false;
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexVal(hex[2 * i]), lo = HexVal(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  *raw = std::move(out);
  return true;
}

std::string Base64Encode(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace ck
