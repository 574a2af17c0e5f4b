// AggregateCache: the Redis edge of the query side. It holds, per series and window size, the
// newest window the aggregation service committed, and the newest final one, so GetLatest is one
// key lookup. One real implementation (RedisAggregateCache) and an in-memory fake
// (FakeAggregateCache) for unit tests.
//
// The cache is only ever written with windows PostgreSQL already committed (after the checkpoint
// transaction, or read back from PostgreSQL on a miss), and an entry only ever moves forward:
// a window replaces the cached one only when it starts later, or starts at the same time with a
// higher revision. So a late or repeated write (a retry, a read-through fill racing a newer
// checkpoint, a former partition owner) never makes the cache older than it was.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_AGGREGATE_CACHE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_AGGREGATE_CACHE_H_

#include <optional>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::aggregation {

// The cache's forward-only order: true when `a` may replace `b` as the cached window of their
// series and size (a starts later, or starts at the same time with a higher revision).
inline bool NewerForCache(const v1::WindowAggregate& a, const v1::WindowAggregate& b) {
  const auto order = [](const v1::WindowAggregate& w) {
    return std::make_tuple(w.window_start().seconds(), w.window_start().nanos(), w.revision());
  };
  return order(a) > order(b);
}

class AggregateCache {
 public:
  virtual ~AggregateCache() = default;

  // For each window: makes it the cached newest window of its (series_key, window_size) unless
  // the cached one is at least as new (later start, or same start and revision >= this one), and
  // likewise the newest final window when it is final. Windows are stored without their sketch.
  // Thread-safe. Fails with Unavailable when the cache cannot be reached or answered with an
  // error; some windows may then have been stored and others not (each is independent, and
  // writing them again is harmless). InvalidArgument when a window has no series_key or size
  // (nothing was written).
  virtual absl::Status PutLatest(const std::vector<v1::WindowAggregate>& windows) = 0;

  // Deletes every entry of this cache (its key prefix). For a writer that had to drop windows
  // it could not write: an entry it would have replaced would otherwise stay older than what
  // PostgreSQL holds. Readers then miss and read PostgreSQL until the cache fills again.
  // Thread-safe. Fails with Unavailable when the cache cannot be reached (some entries may be
  // gone; calling it again finishes the job).
  virtual absl::Status Clear() = 0;

  // The cached newest window of the series and size (the newest final one when `final_only`), or
  // nullopt when the cache holds none. Thread-safe. Fails with Unavailable when the cache cannot
  // be reached, DataLoss when the cached value does not parse, InvalidArgument for an empty
  // series key or a size other than 1m/5m.
  virtual absl::StatusOr<std::optional<v1::WindowAggregate>> GetLatest(absl::string_view series_key,
                                                                       v1::WindowSize window_size,
                                                                       bool final_only) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_AGGREGATE_CACHE_H_
