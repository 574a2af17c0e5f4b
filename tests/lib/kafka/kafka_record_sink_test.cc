// KafkaRecordSink against librdkafka's mock cluster, for the faults a real broker cannot produce on
// demand: produce request errors, every broker down past the message timeout, and an injected
// fatal producer error.
#include "lib/kafka/kafka_record_sink.h"

#include <librdkafka/rdkafka_mock.h>

#include <future>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/kafka/kafka_config.h"
#include "tests/support/stack.h"

namespace streammetrics::kafka {
namespace {

using ::testing::Each;
using ::testing::HasSubstr;

// Kafka protocol ApiKey of Produce requests (librdkafka's RD_KAFKAP_Produce is internal).
constexpr int16_t kProduceApiKey = 0;

class KafkaRecordSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A standalone mock cluster, so the sink's rebuilt producer finds the same cluster again.
    auto conf = MakeConf({{"log_level", "0"}});
    ASSERT_TRUE(conf.ok());
    auto owner = MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
    ASSERT_TRUE(owner.ok());
    owner_ = std::move(*owner);
    mock_ = rd_kafka_mock_cluster_new(owner_.get(), 3);
    ASSERT_NE(mock_, nullptr);
    ASSERT_EQ(rd_kafka_mock_topic_create(mock_, "metrics-events", 6, 3), 0);
    ASSERT_EQ(rd_kafka_mock_topic_create(mock_, "metrics-dead-letter", 3, 3), 0);
  }

  void TearDown() override {
    sink_.reset();
    if (mock_) rd_kafka_mock_cluster_destroy(mock_);
  }

  void MakeSink(absl::Duration message_timeout = absl::Seconds(30)) {
    KafkaSinkConfig config;
    config.bootstrap_servers = rd_kafka_mock_cluster_bootstraps(mock_);
    config.message_timeout = message_timeout;
    config.check_topics = false;  // the mock cluster does not implement DescribeConfigs
    // Reconnect quickly once brokers return: the default backoff (up to 10 s) would outlast the
    // short message timeouts these tests use.
    config.extra_properties = {
        {"linger.ms", "1"}, {"reconnect.backoff.ms", "10"}, {"reconnect.backoff.max.ms", "100"}};
    KafkaSinkHooks hooks;
    hooks.on_health = [this](bool serving, const std::string&) {
      absl::MutexLock lock(&mu_);
      health_changes_.push_back(serving);
    };
    auto sink = KafkaRecordSink::Create(config, hooks);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = std::move(*sink);
  }

  static std::vector<Record> Records(int n) {
    std::vector<Record> records(n);
    for (int i = 0; i < n; ++i) {
      records[i].topic = i % 5 == 4 ? "metrics-dead-letter" : "metrics-events";
      records[i].key = absl::StrCat("series-", i % 7);
      records[i].value = absl::StrCat("value-", i);
      records[i].headers = {{"sm-client-id", "c"}, {"sm-sequence", "1"}};
    }
    return records;
  }

  // Sends and waits for the batch's single callback.
  std::vector<absl::Status> SendAndWait(int n, absl::Duration timeout = absl::Seconds(60)) {
    auto done = std::make_shared<std::promise<std::vector<absl::Status>>>();
    auto calls = std::make_shared<std::atomic<int>>(0);
    sink_->SendBatch(Records(n), [done, calls](std::vector<absl::Status> results) {
      if (calls->fetch_add(1) == 0) done->set_value(std::move(results));
    });
    auto future = done->get_future();
    EXPECT_EQ(future.wait_for(absl::ToChronoSeconds(timeout)), std::future_status::ready);
    EXPECT_TRUE(sink_->Flush(absl::Seconds(5)).ok());
    EXPECT_EQ(calls->load(), 1) << "a batch's callback runs exactly once";
    return future.get();
  }

  HandlePtr owner_;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::unique_ptr<KafkaRecordSink> sink_;
  absl::Mutex mu_;
  std::vector<bool> health_changes_;
};

TEST(KafkaRecordSinkPropertiesTest, StallTimeoutsAreSetAndAnOperatorCanOverrideThem) {
  KafkaSinkConfig config;
  config.bootstrap_servers = "127.0.0.1:1";
  auto value_of = [](const Properties& props, const std::string& name) {
    std::string value = "<unset>";
    for (const auto& [n, v] : props) {
      if (n == name) value = v;  // the last one wins, as in MakeConf
    }
    return value;
  };
  EXPECT_EQ(value_of(KafkaRecordSink::ProducerProperties(config), "socket.timeout.ms"), "8000");
  config.extra_properties = {{"socket.timeout.ms", "30000"}, {"acks", "1"}};
  const Properties props = KafkaRecordSink::ProducerProperties(config);
  EXPECT_EQ(value_of(props, "socket.timeout.ms"), "30000");
  EXPECT_EQ(value_of(props, "acks"), "all") << "zero loss is re-asserted after pass-through";
}

TEST_F(KafkaRecordSinkTest, DeliversEveryRecord) {
  MakeSink();
  std::vector<absl::Status> results = SendAndWait(500);
  ASSERT_EQ(results.size(), 500u);
  EXPECT_THAT(results, Each(::testing::Property(&absl::Status::ok, true)));
  // librdkafka counts the delivery-report op being served until poll returns: poll the gauge.
  EXPECT_TRUE(::streammetrics::testing::PollUntil(absl::Seconds(10),
                                                  [&] { return sink_->QueueDepth() == 0; }));
}

TEST_F(KafkaRecordSinkTest, EmptyBatchCompletesToo) {
  MakeSink();
  EXPECT_TRUE(SendAndWait(0).empty());
}

TEST_F(KafkaRecordSinkTest, RetriableProduceErrorsAreRetriedWithoutLoss) {
  MakeSink();
  rd_kafka_mock_push_request_errors(mock_, kProduceApiKey, 4, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  std::vector<absl::Status> results = SendAndWait(200);
  EXPECT_THAT(results, Each(::testing::Property(&absl::Status::ok, true)));
}

TEST_F(KafkaRecordSinkTest, RecordsKafkaRefusesForGoodFailAsFailedPrecondition) {
  MakeSink();
  // The broker refuses the produce request as too large: no resend cures it.
  rd_kafka_mock_push_request_errors(mock_, kProduceApiKey, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  std::vector<absl::Status> results = SendAndWait(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].code(), absl::StatusCode::kFailedPrecondition) << results[0];
  EXPECT_THAT(results[0].message(), HasSubstr("for good"));
  // A record over the producer's own message.max.bytes never leaves it.
  auto done = std::make_shared<std::promise<std::vector<absl::Status>>>();
  std::vector<Record> big(1);
  big[0].topic = "metrics-events";
  big[0].value = std::string(2'000'000, 'x');  // message.max.bytes is 1,000,000
  sink_->SendBatch(std::move(big),
                   [done](std::vector<absl::Status> r) { done->set_value(std::move(r)); });
  results = done->get_future().get();
  EXPECT_EQ(results[0].code(), absl::StatusCode::kFailedPrecondition) << results[0];
  // Another failure stays retryable.
  EXPECT_EQ(RecordFailure(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, "x").code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(KafkaRecordSinkTest, BrokersDownPastMessageTimeoutFailEveryRecordOnce) {
  MakeSink(absl::Seconds(2));
  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(mock_, b);
  std::vector<absl::Status> results = SendAndWait(50);
  ASSERT_EQ(results.size(), 50u);
  for (const absl::Status& s : results) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(s.message(), HasSubstr("timed out"));
  }
  // The cluster comes back: the same sink delivers again.
  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(mock_, b);
  EXPECT_THAT(SendAndWait(20), Each(::testing::Property(&absl::Status::ok, true)));
}

TEST_F(KafkaRecordSinkTest, FatalErrorFailsUnackedRebuildsAndRecovers) {
  MakeSink();
  ASSERT_THAT(SendAndWait(10), Each(::testing::Property(&absl::Status::ok, true)));
  // Hold deliveries back so records are in flight when the producer dies.
  rd_kafka_mock_broker_push_request_error_rtts(mock_, 1, kProduceApiKey, 1,
                                               RD_KAFKA_RESP_ERR_NO_ERROR, 3000);
  rd_kafka_mock_broker_push_request_error_rtts(mock_, 2, kProduceApiKey, 1,
                                               RD_KAFKA_RESP_ERR_NO_ERROR, 3000);
  rd_kafka_mock_broker_push_request_error_rtts(mock_, 3, kProduceApiKey, 1,
                                               RD_KAFKA_RESP_ERR_NO_ERROR, 3000);
  auto done = std::make_shared<std::promise<std::vector<absl::Status>>>();
  sink_->SendBatch(Records(30), [done](std::vector<absl::Status> r) { done->set_value(r); });
  ASSERT_EQ(
      rd_kafka_test_fatal_error(sink_->HandleForTest(),
                                RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected by test"),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  auto future = done->get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  std::vector<absl::Status> results = future.get();
  size_t failed = 0;
  for (const absl::Status& s : results) failed += !s.ok();
  EXPECT_GT(failed, 0u) << "records in flight on a dead producer are not acknowledged";
  // Health went down and up again, and the rebuilt producer delivers.
  {
    absl::MutexLock lock(&mu_);
    auto both = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return health_changes_.size() >= 2; };
    ASSERT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&both), absl::Seconds(30)));
    EXPECT_THAT(health_changes_, ::testing::ElementsAre(false, true));
  }
  EXPECT_THAT(SendAndWait(20), Each(::testing::Property(&absl::Status::ok, true)));
}

}  // namespace
}  // namespace streammetrics::kafka
