// A Kafka producer for integration tests that put records on a topic by hand (to a given
// partition), with every record confirmed by the cluster before Flush returns.
#ifndef STREAMMETRICS_TESTS_SUPPORT_TEST_PRODUCER_H_
#define STREAMMETRICS_TESTS_SUPPORT_TEST_PRODUCER_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "gtest/gtest.h"
#include "lib/kafka/kafka_config.h"
#include "lib/kafka/rdkafka_handles.h"
#include "tests/support/stack.h"

namespace streammetrics::testing {

class TestProducer {
 public:
  TestProducer() {
    auto conf = kafka::MakeConf(kafka::ZeroLossProducerProperties(KafkaBootstrap()));
    if (!conf.ok()) return;
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &TestProducer::OnDelivery);
    auto rk = kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
    if (rk.ok()) rk_ = std::move(*rk);
  }

  bool ok() const { return rk_ != nullptr; }

  void Send(const std::string& topic, int32_t partition, const std::string& value) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  }

  // A protobuf message, serialized.
  template <typename Message>
  void Send(const std::string& topic, int32_t partition, const Message& message) {
    Send(topic, partition, message.SerializeAsString());
  }

  // Waits until every record sent so far is acknowledged, and checks none failed.
  void Flush() {
    ASSERT_EQ(rd_kafka_flush(rk_.get(), 60'000), RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(failed_.load(), 0u);
  }

 private:
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      static_cast<TestProducer*>(opaque)->failed_.fetch_add(1);
    }
  }

  kafka::HandlePtr rk_;
  std::atomic<uint64_t> failed_{0};
};

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_SUPPORT_TEST_PRODUCER_H_
