#pragma once

// Status propagation helpers over absl::Status / absl::StatusOr.
//
//   RETURN_IF_ERROR(DoThing());
//   ASSIGN_OR_RETURN(auto value, ComputeValue());
//
// Both evaluate their argument exactly once and return the failing status unchanged.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LOCKOUT_STATUS_CONCAT_INNER_(a, b) a##b
#define LOCKOUT_STATUS_CONCAT_(a, b) LOCKOUT_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status lockout_status_ = (expr);           \
    if (!lockout_status_.ok()) return lockout_status_; \
  } while (false)

#define LOCKOUT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = std::move(statusor).value()

#define ASSIGN_OR_RETURN(lhs, rexpr) \
  LOCKOUT_ASSIGN_OR_RETURN_IMPL_(LOCKOUT_STATUS_CONCAT_(lockout_statusor_, __LINE__), lhs, rexpr)
