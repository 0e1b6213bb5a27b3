// Formatting shared by the commands: JSON documents (stable, documented in
// docs/json.md) and human-readable text.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "config/config.h"
#include "state/state_store.h"

namespace ck {

// "2026-11-24T16:52:03Z"; null JSON for 0.
std::string IsoTime(int64_t unix_us);
nlohmann::json IsoTimeOrNull(int64_t unix_us);

// The `status --json` document from the state store.
nlohmann::json StatusJson(const Config& config, const std::vector<DestinationCounts>& counts,
                          const StoreTotals& totals, int64_t now_us);

// One failed file as JSON (the `failed --json` and API shape).
nlohmann::json FailedFileJson(const FailedFile& f);

// "1h 02m", "3m 05s", "12s"
std::string HumanDuration(double seconds);

}  // namespace ck
