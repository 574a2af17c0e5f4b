// RecordSink: where a service puts Kafka records (the producing edge). One real implementation
// (KafkaRecordSink) and an in-memory fake (FakeRecordSink) for unit tests. Both services produce
// through it: the ingest service its events and dead letters, the aggregation service its windows
// and dead letters. Each record names its topic; which topic an outcome goes to is the caller's
// business.
//
// The unit of work is one batch: the sink reports back once per batch, with one status per
// record, so a caller can ack the batch and account its bytes in one step.
#ifndef STREAMMETRICS_LIB_KAFKA_RECORD_SINK_H_
#define STREAMMETRICS_LIB_KAFKA_RECORD_SINK_H_

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace streammetrics::kafka {

// Record headers in order (the same type as events::Headers).
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Record {
  // The topic to write to; required.
  std::string topic;
  std::string key;
  std::string value;
  Headers headers;

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
// succeeded), otherwise why it is not known to be stored: FailedPrecondition when Kafka refuses
// the record for good (too large, invalid: a resend fails the same way), another code (usually
// Unavailable) when a resend may succeed.
using BatchDeliveredCallback = std::function<void(std::vector<absl::Status> results)>;

class RecordSink {
 public:
  virtual ~RecordSink() = default;

  // Hands every record to the sink without blocking. `done` runs exactly once, after every record
  // has its outcome, on the sink's delivery thread — never inside SendBatch, so a caller may hold
  // its own lock while calling. Records the sink cannot accept (fatal producer error, shutting
  // down) fail through `done` like any other failure. Memory is the caller's to bound: it charges
  // the records' bytes before sending and releases them in `done`.
  virtual void SendBatch(std::vector<Record> records, BatchDeliveredCallback done) = 0;

  // Waits until every batch sent so far has had its `done` called, or `timeout` passed.
  // Returns DeadlineExceeded saying how many records (or batches) are still outstanding.
  virtual absl::Status Flush(absl::Duration timeout) = 0;
};

}  // namespace streammetrics::kafka

#endif  // STREAMMETRICS_LIB_KAFKA_RECORD_SINK_H_
