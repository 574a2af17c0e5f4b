// Validation of metric events and batches (docs/contract.md §5, with its limits): pure code, no
// I/O, the clock passed in. The ingest service calls it on every batch it reads; the aggregation
// service calls ValidateEvent again on records other producers may have written.
#ifndef STREAMMETRICS_LIB_EVENTS_VALIDATION_H_
#define STREAMMETRICS_LIB_EVENTS_VALIDATION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "streammetrics/v1/ingest.pb.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::events {

// Largest magnitude of an event's value. Far beyond any measurement, and small enough that a
// window's sum of such values stays finite for any realistic count (DBL_MAX / 1e290 is about
// 1.8e18 events), so stored aggregates never hold an infinity.
inline constexpr double kMaxAbsValue = 1e290;

// Every limit of validation. Defaults are the contract's; each is configurable per deployment.
struct ValidationLimits {
  // Longest event_id, in bytes.
  size_t max_event_id_length = 128;
  // Longest service_id and instance_id (the seed's VARCHAR(100)).
  size_t max_service_id_length = 100;
  size_t max_instance_id_length = 100;
  // Longest metric_name (the seed's VARCHAR(200)).
  size_t max_metric_name_length = 200;
  // Longest unit.
  size_t max_unit_length = 32;
  // Most tags per event; longest tag key and value.
  size_t max_tags = 16;
  size_t max_tag_key_length = 64;
  size_t max_tag_value_length = 256;
  // Most metadata entries per event; longest key and value.
  size_t max_metadata = 16;
  size_t max_metadata_key_length = 64;
  size_t max_metadata_value_length = 1024;
  // Largest serialized event, in bytes.
  size_t max_event_bytes = 16 * 1024;
  // How far in the future an event's timestamp may be (client clock skew).
  absl::Duration max_future_skew = absl::Minutes(5);
  // How old an event may be.
  absl::Duration max_age = absl::Hours(24);
  // Most events per batch.
  size_t max_batch_events = 1000;
  // Longest client_id.
  size_t max_client_id_length = 128;
  // Most buckets in one event's distribution (both sides of exponential buckets together).
  // OpenTelemetry SDKs default to 160 per side.
  size_t max_distribution_buckets = 4096;
};

// Why an event is refused: the reason code and a sentence a person can act on, naming the field,
// the value's problem and the limit, e.g. "metric_name is 231 bytes long; the limit is 200".
struct EventViolation {
  v1::DeadLetterReason reason = v1::DEAD_LETTER_REASON_UNSPECIFIED;
  std::string message;
};

// Why a whole batch is refused.
struct BatchViolation {
  v1::BatchRejectReason reason = v1::BATCH_REJECT_REASON_UNSPECIFIED;
  std::string message;
};

// The offset of the first control character of `text` (bytes 0x00-0x1F and 0x7F), or npos.
size_t FindControlCharacter(absl::string_view text);

// Returns nullopt when `event` is valid at time `now`, else the first violation found, checking in
// this order: identifiers (blank, too long, control characters) event_id, service_id, instance_id,
// metric_name; metric_type; timestamp (unset or nanos out of [0, 1e9) -> INVALID_TIMESTAMP, then
// future skew, then age; both compared without overflow even at the int64 extremes of seconds);
// value (NaN/Inf, then magnitude over kMaxAbsValue, then > 0 unless CUSTOM_GAUGE), or when
// `distribution` is set, CheckDistribution (distribution_check.h) instead; unit (length,
// control characters); tags (count, then each key/value's length and control characters);
// metadata likewise (values may hold control characters); serialized size.
// "Blank" means empty or only ASCII whitespace; "control characters" are bytes 0x00-0x1F and 0x7F.
std::optional<EventViolation> ValidateEvent(const v1::MetricEvent& event,
                                            const ValidationLimits& limits, absl::Time now);

// Returns nullopt when the batch as a whole is acceptable (its events are validated separately),
// else why not: client_id blank, too long or with control characters (INVALID_CLIENT_ID),
// sequence 0 (INVALID_SEQUENCE), no events (EMPTY), more than max_batch_events (TOO_MANY_EVENTS).
std::optional<BatchViolation> ValidateBatch(const v1::MetricBatch& batch,
                                            const ValidationLimits& limits);

}  // namespace streammetrics::events

#endif  // STREAMMETRICS_LIB_EVENTS_VALIDATION_H_
