// Aggregator: the aggregation service's core loop body. It owns the window engine of every
// partition assigned to this instance, turns records into counted events or dead letters,
// checkpoints all of it to the AggregateStore at an interval, and publishes what each checkpoint
// decided (final windows, dead letters) through the outbox.
//
// Exactly-once, in one paragraph: a partition's state (windows, dedup keys, watermark) and its
// next offset only ever reach PostgreSQL together, in one transaction fenced by the partition's
// owner epoch. After a crash, a rebalance or a failed transaction, the owner restarts from the
// last committed state and offset, so each record is reflected exactly once in what is stored.
// What is published or dead-lettered is first stored in the outbox of that same transaction, so
// it is never lost, and never published for a decision that was not committed.
//
// Threading: every method runs on the consume-loop thread (RebalanceListener callbacks come from
// EventSource::Poll on that thread), except the publisher's delivery callbacks, which only touch
// the mutex-guarded delivery lists.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_AGGREGATOR_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_AGGREGATOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "aggregation-service/aggregation_metrics.h"
#include "aggregation-service/consume/event_source.h"
#include "aggregation-service/consume/record_decoder.h"
#include "aggregation-service/engine/partition_windows.h"
#include "aggregation-service/store/aggregate_store.h"
#include "lib/common/clock.h"
#include "lib/kafka/record_sink.h"

namespace streammetrics::aggregation {

struct AggregatorOptions {
  EngineOptions engine;
  // How often changed state is checkpointed (and final windows published).
  absl::Duration checkpoint_interval = absl::Seconds(1);
  // Most of the consume loop's time checkpoints may take (0 < share <= 1) while records wait:
  // after a checkpoint that took d, the next starts no sooner than d * (1 - share) / share
  // later, unless every partition is caught up (nothing is starved then, and waiting would only
  // delay the commit). Measured with bench/aggregation_replay.sh: with 10,000 series a
  // checkpoint writes ~17,000 rows in ~1.5 s, and back-to-back checkpoints held a replay to a
  // tenth of a plain consume loop's rate.
  double max_checkpoint_share = 0.25;
  // A partition that is caught up and has had no record for this long is idle: its watermark
  // follows the wall clock, so its windows close without new traffic.
  absl::Duration idle_after = absl::Seconds(2);
  // Pause between attempts to claim an assigned partition while PostgreSQL fails.
  absl::Duration claim_retry = absl::Seconds(1);
  std::string events_topic = "metrics-events";
  std::string aggregated_1m_topic = "metrics-aggregated-1m";
  std::string aggregated_5m_topic = "metrics-aggregated-5m";
  std::string dead_letter_topic = "metrics-dead-letter";
  // Validation applied again to every record (the age limit excepted; see RecordDecoder).
  events::ValidationLimits limits;
};

struct AggregatorDeps {
  AggregateStore* store = nullptr;
  // Publishes outbox records (windows and dead letters), each to the topic it names.
  kafka::RecordSink* publisher = nullptr;
  const Clock* clock = nullptr;
  AggregationMetrics* metrics = nullptr;
  // Called on the consume-loop thread with the windows of each partition right after the
  // checkpoint that stored them committed (the Redis cache's writer), which hands them over (the
  // checkpoint is done with them); must not block. May be empty.
  std::function<void(std::vector<v1::WindowAggregate>)> on_committed;
};

class Aggregator final : public RebalanceListener {
 public:
  // Every dependency must outlive the Aggregator, and the publisher must be flushed or closed
  // before it is destroyed (its callbacks refer to the Aggregator).
  Aggregator(AggregatorOptions options, AggregatorDeps deps);
  ~Aggregator() override;

  // Claims each partition in the store (retrying every claim_retry while the store fails, until
  // RequestStop), restores its engine and republishes its unconfirmed outbox. Returns the stored
  // next offsets. A partition whose stored state does not parse is not taken: fatal() then says
  // why, and the service must stop rather than count from a wrong state.
  std::vector<std::optional<int64_t>> OnAssigned(const std::vector<int32_t>& partitions) override;

  // Checkpoints (so the next owner replays little; if that fails, it replays from the last
  // committed checkpoint, which is equally exact) and forgets the partitions.
  void OnRevoked(const std::vector<int32_t>& partitions) override;

  // Handles each record of an assigned partition: counted, deduplicated, or dead-lettered (late,
  // undecodable, invalid). Records of partitions not owned, or before the partition's position
  // (redelivered), are ignored. The records of one call are taken as read at the same instant.
  void Consume(absl::Span<const SourceRecord> records);

  // Advances every watermark (`high_watermark(p)` tells whether p is caught up), refreshes the
  // gauges, republishes failed outbox records and checkpoints when the interval has passed.
  // Returns fatal().
  absl::Status Tick(const std::function<std::optional<int64_t>(int32_t)>& high_watermark);

  // Commits a pending (earlier failed) checkpoint, then everything changed since. Returns the
  // store's error when a transaction failed; the state is kept and retried by the next call.
  absl::Status CheckpointNow();

  // True while a checkpoint failed and waits to be retried: the caller should pause consumption.
  bool checkpoint_pending() const { return !pending_.empty(); }
  // The same, readable from any thread (the health check): updated when a commit fails or
  // succeeds.
  bool checkpoint_failing() const { return failing_.load(std::memory_order_relaxed); }

  // Makes a claim that is waiting for the store give up (the service is stopping).
  void RequestStop() { stopping_.Notify(); }

  // OK, or why the service must stop (DataLoss: stored state that does not parse).
  absl::Status fatal() const { return fatal_; }

  // Partitions owned, ascending.
  std::vector<int32_t> partitions() const;
  // Outbox records handed to the publisher and not yet confirmed.
  size_t unconfirmed() const;

 private:
  struct Partition {
    int64_t epoch = 0;
    // Offset of the next record to take; -1 until the first record when the partition was never
    // checkpointed (it starts at the beginning, wherever retention put that).
    int64_t next_offset = -1;
    // What the last committed checkpoint stored, to skip partitions that did not change.
    int64_t committed_offset = -1;
    absl::Time committed_watermark = absl::InfinitePast();
    absl::Time last_record;
    std::unique_ptr<PartitionWindows> engine;
    // Dead letters decided since the last checkpoint.
    std::vector<OutboxRecord> dead_letters;
  };

  void DeadLetter(Partition& p, absl::string_view key, const v1::DeadLetter& dead_letter);
  // Takes every partition's changes into pending_.
  void BuildCheckpoints();
  // Stores pending_; on success publishes its outbox records and clears it.
  absl::Status Commit();
  void Drop(int32_t partition);
  void Publish(int32_t partition, std::vector<OutboxRecord> records);
  void RepublishFailed();

  const AggregatorOptions options_;
  const AggregatorDeps deps_;
  const RecordDecoder decoder_;
  // Scratch for Consume: one decoded record at a time, its storage reused.
  DecodedRecord decoded_;
  std::map<int32_t, Partition> partitions_;
  std::vector<PartitionCheckpoint> pending_;
  std::atomic<bool> failing_{false};
  // InfinitePast until the first Tick, which schedules the first checkpoint an interval later.
  absl::Time next_checkpoint_ = absl::InfinitePast();
  // When the last checkpoint attempt ended.
  absl::Time last_checkpoint_ = absl::InfinitePast();
  absl::Notification stopping_;
  absl::Status fatal_;

  mutable absl::Mutex mu_;
  // Outbox ids confirmed published, to delete in the next checkpoint of their partition.
  std::map<int32_t, std::vector<int64_t>> delivered_ ABSL_GUARDED_BY(mu_);
  // Outbox records whose publication failed, to send again.
  std::map<int32_t, std::vector<OutboxRecord>> failed_ ABSL_GUARDED_BY(mu_);
  size_t unconfirmed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_AGGREGATOR_H_
