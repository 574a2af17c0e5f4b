// QueryHandler: what each QueryService RPC answers, given a request: checks it
// (query_requests.h), reads PostgreSQL through the AggregateReader and Redis through the
// AggregateCache, and builds the response. No gRPC here: the service (query_service.h) runs these
// on its worker threads and converts the status once. Thread-safe.
//
// GetLatest reads Redis first and falls back to PostgreSQL when Redis has nothing, fails, or its
// circuit is open; what PostgreSQL returns is then offered back to the cache (a read-through
// fill, forward-only like every cache write, so it never overwrites a newer window).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_HANDLER_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_HANDLER_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aggregation-service/query/aggregate_cache.h"
#include "aggregation-service/query/aggregate_reader.h"
#include "aggregation-service/query/query_metrics.h"
#include "aggregation-service/query/query_requests.h"
#include "lib/common/clock.h"
#include "streammetrics/v1/query.pb.h"

namespace streammetrics::aggregation {

struct QueryHandlerDeps {
  AggregateReader* reader = nullptr;
  // Null: GetLatest always reads PostgreSQL.
  AggregateCache* cache = nullptr;
  // Where read-through fills go (the CacheWriter's Offer); may be empty.
  std::function<void(std::vector<v1::WindowAggregate>)> fill_cache;
  QueryMetrics* metrics = nullptr;
  // "Now" for the retention horizon (limits.retention).
  const Clock* clock = RealClock::Get();
};

class QueryHandler {
 public:
  QueryHandler(QueryLimits limits, QueryHandlerDeps deps);

  // Each: the answer, or InvalidArgument for a bad request (query_requests.h), NotFound (GetLatest
  // of a series without windows of that size), OutOfRange (QueryAggregates or Summarize of a range
  // wholly before what the retention keeps; one reaching back before it is answered from there
  // and says so: retained_from, effective_start), Unavailable when PostgreSQL cannot answer,
  // DeadlineExceeded when `deadline` passed before a long Summarize merged everything, DataLoss
  // when stored data does not parse.
  absl::StatusOr<v1::QueryAggregatesResponse> QueryAggregates(
      const v1::QueryAggregatesRequest& request);
  absl::StatusOr<v1::GetLatestResponse> GetLatest(const v1::GetLatestRequest& request);
  absl::StatusOr<v1::ListSeriesResponse> ListSeries(const v1::ListSeriesRequest& request);
  // Summarize also checks `cancelled` (when given) between pages of windows, and gives up with
  // Cancelled.
  absl::StatusOr<v1::SummarizeResponse> Summarize(const v1::SummarizeRequest& request,
                                                  absl::Time deadline = absl::InfiniteFuture(),
                                                  const std::function<bool()>& cancelled = nullptr);

  const QueryLimits& limits() const { return limits_; }

 private:
  const QueryLimits limits_;
  const QueryHandlerDeps deps_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_HANDLER_H_
