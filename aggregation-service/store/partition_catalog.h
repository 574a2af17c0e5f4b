// PartitionCatalog: the edge through which retention changes the partitions of
// metrics.metric_aggregates (retention.h has the rule). One real implementation over PostgreSQL
// (postgres_partition_catalog.h) and an in-memory fake for unit tests.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_PARTITION_CATALOG_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_PARTITION_CATALOG_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "aggregation-service/store/retention.h"

namespace streammetrics::aggregation {

// What one Apply changed.
struct PartitionChanges {
  int64_t created = 0;
  int64_t dropped = 0;
  // Rows moved out of a default partition into a day partition created for them.
  int64_t rows_moved = 0;
  // Rows of default partitions deleted as older than the retention.
  int64_t rows_purged = 0;
};

class PartitionCatalog {
 public:
  virtual ~PartitionCatalog() = default;

  // The day partitions that exist (names ParsePartitionName understands; others are not listed),
  // in any order. Unavailable when the database cannot answer, FailedPrecondition when the table
  // is not partitioned (migrations not applied).
  virtual absl::StatusOr<std::vector<DayPartition>> List() = 0;

  // Applies `plan`: deletes the default partitions' rows before plan.purge_*_before, creates each
  // partition of plan.create that does not exist yet (first moving into it the rows its day has in
  // the default partition), and drops each of plan.drop that exists, in that order. Concurrent
  // Applies (several instances) are serialized, so each change happens once. Each of the three
  // steps is all or nothing; a failed step leaves the earlier ones done and the later ones undone
  // (the next pass plans what is left). Fails with Unavailable when the database cannot answer or
  // a lock was not had in time (a long query held the table), Internal for anything else.
  virtual absl::StatusOr<PartitionChanges> Apply(const PartitionPlan& plan) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_PARTITION_CATALOG_H_
