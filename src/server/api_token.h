// The API's bearer token: where it comes from, how it is created, and how a
// presented token is checked. The token itself is never logged or returned.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace ck {

// Tokens shorter than this are refused (they could be guessed).
inline constexpr size_t kMinApiTokenLength = 16;

// Returns the API token, from the first of:
//  1. env_value (the caller passes $CLOUDKEEP_API_TOKEN) when non-empty;
//  2. the file token_file (named in the configuration) when non-empty;
//  3. the file default_path.
// When the chosen file does not exist it is created (with its parent
// directories) holding a fresh token - 32 bytes from the OpenSSL CSPRNG, hex
// encoded - with mode 0600, and *created (may be null) is set to true; the
// caller reports the path (never the token). Surrounding whitespace is trimmed.
// Errors: kConfig for a token that is empty, shorter than kMinApiTokenLength or
// has characters other than printable ASCII, and for an existing token file
// that group or others can read (the message says to chmod 600); kIo when a
// file cannot be read or written. Messages name the file, never the token.
Result<std::string> LoadOrCreateToken(const std::string& env_value, const std::string& token_file,
                                      const std::string& default_path, bool* created);

// A fresh random token: 32 bytes from RAND_bytes, lowercase hex (64 characters).
Result<std::string> GenerateApiToken();

// Compares a presented token with the expected one in time independent of
// where they differ and of their lengths (both are hashed with SHA-256 and
// the digests compared with CRYPTO_memcmp).
bool TokensEqual(std::string_view presented, std::string_view expected);

}  // namespace ck
