// The OTLP mapping: what each data point of an ExportMetricsServiceRequest becomes — a
// MetricEvent with a content-derived idempotency key, a rejection saying why not, or nothing (a
// baseline, an empty point, a zero increase). Pure code, no I/O; the only state is the
// cumulative tracker the caller passes in. docs/otlp.md has the table this implements.
//
// Every point's key is (client_id "otlp-" + 32 hex digits of its series and start time,
// sequence = time_unix_nano, event_index 0): the same point exported twice, to any ingest
// instance, gets the same key, and the aggregation service counts it once.
#ifndef STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_MAPPER_H_
#define STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_MAPPER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "ingest-service/otlp/cumulative_tracker.h"
#include "lib/events/idempotency_key.h"
#include "lib/events/validation.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::ingest::otlp {

using ExportRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;

inline constexpr char kClientIdPrefix[] = "otlp-";

// instance_id of points whose resource has neither service.instance.id nor host.name.
inline constexpr char kUnknownInstance[] = "unknown";

// Points that become neither an event nor a rejection.
enum class Skip {
  kBaseline = 0,  // first point of a cumulative series (CumulativeTracker)
  kReset,         // a cumulative series went down without a new start time
  kStale,         // an older cumulative point, or a conflicting copy of the last one
  kZeroDelta,     // a sum that did not change: nothing to add
  kNoValue,       // flagged FLAG_NO_RECORDED_VALUE by the sender
  kEmpty,         // a histogram point of count 0
  kCount,
};
// Label of a skip in metrics: "baseline", "reset", "stale", "zero_delta", "no_value", "empty".
const char* SkipLabel(Skip skip);

struct MappedEvent {
  v1::MetricEvent event;
  events::IdempotencyKey key;
};

// A point refused by the mapping itself (before validation).
struct PointRejection {
  v1::DeadLetterReason reason = v1::DEAD_LETTER_REASON_UNSPECIFIED;
  // Names the metric and says what to change in the exporter.
  std::string message;
  // The serialized data point and its protobuf type, for the dead letter.
  std::string original;
  std::string original_type;
  events::IdempotencyKey key;
};

struct MappedExport {
  std::vector<MappedEvent> events;
  std::vector<PointRejection> rejections;
  // Data points read, whatever became of them.
  size_t points = 0;
  std::array<uint64_t, static_cast<size_t>(Skip::kCount)> skipped{};
};

// `metric "<name>"` for messages, the name C-escaped and cut at 200 bytes ("..." marks a cut):
// a refusal's message travels in a dead letter, which must stay small whatever the sender named
// its metric.
std::string QuotedMetric(absl::string_view name);

// Maps every point of `request`, in order. Cumulative monotonic sums go through `tracker`. The
// resource's service.name and instance and each metric's name and unit are checked against
// `limits` once, before any point copies them: a point of a resource or metric that breaks one is
// refused (FIELD_TOO_LONG), as are the points of a resource without service.name
// (MISSING_SERVICE_NAME). Everything else is validated later, per event (otlp_records.h).
MappedExport MapExport(const ExportRequest& request, const events::ValidationLimits& limits,
                       CumulativeTracker* tracker);

struct ExportCounts {
  // Data points of every kind.
  size_t points = 0;
  // Resources, scopes and metrics: each costs a digest or a check even without points, so the
  // per-export limit bounds them too.
  size_t containers = 0;
};

// What `request` holds, counted in one walk over its metrics (the per-export limit counts these).
ExportCounts CountExport(const ExportRequest& request);

}  // namespace streammetrics::ingest::otlp

#endif  // STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_MAPPER_H_
