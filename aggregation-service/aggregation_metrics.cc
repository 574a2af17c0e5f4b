// AggregationMetrics: names, help texts and buckets of the aggregation service's metrics.
#include "aggregation-service/aggregation_metrics.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"

namespace streammetrics::aggregation {
namespace {

// "DEAD_LETTER_REASON_LATE_EVENT" -> "late_event".
std::string ReasonLabel(v1::DeadLetterReason reason) {
  absl::string_view v = v1::DeadLetterReason_Name(reason);
  absl::ConsumePrefix(&v, "DEAD_LETTER_REASON_");
  return absl::AsciiStrToLower(v);
}

prometheus::Histogram::BucketBoundaries Doubling(double from, double to) {
  prometheus::Histogram::BucketBoundaries b;
  for (double x = from; x < to; x *= 2) b.push_back(x);
  return b;
}

prometheus::Counter* Counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge* Gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

prometheus::Histogram* Histogram(prometheus::Registry& r, const std::string& name,
                                 const std::string& help,
                                 prometheus::Histogram::BucketBoundaries buckets) {
  return &prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add({}, buckets);
}

}  // namespace

AggregationMetrics::AggregationMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)) {
  auto& r = *registry_;
  const std::string p = "streammetrics_aggregation_";
  records_consumed_ = Counter(r, p + "records_consumed_total", "Records read from metrics-events.");
  events_counted_ = Counter(r, p + "events_counted_total", "Events counted in a window.");
  events_duplicate_ =
      Counter(r, p + "events_deduplicated_total",
              "Events whose idempotency key was already counted (a client resent its batch).");
  events_late_ = Counter(r, p + "events_late_total",
                         "Events for windows already final: dead-lettered, not counted.");
  auto& dead = prometheus::BuildCounter()
                   .Name(p + "dead_letters_total")
                   .Help("Records written to metrics-dead-letter, by reason.")
                   .Register(r);
  for (int i = 1; i < v1::DeadLetterReason_ARRAYSIZE; ++i) {
    if (!v1::DeadLetterReason_IsValid(i)) continue;
    dead_lettered_[i] = &dead.Add({{"reason", ReasonLabel(static_cast<v1::DeadLetterReason>(i))}});
  }
  checkpoint_failures_ = Counter(r, p + "checkpoint_failures_total",
                                 "Checkpoint transactions that did not commit (retried).");
  partitions_fenced_ =
      Counter(r, p + "partitions_fenced_total",
              "Partitions dropped because another instance claimed them since (their state was not "
              "written).");
  table_partitions_created_ =
      Counter(r, p + "table_partitions_created_total",
              "Day partitions of metrics.metric_aggregates created ahead by this instance.");
  table_partitions_dropped_ =
      Counter(r, p + "table_partitions_dropped_total",
              "Day partitions of metrics.metric_aggregates dropped by the retention.");
  retention_rows_purged_ =
      Counter(r, p + "retention_rows_purged_total",
              "Rows of the windows table's default partitions deleted by the retention.");
  partition_maintenance_failures_ =
      Counter(r, p + "partition_maintenance_failures_total",
              "Partition maintenance passes that failed (retried a minute later).");
  partition_maintenance_last_success_ =
      Gauge(r, p + "partition_maintenance_last_success_timestamp_seconds",
            "Unix time of the last partition maintenance pass that succeeded; alert when it "
            "trails now by more than a day (partitions are created 3 days ahead).");
  claim_failures_ = Counter(r, p + "claim_failures_total",
                            "Attempts to claim an assigned partition in PostgreSQL that failed.");
  auto& published = prometheus::BuildCounter()
                        .Name(p + "published_total")
                        .Help("Outbox records (final windows, dead letters) published, by result.")
                        .Register(r);
  published_ok_ = &published.Add({{"result", "ok"}});
  published_failed_ = &published.Add({{"result", "failed"}});
  checkpoint_latency_ = Histogram(r, p + "checkpoint_seconds",
                                  "Duration of a checkpoint transaction.", Doubling(0.001, 30));
  checkpoint_windows_ =
      Histogram(r, p + "checkpoint_windows", "Window rows per checkpoint.", Doubling(1, 200000));
  checkpoint_outbox_ = Histogram(r, p + "checkpoint_outbox_records",
                                 "Outbox records added per checkpoint.", Doubling(1, 200000));
  window_close_delay_ = Histogram(
      r, p + "window_close_delay_seconds",
      "Time from a window's end to the checkpoint that made it final (at least the allowed "
      "lateness).",
      Doubling(1, 4096));
  consumer_lag_ = Gauge(r, p + "consumer_lag_records",
                        "Records in metrics-events not yet consumed, over assigned partitions.");
  open_windows_ = Gauge(r, p + "open_windows", "1m and 5m windows not yet final.");
  dedup_keys_ = Gauge(r, p + "dedup_keys", "Idempotency keys held for open windows.");
  assigned_partitions_ = Gauge(r, p + "assigned_partitions", "Partitions this instance owns.");
  outbox_unconfirmed_ =
      Gauge(r, p + "outbox_unconfirmed_records",
            "Outbox records committed but whose publication is not yet confirmed.");
  watermark_delay_ = Gauge(r, p + "watermark_delay_seconds",
                           "How far the slowest assigned partition's watermark trails now.");
  checkpoint_pending_ =
      Gauge(r, p + "checkpoint_pending",
            "1 while a checkpoint failed and is being retried (consumption is paused meanwhile).");
}

void AggregationMetrics::DeadLettered(v1::DeadLetterReason reason) {
  if (reason > 0 && reason < v1::DeadLetterReason_ARRAYSIZE && dead_lettered_[reason]) {
    dead_lettered_[reason]->Increment();
  }
}

double AggregationMetrics::dead_lettered(v1::DeadLetterReason reason) const {
  if (reason > 0 && reason < v1::DeadLetterReason_ARRAYSIZE && dead_lettered_[reason]) {
    return dead_lettered_[reason]->Value();
  }
  return 0;
}

void AggregationMetrics::CheckpointDone(absl::Duration latency, size_t windows,
                                        size_t outbox_records) {
  checkpoint_latency_->Observe(absl::ToDoubleSeconds(latency));
  checkpoint_windows_->Observe(static_cast<double>(windows));
  checkpoint_outbox_->Observe(static_cast<double>(outbox_records));
}

void AggregationMetrics::WindowClosed(absl::Duration delay_after_end) {
  window_close_delay_->Observe(absl::ToDoubleSeconds(delay_after_end));
}

void AggregationMetrics::PartitionsMaintained(int64_t created, int64_t dropped,
                                              int64_t rows_purged) {
  table_partitions_created_->Increment(static_cast<double>(created));
  table_partitions_dropped_->Increment(static_cast<double>(dropped));
  retention_rows_purged_->Increment(static_cast<double>(rows_purged));
  partition_maintenance_last_success_->SetToCurrentTime();
}

}  // namespace streammetrics::aggregation
