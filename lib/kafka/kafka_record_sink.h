// KafkaRecordSink: the RecordSink that writes to Kafka with an idempotent, acks=all librdkafka
// producer. It owns the producer and the one thread that serves its delivery reports.
//
// Guarantees: a record's result is OK only when its delivery report succeeded; every batch's
// callback runs exactly once, also when the producer fails fatally (then every unreported record
// fails, a new producer is built, and sending resumes) or the sink is destroyed.
#ifndef STREAMMETRICS_LIB_KAFKA_KAFKA_RECORD_SINK_H_
#define STREAMMETRICS_LIB_KAFKA_KAFKA_RECORD_SINK_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/kafka/kafka_config.h"
#include "lib/kafka/record_sink.h"

namespace streammetrics::kafka {

struct KafkaSinkConfig {
  // Comma-separated host:port list.
  std::string bootstrap_servers = "127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092";
  // Every topic records will name, checked at start (kafka::SpecsFor: the standard layout for a
  // standard name, existence for others). A record naming another topic is still produced.
  std::vector<std::string> topics;
  // Extra librdkafka properties applied after ours (throughput tuning, security). Properties that
  // zero loss depends on (idempotence, acks) are re-asserted after these.
  Properties extra_properties;
  // How long a record may wait for Kafka before its delivery fails ("possibly persisted").
  absl::Duration message_timeout = absl::Seconds(120);
  // Verify `topics` at start, waiting up to metadata_timeout for them to appear, and that the
  // producer's records and batches fit their max.message.bytes (CheckRecordSizes).
  bool check_topics = true;
  // The largest record (key, value, headers) the sink will be given; 0: only batches are checked.
  size_t largest_record_bytes = 0;
  absl::Duration metadata_timeout = absl::Seconds(15);
};

// Called on the delivery thread; keep them cheap.
struct KafkaSinkHooks {
  // One call per delivery report: the record, time from SendBatch to the report, success.
  std::function<void(const Record&, absl::Duration, bool)> on_delivery;
  // The producer became unusable (false, reason) or usable again (true, "").
  std::function<void(bool serving, const std::string& reason)> on_health;
};

// What a record's Kafka error `err` becomes: FailedPrecondition for refusals no resend cures (the
// record or its batch is too large, the record is invalid), Unavailable for the rest (a resend
// may succeed). `what` begins the message, e.g. "Kafka delivery failed".
absl::Status RecordFailure(rd_kafka_resp_err_t err, absl::string_view what);

class KafkaRecordSink final : public RecordSink {
 public:
  // Creates the producer, checks the topics and starts the delivery thread.
  // Fails with InvalidArgument for bad properties, FailedPrecondition when topics are missing or
  // mis-sized, Unavailable when no broker answers within metadata_timeout.
  // Every producer property the sink sets for `config`, in order (later ones win): throughput
  // defaults, StallTolerantClientProperties, config.extra_properties, the zero-loss settings,
  // message.timeout.ms. Public so a benchmark can build a plain producer with exactly these
  // settings.
  static Properties ProducerProperties(const KafkaSinkConfig& config);

  static absl::StatusOr<std::unique_ptr<KafkaRecordSink>> Create(KafkaSinkConfig config,
                                                                 KafkaSinkHooks hooks = {});

  // Flushes for up to `close_timeout` given to Close(), or 30 s; records still unreported then
  // fail through their callbacks (they are not known to be stored).
  ~KafkaRecordSink() override;

  void SendBatch(std::vector<Record> records, BatchDeliveredCallback done) override;
  absl::Status Flush(absl::Duration timeout) override;

  // Flushes for up to `timeout`, stops the delivery thread and fails whatever is still unreported.
  // Returns the Flush status. Idempotent.
  absl::Status Close(absl::Duration timeout);

  // Records in librdkafka's queue (sent, not yet reported), plus those waiting for queue room.
  size_t QueueDepth() const;

  // The producer handle, for tests that inject faults (rd_kafka_test_fatal_error, mock cluster).
  rd_kafka_t* HandleForTest() const;

 private:
  struct Batch;
  struct Slot {
    Batch* batch;
  };
  struct BacklogEntry {
    Batch* batch;
    size_t next;  // first record of the batch not yet handed to librdkafka
  };

  KafkaRecordSink(KafkaSinkConfig config, KafkaSinkHooks hooks);
  absl::StatusOr<HandlePtr> MakeProducer();
  // Hands records [from, end) of `batch` to librdkafka. Returns the index of the first record that
  // did not fit (QUEUE_FULL), or size() when all were taken.
  size_t Produce(rd_kafka_t* rk, Batch* batch, size_t from);
  // Records the final result of one record. The call that reports a batch's last record completes
  // it: inline on the delivery thread, else by queueing it for the delivery thread.
  void Report(Batch* batch, size_t index, absl::Status status, bool on_delivery_thread);
  // Runs the batch's callback and frees it. Delivery thread only.
  void Complete(Batch* batch);
  void DeliveryLoop();
  void DrainBacklog();
  void RunCompleted();
  void Rebuild();
  // Destroys the producer and fails every unreported record. Caller holds rk_mu_ as writer.
  void FailUnreported(const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(rk_mu_);

  static void OnDeliveryReport(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* message);

  const KafkaSinkConfig config_;
  const KafkaSinkHooks hooks_;

  // Guards the producer pointer: SendBatch produces under a reader lock; only the delivery thread
  // replaces the producer (Rebuild), under the writer lock.
  mutable absl::Mutex rk_mu_;
  HandlePtr rk_ ABSL_GUARDED_BY(rk_mu_);

  mutable absl::Mutex mu_;
  std::deque<BacklogEntry> backlog_ ABSL_GUARDED_BY(mu_);
  std::deque<Batch*> completed_ ABSL_GUARDED_BY(mu_);
  std::unordered_set<Batch*> outstanding_ ABSL_GUARDED_BY(mu_);
  size_t backlog_records_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;

  std::atomic<bool> fatal_{false};
  std::atomic<bool> stop_{false};
  std::thread delivery_thread_;
};

}  // namespace streammetrics::kafka

#endif  // STREAMMETRICS_LIB_KAFKA_KAFKA_RECORD_SINK_H_
