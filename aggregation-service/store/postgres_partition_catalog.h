// PostgresPartitionCatalog: the PartitionCatalog over PostgreSQL's declarative partitions of
// metrics.metric_aggregates (deploy/migrations/0004_partitioned_aggregates.sql).
//
// Owns one libpq connection, separate from the checkpoint's, opened on first use and replaced
// after a failure. Not thread-safe: the PartitionMaintainer calls it from one thread.
//
// Apply runs up to three transactions (purge, create, drop), each under an advisory lock
// (instances of a deployment take turns) and a lock_timeout: creating a partition (ATTACH) and
// dropping one take brief exclusive locks, which wait for running checkpoints and queries of that
// size; rather than queue every later statement behind them for long, Apply gives up with
// Unavailable and the maintainer tries again later.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_POSTGRES_PARTITION_CATALOG_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_POSTGRES_PARTITION_CATALOG_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "aggregation-service/store/partition_catalog.h"
#include "lib/pg/connection.h"

namespace streammetrics::aggregation {

struct PostgresCatalogConfig {
  // libpq connection string or URL (the store's).
  std::string conninfo;
  absl::Duration connect_timeout = absl::Seconds(5);
  // Server-side limit on each statement (moving a day's rows out of a default partition included).
  absl::Duration statement_timeout = absl::Minutes(5);
  // How long Apply waits for a table lock before giving up (Unavailable).
  absl::Duration lock_timeout = absl::Seconds(5);
};

class PostgresPartitionCatalog final : public PartitionCatalog {
 public:
  // Checks the conninfo (InvalidArgument); connects on first use.
  static absl::StatusOr<std::unique_ptr<PostgresPartitionCatalog>> Create(
      PostgresCatalogConfig config);

  absl::StatusOr<std::vector<DayPartition>> List() override;
  absl::StatusOr<PartitionChanges> Apply(const PartitionPlan& plan) override;

 private:
  explicit PostgresPartitionCatalog(PostgresCatalogConfig config) : config_(std::move(config)) {}
  absl::StatusOr<pg::Connection*> Connection();
  // Runs `body` as one transaction under the advisory lock and lock_timeout; the body's results.
  absl::StatusOr<std::vector<pg::Result>> Transaction(std::vector<pg::Statement> body,
                                                      absl::string_view context);
  // Runs `statements` in one pipeline; on failure rolls back and drops a broken connection.
  absl::StatusOr<std::vector<pg::Result>> Run(const std::vector<pg::Statement>& statements,
                                              absl::string_view context);

  const PostgresCatalogConfig config_;
  std::unique_ptr<pg::Connection> conn_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_POSTGRES_PARTITION_CATALOG_H_
