// FakeAggregateStore: an in-memory AggregateStore for unit tests, with PostgresAggregateStore's
// semantics: owner epochs and fencing, all-or-nothing checkpoints, outbox ids increasing from 1,
// the claim's window filter, and the same input checks (store_rules.h). Test hooks inspect what
// is stored and make calls fail the ways the database can.
//
// Times are kept to the microsecond, as TIMESTAMPTZ keeps them. One difference: a claim returns
// windows exactly as they were checkpointed, where PostgreSQL rebuilds them from columns (series
// parsed from the series key, relative_accuracy from the sketch), which gives the same windows
// when they are consistent.
//
// Thread-safe, so a test may inspect it while an aggregator thread calls it.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_FAKE_AGGREGATE_STORE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_FAKE_AGGREGATE_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aggregation-service/store/aggregate_store.h"

namespace streammetrics::aggregation {

class FakeAggregateStore final : public AggregateStore {
 public:
  // A row of metrics.metric_aggregates.
  struct StoredWindow {
    v1::WindowAggregate window;
    int32_t source_partition = 0;
  };
  // A row of metrics.consumer_offsets.
  struct Progress {
    int64_t owner_epoch = 0;
    std::optional<int64_t> next_offset;
    // absl::InfinitePast() until a checkpoint stores one.
    absl::Time watermark = absl::InfinitePast();
  };
  // How an injected failure fails a call (always with Unavailable).
  enum class Failure {
    // Nothing is written: the database was unreachable or the transaction was rolled back.
    kBeforeWrite,
    // Everything is written, then the call fails: the connection was lost while COMMIT was under
    // way, so the caller cannot know the outcome.
    kAfterCommit,
  };

  absl::StatusOr<PartitionClaim> ClaimPartition(int32_t partition) override;
  absl::StatusOr<CheckpointResult> Checkpoint(
      const std::vector<PartitionCheckpoint>& checkpoints) override;

  // Test hooks.

  // The progress row of `partition`; nullopt when it was never claimed.
  std::optional<Progress> Offsets(int32_t partition) const;
  // Every stored window, ordered by (series_key, window size, window start).
  std::vector<StoredWindow> Windows() const;
  // The stored window with that key, if any.
  std::optional<StoredWindow> Window(const std::string& series_key, v1::WindowSize size,
                                     absl::Time window_start) const;
  // The partition's stored dedup chunks, by window start, then in the order they were stored.
  std::vector<DedupChunk> Dedup(int32_t partition) const;
  // The partition's outbox records not yet deleted, in id order.
  std::vector<OutboxRecord> Outbox(int32_t partition) const;
  // Makes each of the next `calls` calls of ClaimPartition or Checkpoint fail with Unavailable,
  // as `failure` says. Calls refused before reaching the database (InvalidArgument input, an
  // empty checkpoint) do not use one up, as with PostgreSQL.
  void FailNextCalls(int calls, Failure failure = Failure::kBeforeWrite);
  // ClaimPartition and Checkpoint calls so far, failed ones included.
  int calls() const;
  // Runs `hook` at the start of every Checkpoint call (outside the store's lock), e.g. to move a
  // fake clock as a slow database would.
  void OnCheckpoint(std::function<void()> hook);

 private:
  using WindowKey = std::tuple<std::string, v1::WindowSize, absl::Time>;
  struct StoredChunk {
    int32_t partition;
    int64_t id;
    DedupChunk chunk;
  };
  struct StoredRecord {
    int32_t partition;
    OutboxRecord record;
  };

  // Uses up an injected failure, if any is left: returns its kind.
  std::optional<Failure> TakeFailure() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<DedupChunk> DedupOf(int32_t partition) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::vector<OutboxRecord> OutboxOf(int32_t partition) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Stores `checkpoints` (not fenced, valid); returns the outbox ids.
  std::vector<std::vector<int64_t>> Apply(const std::vector<PartitionCheckpoint>& checkpoints)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<int32_t, Progress> progress_ ABSL_GUARDED_BY(mu_);
  std::map<WindowKey, StoredWindow> windows_ ABSL_GUARDED_BY(mu_);
  std::vector<StoredChunk> dedup_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, StoredRecord> outbox_ ABSL_GUARDED_BY(mu_);
  int64_t next_chunk_id_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_outbox_id_ ABSL_GUARDED_BY(mu_) = 1;
  int failures_left_ ABSL_GUARDED_BY(mu_) = 0;
  Failure failure_ ABSL_GUARDED_BY(mu_) = Failure::kBeforeWrite;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void()> on_checkpoint_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_FAKE_AGGREGATE_STORE_H_
