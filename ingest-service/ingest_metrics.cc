#include "ingest-service/ingest_metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace streammetrics::ingest {
namespace {

// "DEAD_LETTER_REASON_FIELD_TOO_LONG" -> "field_too_long": short label values for dashboards.
std::string Label(const std::string& enum_name, absl::string_view prefix) {
  absl::string_view v = enum_name;
  if (absl::StartsWith(v, prefix)) v.remove_prefix(prefix.size());
  return absl::AsciiStrToLower(v);
}

}  // namespace

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  // 0.5 ms .. ~16 s, doubling: covers a healthy cluster and a broker failover.
  prometheus::Histogram::BucketBoundaries b;
  for (double s = 0.0005; s < 20; s *= 2) b.push_back(s);
  return b;
}

IngestMetrics::IngestMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  auto& r = *registry_;
  batches_received_ = &BuildCounter()
                           .Name("streammetrics_ingest_batches_received_total")
                           .Help("Batches read from client streams.")
                           .Register(r)
                           .Add({});
  events_received_ = &BuildCounter()
                          .Name("streammetrics_ingest_events_received_total")
                          .Help("Events read from client streams.")
                          .Register(r)
                          .Add({});
  events_accepted_ = &BuildCounter()
                          .Name("streammetrics_ingest_events_accepted_total")
                          .Help("Events durable in metrics-events (delivery report succeeded).")
                          .Register(r)
                          .Add({});
  delivery_failures_ = &BuildCounter()
                            .Name("streammetrics_ingest_delivery_failures_total")
                            .Help("Records Kafka did not confirm; their batches were not acked.")
                            .Register(r)
                            .Add({});
  records_refused_ = &BuildCounter()
                          .Name("streammetrics_ingest_records_refused_total")
                          .Help(
                              "Of the delivery failures: records Kafka refused for good (too "
                              "large for the topic, invalid); their batches cannot succeed.")
                          .Register(r)
                          .Add({});
  dead_letters_ = &BuildCounter()
                       .Name("streammetrics_ingest_dead_letters_total")
                       .Help("Dead letters durable in metrics-dead-letter.")
                       .Register(r)
                       .Add({});
  auto& rejected = BuildCounter()
                       .Name("streammetrics_ingest_events_rejected_total")
                       .Help("Events refused by validation, by reason.")
                       .Register(r);
  for (int i = 1; i < v1::DeadLetterReason_ARRAYSIZE; ++i) {
    if (!v1::DeadLetterReason_IsValid(i)) continue;
    events_rejected_[i] =
        &rejected.Add({{"reason", Label(v1::DeadLetterReason_Name(i), "DEAD_LETTER_REASON_")}});
  }
  batches_rejected_family_ = &BuildCounter()
                                  .Name("streammetrics_ingest_batches_rejected_total")
                                  .Help("Batches refused whole, by reason.")
                                  .Register(r);
  for (int i = 1; i < v1::BatchRejectReason_ARRAYSIZE; ++i) {
    if (!v1::BatchRejectReason_IsValid(i)) continue;
    batches_rejected_[i] = &batches_rejected_family_->Add(
        {{"reason", Label(v1::BatchRejectReason_Name(i), "BATCH_REJECT_REASON_")}});
  }
  auto& latency = BuildHistogram()
                      .Name("streammetrics_ingest_produce_latency_seconds")
                      .Help("Time from handing a batch to Kafka to each record's delivery report.")
                      .Register(r);
  produce_latency_events_ = &latency.Add({{"topic", "events"}}, LatencyBuckets());
  produce_latency_dead_letters_ = &latency.Add({{"topic", "dead_letter"}}, LatencyBuckets());
  auto& batch_latency =
      BuildHistogram()
          .Name("streammetrics_ingest_batch_latency_seconds")
          .Help(
              "Per batch: stage=\"answer\" from reading it to its ack (or summary entry) being "
              "ready; stage=\"kafka\" from handing its records to Kafka to the last delivery "
              "report.")
          .Register(r);
  batch_latency_answer_ = &batch_latency.Add({{"stage", "answer"}}, LatencyBuckets());
  batch_latency_kafka_ = &batch_latency.Add({{"stage", "kafka"}}, LatencyBuckets());
  open_streams_ = &BuildGauge()
                       .Name("streammetrics_ingest_open_streams")
                       .Help("Client streams currently open.")
                       .Register(r)
                       .Add({});
  streams_cancelled_ = &BuildCounter()
                            .Name("streammetrics_ingest_streams_cancelled_total")
                            .Help(
                                "Client streams cancelled before they finished (by the client, "
                                "its deadline or a lost connection).")
                            .Register(r)
                            .Add({});
  unread_ack_holds_ = &BuildCounter()
                           .Name("streammetrics_ingest_unread_ack_holds_total")
                           .Help(
                               "Times an IngestStream stopped reading because its client left "
                               "more acks unread than --stream_unread_ack_bytes_limit.")
                           .Register(r)
                           .Add({});
  bytes_in_flight_ = &BuildGauge()
                          .Name("streammetrics_ingest_bytes_in_flight")
                          .Help("Bytes read from clients and not yet confirmed by Kafka.")
                          .Register(r)
                          .Add({});
  queue_depth_ = &BuildGauge()
                      .Name("streammetrics_ingest_kafka_queue_depth")
                      .Help("Records waiting in the Kafka producer (sent, not yet reported).")
                      .Register(r)
                      .Add({});
  serving_ =
      &BuildGauge()
           .Name("streammetrics_ingest_serving")
           .Help("1 while the Kafka producer is usable, 0 after a fatal error until rebuilt.")
           .Register(r)
           .Add({});
  serving_->Set(1);
  auto& refused = BuildCounter()
                      .Name("streammetrics_ingest_streams_refused_total")
                      .Help(
                          "Streams refused at open with RESOURCE_EXHAUSTED, by the limit hit: "
                          "process_streams, caller_streams, caller_rate.")
                      .Register(r);
  streams_refused_ = {&refused.Add({{"reason", "process_streams"}}),
                      &refused.Add({{"reason", "caller_streams"}}),
                      &refused.Add({{"reason", "caller_rate"}})};
  caller_events_ = &BuildCounter()
                        .Name("streammetrics_ingest_caller_events_received_total")
                        .Help("Events read from client streams, by authenticated caller.")
                        .Register(r);
  caller_streams_ = &BuildGauge()
                         .Name("streammetrics_ingest_caller_open_streams")
                         .Help("Client streams open, by authenticated caller.")
                         .Register(r);
  caller_paced_ = &BuildCounter()
                       .Name("streammetrics_ingest_caller_paced_seconds_total")
                       .Help(
                           "Time streams waited before reading because their caller was over "
                           "its event rate limit, by caller.")
                       .Register(r);
  caller_paced_waits_ = &BuildCounter()
                             .Name("streammetrics_ingest_caller_paced_waits_total")
                             .Help(
                                 "Waits streams began before reading because their caller was "
                                 "over its event rate limit, by caller (each wakes at least every "
                                 "250 ms to look again).")
                             .Register(r);
}

IngestMetrics::CallerCounters IngestMetrics::ForCaller(const std::string& caller) {
  // Family::Add returns the existing series for known labels (and is thread-safe).
  return {&caller_events_->Add({{"caller", caller}}), &caller_streams_->Add({{"caller", caller}}),
          &caller_paced_->Add({{"caller", caller}}),
          &caller_paced_waits_->Add({{"caller", caller}})};
}

void IngestMetrics::BatchRejected(v1::BatchRejectReason reason) {
  if (reason > 0 && reason < v1::BatchRejectReason_ARRAYSIZE && batches_rejected_[reason]) {
    batches_rejected_[reason]->Increment();
  }
}

void IngestMetrics::EventRejected(v1::DeadLetterReason reason) {
  if (reason > 0 && reason < v1::DeadLetterReason_ARRAYSIZE && events_rejected_[reason]) {
    events_rejected_[reason]->Increment();
  }
}

double IngestMetrics::events_rejected(v1::DeadLetterReason reason) const {
  if (reason > 0 && reason < v1::DeadLetterReason_ARRAYSIZE && events_rejected_[reason]) {
    return events_rejected_[reason]->Value();
  }
  return 0;
}

void IngestMetrics::Delivered(bool dead_letter, absl::Duration latency, bool ok) {
  if (ok && dead_letter) dead_letters_->Increment();
  (dead_letter ? produce_latency_dead_letters_ : produce_latency_events_)
      ->Observe(absl::ToDoubleSeconds(latency));
}

std::pair<uint64_t, double> IngestMetrics::batch_latency(const std::string& stage) const {
  const prometheus::ClientMetric m =
      (stage == "kafka" ? batch_latency_kafka_ : batch_latency_answer_)->Collect();
  return {m.histogram.sample_count, m.histogram.sample_sum};
}

}  // namespace streammetrics::ingest
