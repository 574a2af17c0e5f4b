// AggregationMetrics: the aggregation service's Prometheus metrics (docs/contract.md §6), served on
// /metrics (9465): records consumed, events counted, deduplicated, late and dead-lettered by
// reason, consumer lag, checkpoint latency, size and failures, window close delay, open windows,
// outbox publication, the upkeep of the windows table's day partitions. Thread-safe (prometheus-cpp
// metrics are).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_METRICS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_METRICS_H_

#include <array>
#include <memory>

#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "streammetrics/v1/dead_letter.pb.h"

namespace streammetrics::aggregation {

class AggregationMetrics {
 public:
  explicit AggregationMetrics(
      std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>());
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // Counted per batch of records, not per record.
  void RecordsConsumed(size_t n) { records_consumed_->Increment(static_cast<double>(n)); }
  void EventsCounted(size_t n) { events_counted_->Increment(static_cast<double>(n)); }
  void EventsDuplicate(size_t n) { events_duplicate_->Increment(static_cast<double>(n)); }
  void EventLate() { events_late_->Increment(); }
  void DeadLettered(v1::DeadLetterReason reason);
  void CheckpointDone(absl::Duration latency, size_t windows, size_t outbox_records);
  void CheckpointFailed() { checkpoint_failures_->Increment(); }
  void PartitionFenced() { partitions_fenced_->Increment(); }
  void ClaimFailed() { claim_failures_->Increment(); }
  void WindowClosed(absl::Duration delay_after_end);
  void Published(bool ok) { (ok ? published_ok_ : published_failed_)->Increment(); }
  void SetConsumerLag(int64_t records) { consumer_lag_->Set(static_cast<double>(records)); }
  void SetOpenWindows(size_t n) { open_windows_->Set(static_cast<double>(n)); }
  void SetDedupKeys(size_t n) { dedup_keys_->Set(static_cast<double>(n)); }
  void SetAssignedPartitions(size_t n) { assigned_partitions_->Set(static_cast<double>(n)); }
  void SetOutboxUnconfirmed(size_t n) { outbox_unconfirmed_->Set(static_cast<double>(n)); }
  // Seconds the slowest partition's watermark trails the wall clock.
  void SetWatermarkDelay(absl::Duration d) { watermark_delay_->Set(absl::ToDoubleSeconds(d)); }
  // One pass of the partition maintainer: what it changed (the pass's end is the last success's
  // time), or that it failed.
  void PartitionsMaintained(int64_t created, int64_t dropped, int64_t rows_purged);
  void PartitionMaintenanceFailed() { partition_maintenance_failures_->Increment(); }
  void SetCheckpointPending(bool pending) { checkpoint_pending_->Set(pending ? 1 : 0); }

  // Test read-outs.
  double records_consumed() const { return records_consumed_->Value(); }
  double events_counted() const { return events_counted_->Value(); }
  double events_duplicate() const { return events_duplicate_->Value(); }
  double events_late() const { return events_late_->Value(); }
  double dead_lettered(v1::DeadLetterReason reason) const;
  double checkpoint_failures() const { return checkpoint_failures_->Value(); }
  double partitions_fenced() const { return partitions_fenced_->Value(); }
  double partition_maintenance_failures() const { return partition_maintenance_failures_->Value(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* records_consumed_;
  prometheus::Counter* events_counted_;
  prometheus::Counter* events_duplicate_;
  prometheus::Counter* events_late_;
  std::array<prometheus::Counter*, v1::DeadLetterReason_ARRAYSIZE> dead_lettered_{};
  prometheus::Counter* checkpoint_failures_;
  prometheus::Counter* partitions_fenced_;
  prometheus::Counter* claim_failures_;
  prometheus::Counter* published_ok_;
  prometheus::Counter* published_failed_;
  prometheus::Histogram* checkpoint_latency_;
  prometheus::Histogram* checkpoint_windows_;
  prometheus::Histogram* checkpoint_outbox_;
  prometheus::Histogram* window_close_delay_;
  prometheus::Gauge* consumer_lag_;
  prometheus::Gauge* open_windows_;
  prometheus::Gauge* dedup_keys_;
  prometheus::Gauge* assigned_partitions_;
  prometheus::Gauge* outbox_unconfirmed_;
  prometheus::Gauge* watermark_delay_;
  prometheus::Gauge* checkpoint_pending_;
  prometheus::Counter* table_partitions_created_;
  prometheus::Counter* table_partitions_dropped_;
  prometheus::Counter* retention_rows_purged_;
  prometheus::Counter* partition_maintenance_failures_;
  prometheus::Gauge* partition_maintenance_last_success_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_AGGREGATION_METRICS_H_
