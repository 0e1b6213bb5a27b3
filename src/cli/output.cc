#include "cli/output.h"

#include <cstdio>
#include <ctime>

#include "util/encoding.h"

namespace ck {

std::string IsoTime(int64_t unix_us) {
  std::time_t t = static_cast<std::time_t>(unix_us / 1000000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json IsoTimeOrNull(int64_t unix_us) {
  if (unix_us <= 0) return nullptr;
  return IsoTime(unix_us);
}

// Names may be arbitrary bytes; JSON strings must be UTF-8.
static std::string JsonSafe(const std::string& s) {
  return IsValidUtf8(s) ? s : PrintableName(s);
}

nlohmann::json StatusJson(const Config& config, const std::vector<DestinationCounts>& counts,
                          const StoreTotals& totals, int64_t now_us) {
  nlohmann::json doc;
  doc["generated_at"] = IsoTime(now_us);
  doc["config"] = config.file;
  doc["database"] = config.database;
  doc["sources"] = nlohmann::json::array();
  for (const auto& s : config.sources)
    doc["sources"].push_back({{"path", JsonSafe(s.path)}, {"prefix", s.prefix}});
  doc["local"] = {{"files", totals.files}, {"bytes", totals.bytes}, {"skipped", totals.skipped}};
  doc["destinations"] = nlohmann::json::array();
  uint64_t tf = 0, tb = 0;
  for (const auto& d : config.destinations) {
    DestinationCounts c;
    for (const auto& x : counts)
      if (x.destination == d.name) c = x;
    nlohmann::json j;
    j["name"] = d.name;
    j["type"] = d.type;
    j["enabled"] = d.enabled;
    j["bucket"] = d.bucket;
    j["prefix"] = d.prefix;
    j["synced"] = {{"files", c.synced_files},
                   {"bytes", c.synced_bytes},
                   {"source", "database"},
                   {"as_of", IsoTime(now_us)}};
    j["pending"] = {{"files", c.pending_files}, {"bytes", c.pending_bytes}};
    j["failed"] = {{"files", c.failed_files}, {"bytes", c.failed_bytes}};
    j["last_synced_at"] = IsoTimeOrNull(c.last_synced_us);
    j["all_synced"] = d.enabled && c.pending_files == 0 && c.failed_files == 0;
    doc["destinations"].push_back(std::move(j));
    tf += c.synced_files;
    tb += c.synced_bytes;
  }
  doc["totals"] = {{"files", tf}, {"bytes", tb}};
  return doc;
}

nlohmann::json FailedFileJson(const FailedFile& f) {
  return {{"path", JsonSafe(f.rel_path)}, {"source", JsonSafe(f.source)},
          {"destination", f.destination}, {"size", f.size},
          {"error_kind", f.error_kind},   {"error", JsonSafe(f.error)},
          {"attempts", f.attempts},       {"last_attempt_at", IsoTimeOrNull(f.last_attempt_us)}};
}

std::string HumanDuration(double seconds) {
  if (seconds < 0) seconds = 0;
  auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm %02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

}  // namespace ck
