// Text helpers: percent-encoding (RFC 3986 unreserved set) and UTF-8 checks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ck {

// Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (uppercase hex).
// When keep_slash is true, '/' is also left as is (S3 object paths).
std::string UriEncode(std::string_view s, bool keep_slash = false);

// Decodes %XX sequences; when plus_is_space is true, '+' becomes ' '.
// Returns false on a malformed escape.
bool UriDecode(std::string_view s, std::string* out, bool plus_is_space = false);

// True if s is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Escapes bytes that are not printable ASCII or valid UTF-8 as \xNN, for
// showing a raw (possibly invalid) file name in a message.
std::string PrintableName(std::string_view s);

// "12.3 MiB" style sizes.
std::string HumanBytes(uint64_t bytes);

}  // namespace ck
