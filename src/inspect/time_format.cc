#include "inspect/time_format.h"

#include <ctime>

#include "util/encoding.h"

namespace ck {

std::string FormatIsoTime(int64_t unix_us) {
  // Floor division so times before the epoch do not round towards it.
  int64_t secs = unix_us / 1000000;
  if (unix_us < 0 && unix_us % 1000000 != 0) --secs;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json IsoTimeJson(int64_t unix_us) {
  if (unix_us <= 0) return nullptr;
  return FormatIsoTime(unix_us);
}

std::string JsonSafeString(const std::string& s) {
  return IsValidUtf8(s) ? s : PrintableName(s);
}

}  // namespace ck
