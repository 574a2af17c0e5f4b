// KafkaEventSource: the EventSource that reads `metrics-events` as a member of a librdkafka
// consumer group (cooperative-sticky assignment). It owns the consumer handle; every call, the
// rebalance callbacks included, happens on the one thread that calls Poll.
//
// Offsets are never committed to Kafka (enable.auto.commit and enable.auto.offset.store are
// forced off): where a partition resumes comes from the RebalanceListener, i.e. from PostgreSQL.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_KAFKA_EVENT_SOURCE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_KAFKA_EVENT_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "aggregation-service/consume/event_source.h"
#include "lib/kafka/kafka_config.h"
#include "lib/kafka/rdkafka_handles.h"

namespace streammetrics::aggregation {

struct KafkaSourceConfig {
  // Comma-separated host:port list.
  std::string bootstrap_servers = "127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092";
  std::string topic = "metrics-events";
  std::string group_id = "streammetrics-aggregation";
  // Extra librdkafka properties applied after ours (fetch sizes, security, session timeouts).
  // The properties exactly-once depends on are re-asserted after these.
  kafka::Properties extra_properties;
  // Verify at start that the topic exists (with docs/contract.md §4's layout for the standard
  // name), waiting up to metadata_timeout for it.
  bool check_topic = true;
  absl::Duration metadata_timeout = absl::Seconds(15);
};

class KafkaEventSource final : public EventSource {
 public:
  // Creates the consumer, checks the topic and subscribes. `listener` must outlive the source.
  // Fails with InvalidArgument for bad properties, FailedPrecondition when the topic is missing
  // or mis-sized, Unavailable when no broker answers within metadata_timeout.
  static absl::StatusOr<std::unique_ptr<KafkaEventSource>> Create(KafkaSourceConfig config,
                                                                  RebalanceListener* listener);
  // Closes (see Close) if not closed yet.
  ~KafkaEventSource() override;

  absl::Status Poll(absl::Duration timeout, size_t max_records,
                    RecordsCallback on_records) override;
  std::optional<int64_t> HighWatermark(int32_t partition) const override;
  void SetPaused(bool paused) override;
  absl::Status Close() override;

 private:
  KafkaEventSource(KafkaSourceConfig config, RebalanceListener* listener);
  static void RebalanceThunk(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);

  // Passes messages_[0, count) that carry records to `on_records` in one call, logs the others
  // (consumer errors), and destroys them all. Fails with Unavailable after a fatal consumer error
  // (the records before it are delivered first).
  absl::Status Deliver(size_t count, RecordsCallback on_records);
  // Destroys the messages among messages_[0, count) whose partition a rebalance revoked since the
  // last call, keeps the others in order, forgets the revoked set, and returns how many are kept.
  size_t DropRevoked(size_t count);

  KafkaSourceConfig config_;
  RebalanceListener* listener_;
  kafka::HandlePtr rk_;
  // Counts rebalance callbacks, and collects the partitions they revoked, so Poll can drop the
  // messages it gathered for them before the callback ran (they belong to the old assignment).
  uint64_t rebalances_ = 0;
  absl::flat_hash_set<int32_t> revoked_;
  // Reused by every Poll: the batch's messages, and the records and headers that view them.
  std::vector<rd_kafka_message_t*> messages_;
  std::vector<SourceRecord> records_;
  std::vector<RecordHeader> headers_;
  std::vector<size_t> header_starts_;
  bool paused_ = false;
  bool closed_ = false;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_KAFKA_EVENT_SOURCE_H_
