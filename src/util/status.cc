#include "util/status.h"

#include <array>

namespace ck {
namespace {
constexpr std::array<std::pair<ErrorKind, std::string_view>, 17> kNames = {{
    {ErrorKind::kOk, "ok"},
    {ErrorKind::kInvalidArgument, "invalid_argument"},
    {ErrorKind::kNotFound, "not_found"},
    {ErrorKind::kAuth, "auth"},
    {ErrorKind::kThrottled, "throttled"},
    {ErrorKind::kTransient, "transient"},
    {ErrorKind::kPermanent, "permanent"},
    {ErrorKind::kCapExceeded, "cap_exceeded"},
    {ErrorKind::kIo, "io"},
    {ErrorKind::kPermissionDenied, "permission_denied"},
    {ErrorKind::kInvalidName, "invalid_name"},
    {ErrorKind::kChanged, "changed"},
    {ErrorKind::kVanished, "vanished"},
    {ErrorKind::kChecksumMismatch, "checksum_mismatch"},
    {ErrorKind::kCancelled, "cancelled"},
    {ErrorKind::kConfig, "config"},
    {ErrorKind::kInternal, "internal"},
}};
}  // namespace

std::string_view ErrorKindName(ErrorKind k) {
  for (const auto& [kind, name] : kNames)
    if (kind == k) return name;
  return "internal";
}

ErrorKind ErrorKindFromName(std::string_view name) {
  for (const auto& [kind, n] : kNames)
    if (n == name) return kind;
  return ErrorKind::kInternal;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(ErrorKindName(kind_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s = *this;
  s.message_ = std::string(context) + ": " + message_;
  return s;
}

}  // namespace ck
