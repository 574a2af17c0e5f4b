// PostgresAggregateReader: AggregateReader over metrics.metric_aggregates and metrics.series, with
// a pool of libpq connections so concurrent queries do not queue behind one another (each query
// worker thread holds one connection while its statement runs). The plans these statements get
// are shown and explained in docs/query.md.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_POSTGRES_AGGREGATE_READER_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_POSTGRES_AGGREGATE_READER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aggregation-service/query/aggregate_reader.h"
#include "lib/pg/connection.h"

namespace streammetrics::aggregation {

struct PostgresReaderConfig {
  // libpq connection string or URL (the same database the checkpoints write).
  // No password here: it comes with the URL (--pg_url, --pg_url_file), PGPASSWORD or ~/.pgpass.
  std::string conninfo = "postgresql://streammetrics@127.0.0.1:55432/streammetrics";
  // Server-side limit on each query; a longer one fails with Unavailable.
  absl::Duration statement_timeout = absl::Seconds(10);
  // Limit on opening a connection (whole seconds, at least 2).
  absl::Duration connect_timeout = absl::Seconds(3);
  // Idle connections kept for reuse; more are closed when returned.
  size_t max_idle_connections = 8;
};

class PostgresAggregateReader final : public AggregateReader {
 public:
  // Checks the config; connects lazily (the service starts while PostgreSQL is down and answers
  // Unavailable until it is back). Fails with InvalidArgument for an unparsable conninfo.
  static absl::StatusOr<std::unique_ptr<PostgresAggregateReader>> Create(
      PostgresReaderConfig config);

  absl::StatusOr<std::vector<v1::WindowAggregate>> QueryWindows(const WindowQuery& query) override;
  absl::StatusOr<std::optional<v1::WindowAggregate>> LatestWindow(
      const LatestQuery& query) override;
  absl::StatusOr<std::vector<v1::SeriesInfo>> ListSeries(const SeriesQuery& query) override;

 private:
  explicit PostgresAggregateReader(PostgresReaderConfig config) : config_(std::move(config)) {}

  // Runs one prepared statement on a pooled connection; the connection goes back to the pool
  // unless it failed.
  absl::StatusOr<pg::Result> Run(const char* statement, pg::Params params,
                                 absl::string_view context);

  const PostgresReaderConfig config_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pg::Connection>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_POSTGRES_AGGREGATE_READER_H_
