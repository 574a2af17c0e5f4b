// EventSource: where the aggregation service reads metric events from (the Kafka consumer edge).
// One real implementation (KafkaEventSource, a librdkafka consumer group) and an in-memory fake
// (FakeEventSource) for unit tests.
//
// The source never decides where a partition resumes: on every assignment it asks its
// RebalanceListener, which reads the offsets committed in PostgreSQL with the windows they belong
// to. Kafka's own committed offsets are never used (docs/contract.md §5: one transaction holds
// both).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_EVENT_SOURCE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_EVENT_SOURCE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace streammetrics::aggregation {

// One header of a record; a name may repeat.
struct RecordHeader {
  absl::string_view name;
  absl::string_view value;
};

// One record, valid only during the callback that receives it.
struct SourceRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  absl::string_view key;
  absl::string_view value;
  // In the order they were written.
  absl::Span<const RecordHeader> headers;

  // The last value of header `name`, or nullopt (Kafka's rule for a repeated header).
  std::optional<absl::string_view> Header(absl::string_view name) const {
    std::optional<absl::string_view> found;
    for (const RecordHeader& h : headers) {
      if (h.name == name) found = h.value;
    }
    return found;
  }
};

// Receives records in batches, so per-batch work (reading the clock, updating counters) is not
// paid per record.
using RecordsCallback = absl::FunctionRef<void(absl::Span<const SourceRecord> records)>;

// Decides where assigned partitions start and saves partitions before they are taken away. Both
// run on the thread that calls EventSource::Poll, inside Poll.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // `partitions` are now this consumer's. Returns, for each (same order), the offset of the next
  // record to deliver, or nullopt for the beginning of the partition. Blocks until it knows.
  virtual std::vector<std::optional<int64_t>> OnAssigned(
      const std::vector<int32_t>& partitions) = 0;
  // `partitions` are about to be taken away: no record of them is delivered after this returns.
  virtual void OnRevoked(const std::vector<int32_t>& partitions) = 0;
};

class EventSource {
 public:
  virtual ~EventSource() = default;

  // Delivers the records available within `timeout` (possibly none) to `on_records`, in one or
  // more calls, in offset order per partition, and runs the listener's callbacks when the
  // assignment changes (never during an `on_records` call). After OnRevoked(p), no record read
  // under the old assignment of p is delivered, even if p is assigned again within the same Poll.
  // Returns after at most `max_records` records. Fails with Unavailable on an error the source
  // cannot recover from by itself (e.g. a fatal consumer error); transient broker errors are
  // retried inside and only logged.
  virtual absl::Status Poll(absl::Duration timeout, size_t max_records,
                            RecordsCallback on_records) = 0;

  // The offset after the last record in `partition` as last seen by the consumer (its high
  // watermark), or nullopt when not known yet. Never blocks on the network.
  virtual std::optional<int64_t> HighWatermark(int32_t partition) const = 0;

  // Stops (true) or resumes (false) delivering records of every assigned partition, e.g. while
  // checkpoints cannot be written. Poll keeps serving rebalances meanwhile.
  virtual void SetPaused(bool paused) = 0;

  // Revokes every partition through the listener and leaves the group. Idempotent.
  virtual absl::Status Close() = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_EVENT_SOURCE_H_
