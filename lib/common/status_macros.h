// RETURN_IF_ERROR and ASSIGN_OR_RETURN for absl::Status / absl::StatusOr.
//
// Abseil 20220623 (Debian 12) does not ship its status macros; these keep the same names and
// meaning so the code reads like code using a newer Abseil, and can switch to it unchanged.
#ifndef STREAMMETRICS_LIB_COMMON_STATUS_MACROS_H_
#define STREAMMETRICS_LIB_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status); if it is not OK, returns it from the current function.
#define RETURN_IF_ERROR(expr)                                 \
  do {                                                        \
    if (absl::Status sm_status_ = (expr); !sm_status_.ok()) { \
      return sm_status_;                                      \
    }                                                         \
  } while (false)

#define SM_STATUS_CONCAT_INNER_(a, b) a##b
#define SM_STATUS_CONCAT_(a, b) SM_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from the current
// function, otherwise moves the value into `lhs` (which may be a declaration: `auto x`).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  SM_ASSIGN_OR_RETURN_IMPL_(SM_STATUS_CONCAT_(sm_statusor_, __LINE__), lhs, rexpr)

#define SM_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) {                                 \
    return std::move(statusor).status();                \
  }                                                     \
  lhs = *std::move(statusor)

#endif  // STREAMMETRICS_LIB_COMMON_STATUS_MACROS_H_
