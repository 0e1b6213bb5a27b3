#include "server/prometheus.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "util/encoding.h"

namespace ck {

std::string PromEscapeLabelValue(std::string_view v) {
  std::string s = IsValidUtf8(v) ? std::string(v) : PrintableName(v);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string PromFormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // Shortest text that reads back as the same double.
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void PromWriter::Family(std::string_view name, std::string_view type, std::string_view help) {
  if (!declared_.emplace(name).second) return;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  for (char c : help) out_ += c == '\n' ? ' ' : c;
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void PromWriter::Sample(std::string_view name, const PromLabels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      out_ += PromEscapeLabelValue(labels[i].second);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += PromFormatValue(value);
  out_ += '\n';
}

void PromWriter::Histogram(std::string_view name, const PromLabels& labels,
                           const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                           double sum) {
  uint64_t cumulative = 0;
  std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += i < counts.size() ? counts[i] : 0;
    PromLabels l = labels;
    l.emplace_back("le", i < bounds.size() ? PromFormatValue(bounds[i]) : "+Inf");
    Sample(bucket, l, static_cast<double>(cumulative));
  }
  Sample(std::string(name) + "_sum", labels, sum);
  Sample(std::string(name) + "_count", labels, static_cast<double>(cumulative));
}

LatencyHistograms::LatencyHistograms(std::vector<double> bounds) : bounds_(std::move(bounds)) {}

void LatencyHistograms::Observe(const PromLabels& labels, double seconds) {
  size_t b = 0;
  while (b < bounds_.size() && seconds > bounds_[b]) ++b;
  std::lock_guard<std::mutex> l(mu_);
  Series& s = series_[labels];
  if (s.counts.empty()) s.counts.assign(bounds_.size() + 1, 0);
  s.counts[b]++;
  s.sum += seconds;
}

void LatencyHistograms::Write(PromWriter* w, std::string_view name) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [labels, s] : series_) w->Histogram(name, labels, bounds_, s.counts, s.sum);
}

uint64_t LatencyHistograms::Count(const PromLabels& labels) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = series_.find(labels);
  if (it == series_.end()) return 0;
  uint64_t n = 0;
  for (uint64_t c : it->second.counts) n += c;
  return n;
}

}  // namespace ck
