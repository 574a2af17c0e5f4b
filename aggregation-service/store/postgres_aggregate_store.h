// PostgresAggregateStore: the AggregateStore over PostgreSQL (tables of deploy/migrations/ 0001
// and 0002): windows in metrics.metric_aggregates, progress and owner epochs in
// metrics.consumer_offsets, deduplication chunks in metrics.dedup_keys, records to publish in
// metrics.outbox.
//
// One libpq connection, owned by the store. Not thread-safe: the aggregator calls it from one
// thread. After a failure the connection is dropped and the next call opens a new one (failing
// with Unavailable when it cannot), so a PostgreSQL restart costs the calls made while it is down
// and nothing else.
//
// Times are stored as TIMESTAMPTZ, to the microsecond: a watermark or dedup chunk start comes back
// rounded toward the past (StoredTime); windows are minute-aligned anyway.
//
// A checkpoint takes two round trips, each a libpq pipeline: BEGIN and the fencing
// compare-and-set of every partition (in partition order, so two writers lock rows in the same
// order and cannot deadlock), then, unless a partition is fenced, every window upsert, dedup chunk,
// outbox record and deletion, and COMMIT.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_POSTGRES_AGGREGATE_STORE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_POSTGRES_AGGREGATE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aggregation-service/store/aggregate_store.h"
#include "lib/pg/connection.h"

namespace streammetrics::aggregation {

struct PostgresStoreConfig {
  // libpq connection string or URL. Default: the local stack's database,
  // "postgresql://streammetrics:streammetrics@127.0.0.1:55432/streammetrics".
  // No password here: it comes with the URL (--pg_url, --pg_url_file), PGPASSWORD or ~/.pgpass.
  std::string conninfo = "postgresql://streammetrics@127.0.0.1:55432/streammetrics";
  // Consumer group whose progress, dedup chunks and outbox the store reads and writes; instances
  // of one deployment share it. Default "streammetrics-aggregation".
  std::string consumer_group = "streammetrics-aggregation";
  // The consumed topic, whose partitions are claimed. Default "metrics-events".
  std::string topic = "metrics-events";
  // Server-side limit on each statement; a call whose statement runs longer fails with
  // Unavailable. Default 30 s.
  absl::Duration statement_timeout = absl::Seconds(30);
  // Limit on opening a connection, in whole seconds, at least 2 (libpq's minimum). Default 5 s.
  absl::Duration connect_timeout = absl::Seconds(5);
};

class PostgresAggregateStore final : public AggregateStore {
 public:
  // Checks `config` and connects. Fails with InvalidArgument for an unparsable conninfo, an empty
  // consumer group or topic, or a non-positive timeout; Unavailable when the database cannot be
  // reached; FailedPrecondition when the schema lacks what the store needs (migrations not
  // applied).
  static absl::StatusOr<std::unique_ptr<PostgresAggregateStore>> Create(PostgresStoreConfig config);

  // See AggregateStore. Besides its codes: FailedPrecondition when the schema is not migrated,
  // Internal for an unexpected database error.
  absl::StatusOr<PartitionClaim> ClaimPartition(int32_t partition) override;

  // See AggregateStore. InvalidArgument also comes from a database data error (22xxx) on a row,
  // e.g. a service_id longer than its column (naming window and column), and for input
  // ValidateCheckpoints refuses (nothing is sent then).
  absl::StatusOr<CheckpointResult> Checkpoint(
      const std::vector<PartitionCheckpoint>& checkpoints) override;

 private:
  explicit PostgresAggregateStore(PostgresStoreConfig config);

  // The open connection, opening one when there is none or the last one failed.
  absl::StatusOr<pg::Connection*> Connection();
  // After a failed call: rolls back what is open, dropping the connection when that fails.
  void Abandon();

  // The claim's transaction; on failure the caller calls Abandon.
  absl::StatusOr<PartitionClaim> ReadClaim(pg::Connection& conn, int32_t partition);
  // The checkpoint's transaction, committed unless it fails or a partition is fenced (then the
  // transaction is left open and the caller calls Abandon).
  absl::StatusOr<CheckpointResult> WriteCheckpoint(
      pg::Connection& conn, const std::vector<PartitionCheckpoint>& checkpoints);

  const PostgresStoreConfig config_;
  std::unique_ptr<pg::Connection> conn_;
  // Whether a connection was ever opened: later ones are reconnections (logged as such).
  bool connected_before_ = false;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_POSTGRES_AGGREGATE_STORE_H_
