// KafkaWindowFeed: the WindowFeed that reads the aggregated topics (metrics-aggregated-1m/-5m)
// with librdkafka and hands every window on them to one callback, on one thread of its own.
//
// The feed owns its consumer handle and its polling thread; the callback is owned by the feed from
// Start until Stop. It is a consumer WITHOUT group membership: every query instance must see every
// window, so it assigns itself all partitions of all topics (rd_kafka_assign, never subscribe),
// starting at their end, and never commits an offset. librdkafka still wants a group.id for that
// (it is "streammetrics-query-feed", shared by all instances and never joined); the reasons this
// holds are in the .cc.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_KAFKA_WINDOW_FEED_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_KAFKA_WINDOW_FEED_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aggregation-service/query/window_feed.h"
#include "lib/kafka/kafka_config.h"
#include "lib/kafka/rdkafka_handles.h"

namespace streammetrics::aggregation {

struct KafkaFeedConfig {
  // Comma-separated host:port list of the cluster the aggregation service publishes to.
  std::string bootstrap_servers = "127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092";
  // The topics whose windows are delivered; all their partitions are read.
  std::vector<std::string> topics = {"metrics-aggregated-1m", "metrics-aggregated-5m"};
  // Extra librdkafka properties applied after ours (fetch sizes, security, client.id). The
  // properties that keep the feed from committing offsets are re-asserted after these.
  kafka::Properties extra_properties;
  // How long Start waits for the topics' metadata, and then for every partition's start offset.
  absl::Duration metadata_timeout = absl::Seconds(15);
  // Longest wait of one rd_kafka_consumer_poll; bounds how long Stop waits for the thread.
  absl::Duration poll_timeout = absl::Milliseconds(100);
};

class KafkaWindowFeed final : public WindowFeed {
 public:
  // Creates the consumer; talks to no broker yet (Start does).
  // Fails with InvalidArgument for an empty topic list or a property librdkafka rejects.
  static absl::StatusOr<std::unique_ptr<KafkaWindowFeed>> Create(KafkaFeedConfig config);

  // Stops (see Stop) if not stopped yet.
  ~KafkaWindowFeed() override;

  KafkaWindowFeed(const KafkaWindowFeed&) = delete;
  KafkaWindowFeed& operator=(const KafkaWindowFeed&) = delete;

  // Reads the partition counts, assigns every partition at its end and starts the thread. Returns
  // once every partition's start offset is resolved (or metadata_timeout passed, which is logged),
  // so a window published after Start returns is delivered; see the .cc for why "now" needs this.
  // Fails with Unavailable when the topics' metadata cannot be read within metadata_timeout,
  // FailedPrecondition when called twice or after Stop, InvalidArgument for an empty callback.
  absl::Status Start(Callback callback) override;

  // Joins the thread and closes the consumer. Idempotent; must not be called from the callback.
  void Stop() override;

  // Windows handed to the callback (counted once the callback returned).
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  // Records skipped because their value is not a WindowAggregate (empty values included).
  uint64_t unparsable() const { return unparsable_.load(std::memory_order_relaxed); }

 private:
  using TopicPartition = std::pair<std::string, int32_t>;
  // When a kind of trouble (a consumer error code, an unparsable record) was last logged.
  struct Throttle {
    absl::Time last_logged;
    uint64_t suppressed = 0;
  };

  KafkaWindowFeed(KafkaFeedConfig config, kafka::HandlePtr rk);

  // Every partition of every configured topic, from cluster metadata.
  absl::StatusOr<std::vector<TopicPartition>> ReadPartitions();
  void PollLoop();
  void Handle(const rd_kafka_message_t& message);
  // Notes that `message`'s partition has a resolved position (see Start).
  void MarkPositioned(const rd_kafka_message_t& message);
  // Whether to log an occurrence of `kind` now: the first always, then one per interval. When it
  // is, returns how many occurrences were not logged since the last logged one.
  std::optional<uint64_t> Admit(int kind);

  const KafkaFeedConfig config_;
  kafka::HandlePtr rk_;

  // Serializes Start and Stop.
  absl::Mutex lifecycle_mu_;
  enum class State { kCreated, kRunning, kStopped };
  State state_ ABSL_GUARDED_BY(lifecycle_mu_) = State::kCreated;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};

  // Set by Start before the thread starts; used only on the thread afterwards.
  Callback callback_;
  bool positioning_ = false;
  absl::flat_hash_map<int, Throttle> throttles_;

  // Partitions whose start offset is not resolved yet; Start waits for this to empty.
  absl::Mutex positions_mu_;
  absl::flat_hash_set<TopicPartition> unpositioned_ ABSL_GUARDED_BY(positions_mu_);

  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> unparsable_{0};
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_KAFKA_WINDOW_FEED_H_
