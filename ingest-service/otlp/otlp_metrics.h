// OtlpMetrics: the OTLP door's own Prometheus metrics, registered beside IngestMetrics (which
// counts the door's events and dead letters with the native door's): exports by outcome, data
// points by what became of them, export latency, and the cumulative tracker's size and evictions.
#ifndef STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_METRICS_H_
#define STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_METRICS_H_

#include <array>
#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "ingest-service/otlp/otlp_mapper.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace streammetrics::ingest::otlp {

class OtlpMetrics {
 public:
  explicit OtlpMetrics(prometheus::Registry& registry);

  // One export answered with `code`, `latency` after it was received.
  void ExportAnswered(grpc::StatusCode code, absl::Duration latency);
  // What became of one export's points.
  void Points(const MappedExport& mapped, size_t events, size_t rejected);
  // Samples the tracker's size, and its evictions since the previous call.
  void SampleTracker(size_t series, uint64_t evictions_total);

  // Test read-outs.
  double exports(grpc::StatusCode code) const;
  double points(absl::string_view outcome) const;

 private:
  prometheus::Family<prometheus::Counter>* exports_;
  std::array<prometheus::Counter*, 17> exports_by_code_{};
  prometheus::Family<prometheus::Counter>* points_;
  prometheus::Counter* points_event_;
  prometheus::Counter* points_rejected_;
  std::array<prometheus::Counter*, static_cast<size_t>(Skip::kCount)> points_skipped_{};
  prometheus::Histogram* latency_;
  prometheus::Gauge* tracker_series_;
  prometheus::Counter* tracker_evictions_;
  absl::Mutex mu_;
  uint64_t evictions_seen_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics::ingest::otlp

#endif  // STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_METRICS_H_
