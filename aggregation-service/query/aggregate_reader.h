// AggregateReader: the read side of the PostgreSQL edge, for QueryService. One real implementation
// (PostgresAggregateReader) and an in-memory fake (FakeAggregateReader) for unit tests.
//
// Everything read was committed by a checkpoint (READ COMMITTED, one statement per call), so an
// answer never shows a number that a crash could take back.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_AGGREGATE_READER_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_AGGREGATE_READER_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "aggregation-service/query/query_requests.h"
#include "streammetrics/v1/aggregate.pb.h"
#include "streammetrics/v1/query.pb.h"

namespace streammetrics::aggregation {

class AggregateReader {
 public:
  virtual ~AggregateReader() = default;

  // The windows `query` describes, in (window start, series key) order, at most query.limit.
  // Each has its series, bounds, numbers, is_final, revision and relative_accuracy; the sketch
  // only when query.include_sketch. Thread-safe. Fails with Unavailable when the database cannot
  // be reached or the statement timed out, DataLoss when a stored row does not parse.
  virtual absl::StatusOr<std::vector<v1::WindowAggregate>> QueryWindows(
      const WindowQuery& query) = 0;

  // The newest window (largest start) of the series and size, the newest final one when
  // final_only; nullopt when there is none. Without the sketch. Fails like QueryWindows.
  virtual absl::StatusOr<std::optional<v1::WindowAggregate>> LatestWindow(
      const LatestQuery& query) = 0;

  // The series of `query`, in (metric name, series key) order, at most query.limit. Fails like
  // QueryWindows.
  virtual absl::StatusOr<std::vector<v1::SeriesInfo>> ListSeries(const SeriesQuery& query) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_AGGREGATE_READER_H_
