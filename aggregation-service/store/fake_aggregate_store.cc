// FakeAggregateStore: PostgresAggregateStore's transactions, as operations on maps under a mutex.
#include "aggregation-service/store/fake_aggregate_store.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/store/store_rules.h"
#include "lib/common/status_macros.h"

namespace streammetrics::aggregation {
namespace {

absl::Status Injected(absl::string_view call) {
  return absl::UnavailableError(absl::StrCat("FakeAggregateStore: injected failure of ", call));
}

}  // namespace

std::optional<FakeAggregateStore::Failure> FakeAggregateStore::TakeFailure() {
  if (failures_left_ == 0) return std::nullopt;
  --failures_left_;
  return failure_;
}

absl::StatusOr<PartitionClaim> FakeAggregateStore::ClaimPartition(int32_t partition) {
  if (partition < 0) {
    return absl::InvalidArgumentError(absl::StrCat("partition ", partition, " is negative"));
  }
  absl::MutexLock lock(&mu_);
  ++calls_;
  const std::optional<Failure> failure = TakeFailure();
  if (failure == Failure::kBeforeWrite) return Injected("ClaimPartition");

  Progress& progress = progress_[partition];
  ++progress.owner_epoch;  // 0 -> 1 for a new row, as the INSERT's epoch 1
  PartitionClaim claim;
  claim.owner_epoch = progress.owner_epoch;
  claim.next_offset = progress.next_offset;
  claim.snapshot.watermark = progress.watermark;
  const absl::Time final_from = ClaimFinalWindowsFrom(progress.watermark);
  for (const auto& [key, stored] : windows_) {
    if (stored.source_partition == partition &&
        ClaimReloads(stored.window.is_final(), std::get<2>(key), final_from)) {
      claim.snapshot.windows.push_back(stored.window);
    }
  }
  claim.snapshot.dedup = DedupOf(partition);
  claim.outbox = OutboxOf(partition);
  if (failure == Failure::kAfterCommit) return Injected("ClaimPartition after its commit");
  return claim;
}

absl::StatusOr<CheckpointResult> FakeAggregateStore::Checkpoint(
    const std::vector<PartitionCheckpoint>& checkpoints) {
  if (checkpoints.empty()) return CheckpointResult{};
  RETURN_IF_ERROR(ValidateCheckpoints(checkpoints));
  std::function<void()> hook;
  {
    absl::MutexLock lock(&mu_);
    hook = on_checkpoint_;
  }
  if (hook) hook();
  absl::MutexLock lock(&mu_);
  ++calls_;
  const std::optional<Failure> failure = TakeFailure();
  if (failure == Failure::kBeforeWrite) return Injected("Checkpoint");

  // Fencing first, as PostgreSQL's first round trip: a fenced call never gets to its rows.
  CheckpointResult result;
  for (const PartitionCheckpoint& cp : checkpoints) {
    auto it = progress_.find(cp.partition);
    if (it == progress_.end() || it->second.owner_epoch != cp.owner_epoch) {
      result.fenced.push_back(cp.partition);
    }
  }
  if (!result.fenced.empty()) return result;
  for (const PartitionCheckpoint& cp : checkpoints) {
    for (const v1::WindowAggregate& w : cp.delta.windows) RETURN_IF_ERROR(CheckColumnWidths(w));
  }
  result.outbox_ids = Apply(checkpoints);
  if (failure == Failure::kAfterCommit) return Injected("Checkpoint after its commit");
  return result;
}

std::vector<std::vector<int64_t>> FakeAggregateStore::Apply(
    const std::vector<PartitionCheckpoint>& checkpoints) {
  std::vector<std::vector<int64_t>> outbox_ids;
  for (const PartitionCheckpoint& cp : checkpoints) {
    Progress& progress = progress_[cp.partition];
    progress.next_offset = cp.next_offset;
    progress.watermark = StoredTime(cp.delta.watermark);
    for (const v1::WindowAggregate& w : cp.delta.windows) {
      windows_[WindowKey(w.series_key(), w.window_size(), TimeFromProto(w.window_start()))] =
          StoredWindow{.window = w, .source_partition = cp.partition};
    }
    for (const DedupChunk& chunk : cp.delta.dedup_added) {
      dedup_.push_back(StoredChunk{
          .partition = cp.partition,
          .id = next_chunk_id_++,
          .chunk = DedupChunk{.window_start = StoredTime(chunk.window_start), .keys = chunk.keys}});
    }
    std::erase_if(dedup_, [&cp](const StoredChunk& c) {
      return c.partition == cp.partition &&
             c.chunk.window_start < StoredTime(cp.delta.dedup_release_before);
    });
    std::vector<int64_t>& ids = outbox_ids.emplace_back();
    for (const OutboxRecord& record : cp.outbox_add) {
      const int64_t id = next_outbox_id_++;
      StoredRecord& stored = outbox_[id];
      stored.partition = cp.partition;
      stored.record = record;
      stored.record.id = id;
      ids.push_back(id);
    }
    for (int64_t id : cp.outbox_delivered) {
      auto it = outbox_.find(id);
      if (it != outbox_.end() && it->second.partition == cp.partition) outbox_.erase(it);
    }
  }
  return outbox_ids;
}

std::optional<FakeAggregateStore::Progress> FakeAggregateStore::Offsets(int32_t partition) const {
  absl::MutexLock lock(&mu_);
  auto it = progress_.find(partition);
  if (it == progress_.end()) return std::nullopt;
  return it->second;
}

std::vector<FakeAggregateStore::StoredWindow> FakeAggregateStore::Windows() const {
  absl::MutexLock lock(&mu_);
  std::vector<StoredWindow> out;
  for (const auto& [key, stored] : windows_) out.push_back(stored);
  return out;
}

std::optional<FakeAggregateStore::StoredWindow> FakeAggregateStore::Window(
    const std::string& series_key, v1::WindowSize size, absl::Time window_start) const {
  absl::MutexLock lock(&mu_);
  auto it = windows_.find(WindowKey(series_key, size, window_start));
  if (it == windows_.end()) return std::nullopt;
  return it->second;
}

std::vector<DedupChunk> FakeAggregateStore::Dedup(int32_t partition) const {
  absl::MutexLock lock(&mu_);
  return DedupOf(partition);
}

std::vector<OutboxRecord> FakeAggregateStore::Outbox(int32_t partition) const {
  absl::MutexLock lock(&mu_);
  return OutboxOf(partition);
}

void FakeAggregateStore::FailNextCalls(int calls, Failure failure) {
  absl::MutexLock lock(&mu_);
  failures_left_ = std::max(0, calls);
  failure_ = failure;
}

int FakeAggregateStore::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

void FakeAggregateStore::OnCheckpoint(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  on_checkpoint_ = std::move(hook);
}

std::vector<DedupChunk> FakeAggregateStore::DedupOf(int32_t partition) const {
  std::vector<const StoredChunk*> chunks;
  for (const StoredChunk& c : dedup_) {
    if (c.partition == partition) chunks.push_back(&c);
  }
  // PostgreSQL's ORDER BY window_start, id.
  std::sort(chunks.begin(), chunks.end(), [](const StoredChunk* a, const StoredChunk* b) {
    return std::tie(a->chunk.window_start, a->id) < std::tie(b->chunk.window_start, b->id);
  });
  std::vector<DedupChunk> out;
  out.reserve(chunks.size());
  for (const StoredChunk* c : chunks) out.push_back(c->chunk);
  return out;
}

std::vector<OutboxRecord> FakeAggregateStore::OutboxOf(int32_t partition) const {
  std::vector<OutboxRecord> out;
  for (const auto& [id, stored] : outbox_) {
    if (stored.partition == partition) out.push_back(stored.record);
  }
  return out;
}

}  // namespace streammetrics::aggregation
