// CheckTopics against librdkafka's in-process mock cluster, which can be given any topic layout.
#include "lib/kafka/topic_check.h"

#include <librdkafka/rdkafka_mock.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/kafka/kafka_config.h"

namespace streammetrics::kafka {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class TopicCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conf = MakeConf({{"test.mock.num.brokers", "3"}});
    ASSERT_TRUE(conf.ok());
    auto client = MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    mock_ = rd_kafka_handle_mock_cluster(client_.get());
    ASSERT_NE(mock_, nullptr);
  }

  void CreateTopic(const char* name, int partitions, int replication) {
    ASSERT_EQ(rd_kafka_mock_topic_create(mock_, name, partitions, replication),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  HandlePtr client_;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
};

TEST(StreamMetricsTopicsTest, MatchesTheBrief) {
  std::vector<TopicSpec> topics = StreamMetricsTopics();
  ASSERT_EQ(topics.size(), 4u);
  auto find = [&](const std::string& name) {
    for (const auto& t : topics) {
      if (t.name == name) return t;
    }
    return TopicSpec{};
  };
  EXPECT_EQ(find("metrics-events").partitions, 6);
  EXPECT_EQ(find("metrics-aggregated-1m").partitions, 3);
  EXPECT_EQ(find("metrics-aggregated-5m").partitions, 3);
  EXPECT_EQ(find("metrics-dead-letter").partitions, 3);
  EXPECT_EQ(find("metrics-events").configs.at("retention.ms"), "604800000");
  EXPECT_EQ(find("metrics-aggregated-1m").configs.at("retention.ms"), "604800000");
  EXPECT_EQ(find("metrics-aggregated-5m").configs.at("retention.ms"), "2592000000");
  EXPECT_EQ(find("metrics-dead-letter").configs.at("retention.ms"), "1209600000");
  for (const auto& t : topics) {
    EXPECT_EQ(t.replication_factor, 3) << t.name;
    EXPECT_EQ(t.configs.at("min.insync.replicas"), "2") << t.name;
  }
}

TEST_F(TopicCheckTest, DescribeClusterSeesBrokersAndTopics) {
  CreateTopic("metrics-events", 6, 3);
  auto cluster = DescribeCluster(client_.get(), absl::Seconds(10));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_THAT(cluster->broker_ids, UnorderedElementsAre(1, 2, 3));
  ASSERT_TRUE(cluster->topics.count("metrics-events"));
  EXPECT_EQ(cluster->topics["metrics-events"].partitions, 6);
  EXPECT_EQ(cluster->topics["metrics-events"].replication_factor, 3);
}

TEST_F(TopicCheckTest, CorrectLayoutPasses) {
  CreateTopic("metrics-events", 6, 3);
  CreateTopic("metrics-dead-letter", 3, 3);
  std::vector<TopicSpec> specs = {{"metrics-events", 6, 3, {}}, {"metrics-dead-letter", 3, 3, {}}};
  absl::Status s = CheckTopics(client_.get(), specs, absl::Seconds(10));
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(TopicCheckTest, EveryProblemIsListedAtOnce) {
  CreateTopic("metrics-events", 3, 3);
  CreateTopic("metrics-dead-letter", 3, 1);
  std::vector<TopicSpec> specs = {{"metrics-events", 6, 3, {}},
                                  {"metrics-dead-letter", 3, 3, {}},
                                  {"metrics-aggregated-1m", 3, 3, {}}};
  absl::Status s = CheckTopics(client_.get(), specs, absl::Seconds(10));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("metrics-events: has 3 partitions, needs 6"),
                    HasSubstr("metrics-dead-letter: replication factor 1, needs 3"),
                    HasSubstr("metrics-aggregated-1m does not exist"), HasSubstr("up.sh")));
}

TEST(DescribeClusterTest, UnreachableClusterIsUnavailable) {
  // Port 1 on loopback refuses connections at once.
  auto conf = MakeConf({{"bootstrap.servers", "127.0.0.1:1"}});
  ASSERT_TRUE(conf.ok());
  auto client = MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_TRUE(client.ok());
  auto cluster = DescribeCluster(client->get(), absl::Milliseconds(300));
  EXPECT_EQ(cluster.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace streammetrics::kafka
