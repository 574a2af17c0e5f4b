// RunConsumeLoop: poll -> consume -> tick, and the shutdown sequence.
#include "aggregation-service/consume/consume_loop.h"

#include "lib/common/log.h"

namespace streammetrics::aggregation {

absl::Status RunConsumeLoop(EventSource& source, Aggregator& aggregator,
                            kafka::RecordSink& publisher, const std::atomic<bool>& stop,
                            const ConsumeLoopOptions& options) {
  absl::Status ended;
  auto consume = [&aggregator](absl::Span<const SourceRecord> r) { aggregator.Consume(r); };
  auto high_watermark = [&source](int32_t p) { return source.HighWatermark(p); };
  while (!stop.load() && ended.ok()) {
    ended = source.Poll(options.poll_timeout, options.max_records_per_poll, consume);
    if (!ended.ok()) break;
    ended = aggregator.Tick(high_watermark);
    source.SetPaused(aggregator.checkpoint_pending());
  }
  aggregator.RequestStop();
  if (!ended.ok()) {
    SM_LOG(Error, "consume_loop_failed").Kv("status", ended.ToString());
  }
  absl::Status saved = aggregator.fatal().ok() ? aggregator.CheckpointNow() : aggregator.fatal();
  if (saved.ok()) {
    // Publications of the last checkpoints; their confirmations are committed next, so the next
    // owner does not publish them again.
    if (absl::Status flushed = publisher.Flush(options.flush_timeout); !flushed.ok()) {
      SM_LOG(Warn, "publish_flush_incomplete")
          .Kv("status", flushed.ToString())
          .Kv("consequence", "unconfirmed outbox records are republished by the next owner");
    }
    saved = aggregator.CheckpointNow();
  }
  absl::Status closed = source.Close();
  if (!ended.ok()) return ended;
  if (!saved.ok()) return saved;
  return closed;
}

}  // namespace streammetrics::aggregation
