// FakePartitionCatalog: an in-memory PartitionCatalog for unit tests, with the real one's
// semantics: creating an existing partition or dropping a missing one is skipped, rows of the
// default partition move into a day partition created for them and are purged by the plan's
// horizons, and an injected failure changes nothing. Thread-safe.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_FAKE_PARTITION_CATALOG_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_FAKE_PARTITION_CATALOG_H_

#include <map>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "aggregation-service/store/partition_catalog.h"

namespace streammetrics::aggregation {

class FakePartitionCatalog final : public PartitionCatalog {
 public:
  absl::StatusOr<std::vector<DayPartition>> List() override;
  absl::StatusOr<PartitionChanges> Apply(const PartitionPlan& plan) override;

  // Test hooks.
  // The partitions that exist, sorted.
  std::vector<DayPartition> partitions() const;
  void AddPartition(const DayPartition& p);
  // A window of `size` starting at `start` stored in the default partition.
  void AddDefaultRow(v1::WindowSize size, absl::Time start);
  // Rows in the default partitions, of both sizes.
  size_t default_rows() const;
  // The next List or Apply fails with `status` (once each).
  void FailNextList(absl::Status status);
  void FailNextApply(absl::Status status);
  int applies() const;

 private:
  mutable absl::Mutex mu_;
  std::set<DayPartition> partitions_ ABSL_GUARDED_BY(mu_);
  std::multiset<DayPartition> default_rows_ ABSL_GUARDED_BY(mu_);  // day = the window's start
  absl::Status list_failure_ ABSL_GUARDED_BY(mu_);
  absl::Status apply_failure_ ABSL_GUARDED_BY(mu_);
  int applies_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_FAKE_PARTITION_CATALOG_H_
