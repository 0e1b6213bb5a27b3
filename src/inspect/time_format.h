// ISO-8601 UTC timestamps for the JSON documents the inspector and the API
// server produce ("2026-11-24T17:14:51Z"). Kept here (not in src/cli) so the
// libraries can use it; same format as the CLI's `status --json`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ck {

// Seconds precision, UTC, "Z" suffix. unix_us is microseconds since the epoch.
std::string FormatIsoTime(int64_t unix_us);

// FormatIsoTime, or JSON null when unix_us <= 0 ("never").
nlohmann::json IsoTimeJson(int64_t unix_us);

// A string that is safe to put in a JSON document: s itself when it is valid
// UTF-8, else with the invalid bytes escaped as \xNN (nlohmann::json refuses to
// serialise invalid UTF-8).
std::string JsonSafeString(const std::string& s);

}  // namespace ck
