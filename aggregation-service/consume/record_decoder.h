// RecordDecoder: turns a record of `metrics-events` into an event the window engine may count, or
// into the dead letter that says why it may not. Pure code, no I/O; the clock is passed in.
//
// The ingest service only writes valid, correctly keyed records, but the topic is open to any
// producer, so every record is checked again: its value must be a MetricEvent, its headers must
// carry an idempotency key, the event must pass validation (except the age limit: replaying a
// day-old backlog is legitimate here), and its key must be the event's series key (otherwise one
// series could live on two partitions, with two owners for the same window).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_RECORD_DECODER_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_RECORD_DECODER_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "aggregation-service/consume/event_source.h"
#include "lib/events/idempotency_key.h"
#include "lib/events/validation.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::aggregation {

// The source service name written into the aggregation service's dead letters.
inline constexpr char kAggregationServiceName[] = "aggregation-service";

// A decoded record. Reused from record to record, so parsing reuses its storage.
struct DecodedRecord {
  v1::MetricEvent event;
  events::IdempotencyKey key;
  // Scratch: the series key built from `event`, compared with the record's.
  std::string series_key;
};

class RecordDecoder {
 public:
  // `limits` as at ingest; its max_age is ignored (see the file comment).
  RecordDecoder(std::string topic, events::ValidationLimits limits);

  // Returns nullopt when the record may be counted: *out then holds its event and idempotency
  // key. Otherwise returns the dead letter that says why not (reason, detail, original bytes,
  // idempotency key when known, and where the record was read; dead_lettered_at is `now`), and
  // *out is unspecified. Reasons, in the order checked: UNDECODABLE (value does not parse),
  // MISSING_IDEMPOTENCY_KEY (headers), the validation reasons, KEY_MISMATCH.
  std::optional<v1::DeadLetter> Decode(const SourceRecord& record, absl::Time now,
                                       DecodedRecord* out) const;

  // A dead letter for an event the engine found late: reason LATE_EVENT with a detail naming its
  // window end and the watermark.
  v1::DeadLetter Late(const SourceRecord& record, const events::IdempotencyKey& key,
                      absl::Time event_time, absl::Time watermark, absl::Time now) const;

  // A dead letter for a distribution the engine refused (AddOutcome::kOverflow): reason
  // VALUE_OUT_OF_RANGE, saying its window cannot count that many values.
  v1::DeadLetter Overflow(const SourceRecord& record, const events::IdempotencyKey& key,
                          uint64_t count, absl::Time now) const;

 private:
  v1::DeadLetter Base(const SourceRecord& record, v1::DeadLetterReason reason, std::string detail,
                      absl::Time now) const;

  std::string topic_;
  events::ValidationLimits limits_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_RECORD_DECODER_H_
