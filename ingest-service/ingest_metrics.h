// IngestMetrics: the ingest service's Prometheus metrics (docs/contract.md §6), served on /metrics.
// Every counter an operator asks about: events received/accepted/rejected by reason, dead letters,
// delivery failures, batches, bytes in flight, produce latency, open streams, Kafka queue depth.
#ifndef STREAMMETRICS_INGEST_SERVICE_INGEST_METRICS_H_
#define STREAMMETRICS_INGEST_SERVICE_INGEST_METRICS_H_

#include <array>
#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "lib/kafka/record_sink.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "streammetrics/v1/dead_letter.pb.h"
#include "streammetrics/v1/ingest.pb.h"

namespace streammetrics::ingest {

// The buckets of every latency histogram of the ingest service: 0.5 ms .. ~16 s, doubling.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

class IngestMetrics {
 public:
  explicit IngestMetrics(
      std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>());

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void BatchReceived(size_t events) {
    batches_received_->Increment();
    events_received_->Increment(static_cast<double>(events));
  }
  void BatchRejected(v1::BatchRejectReason reason);
  void EventsAccepted(size_t n) { events_accepted_->Increment(static_cast<double>(n)); }
  void EventRejected(v1::DeadLetterReason reason);
  // `n` records Kafka did not confirm, `permanent` of them refused for good.
  void EventsFailed(size_t n, size_t permanent) {
    delivery_failures_->Increment(static_cast<double>(n));
    records_refused_->Increment(static_cast<double>(permanent));
  }
  // One Kafka delivery report, of a dead letter or of an event.
  void Delivered(bool dead_letter, absl::Duration latency, bool ok);
  // A batch's records all reported by Kafka, `latency` after they were handed over.
  void BatchDelivered(absl::Duration latency) {
    batch_latency_kafka_->Observe(absl::ToDoubleSeconds(latency));
  }
  // A batch's answer (ack, or its part of the summary) ready, `latency` after it was read.
  void BatchAnswered(absl::Duration latency) {
    batch_latency_answer_->Observe(absl::ToDoubleSeconds(latency));
  }
  void StreamOpened() { open_streams_->Increment(); }
  void StreamClosed() { open_streams_->Decrement(); }
  void StreamCancelled() { streams_cancelled_->Increment(); }
  // An IngestStream stopped reading because its client left too many acks unread.
  void UnreadAckHold() { unread_ack_holds_->Increment(); }
  void SetBytesInFlight(size_t bytes) { bytes_in_flight_->Set(static_cast<double>(bytes)); }
  void SetQueueDepth(size_t records) { queue_depth_->Set(static_cast<double>(records)); }
  void SetServing(bool serving) { serving_->Set(serving ? 1 : 0); }

  // Why a stream was refused at open after authentication (authentication refusals are counted
  // by the CallGuard).
  enum class StreamRefusal { kProcessStreams, kCallerStreams, kCallerRate };
  void StreamRefused(StreamRefusal why) { streams_refused_[static_cast<size_t>(why)]->Increment(); }
  double streams_refused(StreamRefusal why) const {
    return streams_refused_[static_cast<size_t>(why)]->Value();
  }

  // One caller's series of the per-caller counters. The pointers stay valid for the life of the
  // IngestMetrics; a stream looks them up once, at open.
  struct CallerCounters {
    prometheus::Counter* events;         // events received
    prometheus::Gauge* streams;          // streams open
    prometheus::Counter* paced_seconds;  // time its streams waited for its rate limit
    prometheus::Counter* paced_waits;    // waits its streams began for its rate limit
  };
  CallerCounters ForCaller(const std::string& caller);

  // Test read-outs.
  double batches_received() const { return batches_received_->Value(); }
  double open_streams() const { return open_streams_->Value(); }
  double streams_cancelled() const { return streams_cancelled_->Value(); }
  double unread_ack_holds() const { return unread_ack_holds_->Value(); }
  double events_received() const { return events_received_->Value(); }
  double events_accepted() const { return events_accepted_->Value(); }
  double events_rejected(v1::DeadLetterReason reason) const;
  double delivery_failures() const { return delivery_failures_->Value(); }
  // Observations and their sum (seconds) of the batch latency of `stage` ("kafka" or "answer").
  std::pair<uint64_t, double> batch_latency(const std::string& stage) const;
  double records_refused() const { return records_refused_->Value(); }
  double batches_rejected(v1::BatchRejectReason reason) const {
    return reason > 0 && reason < v1::BatchRejectReason_ARRAYSIZE && batches_rejected_[reason]
               ? batches_rejected_[reason]->Value()
               : 0;
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* batches_received_;
  prometheus::Counter* events_received_;
  prometheus::Counter* events_accepted_;
  prometheus::Counter* delivery_failures_;
  prometheus::Counter* records_refused_;
  prometheus::Counter* dead_letters_;
  prometheus::Family<prometheus::Counter>* batches_rejected_family_;
  std::array<prometheus::Counter*, v1::BatchRejectReason_ARRAYSIZE> batches_rejected_{};
  std::array<prometheus::Counter*, v1::DeadLetterReason_ARRAYSIZE> events_rejected_{};
  prometheus::Histogram* produce_latency_events_;
  prometheus::Histogram* produce_latency_dead_letters_;
  prometheus::Histogram* batch_latency_kafka_;
  prometheus::Histogram* batch_latency_answer_;
  prometheus::Gauge* open_streams_;
  prometheus::Counter* streams_cancelled_;
  prometheus::Counter* unread_ack_holds_;
  prometheus::Gauge* bytes_in_flight_;
  prometheus::Gauge* queue_depth_;
  prometheus::Gauge* serving_;
  std::array<prometheus::Counter*, 3> streams_refused_{};
  prometheus::Family<prometheus::Counter>* caller_events_;
  prometheus::Family<prometheus::Gauge>* caller_streams_;
  prometheus::Family<prometheus::Counter>* caller_paced_;
  prometheus::Family<prometheus::Counter>* caller_paced_waits_;
};

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_INGEST_METRICS_H_
