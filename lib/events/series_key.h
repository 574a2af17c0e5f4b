// The canonical series key: identity of a series (service_id, metric_name, tags) as one string.
//
// It is the Kafka record key of every event of the series (so one series lives on one partition),
// the key of its windows in PostgreSQL and Redis, and the key of aggregated records. Format (see
// docs/contract.md): `service_id|metric_name|k1=v1,k2=v2`, tags sorted by key (bytewise), and
// `\`, `|`, `,`, `=` inside any part escaped with a backslash. Changing it re-partitions every
// series: it is part of the contract.
#ifndef STREAMMETRICS_LIB_EVENTS_SERIES_KEY_H_
#define STREAMMETRICS_LIB_EVENTS_SERIES_KEY_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "streammetrics/v1/aggregate.pb.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::events {

// The key of the series `event` belongs to. Deterministic: equal series give equal keys, whatever
// the order of the map's entries; different series give different keys (escaping keeps parts
// apart).
std::string SeriesKey(const v1::MetricEvent& event);

// The same, written over *out (reusing its storage, for callers that key every record).
void SeriesKey(const v1::MetricEvent& event, std::string* out);

// The same for parts given separately.
std::string SeriesKey(absl::string_view service_id, absl::string_view metric_name,
                      const google::protobuf::Map<std::string, std::string>& tags);

// Inverse of SeriesKey. Fails with InvalidArgument when `key` is not a well-formed series key
// (wrong number of parts, a tag without '=', a dangling escape, tags out of order).
absl::StatusOr<v1::Series> ParseSeriesKey(absl::string_view key);

}  // namespace streammetrics::events

#endif  // STREAMMETRICS_LIB_EVENTS_SERIES_KEY_H_
