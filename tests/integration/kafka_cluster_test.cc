// Proves the local Kafka cluster is real and behaves as zero loss needs: three brokers, the four
// topics as docs/contract.md §4 specifies, idempotent acks=all producing consumed back exactly
// through a consumer group, and producing that survives one broker being down (RF 3, min ISR 2).
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
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"

namespace streammetrics::kafka {
namespace {

using ::streammetrics::testing::ConsumeAll;
using ::streammetrics::testing::KafkaBootstrap;
using ::streammetrics::testing::KafkaNode;
using ::streammetrics::testing::PollUntil;
using ::streammetrics::testing::ScopedTopic;
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

class KafkaClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(topic_.ok()) << topic_.status(); }
  // Payloads read back through a new consumer group.
  std::multiset<std::string> Consume(size_t expected) {
    std::multiset<std::string> out;
    for (auto& r : ConsumeAll(topic_.name(), expected)) out.insert(std::move(r.value));
    return out;
  }
  ScopedTopic topic_{"it-foundation", kPartitions};
  const std::string& topic() const { return topic_.name(); }
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
  ASSERT_TRUE(ProduceAndFlush(producer.get(), topic(), "rec", 10000));
  EXPECT_THAT(deliveries.failures_by_error, ::testing::IsEmpty());
  ASSERT_EQ(deliveries.acked.size(), 10000u);

  std::multiset<std::string> consumed = Consume(10000);
  EXPECT_EQ(consumed.size(), 10000u);
  EXPECT_EQ(std::set<std::string>(consumed.begin(), consumed.end()), deliveries.acked);
  // No duplicates on the log itself, not just in what one consumer read.
  EXPECT_EQ(topic_.RecordCount(), 10000);
}

// Tests that stop, kill or restart a shared server: run alone (tests/CMakeLists.txt).
class KafkaClusterFaultTest : public KafkaClusterTest {};

TEST_F(KafkaClusterFaultTest, ProducingSurvivesOneBrokerDownAndNothingAckedIsLost) {
  Deliveries deliveries;
  HandlePtr producer = MakeZeroLossProducer(&deliveries);
  ASSERT_TRUE(ProduceAndFlush(producer.get(), topic(), "before", 2000));

  ASSERT_TRUE(KafkaNode("stop", 2).ok());
  struct Restart {
    ~Restart() { (void)KafkaNode("start", 2); }
  } restart_even_on_failure;

  // With RF 3 and min.insync.replicas=2, one broker down must not stop acks=all writes.
  ASSERT_TRUE(ProduceAndFlush(producer.get(), topic(), "during", 5000));
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
      if (topic() != md->topics[t].topic) continue;
      all_in_sync = md->topics[t].partition_cnt == kPartitions;
      for (int p = 0; p < md->topics[t].partition_cnt; ++p) {
        all_in_sync &= md->topics[t].partitions[p].isr_cnt == 3;
      }
    }
    return broker2 && all_in_sync;
  })) << "broker 2 did not rejoin with all replicas in sync";

  std::multiset<std::string> consumed = Consume(7000);
  EXPECT_EQ(consumed.size(), 7000u);
  EXPECT_EQ(std::set<std::string>(consumed.begin(), consumed.end()), deliveries.acked);
  EXPECT_EQ(topic_.RecordCount(), 7000);
}

}  // namespace
}  // namespace streammetrics::kafka
