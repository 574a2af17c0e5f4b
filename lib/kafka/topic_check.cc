// Metadata and DescribeConfigs requests through librdkafka's admin API; see topic_check.h.
#include "lib/kafka/topic_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace streammetrics::kafka {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

int TimeoutMs(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

}  // namespace

std::vector<TopicSpec> StreamMetricsTopics() {
  auto spec = [](std::string name, int partitions, int64_t retention_days) {
    return TopicSpec{
        std::move(name),
        partitions,
        3,
        {{"min.insync.replicas", "2"}, {"retention.ms", std::to_string(retention_days * kDayMs)}}};
  };
  return {spec("metrics-events", 6, 7), spec("metrics-aggregated-1m", 3, 7),
          spec("metrics-aggregated-5m", 3, 30), spec("metrics-dead-letter", 3, 14)};
}

std::vector<TopicSpec> SpecsFor(absl::Span<const std::string> names) {
  const std::vector<TopicSpec> standard = StreamMetricsTopics();
  std::vector<TopicSpec> specs;
  specs.reserve(names.size());
  for (const std::string& name : names) {
    TopicSpec spec{name, 0, 0, {}};
    for (const TopicSpec& s : standard) {
      if (s.name == name) spec = s;
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

absl::StatusOr<ClusterInfo> DescribeCluster(rd_kafka_t* rk, absl::Duration timeout) {
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, /*all_topics=*/1, nullptr, &raw, TimeoutMs(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("Kafka metadata request failed: ", rd_kafka_err2str(err)));
  }
  MetadataPtr md(raw);
  ClusterInfo info;
  for (int i = 0; i < md->broker_cnt; ++i) info.broker_ids.push_back(md->brokers[i].id);
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    TopicInfo ti;
    ti.partitions = t.partition_cnt;
    ti.replication_factor = t.partition_cnt > 0 ? t.partitions[0].replica_cnt : 0;
    info.topics[t.topic] = ti;
  }
  return info;
}

absl::StatusOr<std::map<std::string, std::string>> DescribeTopicConfig(rd_kafka_t* rk,
                                                                       const std::string& topic,
                                                                       absl::Duration timeout) {
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY);
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(options, TimeoutMs(timeout), errstr, sizeof(errstr));
  rd_kafka_DescribeConfigs(rk, &resource, 1, options, queue.get());
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_ConfigResource_destroy(resource);

  // The admin request enforces its own timeout; the extra second lets its result arrive.
  EventPtr event(rd_kafka_queue_poll(queue.get(), TimeoutMs(timeout + absl::Seconds(1))));
  if (event == nullptr) {
    return absl::UnavailableError(absl::StrCat("DescribeConfigs(", topic, ") timed out"));
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "DescribeConfigs(", topic, ") failed: ", rd_kafka_event_error_string(event.get())));
  }
  const rd_kafka_DescribeConfigs_result_t* result =
      rd_kafka_event_DescribeConfigs_result(event.get());
  size_t count = 0;
  const rd_kafka_ConfigResource_t** resources =
      rd_kafka_DescribeConfigs_result_resources(result, &count);
  if (count != 1) {
    return absl::InternalError(
        absl::StrCat("DescribeConfigs(", topic, ") returned ", count, " resources"));
  }
  if (rd_kafka_ConfigResource_error(resources[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const auto code = rd_kafka_ConfigResource_error(resources[0]);
    std::string message = absl::StrCat("topic ", topic, ": ", rd_kafka_err2str(code));
    if (code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return absl::NotFoundError(message);
    return absl::UnavailableError(message);
  }
  std::map<std::string, std::string> out;
  size_t entry_count = 0;
  const rd_kafka_ConfigEntry_t** entries =
      rd_kafka_ConfigResource_configs(resources[0], &entry_count);
  for (size_t i = 0; i < entry_count; ++i) {
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    out[rd_kafka_ConfigEntry_name(entries[i])] = value != nullptr ? value : "";
  }
  return out;
}

absl::Status CheckTopics(rd_kafka_t* rk, absl::Span<const TopicSpec> specs,
                         absl::Duration timeout) {
  absl::StatusOr<ClusterInfo> cluster = DescribeCluster(rk, timeout);
  if (!cluster.ok()) return cluster.status();
  std::vector<std::string> problems;
  for (const TopicSpec& spec : specs) {
    auto it = cluster->topics.find(spec.name);
    if (it == cluster->topics.end()) {
      problems.push_back(absl::StrCat("topic ", spec.name, " does not exist"));
      continue;
    }
    if (spec.partitions > 0 && it->second.partitions != spec.partitions) {
      problems.push_back(absl::StrCat("topic ", spec.name, ": has ", it->second.partitions,
                                      " partitions, needs ", spec.partitions));
    }
    if (spec.replication_factor > 0 && it->second.replication_factor != spec.replication_factor) {
      problems.push_back(absl::StrCat("topic ", spec.name, ": replication factor ",
                                      it->second.replication_factor, ", needs ",
                                      spec.replication_factor));
    }
    if (spec.configs.empty()) continue;
    auto configs = DescribeTopicConfig(rk, spec.name, timeout);
    if (!configs.ok()) {
      problems.push_back(std::string(configs.status().message()));
      continue;
    }
    for (const auto& [name, want] : spec.configs) {
      auto found = configs->find(name);
      const std::string have = found == configs->end() ? "(unset)" : found->second;
      if (have != want) {
        problems.push_back(
            absl::StrCat("topic ", spec.name, ": ", name, " is ", have, ", needs ", want));
      }
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(absl::StrJoin(problems, "; "),
                   " (create or fix the topics with deploy/local/up.sh --infra-only, or your "
                   "cluster's tooling)"));
}

absl::Status AwaitTopics(rd_kafka_t* rk, absl::Span<const TopicSpec> specs,
                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    absl::Status s = CheckTopics(rk, specs, std::max(left, absl::Seconds(1)));
    if (s.ok() || absl::Now() >= deadline) return s;
    // Metadata refresh interval between attempts; this runs once at service start.
    absl::SleepFor(absl::Milliseconds(250));
  }
}

}  // namespace streammetrics::kafka
