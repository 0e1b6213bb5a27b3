#include "util/hash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace ck {
namespace {
const EVP_MD* MdFor(DigestAlgo a) {
  switch (a) {
    case DigestAlgo::kMd5:
      return EVP_md5();
    case DigestAlgo::kSha1:
      return EVP_sha1();
    case DigestAlgo::kSha256:
      return EVP_sha256();
  }
  return EVP_sha256();
}
}  // namespace

Hasher::Hasher(DigestAlgo algo) : algo_(algo), ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, MdFor(algo_), nullptr) != 1)
    throw std::runtime_error("EVP_DigestInit_ex failed");
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
  EVP_DigestInit_ex(ctx_, MdFor(algo_), nullptr);
  return std::string(reinterpret_cast<char*>(buf), n);
}

static std::string OneShot(DigestAlgo a, std::string_view d) {
  Hasher h(a);
  h.Update(d);
  return h.Finish();
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
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
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
