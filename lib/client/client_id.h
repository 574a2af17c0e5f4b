// ValidateClientId: the client library's check of a client_id, the same rule the ingest service
// applies to MetricBatch.client_id (1..128 bytes, no control characters), so a bad id is refused
// when the client is created instead of every batch being rejected by the server later.
#ifndef STREAMMETRICS_LIB_CLIENT_CLIENT_ID_H_
#define STREAMMETRICS_LIB_CLIENT_CLIENT_ID_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace streammetrics::client {

// The ingest service's default limit (ValidationLimits::max_client_id_length).
inline constexpr size_t kMaxClientIdBytes = 128;

// OK when `client_id` is 1..kMaxClientIdBytes bytes, not only ASCII whitespace, and free of
// control characters (bytes 0x00-0x1F and 0x7F); otherwise InvalidArgument saying which rule
// it breaks.
absl::Status ValidateClientId(absl::string_view client_id);

}  // namespace streammetrics::client

#endif  // STREAMMETRICS_LIB_CLIENT_CLIENT_ID_H_
