// AdaptiveRecordSink (contract in adaptive_record_sink.h).
#include "lib/kafka/adaptive_record_sink.h"

#include <algorithm>
#include <utility>

#include "lib/common/status_macros.h"

namespace streammetrics::kafka {

AdaptiveRecordSink::AdaptiveRecordSink(RecordSink* quick, RecordSink* bulk, const Clock* clock,
                                       AdaptiveOptions options)
    : quick_sink_(quick), bulk_sink_(bulk), clock_(clock), options_(options), rate_(clock) {}

void AdaptiveRecordSink::SendBatch(std::vector<Record> records, BatchDeliveredCallback done) {
  rate_.Add(records.size());
  const double rate = rate_.PerSecond();
  bool quick = quick_.load(std::memory_order_relaxed);
  const bool next = quick ? rate < options_.bulk_above : rate < options_.quick_below;
  if (next != quick) {
    // Concurrent senders may both see the change; one switch counted each time is enough.
    if (quick_.compare_exchange_strong(quick, next, std::memory_order_relaxed)) {
      switches_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  (next ? quick_sink_ : bulk_sink_)->SendBatch(std::move(records), std::move(done));
}

absl::Status AdaptiveRecordSink::Flush(absl::Duration timeout) {
  const absl::Time deadline = clock_->Now() + timeout;
  absl::Status quick = quick_sink_->Flush(timeout);
  absl::Status bulk = bulk_sink_->Flush(std::max(deadline - clock_->Now(), absl::ZeroDuration()));
  RETURN_IF_ERROR(quick);
  return bulk;
}

}  // namespace streammetrics::kafka
