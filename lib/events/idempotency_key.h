// The idempotency key of an event, (client_id, sequence, event index), and its encoding as Kafka
// record headers (docs/contract.md): `sm-client-id` (UTF-8), `sm-sequence` and `sm-event-index`
// (decimal ASCII), plus `content-type` naming the value's protobuf type.
//
// The ingest service writes these headers on every event and dead letter; the aggregation service
// reads them to count each key once.
#ifndef STREAMMETRICS_LIB_EVENTS_IDEMPOTENCY_KEY_H_
#define STREAMMETRICS_LIB_EVENTS_IDEMPOTENCY_KEY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace streammetrics::events {

inline constexpr absl::string_view kHeaderContentType = "content-type";
inline constexpr absl::string_view kHeaderClientId = "sm-client-id";
inline constexpr absl::string_view kHeaderSequence = "sm-sequence";
inline constexpr absl::string_view kHeaderEventIndex = "sm-event-index";
inline constexpr absl::string_view kContentTypeMetricEvent =
    "application/x-protobuf; messageType=streammetrics.v1.MetricEvent";
inline constexpr absl::string_view kContentTypeDeadLetter =
    "application/x-protobuf; messageType=streammetrics.v1.DeadLetter";

struct IdempotencyKey {
  std::string client_id;
  uint64_t sequence = 0;
  uint32_t event_index = 0;

  friend bool operator==(const IdempotencyKey&, const IdempotencyKey&) = default;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// The four headers of a record whose value has `content_type`, in a fixed order.
Headers EncodeHeaders(const IdempotencyKey& key, absl::string_view content_type);

// `lookup(name)` returns the last value of header `name`, or nullopt. The view must stay valid
// until DecodeHeaders returns (a lambda returning std::optional<std::string> would dangle).
using HeaderLookup = absl::FunctionRef<std::optional<absl::string_view>(absl::string_view name)>;

// Reads the key back into *key (reusing its storage: the aggregation service decodes every record
// into one key). Fails with InvalidArgument naming the header when one is missing, empty (client
// id), not a canonical decimal number, or out of range (sequence 0, index above 2^32-1); *key is
// then unspecified.
absl::Status DecodeHeaders(HeaderLookup lookup, IdempotencyKey* key);

// The same, returning a new key.
absl::StatusOr<IdempotencyKey> DecodeHeaders(HeaderLookup lookup);

// The last value of header `name` in `headers`, or nullopt: a HeaderLookup over Headers.
std::optional<absl::string_view> LastHeader(const Headers& headers, absl::string_view name);

}  // namespace streammetrics::events

#endif  // STREAMMETRICS_LIB_EVENTS_IDEMPOTENCY_KEY_H_
