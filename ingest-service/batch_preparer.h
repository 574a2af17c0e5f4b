// Turns one client batch into the Kafka records that carry it: each valid event as a record on
// the events topic, each invalid one as a DeadLetter on the dead-letter topic (docs/contract.md
// §4), every record keyed by series and stamped with the event's idempotency key. Pure code: the
// time comes in as an argument.
#ifndef STREAMMETRICS_INGEST_SERVICE_BATCH_PREPARER_H_
#define STREAMMETRICS_INGEST_SERVICE_BATCH_PREPARER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ingest-service/ingest_records.h"
#include "lib/events/validation.h"
#include "lib/kafka/record_sink.h"
#include "streammetrics/v1/ingest.pb.h"

namespace streammetrics::ingest {

struct PreparedBatch {
  uint64_t sequence = 0;
  std::vector<kafka::Record> records;
  // One rejection per dead-lettered event, in event order (their records are the dead letters).
  std::vector<v1::Rejection> rejections;
  // Sum of the records' sizes: what the batch costs in the byte budget while in flight.
  size_t bytes = 0;
};

// Requires events::ValidateBatch(batch) to have passed. Moves the events out of `batch`. Every
// record carries `caller` (the stream's authenticated caller) in the kCallerHeader header, and
// dead letters in DeadLetter.caller too.
PreparedBatch PrepareBatch(v1::MetricBatch& batch, const events::ValidationLimits& limits,
                           const IngestTopics& topics, absl::string_view caller, absl::Time now);

// The largest record PrepareBatch makes under `limits`, framing aside: an event record (value at
// most limits.max_event_bytes, a series key made of its fields, so no longer) or a dead letter
// (events::kDeadLetterMaxBytes, a key of at most events::kDeadLetterKeyBytes), plus headers (the
// idempotency key, the caller's name). The producer and topics must take it (CheckRecordSizes).
size_t LargestRecordBytes(const events::ValidationLimits& limits);

// What a batch's delivery results mean for the client.
struct BatchResult {
  uint32_t accepted = 0;  // events durable on the events topic
  uint32_t rejected = 0;  // dead letters durable on the dead-letter topic
  uint32_t failed = 0;    // records Kafka did not confirm
  // Of `failed`: records Kafka refused for good (FailedPrecondition: too large, invalid). A
  // resend of their batch fails the same way.
  uint32_t failed_permanently = 0;
  // The first permanent failure if there is one, else the first failure.
  absl::Status first_failure;
};

// `results[i]` is the delivery outcome of the record of event i; the events named by `rejections`
// (in event order, as PrepareBatch makes them) were dead letters, the others events.
BatchResult Tally(const std::vector<absl::Status>& results,
                  const std::vector<v1::Rejection>& rejections);

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_BATCH_PREPARER_H_
