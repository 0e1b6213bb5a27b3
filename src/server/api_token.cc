#include "server/api_token.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/hash.h"

namespace ck {

namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
    --e;
  return std::string(s.substr(b, e - b));
}

Status Validate(const std::string& token, const std::string& origin) {
  if (token.empty())
    return Status(ErrorKind::kConfig, "the API token from " + origin + " is empty");
  if (token.size() < kMinApiTokenLength)
    return Status(ErrorKind::kConfig, "the API token from " + origin + " is too short (at least " +
                                          std::to_string(kMinApiTokenLength) + " characters)");
  for (char c : token) {
    if (c < 0x21 || c > 0x7e)
      return Status(ErrorKind::kConfig,
                    "the API token from " + origin +
                        " may only contain printable ASCII characters without spaces");
  }
  return Status::OK();
}

Result<std::string> ReadTokenFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status(ErrorKind::kIo,
                  "cannot read API token file " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(ErrorKind::kIo, "API token file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return Status(ErrorKind::kConfig,
                  "API token file " + path + " can be read by other users; run: chmod 600 " + path);
  }
  std::string text;
  char buf[512];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status(ErrorKind::kIo,
                    "cannot read API token file " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 4096) {
      ::close(fd);
      return Status(ErrorKind::kConfig, "API token file " + path + " is too large");
    }
  }
  ::close(fd);
  std::string token = Trim(text);
  CK_RETURN_IF_ERROR(Validate(token, "file " + path));
  return token;
}

// Creates path holding a new token (mode 0600). When the file appeared in the
// meantime (another process created it), sets *raced and returns an error the
// caller replaces by reading that file.
Result<std::string> CreateTokenFile(const std::string& path, bool* raced) {
  *raced = false;
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  CK_ASSIGN_OR_RETURN(std::string token, GenerateApiToken());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      *raced = true;
      return Status(ErrorKind::kIo, "exists");
    }
    return Status(ErrorKind::kIo,
                  "cannot create API token file " + path + ": " + std::strerror(errno));
  }
  std::string text = token + "\n";
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return Status(ErrorKind::kIo,
                    "cannot write API token file " + path + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return Status(ErrorKind::kIo,
                  "cannot write API token file " + path + ": " + std::strerror(err));
  }
  return token;
}

}  // namespace

Result<std::string> GenerateApiToken() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return Internal("the random number generator failed to produce an API token");
  std::string hex = HexEncode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  OPENSSL_cleanse(raw, sizeof raw);
  return hex;
}

Result<std::string> LoadOrCreateToken(const std::string& env_value, const std::string& token_file,
                                      const std::string& default_path, bool* created) {
  if (created != nullptr) *created = false;
  std::string env_token = Trim(env_value);
  if (!env_value.empty()) {
    CK_RETURN_IF_ERROR(Validate(env_token, "CLOUDKEEP_API_TOKEN"));
    return env_token;
  }
  const std::string& path = token_file.empty() ? default_path : token_file;
  if (path.empty()) return Status(ErrorKind::kConfig, "no API token file path");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return ReadTokenFile(path);
  if (errno != ENOENT)
    return Status(ErrorKind::kIo,
                  "cannot read API token file " + path + ": " + std::strerror(errno));
  bool raced = false;
  auto made = CreateTokenFile(path, &raced);
  if (raced) return ReadTokenFile(path);
  if (made.ok() && created != nullptr) *created = true;
  return made;
}

bool TokensEqual(std::string_view presented, std::string_view expected) {
  std::string a = Sha256(presented);
  std::string b = Sha256(expected);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ck
