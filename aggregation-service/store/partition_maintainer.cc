// PartitionMaintainer: see the header.
#include "aggregation-service/store/partition_maintainer.h"

#include <utility>

#include "lib/common/log.h"
#include "lib/common/status_macros.h"

namespace streammetrics::aggregation {

PartitionMaintainer::PartitionMaintainer(PartitionCatalog* catalog, const Clock* clock,
                                         PartitionMaintainerOptions options, PassObserver observer)
    : catalog_(catalog),
      clock_(clock),
      options_(std::move(options)),
      observer_(std::move(observer)) {}

PartitionMaintainer::~PartitionMaintainer() { Stop(); }

absl::StatusOr<PartitionChanges> PartitionMaintainer::RunOnce() {
  absl::StatusOr<PartitionChanges> result = [&]() -> absl::StatusOr<PartitionChanges> {
    ASSIGN_OR_RETURN(std::vector<DayPartition> existing, catalog_->List());
    return catalog_->Apply(PlanPartitions(options_.retention, clock_->Now(), existing));
  }();
  if (!result.ok()) {
    SM_LOG(Warn, "partition_maintenance_failed")
        .Kv("status", result.status().ToString())
        .Kv("consequence", "retried later; day partitions exist ahead, so writes go on");
  } else if (result->created + result->dropped + result->rows_moved + result->rows_purged > 0) {
    SM_LOG(Info, "partitions_maintained")
        .Kv("created", result->created)
        .Kv("dropped", result->dropped)
        .Kv("rows_moved", result->rows_moved)
        .Kv("rows_purged", result->rows_purged);
  }
  if (observer_) observer_(result);
  return result;
}

void PartitionMaintainer::Start() {
  // The first deadline is taken here, not on the thread, so "one interval from now" means from
  // the call.
  thread_ = std::thread([this, first = clock_->Now() + options_.interval] { Loop(first); });
}

void PartitionMaintainer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void PartitionMaintainer::Loop(absl::Time next) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && clock_->Now() < next) clock_->WaitWithDeadline(&wake_, &mu_, next);
      if (stopping_) return;
    }
    const bool ok = RunOnce().ok();
    next = clock_->Now() + (ok ? options_.interval : options_.retry_after);
  }
}

}  // namespace streammetrics::aggregation
