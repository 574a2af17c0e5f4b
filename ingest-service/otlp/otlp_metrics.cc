// OtlpMetrics (contract in otlp_metrics.h).
#include "ingest-service/otlp/otlp_metrics.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "ingest-service/ingest_metrics.h"

namespace streammetrics::ingest::otlp {

OtlpMetrics::OtlpMetrics(prometheus::Registry& r) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  exports_ = &BuildCounter()
                  .Name("streammetrics_ingest_otlp_exports_total")
                  .Help("OTLP MetricsService/Export calls answered, by gRPC status code.")
                  .Register(r);
  for (size_t i = 0; i < exports_by_code_.size(); ++i) {
    // "ok", "invalid_argument", ...: gRPC's and absl's codes share numbers and names.
    exports_by_code_[i] = &exports_->Add({{"code", absl::AsciiStrToLower(absl::StatusCodeToString(
                                                       static_cast<absl::StatusCode>(i)))}});
  }
  points_ = &BuildCounter()
                 .Name("streammetrics_ingest_otlp_points_total")
                 .Help(
                     "OTLP data points read, by outcome: event (sent on as an event), rejected "
                     "(dead-lettered, in partial_success), or why nothing was counted "
                     "(baseline, reset, stale, zero_delta, no_value, empty).")
                 .Register(r);
  points_event_ = &points_->Add({{"outcome", "event"}});
  points_rejected_ = &points_->Add({{"outcome", "rejected"}});
  for (size_t i = 0; i < points_skipped_.size(); ++i) {
    points_skipped_[i] = &points_->Add({{"outcome", SkipLabel(static_cast<Skip>(i))}});
  }
  latency_ = &BuildHistogram()
                  .Name("streammetrics_ingest_otlp_export_seconds")
                  .Help("From receiving an export to its answer (after Kafka stored its points).")
                  .Register(r)
                  .Add({}, LatencyBuckets());
  tracker_series_ = &BuildGauge()
                         .Name("streammetrics_ingest_otlp_cumulative_series")
                         .Help("Cumulative sum series whose last point this instance remembers.")
                         .Register(r)
                         .Add({});
  tracker_evictions_ =
      &BuildCounter()
           .Name("streammetrics_ingest_otlp_cumulative_evictions_total")
           .Help(
               "Cumulative series forgotten to stay within --otlp_cumulative_series; each "
               "one's next point is a baseline again.")
           .Register(r)
           .Add({});
}

void OtlpMetrics::ExportAnswered(grpc::StatusCode code, absl::Duration latency) {
  const auto i = static_cast<size_t>(code);
  if (i < exports_by_code_.size()) exports_by_code_[i]->Increment();
  latency_->Observe(absl::ToDoubleSeconds(latency));
}

void OtlpMetrics::Points(const MappedExport& mapped, size_t events, size_t rejected) {
  points_event_->Increment(static_cast<double>(events));
  points_rejected_->Increment(static_cast<double>(rejected));
  for (size_t i = 0; i < points_skipped_.size(); ++i) {
    if (mapped.skipped[i] != 0)
      points_skipped_[i]->Increment(static_cast<double>(mapped.skipped[i]));
  }
}

void OtlpMetrics::SampleTracker(size_t series, uint64_t evictions_total) {
  tracker_series_->Set(static_cast<double>(series));
  absl::MutexLock lock(&mu_);
  if (evictions_total > evictions_seen_) {
    tracker_evictions_->Increment(static_cast<double>(evictions_total - evictions_seen_));
    evictions_seen_ = evictions_total;
  }
}

double OtlpMetrics::exports(grpc::StatusCode code) const {
  const auto i = static_cast<size_t>(code);
  return i < exports_by_code_.size() ? exports_by_code_[i]->Value() : 0;
}

double OtlpMetrics::points(absl::string_view outcome) const {
  if (outcome == "event") return points_event_->Value();
  if (outcome == "rejected") return points_rejected_->Value();
  for (size_t i = 0; i < points_skipped_.size(); ++i) {
    if (outcome == SkipLabel(static_cast<Skip>(i))) return points_skipped_[i]->Value();
  }
  return 0;
}

}  // namespace streammetrics::ingest::otlp
