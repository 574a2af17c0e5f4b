// RunConsumeLoop: drives the Aggregator from an EventSource until told to stop, then shuts down
// in the order that loses nothing and replays least: checkpoint, wait for publications,
// checkpoint their confirmations, leave the consumer group.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_CONSUME_LOOP_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_CONSUME_LOOP_H_

#include <atomic>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "aggregation-service/consume/aggregator.h"
#include "aggregation-service/consume/event_source.h"
#include "lib/kafka/record_sink.h"

namespace streammetrics::aggregation {

struct ConsumeLoopOptions {
  // Longest wait of one poll (and so the longest delay of a tick).
  absl::Duration poll_timeout = absl::Milliseconds(100);
  // Records handled between two ticks at most.
  size_t max_records_per_poll = 10000;
  // At stop: how long publications may take to be confirmed.
  absl::Duration flush_timeout = absl::Seconds(30);
};

// Polls, feeds the aggregator, ticks it (pausing the source while a checkpoint is pending), until
// `stop` becomes true. Returns OK after a clean shutdown, or the error that ended the loop: the
// source's (e.g. a fatal consumer error), the aggregator's fatal() (state that does not parse),
// or the final checkpoint's failure (nothing is lost then: the next owner replays from the last
// committed checkpoint).
absl::Status RunConsumeLoop(EventSource& source, Aggregator& aggregator,
                            kafka::RecordSink& publisher, const std::atomic<bool>& stop,
                            const ConsumeLoopOptions& options);

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_CONSUME_LOOP_H_
