// KafkaRecordSink on the local cluster: the RecordSink contract (which FakeRecordSink passes too),
// against a scratch topic. Faults a real broker cannot produce on demand are in
// tests/lib/kafka/kafka_record_sink_test.cc, on librdkafka's mock cluster.
#include "lib/kafka/kafka_record_sink.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/lib/kafka/record_sink_contract.h"
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"

namespace streammetrics::kafka::testing {

class KafkaSinkEnv {
 public:
  KafkaSinkEnv() {
    EXPECT_TRUE(topic_.ok()) << topic_.status();
    KafkaSinkConfig config;
    config.bootstrap_servers = streammetrics::testing::KafkaBootstrap();
    config.topics = {topic_.name()};
    absl::StatusOr<std::unique_ptr<KafkaRecordSink>> sink = KafkaRecordSink::Create(config);
    EXPECT_TRUE(sink.ok()) << sink.status();
    if (sink.ok()) sink_ = *std::move(sink);
  }

  RecordSink* sink() { return sink_.get(); }
  const std::string& topic() const { return topic_.name(); }
  size_t Stored() const { return static_cast<size_t>(topic_.RecordCount()); }

 private:
  streammetrics::testing::ScopedTopic topic_{"it-record-sink", 3};
  std::unique_ptr<KafkaRecordSink> sink_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Kafka, RecordSinkContract, ::testing::Types<KafkaSinkEnv>);

}  // namespace streammetrics::kafka::testing
