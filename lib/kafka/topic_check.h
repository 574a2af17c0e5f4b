// What the StreamMetrics topics must look like, and a check of a live cluster against it.
//
// Services call CheckTopics at start so a missing or mis-sized topic stops them with a clear
// message instead of a stream of produce errors; tests and status tools use DescribeCluster.
#ifndef STREAMMETRICS_LIB_KAFKA_TOPIC_CHECK_H_
#define STREAMMETRICS_LIB_KAFKA_TOPIC_CHECK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "lib/kafka/rdkafka_handles.h"

namespace streammetrics::kafka {

struct TopicSpec {
  std::string name;
  // 0: any partition count / replication factor (then only existence is checked).
  int partitions = 0;
  int replication_factor = 0;
  // Topic-level configuration that must hold, e.g. {"min.insync.replicas", "2"}.
  std::map<std::string, std::string> configs;
};

// The four topics of docs/contract.md §4: metrics-events (6), metrics-aggregated-1m (3),
// metrics-aggregated-5m (3), metrics-dead-letter (3); replication factor 3, min.insync.replicas=2,
// retention 7 d, 7 d, 30 d, 14 d.
std::vector<TopicSpec> StreamMetricsTopics();

// What a service requires of the topics it names: the standard layout above for a standard name,
// mere existence for any other (a renamed topic, e.g. a test's scratch topic). The one place the
// producers and consumers of every service take their start-up check from.
std::vector<TopicSpec> SpecsFor(absl::Span<const std::string> names);

struct TopicInfo {
  int partitions = 0;
  // Replica count of the first partition (all partitions of our topics have the same).
  int replication_factor = 0;
};

struct ClusterInfo {
  std::vector<int32_t> broker_ids;
  std::map<std::string, TopicInfo> topics;
};

// Reads broker ids and every topic's partition and replica counts from cluster metadata.
// Fails with Unavailable when no broker answers within `timeout`.
absl::StatusOr<ClusterInfo> DescribeCluster(rd_kafka_t* rk, absl::Duration timeout);

// Reads the effective configuration of `topic` (all entries, defaults included).
// Fails with NotFound for an unknown topic and Unavailable on timeout.
absl::StatusOr<std::map<std::string, std::string>> DescribeTopicConfig(rd_kafka_t* rk,
                                                                       const std::string& topic,
                                                                       absl::Duration timeout);

// OK when every spec'd topic exists with exactly its partition count, replication factor and
// configs. Otherwise FailedPrecondition listing every difference found (so one run shows all of
// them), e.g. "topic metrics-events: has 3 partitions, needs 6; run deploy/local/up.sh".
absl::Status CheckTopics(rd_kafka_t* rk, absl::Span<const TopicSpec> specs, absl::Duration timeout);

// CheckTopics, repeated until it passes or `timeout` has passed: topics created moments ago reach
// every broker's metadata a little later. Returns the last CheckTopics status.
absl::Status AwaitTopics(rd_kafka_t* rk, absl::Span<const TopicSpec> specs, absl::Duration timeout);

}  // namespace streammetrics::kafka

#endif  // STREAMMETRICS_LIB_KAFKA_TOPIC_CHECK_H_
