// RedactedError: an internal part's failure (a database, a cache) as a caller may see it. The
// detail (PostgreSQL's message, a host name, a query) goes to the log under a correlation id; the
// caller gets the id, a sentence of what to do, and a code that keeps its meaning for retries.
#ifndef STREAMMETRICS_LIB_COMMON_REDACTED_ERROR_H_
#define STREAMMETRICS_LIB_COMMON_REDACTED_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace streammetrics {

// A fresh correlation id: 16 lowercase hex digits, random.
std::string NewCorrelationId();

// Logs `detail` (event=internal_error, with `what` and a new correlation id) and returns a status
// naming `what` and the id. Unavailable stays Unavailable and DeadlineExceeded stays
// DeadlineExceeded (a caller retries, or narrows its request); every other code becomes Internal.
// Precondition: !detail.ok().
absl::Status RedactedError(const absl::Status& detail, absl::string_view what);

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_REDACTED_ERROR_H_
