// B2's percent-encoding of file names and file-info values (fact sheet §6).
//
// B2 carries a file name in the X-Bz-File-Name header and in the download
// path, and file-info values in X-Bz-Info-* headers, percent-encoded. The
// server decodes '+' as a space, so a literal '+' must travel as %2B.
#pragma once

#include <string>
#include <string_view>

namespace ck {

// Percent-encodes s the way B2 documents it: the bytes
//   A-Z a-z 0-9 . _ - ~ ! $ ' ( ) * ; = : @ /
// are kept as they are; every other byte (space, '+', '%', '"', '#', '&', ',',
// '<', '>', '?', '[', '\', ']', '^', '`', '{', '|', '}', control characters,
// DEL and every byte >= 0x80) becomes %XX with uppercase hex. Space is %20,
// never '+'. Example: "a b+c/自由" -> "a%20b%2Bc/%E8%87%AA%E7%94%B1".
std::string B2PercentEncode(std::string_view s);

// Inverse of B2PercentEncode, accepting both of B2's forms: %XX (either hex
// case) and '+' for a space. Returns false (leaving *out unspecified) on a
// malformed escape such as "%4" or "%zz".
bool B2PercentDecode(std::string_view s, std::string* out);

}  // namespace ck
