// KafkaWindowFeed: manual assignment at the end of the aggregated topics, one polling thread,
// parsing and delivery; see kafka_window_feed.h.
//
// Why a group.id is set yet no group is ever joined and no offset committed (checked against the
// librdkafka 2.8.0 sources we build, and its maintainer in confluentinc/librdkafka#593: "if the
// consumer doesn't subscribe() or commit then the group.id is not used in any communication with
// the cluster and can be set to anything"):
//  - rd_kafka_assign() refuses a consumer without group.id (__UNKNOWN_GROUP, rd_kafka_assign0 in
//    src/rdkafka_subscription.c), hence kGroupId.
//  - JoinGroup is only sent for a subscription: rd_kafka_cgrp_join() runs from subscribe and, in
//    the join state machine, only `if (rkcg->rkcg_subscription)` (src/rdkafka_cgrp.c). The handle
//    does look up the group's coordinator (FindCoordinator, read-only), nothing more.
//  - A partition assigned at a logical offset such as END starts its fetcher directly, without an
//    OffsetFetch of committed offsets (rd_kafka_assignment_serve_pending, src/rdkafka_assignment.c;
//    CONFIGURATION.md, enable.auto.commit: "set specific start offsets per partition in the call to
//    assign()").
//  - Offsets are committed only by the auto-commit timer, by the final commit of unassigned
//    partitions (both only with enable.auto.commit=true), or by rd_kafka_commit*, which we never
//    call. enable.auto.commit and enable.auto.offset.store are forced off after the caller's
//    properties, so every query instance may share kGroupId without affecting any other.
//
// What "from now on" means. RD_KAFKA_OFFSET_END is resolved (ListOffsets, latest) when a
// partition's fetcher starts, asynchronously after rd_kafka_assign returns, so a window published
// between the assign call and that moment lies before the resolved offset and is never delivered.
// Start therefore waits until each partition has shown a resolved position: a record, or the
// PARTITION_EOF that the first fetch at the resolved offset raises (src/rdkafka_fetcher.c; hence
// enable.partition.eof=true). After Start returns OK, every window published is delivered; one
// published while Start runs may or may not be. If that wait times out (a partition without a
// leader), Start still returns OK and logs the partitions concerned: they begin at whatever end
// their fetcher resolves later, and windows published to them before that are missed.
//
// Partitions added to a topic after Start are not read until the feed is recreated.
#include "aggregation-service/query/kafka_window_feed.h"

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "lib/common/log.h"
#include "lib/common/status_macros.h"
#include "lib/kafka/topic_check.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::aggregation {
namespace {

// Never joined and never committed to; see the top of this file.
constexpr char kGroupId[] = "streammetrics-query-feed";
// A repeated consumer error or bad record is logged at most once per this interval.
constexpr absl::Duration kLogInterval = absl::Seconds(30);
// Throttle kind of unparsable records (consumer errors use their rd_kafka_resp_err_t).
constexpr int kUnparsableKind = INT_MIN;

int ToMillis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, INT_MAX));
}

const char* TopicOf(const rd_kafka_message_t& message) {
  return message.rkt != nullptr ? rd_kafka_topic_name(message.rkt) : "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaWindowFeed>> KafkaWindowFeed::Create(KafkaFeedConfig config) {
  if (config.topics.empty()) return absl::InvalidArgumentError("KafkaWindowFeed needs a topic");
  kafka::Properties props = {
      {"bootstrap.servers", config.bootstrap_servers},
      {"group.id", kGroupId},
  };
  props.insert(props.end(), config.extra_properties.begin(), config.extra_properties.end());
  // Re-asserted last: no offset may ever be committed under the shared kGroupId, and Start needs
  // the end-of-partition events to know each start offset is resolved. A position out of range
  // (retention) skips to the newest windows, as at start, whatever the events consumer's
  // extra properties say (its "earliest" would replay days of windows into watchers).
  props.push_back({"auto.offset.reset", "latest"});
  props.push_back({"enable.auto.commit", "false"});
  props.push_back({"enable.auto.offset.store", "false"});
  props.push_back({"enable.partition.eof", "true"});
  ASSIGN_OR_RETURN(kafka::ConfPtr conf, kafka::MakeConf(props));
  ASSIGN_OR_RETURN(kafka::HandlePtr rk, kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(conf)));
  // Route the main queue (client errors) into the consumer queue, so one poll serves both.
  rd_kafka_poll_set_consumer(rk.get());
  return std::unique_ptr<KafkaWindowFeed>(new KafkaWindowFeed(std::move(config), std::move(rk)));
}

KafkaWindowFeed::KafkaWindowFeed(KafkaFeedConfig config, kafka::HandlePtr rk)
    : config_(std::move(config)), rk_(std::move(rk)) {}

KafkaWindowFeed::~KafkaWindowFeed() { Stop(); }

absl::StatusOr<std::vector<KafkaWindowFeed::TopicPartition>> KafkaWindowFeed::ReadPartitions() {
  const absl::Time deadline = absl::Now() + config_.metadata_timeout;
  std::string problem;
  while (true) {
    const absl::Duration left = std::max(deadline - absl::Now(), absl::Seconds(1));
    absl::StatusOr<kafka::ClusterInfo> cluster = kafka::DescribeCluster(rk_.get(), left);
    if (cluster.ok()) {
      std::vector<TopicPartition> out;
      std::vector<std::string> missing;
      for (const std::string& topic : config_.topics) {
        auto it = cluster->topics.find(topic);
        if (it == cluster->topics.end() || it->second.partitions <= 0) {
          missing.push_back(topic);
          continue;
        }
        for (int32_t p = 0; p < it->second.partitions; ++p) out.emplace_back(topic, p);
      }
      if (missing.empty()) return out;
      problem = absl::StrCat("no such topic: ", absl::StrJoin(missing, ", "));
    } else {
      problem = std::string(cluster.status().message());
    }
    if (absl::Now() >= deadline) break;
    // A topic created moments ago reaches every broker's metadata a little later; this runs once.
    absl::SleepFor(absl::Milliseconds(250));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot read ", absl::StrJoin(config_.topics, ", "), " within ",
                   absl::FormatDuration(config_.metadata_timeout), ": ", problem));
}

absl::Status KafkaWindowFeed::Start(Callback callback) {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  if (state_ != State::kCreated) {
    return absl::FailedPreconditionError(state_ == State::kRunning ? "the feed is already started"
                                                                   : "the feed is stopped");
  }
  if (!callback) return absl::InvalidArgumentError("the feed needs a callback");
  ASSIGN_OR_RETURN(std::vector<TopicPartition> partitions, ReadPartitions());

  kafka::PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& [topic, partition] : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset =
        RD_KAFKA_OFFSET_END;
  }
  {
    absl::MutexLock positions(&positions_mu_);
    unpositioned_ = absl::flat_hash_set<TopicPartition>(partitions.begin(), partitions.end());
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), list.get())) {
    return absl::UnavailableError(
        absl::StrCat("cannot assign the feed's partitions: ", rd_kafka_err2str(err)));
  }
  callback_ = std::move(callback);
  positioning_ = true;
  thread_ = std::thread([this] { PollLoop(); });
  state_ = State::kRunning;

  absl::MutexLock positions(&positions_mu_);
  const bool positioned = positions_mu_.AwaitWithTimeout(
      absl::Condition(
          +[](absl::flat_hash_set<TopicPartition>* waiting) { return waiting->empty(); },
          &unpositioned_),
      config_.metadata_timeout);
  if (!positioned) {
    std::vector<std::string> names;
    for (const auto& [topic, partition] : unpositioned_)
      names.push_back(absl::StrCat(topic, "/", partition));
    std::sort(names.begin(), names.end());
    SM_LOG(Warn, "window_feed_partitions_not_positioned")
        .Kv("partitions", absl::StrJoin(names, ","))
        .Kv("waited", config_.metadata_timeout)
        .Kv("effect", "windows published to them before their fetch starts are missed");
  }
  SM_LOG(Info, "window_feed_started")
      .Kv("topics", absl::StrJoin(config_.topics, ","))
      .Kv("partitions", partitions.size());
  return absl::OkStatus();
}

void KafkaWindowFeed::Stop() {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  if (state_ == State::kStopped) return;
  const bool was_running = state_ == State::kRunning;
  state_ = State::kStopped;
  stop_requested_.store(true);
  if (thread_.joinable()) thread_.join();
  // Unassigns; with no group joined and auto-commit off it neither leaves a group nor commits.
  if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get())) {
    SM_LOG(Warn, "window_feed_close_failed").Kv("reason", rd_kafka_err2str(err));
  }
  if (was_running) {
    SM_LOG(Info, "window_feed_stopped").Kv("delivered", delivered()).Kv("unparsable", unparsable());
  }
}

void KafkaWindowFeed::PollLoop() {
  const int wait_ms = ToMillis(config_.poll_timeout);
  while (!stop_requested_.load()) {
    kafka::MessagePtr message(rd_kafka_consumer_poll(rk_.get(), wait_ms));
    if (message != nullptr) Handle(*message);
  }
}

void KafkaWindowFeed::Handle(const rd_kafka_message_t& message) {
  if (message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    MarkPositioned(message);
    return;
  }
  if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Brokers down, leaders moving, ...: librdkafka retries by itself, and the feed lives on.
    const std::optional<uint64_t> suppressed = Admit(message.err);
    if (!suppressed.has_value()) return;
    char fatal[512];
    const bool is_fatal =
        rd_kafka_fatal_error(rk_.get(), fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR;
    SM_LOG(Warn, "window_feed_consumer_error")
        .Kv("code", rd_kafka_err2name(message.err))
        .Kv("reason", is_fatal ? fatal : rd_kafka_message_errstr(&message))
        .Kv("fatal", is_fatal)
        .Kv("topic", TopicOf(message))
        .Kv("partition", message.partition)
        .Kv("suppressed", *suppressed);
    return;
  }
  MarkPositioned(message);
  v1::WindowAggregate window;
  // An empty value parses as an empty message, but no final window is empty: it has a series
  // and a window at least.
  if (message.payload == nullptr || message.len == 0 ||
      !window.ParseFromArray(message.payload, static_cast<int>(message.len))) {
    unparsable_.fetch_add(1, std::memory_order_relaxed);
    if (const std::optional<uint64_t> suppressed = Admit(kUnparsableKind)) {
      SM_LOG(Warn, "window_feed_unparsable_record")
          .Kv("topic", TopicOf(message))
          .Kv("partition", message.partition)
          .Kv("offset", message.offset)
          .Kv("bytes", message.len)
          .Kv("suppressed", *suppressed);
    }
    return;
  }
  callback_(window);
  delivered_.fetch_add(1, std::memory_order_relaxed);
}

void KafkaWindowFeed::MarkPositioned(const rd_kafka_message_t& message) {
  if (!positioning_) return;
  absl::MutexLock positions(&positions_mu_);
  unpositioned_.erase(TopicPartition(TopicOf(message), message.partition));
  positioning_ = !unpositioned_.empty();
}

std::optional<uint64_t> KafkaWindowFeed::Admit(int kind) {
  const absl::Time now = absl::Now();
  auto [it, first] = throttles_.try_emplace(kind);
  Throttle& t = it->second;
  if (!first && now - t.last_logged < kLogInterval) {
    ++t.suppressed;
    return std::nullopt;
  }
  const uint64_t suppressed = t.suppressed;
  t.suppressed = 0;
  t.last_logged = now;
  return suppressed;
}

}  // namespace streammetrics::aggregation
