// AggregateStore: where the aggregation service keeps its results and its progress (the
// PostgreSQL edge). One real implementation (PostgresAggregateStore) and an in-memory fake
// (FakeAggregateStore) for unit tests.
//
// Exactly-once rests on two promises of every implementation:
//  - Checkpoint is atomic: windows, offsets, watermark, dedup keys and outbox records of every
//    partition in the call are stored together or not at all.
//  - Fencing: ClaimPartition gives the caller a new owner epoch for the partition, and a
//    Checkpoint carrying an older epoch writes nothing. So an instance that lost a partition in a
//    rebalance (a "zombie" that has not noticed yet) can never overwrite its new owner's state.
//
// The outbox holds records to publish to Kafka (final windows, dead letters) that were decided
// inside a checkpoint: they are stored in the same transaction, published after it commits, and
// deleted once their delivery succeeded. A crash in between republishes them after the next claim
// (at least once; consumers keep the highest revision, docs/contract.md).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_AGGREGATE_STORE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_AGGREGATE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "aggregation-service/engine/partition_windows.h"

namespace streammetrics::aggregation {

// A record to publish after the checkpoint that decided it commits.
struct OutboxRecord {
  // Assigned by the store; ignored on input.
  int64_t id = 0;
  std::string topic;
  std::string key;
  std::string value;
};

// What ClaimPartition found committed for a partition.
struct PartitionClaim {
  // The caller's epoch for this partition; every Checkpoint of it must carry it.
  int64_t owner_epoch = 0;
  // Offset of the next record to consume; nullopt when the partition was never checkpointed (the
  // caller starts from the beginning of the topic).
  std::optional<int64_t> next_offset;
  // Watermark, windows and dedup chunks as PartitionSnapshot describes them.
  PartitionSnapshot snapshot;
  // Outbox records committed for the partition and not yet deleted, in id order.
  std::vector<OutboxRecord> outbox;
};

// Everything to store for one partition in a checkpoint.
struct PartitionCheckpoint {
  int32_t partition = 0;
  int64_t owner_epoch = 0;
  // The offset of the next record to consume: every record before it is reflected in `delta`
  // or in an earlier checkpoint.
  int64_t next_offset = 0;
  // Windows to upsert (keyed by series_key, size, start; a row's columns are overwritten), dedup
  // chunks to add and to release, the watermark.
  PartitionDelta delta;
  // Records to publish once this checkpoint commits (their ids are assigned by the store).
  std::vector<OutboxRecord> outbox_add;
  // Outbox ids whose publication succeeded: deleted.
  std::vector<int64_t> outbox_delivered;
};

struct CheckpointResult {
  // Partitions whose stored owner epoch no longer matched (another instance claimed them since).
  // When non-empty, nothing at all was written, and the caller must drop these partitions and
  // checkpoint the others again.
  std::vector<int32_t> fenced;
  // For each PartitionCheckpoint, in the same order, the ids given to its outbox_add records, in
  // the same order. Empty when `fenced` is not.
  std::vector<std::vector<int64_t>> outbox_ids;
};

class AggregateStore {
 public:
  virtual ~AggregateStore() = default;

  // Claims `partition` for the caller in one transaction: increments its owner epoch (creating
  // its progress row at epoch 1 when there is none), which fences every earlier owner, then
  // reads its committed state. Fails with Unavailable when the database cannot be reached or the
  // transaction fails (nothing changed, unless the connection was lost during COMMIT, when the
  // epoch may have moved on; either way the caller may retry, which claims again), DataLoss when
  // stored state does not parse (nothing changed), InvalidArgument for a negative partition.
  virtual absl::StatusOr<PartitionClaim> ClaimPartition(int32_t partition) = 0;

  // Stores every checkpoint in one transaction; see CheckpointResult for fencing. An empty
  // vector is a no-op. Fails with Unavailable when the database cannot be reached or the
  // transaction did not commit (nothing was written; the caller keeps its state and retries),
  // InvalidArgument when a window cannot be stored (e.g. a field too long for its column) or the
  // input is malformed (a partition twice, a window without a size; nothing was written).
  //
  // One Unavailable is ambiguous: a connection lost while COMMIT was under way leaves the outcome
  // unknown (it may have committed). Retrying the same checkpoints is safe either way: upserts
  // and deletions repeat to the same state, dedup chunks are unions, and outbox records added
  // twice are published twice at worst (at least once); the first copies, whose ids the caller
  // never saw, are republished after the next claim and deleted then.
  virtual absl::StatusOr<CheckpointResult> Checkpoint(
      const std::vector<PartitionCheckpoint>& checkpoints) = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_AGGREGATE_STORE_H_
