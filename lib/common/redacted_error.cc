// RedactedError: see redacted_error.h.
#include "lib/common/redacted_error.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/common/log.h"

namespace streammetrics {

std::string NewCorrelationId() {
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
}

absl::Status RedactedError(const absl::Status& detail, absl::string_view what) {
  const std::string id = NewCorrelationId();
  SM_LOG(Error, "internal_error")
      .Kv("correlation_id", id)
      .Kv("what", what)
      .Kv("code", absl::StatusCodeToString(detail.code()))
      .Kv("detail", detail.message());
  const std::string reference =
      absl::StrCat("correlation id ", id, "; the service's log has the details under it");
  switch (detail.code()) {
    case absl::StatusCode::kUnavailable:
      return absl::UnavailableError(
          absl::StrCat(what, " is unavailable right now (", reference, "): retry shortly"));
    case absl::StatusCode::kDeadlineExceeded:
      return absl::DeadlineExceededError(absl::StrCat(
          what, " took too long (", reference, "): narrow the range or the filters, or retry"));
    default:
      return absl::InternalError(absl::StrCat(
          what, " failed (", reference, "): retry; if it persists, give the id to the operator"));
  }
}

}  // namespace streammetrics
