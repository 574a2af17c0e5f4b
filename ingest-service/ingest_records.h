// The Kafka records of the ingest service, whichever door an event came in by (native batches:
// batch_preparer.h; OTLP exports: otlp/otlp_records.h): an accepted event as a record on the
// events topic, a refused one as a DeadLetter on the dead-letter topic (docs/contract.md §4), each
// keyed by series where it has one and stamped with its idempotency key and the caller. Pure code.
#ifndef STREAMMETRICS_INGEST_SERVICE_INGEST_RECORDS_H_
#define STREAMMETRICS_INGEST_SERVICE_INGEST_RECORDS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"
#include "lib/events/idempotency_key.h"
#include "lib/kafka/record_sink.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::ingest {

inline constexpr char kSourceService[] = "ingest-service";
// Header naming the authenticated caller on every record the ingest produces.
inline constexpr char kCallerHeader[] = "streammetrics-caller";

// Where the ingest service's records go: the outcome of an event names its topic.
struct IngestTopics {
  // Valid events.
  std::string events = "metrics-events";
  // Rejected events, as DeadLetter records.
  std::string dead_letter = "metrics-dead-letter";
};

// The record of a valid event on topics.events: keyed by series, stamped with `key` and the
// caller.
kafka::Record EventRecord(const v1::MetricEvent& event, const events::IdempotencyKey& key,
                          const IngestTopics& topics, absl::string_view caller);

// What the ingest knows about an event it refuses.
struct Refusal {
  v1::DeadLetterReason reason = v1::DEAD_LETTER_REASON_UNSPECIFIED;
  std::string detail;
  // The refused input's bytes, and their protobuf type when not a MetricEvent.
  absl::string_view original;
  absl::string_view original_type;
  // The record key: the event's series key when it could be computed, else "".
  std::string record_key;
};

// The DeadLetter record of a refused event on topics.dead_letter, stamped with `key` and the
// caller (in the header and in DeadLetter.caller); dead_lettered_at is `now`.
kafka::Record DeadLetterRecord(const Refusal& refusal, const events::IdempotencyKey& key,
                               const IngestTopics& topics, absl::string_view caller,
                               const google::protobuf::Timestamp& now);

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_INGEST_RECORDS_H_
