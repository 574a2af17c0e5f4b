// EventSink: where the ingest service puts records (the Kafka edge). One real implementation
// (KafkaEventSink) and an in-memory fake (FakeEventSink) for unit tests.
//
// The unit of work is one client batch: the sink reports back once per batch, with one status per
// record, so the stream can ack the batch and account its bytes in one step.
#ifndef STREAMMETRICS_INGEST_SERVICE_EVENT_SINK_H_
#define STREAMMETRICS_INGEST_SERVICE_EVENT_SINK_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/events/idempotency_key.h"

namespace streammetrics::ingest {

enum class Destination { kEvents, kDeadLetter };

struct OutgoingRecord {
  Destination destination = Destination::kEvents;
  // When not empty, the topic to write to instead of the one `destination` names. The aggregation
  // service publishes to several topics through one sink this way.
  std::string topic;
  std::string key;
  std::string value;
  events::Headers headers;

  // What holding the record costs until it is delivered: its bytes plus a fixed overhead for the
  // producer's message and header structures and our bookkeeping. Measured with
  // bench/ingest_rss.sh: without the overhead the byte budget undercounted RSS several times over
  // for small events.
  static constexpr size_t kOverheadBytes = 512;
  size_t ByteSize() const {
    size_t n = kOverheadBytes + topic.size() + key.size() + value.size();
    for (const auto& [k, v] : headers) n += k.size() + v.size();
    return n;
  }
};

// results[i] is the outcome of records[i]: OK once the record is durable (acks=all delivery report
// succeeded), otherwise why it is not known to be stored.
using BatchDeliveredCallback = std::function<void(std::vector<absl::Status> results)>;

class EventSink {
 public:
  virtual ~EventSink() = default;

  // Hands every record to the sink without blocking. `done` runs exactly once, after every record
  // has its outcome, on the sink's delivery thread — never inside SendBatch, so a caller may hold
  // its own lock while calling. Records the sink cannot accept (fatal producer error, shutting
  // down) fail through `done` like any other failure. Memory is the caller's to bound: it charges
  // the records' bytes before sending and releases them in `done`.
  virtual void SendBatch(std::vector<OutgoingRecord> records, BatchDeliveredCallback done) = 0;

  // Waits until every batch sent so far has had its `done` called, or `timeout` passed.
  // Returns DeadlineExceeded saying how many records are still outstanding.
  virtual absl::Status Flush(absl::Duration timeout) = 0;
};

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_EVENT_SINK_H_
