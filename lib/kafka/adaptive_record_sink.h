// AdaptiveRecordSink: latency that follows the load. Two RecordSinks behind one, each its own
// producer: `quick` with a short linger, so at light load a batch's records go out within a few
// milliseconds and acks come soon; `bulk` with a long linger, so at high load the brokers serve
// few large requests instead of many small ones (their CPU goes per request: docs/latency.md).
// Each batch goes to one of them whole, chosen by the records per second sent through this sink
// over the last second: `quick` below quick_below, `bulk` at or above bulk_above, and in between
// the one chosen last, so a rate near a threshold does not flip between them on every batch.
//
// Zero loss and exactly-once do not depend on the choice: both producers are idempotent with
// acks=all, a batch's callback reports every record as either sink does, and each record carries
// its own idempotency key, so records of one partition arriving through two producers in another
// order are still counted once each.
#ifndef STREAMMETRICS_LIB_KAFKA_ADAPTIVE_RECORD_SINK_H_
#define STREAMMETRICS_LIB_KAFKA_ADAPTIVE_RECORD_SINK_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "lib/common/clock.h"
#include "lib/kafka/rate_meter.h"
#include "lib/kafka/record_sink.h"

namespace streammetrics::kafka {

struct AdaptiveOptions {
  // Records per second under which batches go to the quick producer...
  double quick_below = 15000;
  // ... and at or over which they go to the bulk producer. quick_below <= bulk_above.
  double bulk_above = 20000;
};

class AdaptiveRecordSink final : public RecordSink {
 public:
  // `quick`, `bulk` and `clock` must outlive the sink.
  AdaptiveRecordSink(RecordSink* quick, RecordSink* bulk, const Clock* clock,
                     AdaptiveOptions options);

  // Counts the batch's records, picks a sink as above, and hands it the batch.
  void SendBatch(std::vector<Record> records, BatchDeliveredCallback done) override;

  // Flushes both within `timeout` in all. Returns the first failure.
  absl::Status Flush(absl::Duration timeout) override;

  // Whether the last batch went to the quick sink.
  bool quick() const { return quick_.load(std::memory_order_relaxed); }
  // Times the choice changed, since construction.
  uint64_t switches() const { return switches_.load(std::memory_order_relaxed); }

 private:
  RecordSink* const quick_sink_;
  RecordSink* const bulk_sink_;
  const Clock* const clock_;
  const AdaptiveOptions options_;
  RateMeter rate_;
  std::atomic<bool> quick_{true};
  std::atomic<uint64_t> switches_{0};
};

}  // namespace streammetrics::kafka

#endif  // STREAMMETRICS_LIB_KAFKA_ADAPTIVE_RECORD_SINK_H_
