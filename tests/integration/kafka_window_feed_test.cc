// KafkaWindowFeed against the real 3-broker cluster: windows published after Start all arrive,
// those published before do not, a record that is not a WindowAggregate is counted and skipped,
// and Stop is idempotent with no callback running after it returns.
//
// Records go to throwaway topics laid out like the aggregated ones (3 partitions, RF 3), to
// explicit partitions so every partition is exercised; the real topics are only read.
#include "aggregation-service/query/kafka_window_feed.h"

#include <atomic>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "lib/kafka/kafka_config.h"
#include "streammetrics/v1/aggregate.pb.h"
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"
#include "tests/support/test_producer.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::testing::KafkaBootstrap;
using ::streammetrics::testing::PollUntil;
using ::streammetrics::testing::ScopedTopic;
using ::streammetrics::testing::TestProducer;

constexpr int kPartitions = 3;
constexpr absl::Duration kArrival = absl::Seconds(30);
// The group.id KafkaWindowFeed gives librdkafka (kafka_window_feed.h).
constexpr char kFeedGroup[] = "streammetrics-query-feed";

v1::WindowAggregate MakeWindow(const std::string& series_key, v1::WindowSize size) {
  v1::WindowAggregate w;
  w.mutable_series()->set_service_id("feed-test");
  w.mutable_series()->set_metric_name("latency_ms");
  w.set_series_key(series_key);
  w.set_window_size(size);
  const int64_t start = 1'700'000'000 - 1'700'000'000 % 300;
  w.mutable_window_start()->set_seconds(start);
  w.mutable_window_end()->set_seconds(start + (size == v1::WINDOW_SIZE_1M ? 60 : 300));
  w.set_count(1);
  w.set_sum(2.5);
  w.set_is_final(true);
  w.set_revision(1);
  return w;
}

// Members of the feed's group as the cluster sees it; -1 when it cannot tell.
int GroupMembers(rd_kafka_t* admin) {
  kafka::QueuePtr queue(rd_kafka_queue_new(admin));
  const char* groups[] = {kFeedGroup};
  rd_kafka_DescribeConsumerGroups(admin, groups, 1, nullptr, queue.get());
  kafka::EventPtr event(rd_kafka_queue_poll(queue.get(), 30'000));
  if (event == nullptr || rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  size_t n = 0;
  const rd_kafka_ConsumerGroupDescription_t** descriptions =
      rd_kafka_DescribeConsumerGroups_result_groups(
          rd_kafka_event_DescribeConsumerGroups_result(event.get()), &n);
  if (n != 1) return -1;
  if (const rd_kafka_error_t* error = rd_kafka_ConsumerGroupDescription_error(descriptions[0])) {
    // A group nobody ever joined may also be reported as not found.
    return rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND ? 0 : -1;
  }
  return static_cast<int>(rd_kafka_ConsumerGroupDescription_member_count(descriptions[0]));
}

// The feed group's committed offset of each partition of `topic` (negative: none); empty when
// the request fails.
std::vector<int64_t> CommittedOffsets(rd_kafka_t* admin, const std::string& topic) {
  kafka::PartitionListPtr partitions(rd_kafka_topic_partition_list_new(kPartitions));
  for (int p = 0; p < kPartitions; ++p) {
    rd_kafka_topic_partition_list_add(partitions.get(), topic.c_str(), p);
  }
  rd_kafka_ListConsumerGroupOffsets_t* request =
      rd_kafka_ListConsumerGroupOffsets_new(kFeedGroup, partitions.get());
  kafka::QueuePtr queue(rd_kafka_queue_new(admin));
  rd_kafka_ListConsumerGroupOffsets(admin, &request, 1, nullptr, queue.get());
  rd_kafka_ListConsumerGroupOffsets_destroy(request);
  kafka::EventPtr event(rd_kafka_queue_poll(queue.get(), 30'000));
  std::vector<int64_t> out;
  EXPECT_NE(event, nullptr);
  if (event == nullptr) return out;
  EXPECT_EQ(rd_kafka_event_error(event.get()), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_event_error_string(event.get());
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(event.get()), &n);
  EXPECT_EQ(n, 1u);
  if (n != 1) return out;
  const rd_kafka_topic_partition_list_t* listed = rd_kafka_group_result_partitions(groups[0]);
  EXPECT_NE(listed, nullptr);
  if (listed == nullptr) return out;
  for (int i = 0; i < listed->cnt; ++i) out.push_back(listed->elems[i].offset);
  EXPECT_EQ(out.size(), static_cast<size_t>(kPartitions));
  return out;
}

// What the callback received, read from the test thread.
class Received {
 public:
  WindowFeed::Callback Callback() {
    return [this](const v1::WindowAggregate& w) {
      absl::MutexLock lock(&mu_);
      keys_.push_back(w.series_key());
    };
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return keys_.size();
  }
  std::vector<std::string> keys() const {
    absl::MutexLock lock(&mu_);
    return keys_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> keys_;
};

class KafkaWindowFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(topic_1m_.ok()) << topic_1m_.status();
    ASSERT_TRUE(topic_5m_.ok()) << topic_5m_.status();
    ASSERT_TRUE(producer_.ok());
  }

  KafkaFeedConfig Config() const {
    KafkaFeedConfig config;
    config.bootstrap_servers = KafkaBootstrap();
    config.topics = {topic_1m_.name(), topic_5m_.name()};
    return config;
  }

  std::unique_ptr<KafkaWindowFeed> MakeFeed() {
    auto feed = KafkaWindowFeed::Create(Config());
    EXPECT_TRUE(feed.ok()) << feed.status();
    return feed.ok() ? std::move(*feed) : nullptr;
  }

  // Sends `per_partition` windows to every partition of both topics, keys prefixed `tag`, and
  // waits for the cluster to confirm them; returns their keys.
  std::set<std::string> SendToEveryPartition(const std::string& tag, int per_partition) {
    std::set<std::string> keys;
    for (const auto* topic : {&topic_1m_, &topic_5m_}) {
      const auto size = topic == &topic_1m_ ? v1::WINDOW_SIZE_1M : v1::WINDOW_SIZE_5M;
      for (int p = 0; p < kPartitions; ++p) {
        for (int i = 0; i < per_partition; ++i) {
          std::string key = absl::StrCat(tag, "/", topic->name(), "/", p, "/", i);
          producer_.Send(topic->name(), p, MakeWindow(key, size));
          keys.insert(std::move(key));
        }
      }
    }
    producer_.Flush();
    return keys;
  }

  ScopedTopic topic_1m_{"it-feed-1m", kPartitions};
  ScopedTopic topic_5m_{"it-feed-5m", kPartitions};
  TestProducer producer_;
};

TEST_F(KafkaWindowFeedTest, DeliversWindowsPublishedAfterStartAndNoneFromBefore) {
  std::unique_ptr<KafkaWindowFeed> feed = MakeFeed();
  ASSERT_NE(feed, nullptr);
  SendToEveryPartition("before", 5);

  Received received;
  ASSERT_TRUE(feed->Start(received.Callback()).ok());
  const std::set<std::string> after = SendToEveryPartition("after", 20);

  ASSERT_TRUE(PollUntil(kArrival, [&] { return received.size() >= after.size(); }))
      << "received " << received.size() << " of " << after.size();
  // Each partition delivers in order, so a "before" record would have come ahead of the "after"
  // ones on its partition; after all of them arrived, none can still come.
  const std::vector<std::string> keys = received.keys();
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), after);
  EXPECT_EQ(keys.size(), after.size()) << "a window was delivered twice";
  EXPECT_EQ(feed->delivered(), after.size());
  EXPECT_EQ(feed->unparsable(), 0u);
  feed->Stop();
}

TEST_F(KafkaWindowFeedTest, UnparsableRecordIsCountedAndSkipped) {
  std::unique_ptr<KafkaWindowFeed> feed = MakeFeed();
  ASSERT_NE(feed, nullptr);
  Received received;
  ASSERT_TRUE(feed->Start(received.Callback()).ok());

  // Wire type 7 does not exist, so this never parses; an empty value is no window either.
  producer_.Send(topic_1m_.name(), 1, std::string("\x0f\x07garbage", 9));
  producer_.Send(topic_1m_.name(), 1, std::string());
  producer_.Send(topic_1m_.name(), 1, MakeWindow("good", v1::WINDOW_SIZE_1M));
  producer_.Flush();

  // The good window follows the bad ones on the same partition, so once it is here they were
  // handled.
  ASSERT_TRUE(PollUntil(kArrival, [&] { return received.size() >= 1; }));
  EXPECT_EQ(received.keys(), std::vector<std::string>{"good"});
  EXPECT_EQ(feed->unparsable(), 2u);
  EXPECT_EQ(feed->delivered(), 1u);
}

TEST_F(KafkaWindowFeedTest, StopIsIdempotentAndNoCallbackRunsAfterIt) {
  std::unique_ptr<KafkaWindowFeed> feed = MakeFeed();
  ASSERT_NE(feed, nullptr);
  // The first window's callback holds the feed thread until released, so the other windows queue
  // up behind it and Stop lands mid-stream, possibly while that callback still runs.
  absl::Notification entered;
  absl::Notification release;
  std::atomic<bool> stop_returned{false};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> calls_after_stop{0};
  ASSERT_TRUE(feed->Start([&](const v1::WindowAggregate&) {
                    if (stop_returned.load()) calls_after_stop.fetch_add(1);
                    if (calls.fetch_add(1) == 0) {
                      entered.Notify();
                      release.WaitForNotification();
                      EXPECT_FALSE(stop_returned.load()) << "Stop returned during a callback";
                    }
                  })
                  .ok());
  const std::set<std::string> sent = SendToEveryPartition("flow", 500);
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(kArrival));

  std::thread stopper([&] {
    feed->Stop();
    stop_returned.store(true);
  });
  release.Notify();
  stopper.join();
  const uint64_t delivered_at_stop = feed->delivered();
  feed->Stop();
  std::cerr << "stopped after " << delivered_at_stop << " of " << sent.size() << " windows\n";

  // The polling thread is joined, so nothing can deliver from here on; more records change
  // nothing that can be observed.
  SendToEveryPartition("after-stop", 1);
  EXPECT_EQ(calls_after_stop.load(), 0u);
  EXPECT_EQ(feed->delivered(), delivered_at_stop);
  EXPECT_EQ(calls.load(), delivered_at_stop);
  EXPECT_EQ(feed->Start([](const v1::WindowAggregate&) {}).code(),
            absl::StatusCode::kFailedPrecondition);
  feed.reset();  // the destructor's Stop after an explicit one is a no-op
}

TEST_F(KafkaWindowFeedTest, JoinsNoGroupAndCommitsNothing) {
  auto conf = kafka::MakeConf({{"bootstrap.servers", KafkaBootstrap()}});
  ASSERT_TRUE(conf.ok()) << conf.status();
  auto admin = kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_TRUE(admin.ok()) << admin.status();
  std::unique_ptr<KafkaWindowFeed> feed = MakeFeed();
  ASSERT_NE(feed, nullptr);
  Received received;
  ASSERT_TRUE(feed->Start(received.Callback()).ok());
  const std::set<std::string> sent = SendToEveryPartition("group", 2);
  ASSERT_TRUE(PollUntil(kArrival, [&] { return received.size() >= sent.size(); }));

  // While it reads, and after it closed, the group has no member and no offset of these topics.
  EXPECT_EQ(GroupMembers(admin->get()), 0);
  feed->Stop();
  EXPECT_EQ(GroupMembers(admin->get()), 0);
  for (const auto* topic : {&topic_1m_, &topic_5m_}) {
    for (int64_t offset : CommittedOffsets(admin->get(), topic->name())) {
      EXPECT_LT(offset, 0) << topic->name() << " has a committed offset";
    }
  }
}

TEST_F(KafkaWindowFeedTest, StartTwiceFailsWithFailedPrecondition) {
  std::unique_ptr<KafkaWindowFeed> feed = MakeFeed();
  ASSERT_NE(feed, nullptr);
  ASSERT_TRUE(feed->Start([](const v1::WindowAggregate&) {}).ok());
  EXPECT_EQ(feed->Start([](const v1::WindowAggregate&) {}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(KafkaWindowFeedStartTest, MissingTopicIsUnavailableAndNothingStarts) {
  KafkaFeedConfig config;
  config.bootstrap_servers = KafkaBootstrap();
  config.topics = {absl::StrCat("it-feed-missing-", absl::ToUnixNanos(absl::Now()))};
  config.metadata_timeout = absl::Seconds(2);
  auto feed = KafkaWindowFeed::Create(config);
  ASSERT_TRUE(feed.ok()) << feed.status();
  absl::Status started = (*feed)->Start([](const v1::WindowAggregate&) {});
  EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable) << started;
  EXPECT_NE(started.message().find(config.topics[0]), std::string::npos) << started;
}

TEST(KafkaWindowFeedStartTest, BadConfigIsInvalidArgument) {
  KafkaFeedConfig no_topics;
  no_topics.topics.clear();
  EXPECT_EQ(KafkaWindowFeed::Create(no_topics).status().code(), absl::StatusCode::kInvalidArgument);
  KafkaFeedConfig bad_property;
  bad_property.extra_properties = {{"no.such.property", "1"}};
  EXPECT_EQ(KafkaWindowFeed::Create(bad_property).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The defaults name the real aggregated topics (deploy/local/up.sh creates them); reading them
// joins no group and commits nothing, so this disturbs no other consumer.
TEST(KafkaWindowFeedStartTest, DefaultConfigReadsTheRealAggregatedTopics) {
  KafkaFeedConfig config;
  config.bootstrap_servers = KafkaBootstrap();
  auto feed = KafkaWindowFeed::Create(config);
  ASSERT_TRUE(feed.ok()) << feed.status();
  absl::Status started = (*feed)->Start([](const v1::WindowAggregate&) {});
  EXPECT_TRUE(started.ok()) << started;
  (*feed)->Stop();
}

}  // namespace
}  // namespace streammetrics::aggregation
