// Proves the local Kafka cluster is real and behaves as zero loss needs: three brokers, the four
// topics as BRIEF §4 specifies, idempotent acks=all producing consumed back exactly through a
// consumer group, and producing that survives one broker being down (RF 3, min ISR 2).
//
// Each test writes to a topic of its own, created and deleted here, so the product's topics stay
// clean.
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/kafka/kafka_config.h"
#include "lib/kafka/topic_check.h"
#include "tests/support/stack.h"

namespace streammetrics::kafka {
namespace {

using ::streammetrics::testing::KafkaBootstrap;
using ::streammetrics::testing::KafkaNode;
using ::streammetrics::testing::PollUntil;
using ::testing::UnorderedElementsAre;

constexpr int kPartitions = 6;

// Delivery-report bookkeeping of one producer: which payloads Kafka acknowledged.
struct Deliveries {
  std::set<std::string> acked;
  std::map<std::string, int> failures_by_error;
  void OnReport(const rd_kafka_message_t* m) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      acked.emplace(static_cast<const char*>(m->payload), m->len);
    } else {
      ++failures_by_error[rd_kafka_err2name(m->err)];
    }
  }
};

void DeliveryReport(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  static_cast<Deliveries*>(opaque)->OnReport(m);
}

HandlePtr MakeZeroLossProducer(Deliveries* deliveries) {
  Properties props = ZeroLossProducerProperties(KafkaBootstrap());
  props.emplace_back("linger.ms", "5");
  auto conf = MakeConf(props);
  EXPECT_TRUE(conf.ok()) << conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), DeliveryReport);
  rd_kafka_conf_set_opaque(conf->get(), deliveries);
  auto rk = MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  EXPECT_TRUE(rk.ok()) << rk.status();
  return std::move(*rk);
}

// Produces payloads "<prefix>-0" .. "<prefix>-(n-1)", each keyed by itself, then flushes.
// Returns false if a message could not even be enqueued.
bool ProduceAndFlush(rd_kafka_t* rk, const std::string& topic, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    std::string payload = absl::StrCat(prefix, "-", i);
    rd_kafka_resp_err_t err;
    // QUEUE_FULL is backpressure: serve delivery reports and retry.
    while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                                    RD_KAFKA_V_KEY(payload.data(), payload.size()),
                                    RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 50);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ADD_FAILURE() << "producev: " << rd_kafka_err2str(err);
      return false;
    }
    rd_kafka_poll(rk, 0);
  }
  EXPECT_EQ(rd_kafka_flush(rk, 150 * 1000), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(rd_kafka_outq_len(rk), 0);
  return true;
}

// Reads the whole topic from the beginning through a new consumer group until `expected` records
// arrived or the deadline passed. Returns every payload read (duplicates included).
std::multiset<std::string> ConsumeAll(const std::string& topic, size_t expected) {
  auto conf =
      MakeConf({{"bootstrap.servers", KafkaBootstrap()},
                {"group.id", absl::StrCat("it-", topic, "-", absl::ToUnixNanos(absl::Now()))},
                {"auto.offset.reset", "earliest"},
                {"enable.auto.commit", "false"},
                {"partition.assignment.strategy", "cooperative-sticky"}});
  EXPECT_TRUE(conf.ok());
  auto rk = MakeClient(RD_KAFKA_CONSUMER, std::move(*conf));
  EXPECT_TRUE(rk.ok()) << rk.status();
  rd_kafka_poll_set_consumer(rk->get());
  PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  EXPECT_EQ(rd_kafka_subscribe(rk->get(), topics.get()), RD_KAFKA_RESP_ERR_NO_ERROR);

  std::multiset<std::string> out;
  PollUntil(absl::Seconds(90), [&] {
    for (int i = 0; i < 1000 && out.size() < expected; ++i) {
      MessagePtr m(rd_kafka_consumer_poll(rk->get(), 100));
      if (m == nullptr) break;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        out.emplace(static_cast<const char*>(m->payload), m->len);
      }
    }
    return out.size() >= expected;
  });
  rd_kafka_consumer_close(rk->get());
  return out;
}

// Sum of the high watermarks of every partition: the number of records in a fresh topic.
int64_t RecordCount(rd_kafka_t* rk, const std::string& topic) {
  int64_t total = 0;
  for (int p = 0; p < kPartitions; ++p) {
    int64_t low = 0, high = 0;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    total += high - low;
  }
  return total;
}

class KafkaClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topic_ = absl::StrCat("it-foundation-",
                          ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                          absl::ToUnixMillis(absl::Now()));
    auto conf = MakeConf({{"bootstrap.servers", KafkaBootstrap()}});
    ASSERT_TRUE(conf.ok());
    auto admin = MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
    ASSERT_TRUE(admin.ok());
    admin_ = std::move(*admin);
    ASSERT_TRUE(RunAdmin(/*create=*/true)) << "could not create " << topic_;
    ASSERT_TRUE(PollUntil(absl::Seconds(30), [&] {
      auto cluster = DescribeCluster(admin_.get(), absl::Seconds(5));
      return cluster.ok() && cluster->topics.count(topic_) &&
             cluster->topics[topic_].partitions == kPartitions;
    }));
  }

  void TearDown() override {
    if (admin_ != nullptr) RunAdmin(/*create=*/false);
  }

  // Creates (RF 3, min ISR 2, like the product's topics) or deletes the test topic.
  bool RunAdmin(bool create) {
    char err[256];
    QueuePtr q(rd_kafka_queue_new(admin_.get()));
    if (create) {
      rd_kafka_NewTopic_t* t =
          rd_kafka_NewTopic_new(topic_.c_str(), kPartitions, 3, err, sizeof(err));
      rd_kafka_NewTopic_set_config(t, "min.insync.replicas", "2");
      rd_kafka_CreateTopics(admin_.get(), &t, 1, nullptr, q.get());
      rd_kafka_NewTopic_destroy(t);
    } else {
      rd_kafka_DeleteTopic_t* t = rd_kafka_DeleteTopic_new(topic_.c_str());
      rd_kafka_DeleteTopics(admin_.get(), &t, 1, nullptr, q.get());
      rd_kafka_DeleteTopic_destroy(t);
    }
    EventPtr ev(rd_kafka_queue_poll(q.get(), 30000));
    if (ev == nullptr) return false;
    if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        create
            ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n)
            : rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.get()), &n);
    return n == 1 && rd_kafka_topic_result_error(results[0]) == RD_KAFKA_RESP_ERR_NO_ERROR;
  }

  std::string topic_;
  HandlePtr admin_;
};

TEST(KafkaTopologyTest, ThreeBrokersAndTheFourTopicsAsSpecified) {
  auto conf = MakeConf({{"bootstrap.servers", KafkaBootstrap()}});
  ASSERT_TRUE(conf.ok());
  auto rk = MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_TRUE(rk.ok());
  auto cluster = DescribeCluster(rk->get(), absl::Seconds(10));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_THAT(cluster->broker_ids, UnorderedElementsAre(1, 2, 3));
  absl::Status s = CheckTopics(rk->get(), StreamMetricsTopics(), absl::Seconds(10));
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(KafkaClusterTest, TenThousandAckedRecordsAreConsumedBackExactly) {
  Deliveries deliveries;
  HandlePtr producer = MakeZeroLossProducer(&deliveries);
  ASSERT_TRUE(ProduceAndFlush(producer.get(), topic_, "rec", 10000));
  EXPECT_THAT(deliveries.failures_by_error, ::testing::IsEmpty());
  ASSERT_EQ(deliveries.acked.size(), 10000u);

  std::multiset<std::string> consumed = ConsumeAll(topic_, 10000);
  EXPECT_EQ(consumed.size(), 10000u);
  EXPECT_EQ(std::set<std::string>(consumed.begin(), consumed.end()), deliveries.acked);
  // No duplicates on the log itself, not just in what one consumer read.
  EXPECT_EQ(RecordCount(producer.get(), topic_), 10000);
}

TEST_F(KafkaClusterTest, ProducingSurvivesOneBrokerDownAndNothingAckedIsLost) {
  Deliveries deliveries;
  HandlePtr producer = MakeZeroLossProducer(&deliveries);
  ASSERT_TRUE(ProduceAndFlush(producer.get(), topic_, "before", 2000));

  ASSERT_TRUE(KafkaNode("stop", 2).ok());
  struct Restart {
    ~Restart() { (void)KafkaNode("start", 2); }
  } restart_even_on_failure;

  // With RF 3 and min.insync.replicas=2, one broker down must not stop acks=all writes.
  ASSERT_TRUE(ProduceAndFlush(producer.get(), topic_, "during", 5000));
  EXPECT_THAT(deliveries.failures_by_error, ::testing::IsEmpty());
  EXPECT_EQ(deliveries.acked.size(), 7000u);

  ASSERT_TRUE(KafkaNode("start", 2).ok());
  // Back means: broker 2 is in the metadata and every replica of the topic is in sync again.
  ASSERT_TRUE(PollUntil(absl::Seconds(90), [&] {
    const rd_kafka_metadata_t* raw = nullptr;
    if (rd_kafka_metadata(producer.get(), 1, nullptr, &raw, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return false;
    }
    MetadataPtr md(raw);
    bool broker2 = false;
    for (int i = 0; i < md->broker_cnt; ++i) broker2 |= md->brokers[i].id == 2;
    bool all_in_sync = false;
    for (int t = 0; t < md->topic_cnt; ++t) {
      if (topic_ != md->topics[t].topic) continue;
      all_in_sync = md->topics[t].partition_cnt == kPartitions;
      for (int p = 0; p < md->topics[t].partition_cnt; ++p) {
        all_in_sync &= md->topics[t].partitions[p].isr_cnt == 3;
      }
    }
    return broker2 && all_in_sync;
  })) << "broker 2 did not rejoin with all replicas in sync";

  std::multiset<std::string> consumed = ConsumeAll(topic_, 7000);
  EXPECT_EQ(consumed.size(), 7000u);
  EXPECT_EQ(std::set<std::string>(consumed.begin(), consumed.end()), deliveries.acked);
  EXPECT_EQ(RecordCount(producer.get(), topic_), 7000);
}

}  // namespace
}  // namespace streammetrics::kafka
