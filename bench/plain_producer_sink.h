// PlainProducerSink: the least an application can do with librdkafka to write the ingest
// service's records: one producer with exactly KafkaEventSink's properties, rd_kafka_producev per
// record, a thread serving delivery reports, and a per-batch count. No byte budget, backlog,
// fatal-error recovery, metrics or logging. It is the ceiling KafkaEventSink and the service are
// measured against (ingest_bench --mode=plain). Bench only: a record librdkafka refuses outright
// (not QUEUE_FULL, which waits for the poller to make room) is reported failed from within
// SendBatch, which the EventSink contract does not allow.
#ifndef STREAMMETRICS_BENCH_PLAIN_PRODUCER_SINK_H_
#define STREAMMETRICS_BENCH_PLAIN_PRODUCER_SINK_H_

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest-service/event_sink.h"
#include "ingest-service/kafka_event_sink.h"
#include "lib/kafka/rdkafka_handles.h"

namespace streammetrics::bench {

class PlainProducerSink final : public ingest::EventSink {
 public:
  static absl::StatusOr<std::unique_ptr<PlainProducerSink>> Create(
      const ingest::KafkaSinkConfig& config);
  ~PlainProducerSink() override;

  void SendBatch(std::vector<ingest::OutgoingRecord> records,
                 ingest::BatchDeliveredCallback done) override;
  absl::Status Flush(absl::Duration timeout) override;

 private:
  struct Batch;
  PlainProducerSink(kafka::HandlePtr producer, std::string events_topic,
                    std::string dead_letter_topic);
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  kafka::HandlePtr producer_;
  std::string events_topic_;
  std::string dead_letter_topic_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace streammetrics::bench

#endif  // STREAMMETRICS_BENCH_PLAIN_PRODUCER_SINK_H_
