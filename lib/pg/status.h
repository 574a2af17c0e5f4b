// How PostgreSQL failures become absl::Status codes for the aggregate store's callers, who act on
// the code alone: Unavailable means "retry later, nothing changed"; InvalidArgument means "this
// data cannot be stored, retrying will not help"; the rest point at the deployment (schema) or
// at stored data.
#ifndef STREAMMETRICS_LIB_PG_STATUS_H_
#define STREAMMETRICS_LIB_PG_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace streammetrics::pg {

// The code for a failure with SQLSTATE `sqlstate`, "" when there is none (the connection failed):
//  - Unavailable: no SQLSTATE, connection exceptions (08), transaction rollbacks (40:
//    serialization failures, deadlocks), insufficient resources (53), operator intervention (57:
//    statement timeout, cancel, shutdown, terminated backend), lock not available (55P03), system
//    errors (58).
//  - InvalidArgument: data exceptions (22, e.g. 22001 value too long), integrity constraint
//    violations (23), program limits such as a row too big (54).
//  - FailedPrecondition: undefined tables or columns and other statement errors (42, 3F), which
//    mean the schema is not the one deploy/migrations/ makes.
//  - DataLoss: data corrupted (XX001) or index corrupted (XX002).
//  - Internal: anything else.
absl::StatusCode StatusCode(absl::string_view sqlstate);

// A status of that code reading "PostgreSQL <context>: <message> (SQLSTATE <sqlstate>)".
// `message` is libpq's message with its trailing newline removed.
absl::Status ErrorStatus(absl::string_view sqlstate, absl::string_view message,
                         absl::string_view context);

}  // namespace streammetrics::pg

#endif  // STREAMMETRICS_LIB_PG_STATUS_H_
