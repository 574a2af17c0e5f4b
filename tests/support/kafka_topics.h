// Kafka helpers for integration tests: throwaway topics laid out like the product's (RF 3,
// min.insync.replicas 2), and reading a whole topic back through a consumer group.
#ifndef STREAMMETRICS_TESTS_SUPPORT_KAFKA_TOPICS_H_
#define STREAMMETRICS_TESTS_SUPPORT_KAFKA_TOPICS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/kafka/rdkafka_handles.h"

namespace streammetrics::testing {

// A topic that exists for one test: created with `partitions`, RF 3 and min ISR 2 on the local
// cluster, deleted when the object goes away.
class ScopedTopic {
 public:
  // `prefix` plus a unique suffix names the topic; `configs` are topic configurations set at
  // creation (e.g. {"max.message.bytes", "65536"}). Check ok() before use.
  ScopedTopic(const std::string& prefix, int partitions,
              const std::map<std::string, std::string>& configs = {});
  ~ScopedTopic();
  ScopedTopic(const ScopedTopic&) = delete;
  ScopedTopic& operator=(const ScopedTopic&) = delete;

  const absl::Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  const std::string& name() const { return name_; }
  int partitions() const { return partitions_; }
  // Records on the topic (sum of high watermarks; the topic starts empty).
  int64_t RecordCount() const;

 private:
  std::string name_;
  int partitions_;
  kafka::HandlePtr admin_;
  absl::Status status_;
};

struct ConsumedRecord {
  int32_t partition = 0;
  std::string key;
  std::string value;
  // Last value of each header.
  std::map<std::string, std::string> headers;
};

// Reads `topic` from the beginning through a new consumer group until `expected` records arrived
// or `timeout` passed; returns what was read (duplicates included).
std::vector<ConsumedRecord> ConsumeAll(const std::string& topic, size_t expected,
                                       absl::Duration timeout = absl::Seconds(90));

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_SUPPORT_KAFKA_TOPICS_H_
