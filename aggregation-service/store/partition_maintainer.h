// PartitionMaintainer: keeps the day partitions of metrics.metric_aggregates in line with the
// retention (retention.h) — creates the days ahead, drops the days past the retention — through
// a PartitionCatalog, once at start and then on a thread of its own every `interval`.
//
// Several instances may maintain one database: the catalog serializes their changes, and the
// rule gives every instance the same plan for the same time, so they agree.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_PARTITION_MAINTAINER_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_PARTITION_MAINTAINER_H_

#include <functional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aggregation-service/store/partition_catalog.h"
#include "aggregation-service/store/retention.h"
#include "lib/common/clock.h"

namespace streammetrics::aggregation {

struct PartitionMaintainerOptions {
  RetentionPolicy retention;
  // Time between passes. Days are created `retention.create_ahead` early, so a pass per hour
  // leaves days of slack for a database that is down or a lock that is not had.
  absl::Duration interval = absl::Hours(1);
  // Time to the next pass after a failed one.
  absl::Duration retry_after = absl::Minutes(1);
};

class PartitionMaintainer {
 public:
  // Called after every pass with what it changed, or why it failed.
  using PassObserver = std::function<void(const absl::StatusOr<PartitionChanges>&)>;

  // `catalog` and `clock` must outlive the maintainer. Precondition:
  // ValidateRetention(options.retention) is OK.
  PartitionMaintainer(PartitionCatalog* catalog, const Clock* clock,
                      PartitionMaintainerOptions options, PassObserver observer = nullptr);
  // Stop().
  ~PartitionMaintainer();

  // One pass, on the caller's thread: lists the partitions, plans at the clock's now and applies
  // the plan. Returns what changed, or the catalog's error (nothing changed then).
  absl::StatusOr<PartitionChanges> RunOnce();

  // Starts the thread that runs a pass every interval (retry_after after a failure), the first
  // one interval from now. Call at most once.
  void Start();
  // Ends the thread, waiting for a pass under way. Idempotent.
  void Stop();

 private:
  // Runs passes from `next` on until Stop.
  void Loop(absl::Time next);

  PartitionCatalog* const catalog_;
  const Clock* const clock_;
  const PartitionMaintainerOptions options_;
  const PassObserver observer_;

  absl::Mutex mu_;
  absl::CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_PARTITION_MAINTAINER_H_
