// Result<T>: a value or an error Status.
#pragma once

#include <cassert>
#include <optional>
#include <utility>

#include "util/status.h"

namespace ck {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "Result built from an OK status has no value");
    if (status_.ok()) status_ = Status(ErrorKind::kInternal, "Result built from OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

  T value_or(T other) const& { return ok() ? *value_ : std::move(other); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ck

#define CK_CONCAT_INNER(a, b) a##b
#define CK_CONCAT(a, b) CK_CONCAT_INNER(a, b)
#define CK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
// CK_ASSIGN_OR_RETURN(auto x, Foo()); returns Foo()'s status on error.
#define CK_ASSIGN_OR_RETURN(lhs, expr) \
  CK_ASSIGN_OR_RETURN_IMPL(CK_CONCAT(_ck_res_, __LINE__), lhs, expr)
