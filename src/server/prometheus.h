// Prometheus text exposition format (version 0.0.4): a small writer and the
// histogram the API server keeps of its own request latencies.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ck {

using PromLabels = std::vector<std::pair<std::string, std::string>>;

// Escapes a label value: backslash, double quote and newline; bytes that are
// not valid UTF-8 become \xNN text.
std::string PromEscapeLabelValue(std::string_view v);
// A sample value: integers without a fraction, "+Inf"/"-Inf"/"NaN", else the
// shortest decimal text that reads back as the same double.
std::string PromFormatValue(double v);

// Builds an exposition document. Families must be declared (HELP and TYPE,
// once) before their samples; samples of one family should be added together.
class PromWriter {
 public:
  // type: "counter", "gauge" or "histogram". A family declared twice is written once.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One line: name{labels} value.
  void Sample(std::string_view name, const PromLabels& labels, double value);
  // A histogram from per-bucket (non-cumulative) counts: counts[i] counts
  // observations <= bounds[i] (and > bounds[i-1]); counts has one more element
  // than bounds for +Inf. Writes name_bucket{...,le} (cumulative), name_sum, name_count.
  void Histogram(std::string_view name, const PromLabels& labels, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& counts, double sum);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
  std::set<std::string, std::less<>> declared_;
};

// Request latency histograms per label set (thread-safe).
class LatencyHistograms {
 public:
  // Bucket upper bounds in seconds (the same as DestinationMetrics::kBuckets).
  explicit LatencyHistograms(std::vector<double> bounds);
  void Observe(const PromLabels& labels, double seconds);
  // Writes every histogram as family `name` (declare the family first).
  void Write(PromWriter* w, std::string_view name) const;
  uint64_t Count(const PromLabels& labels) const;

 private:
  struct Series {
    std::vector<uint64_t> counts;
    double sum = 0;
  };
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<PromLabels, Series> series_;
};

}  // namespace ck
