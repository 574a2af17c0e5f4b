// PlainProducerSink: the least an application can do with librdkafka to write the ingest
// service's records: one producer with exactly KafkaRecordSink's properties, rd_kafka_producev per
// record, a thread serving delivery reports, and a per-batch count. No byte budget, backlog,
// fatal-error recovery, metrics or logging. It is the ceiling KafkaRecordSink and the service are
// measured against (ingest_bench --mode=plain). Bench only: a record librdkafka refuses outright
// (not QUEUE_FULL, which waits for the poller to make room) is reported failed from within
// SendBatch, which the RecordSink contract does not allow.
#ifndef STREAMMETRICS_BENCH_PLAIN_PRODUCER_SINK_H_
#define STREAMMETRICS_BENCH_PLAIN_PRODUCER_SINK_H_

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/kafka/kafka_record_sink.h"
#include "lib/kafka/rdkafka_handles.h"
#include "lib/kafka/record_sink.h"

namespace streammetrics::bench {

class PlainProducerSink final : public kafka::RecordSink {
 public:
  static absl::StatusOr<std::unique_ptr<PlainProducerSink>> Create(
      const kafka::KafkaSinkConfig& config);
  ~PlainProducerSink() override;

  void SendBatch(std::vector<kafka::Record> records, kafka::BatchDeliveredCallback done) override;
  absl::Status Flush(absl::Duration timeout) override;

 private:
  struct Batch;
  explicit PlainProducerSink(kafka::HandlePtr producer);
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  kafka::HandlePtr producer_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace streammetrics::bench

#endif  // STREAMMETRICS_BENCH_PLAIN_PRODUCER_SINK_H_
