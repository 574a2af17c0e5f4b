// QueryMetrics: the query side's Prometheus metrics, on the aggregation service's /metrics (9465):
// requests and latency per RPC and status code, cache hits, misses and errors, whether the cache
// is usable (the degradation an operator alerts on), cache writes waiting, and watchers.
// Thread-safe (prometheus-cpp metrics are).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_METRICS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_METRICS_H_

#include <array>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace streammetrics::aggregation {

class QueryMetrics {
 public:
  enum Rpc { kQueryAggregates, kGetLatest, kListSeries, kSummarize, kWatchAggregates, kRpcCount };

  explicit QueryMetrics(
      std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>());
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // One answered call (latency measured until its answer was ready; for Watch, its lifetime).
  void Answered(Rpc rpc, absl::StatusCode code, absl::Duration latency);
  void CacheHit() { cache_hits_->Increment(); }
  void CacheMiss() { cache_misses_->Increment(); }
  // The cache failed (down, or a bad value): the answer came from PostgreSQL.
  void CacheError() { cache_errors_->Increment(); }
  void SetCacheAvailable(bool available) { cache_available_->Set(available ? 1 : 0); }
  void SetCachePending(size_t n) { cache_pending_->Set(static_cast<double>(n)); }
  void SetWatchers(size_t n) { watchers_->Set(static_cast<double>(n)); }
  void WatcherExhausted() { watchers_exhausted_->Increment(); }

  // Test read-outs.
  double cache_hits() const { return cache_hits_->Value(); }
  double cache_misses() const { return cache_misses_->Value(); }
  double cache_errors() const { return cache_errors_->Value(); }
  double watchers_exhausted() const { return watchers_exhausted_->Value(); }
  double answered(Rpc rpc, absl::StatusCode code) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  std::array<prometheus::Histogram*, kRpcCount> latency_{};
  prometheus::Counter* cache_hits_;
  prometheus::Counter* cache_misses_;
  prometheus::Counter* cache_errors_;
  prometheus::Gauge* cache_available_;
  prometheus::Gauge* cache_pending_;
  prometheus::Gauge* watchers_;
  prometheus::Counter* watchers_exhausted_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_QUERY_METRICS_H_
