// WindowFeed: where WatchAggregates learns of windows as they become final (the Kafka edge of the
// query side). The real one (KafkaWindowFeed) reads the aggregated topics, which carry every final
// window of every aggregation instance, so a watcher connected to any instance sees all series,
// not only those of the partitions its instance owns. Tests push windows by hand instead.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_WINDOW_FEED_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_WINDOW_FEED_H_

#include <functional>

#include "absl/status/status.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::aggregation {

class WindowFeed {
 public:
  // Called on the feed's own thread, once per final window, in the order of its topic partition;
  // must not block (WatchHub::Publish only queues). A window may come twice (the aggregated
  // topics are at least once, docs/contract.md): same series, window and revision.
  using Callback = std::function<void(const v1::WindowAggregate&)>;

  virtual ~WindowFeed() = default;

  // Starts delivering windows published from now on (not the topics' history) to `callback`.
  // Fails with Unavailable when the topics cannot be read (nothing started), FailedPrecondition
  // when called twice.
  virtual absl::Status Start(Callback callback) = 0;

  // Stops delivering; when it returns, `callback` is not running and will not be called again.
  // Idempotent.
  virtual void Stop() = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_WINDOW_FEED_H_
